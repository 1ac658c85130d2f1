"""Turn a user's image of a digit into the 28x28 input MNIST was made of.

MNIST's recipe (LeCun et al.): the digit, light on dark, is fitted into a 20x20 box keeping its
aspect ratio, then placed in a 28x28 image so that its centre of mass sits at the centre.
``predict``, ``explore feature-maps --image`` and the draw-a-digit page all use this one function.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter, UnidentifiedImageError

from .errors import ImageTooLarge, LenetlabError, NoDigitError, Number

MAX_PIXELS = 40_000_000  # a 40-megapixel photo passes; the size is read from the header, before decoding
# Only the formats a photo, a scan or a canvas comes in. Pillow decodes some others inside
# Image.open(), before their size could be checked.
FORMATS = ("PNG", "JPEG", "BMP", "GIF", "WEBP")  # JPEG covers the MPO files phones write
_INK_THRESHOLD = 0.2


def open_image(source: str | Path | bytes, max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Open an image file (or its bytes), refusing anything unreadable or too large before decoding it.

    Raises :class:`LenetlabError` naming the file, or :class:`ImageTooLarge` when its header
    declares more than ``max_pixels`` pixels.

    Examples
    --------
    >>> import io
    >>> buffer = io.BytesIO(); Image.new("L", (3, 2), 255).save(buffer, "PNG")
    >>> open_image(buffer.getvalue()).size
    (3, 2)
    """
    name = "the image" if isinstance(source, bytes) else str(source)
    if isinstance(source, bytes) and not source:
        raise LenetlabError("the image is empty (0 bytes); send a PNG or JPEG")
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 89 and 179 megapixels; here any bomb is an error.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(source) if isinstance(source, bytes) else Path(source), formats=FORMATS)
            if image.width * image.height > max_pixels:
                raise ImageTooLarge.of("error.image_too_large", name=name, width=image.width, height=image.height,
                                       limit=Number(max_pixels / 1e6, "g"))
            image.load()
    except FileNotFoundError:
        raise LenetlabError.of("error.no_image", name=name) from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageTooLarge.of("error.image_too_large_to_decode", name=name) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise LenetlabError.of("error.cannot_read_image", name=name, reason=exc.__class__.__name__) from None
    return image


def to_grayscale(image: Image.Image | np.ndarray) -> np.ndarray:
    """float32 (H, W) in [0, 1]. On a transparent background the opacity is the ink, whatever its colour."""
    if isinstance(image, np.ndarray):
        array = np.asarray(image, dtype=np.float32)
        if array.ndim != 2:
            raise LenetlabError(f"expected a 2-d grayscale array, got shape {array.shape}")
        if not np.isfinite(array).all():
            raise LenetlabError("the image array holds NaN or infinite values")
        return array / 255.0 if array.max(initial=0) > 1.0 else array
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        alpha = np.asarray(rgba.getchannel("A"), dtype=np.float32) / 255.0
        border = np.concatenate([alpha[0], alpha[-1], alpha[:, 0], alpha[:, -1]])
        if np.median(border) < 0.5:  # strokes on a transparent canvas: white ink and black ink alike
            return alpha
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, rgba)
    return np.asarray(image.convert("L"), dtype=np.float32) / 255.0


def mnist_preprocess(image: Image.Image | np.ndarray) -> np.ndarray:
    """Grayscale, light-on-dark, cropped to the ink, fitted in 20x20, centred by mass in 28x28.

    Returns float32 (28, 28) in [0, 1]. Raises :class:`LenetlabError` for an image with no ink.

    Examples
    --------
    >>> canvas = np.full((100, 60), 255, np.uint8); canvas[20:80, 25:35] = 0   # a dark "1" on white
    >>> x = mnist_preprocess(canvas)
    >>> x.shape, round(float(x.max()), 2)
    ((28, 28), 1.0)
    """
    gray = to_grayscale(image)
    if gray.size == 0:
        raise LenetlabError("the image is empty (0 pixels)")
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper: invert, as MNIST digits are white on black
        gray, background = 1.0 - gray, 1.0 - background
    ink = np.clip((gray - background) / max(1.0 - background, 1e-6), 0.0, 1.0)
    if min(ink.shape) >= 64:
        # A photo or scan, not a 28x28 digit: a 3x3 median removes sensor noise, and pixels well below
        # the stroke's own brightness (uneven lighting, paper texture) are paper, not ink.
        ink = np.asarray(Image.fromarray(ink).filter(ImageFilter.MedianFilter(3)), dtype=np.float32)
        stroke = float(np.percentile(ink, 99.9))
        ink = np.where(ink > 0.35 * stroke, ink, 0.0).astype(np.float32)
    mask = ink > _INK_THRESHOLD
    if not mask.any():
        raise NoDigitError.of("error.no_digit")
    rows, cols = np.nonzero(mask)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]

    h, w = ink.shape
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    resized = Image.fromarray((ink * 255).astype(np.uint8)).resize((new_w, new_h), Image.Resampling.LANCZOS)
    digit = np.asarray(resized, dtype=np.float32) / 255.0

    total = digit.sum()
    ys, xs = np.indices(digit.shape)
    com_y = (ys * digit).sum() / total if total > 0 else (new_h - 1) / 2
    com_x = (xs * digit).sum() / total if total > 0 else (new_w - 1) / 2
    # MNIST puts the centre of mass at pixel (14, 14) (measured mean over the 60,000 training images: 14.0, 14.0).
    top = int(round(14.0 - com_y))
    left = int(round(14.0 - com_x))
    top, left = min(max(top, 0), 28 - new_h), min(max(left, 0), 28 - new_w)
    out = np.zeros((28, 28), dtype=np.float32)
    out[top : top + new_h, left : left + new_w] = digit
    peak = out.max()
    return out / peak if peak > 0 else out
