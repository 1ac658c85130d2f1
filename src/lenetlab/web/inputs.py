"""What a request sends, checked and decoded into the network's (28, 28) input, off the event loop.

An image (a PNG upload, a raw ``image/png`` body, base64 in JSON) is measured from its header before it
is decoded (``MAX_IMAGE_PIXELS``), then decoded and preprocessed like ``lenetlab predict`` in a worker
thread: small bodies in their own slots, large ones one at a time (:class:`Lanes`). A JSON array is
checked for shape and finite values before the model sees it. Every refusal is a :class:`BadInput`
naming the problem and what to send instead; ``app.py`` answers it as JSON.
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import re
from typing import Any

import anyio
import numpy as np
from fastapi import Request
from PIL import Image, UnidentifiedImageError

from ..errors import ImageTooLarge, LenetlabError, NoDigitError
from ..predict import INPUT_SIZE
from ..preprocess import FORMATS, mnist_preprocess, open_image, to_grayscale

# Uploads are capped lower than `lenetlab predict`'s files: checked from the header, before decoding.
# A 2000x2000 photo passes (about 60 MB while it is decoded and preprocessed); resize larger ones.
MAX_IMAGE_PIXELS = 4_000_000
# Images up to this size (a canvas, a scan of one digit) are decoded at once; larger ones queue for
# one decoding slot, so N large uploads never take N times the memory nor delay the drawing page.
SMALL_IMAGE_PIXELS = 500 * 500


class BadInput(Exception):
    """A request the API refuses: the message names the problem and the fix; answered as JSON."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def decode_png(raw: bytes) -> np.ndarray:
    """Bytes of an image file -> float32 (H, W) grayscale in [0, 1], refusing bombs before decoding.

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("L", (3, 2), 255).save(buffer, "PNG")
    >>> decode_png(buffer.getvalue()).shape
    (2, 3)
    """
    try:
        return to_grayscale(open_image(raw, MAX_IMAGE_PIXELS))
    except ImageTooLarge as exc:
        raise BadInput(f"{exc}; send a smaller one", status=413) from None
    except LenetlabError as exc:
        raise BadInput(str(exc)) from None


def parse_array(value: Any) -> np.ndarray:
    """A JSON 28x28 list of numbers (0-1, or 0-255) -> float32 (28, 28) in [0, 1], the network's input.

    Examples
    --------
    >>> parse_array([[0] * 28] * 28).shape
    (28, 28)
    """
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise BadInput('"array" must be a list of 28 lists of 28 numbers')
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for row in value for v in row):
        raise BadInput('"array" must hold numbers only (no strings, nulls or booleans)')
    lengths = sorted({len(row) for row in value})
    if len(value) != INPUT_SIZE or lengths != [INPUT_SIZE]:
        got = f"{len(value)}x{lengths[0]}" if len(lengths) == 1 else f"{len(value)} rows of lengths {lengths}"
        raise BadInput(f'"array" must be 28x28 (28 rows of 28 numbers), got {got}; resize it or send a PNG instead')
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an integer with hundreds of digits
        raise BadInput('"array" holds a number too large; send numbers between 0 and 1 (or 0 and 255)') from None
    if not np.isfinite(array).all():
        raise BadInput('"array" holds NaN or infinite values; send finite numbers between 0 and 1 (or 0 and 255)')
    if array.min() < 0 or array.max() > 255:
        raise BadInput(f'"array" values must lie in [0, 1] or [0, 255], got {array.min():g} to {array.max():g}')
    if array.max() > 1.0:
        array = array / 255.0
    return array.astype(np.float32)


def _decode_base64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise BadInput('"image" must be a base64 string or a data: URI of a PNG')
    if text.startswith("data:"):
        text = text.split(",", 1)[1] if "," in text else ""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput('"image" is not valid base64; send the PNG as base64 or as a data: URI') from None


class Lanes:
    """Where bodies are decoded, off the event loop: small ones in their own slots, large ones one at a time.

    Images and JSON alike: 8 JSON arrays of 4.8 MB parsed on the event loop once made an unrelated GET
    wait 1.6 s (median); in a worker thread of the large lane they wait for each other, not for it.
    """

    def __init__(self) -> None:
        self.small = anyio.CapacityLimiter(4)
        self.large = anyio.CapacityLimiter(1)

    async def to_input(self, raw: bytes) -> np.ndarray:
        """An uploaded image as the network's (28, 28) input: decoded and preprocessed in a worker thread."""
        limiter = self.small if _declared_pixels(raw) <= SMALL_IMAGE_PIXELS else self.large
        return await anyio.to_thread.run_sync(lambda: _preprocess(decode_png(raw)), limiter=limiter)

    async def json_object(self, content_type: str, body: bytes, what_to_send: str) -> dict[str, Any]:
        """:func:`parse_json_object` in a worker thread of the lane the body's size calls for."""
        limiter = self.small if len(body) <= SMALL_JSON_BYTES else self.large
        return await anyio.to_thread.run_sync(lambda: parse_json_object(content_type, body, what_to_send), limiter=limiter)

    async def array(self, value: Any) -> np.ndarray:
        """:func:`parse_array` (28x28 numbers, checked) in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: parse_array(value), limiter=self.small)


SMALL_JSON_BYTES = 64 * 1024  # a 28x28 array as JSON is about 10 KB


def _declared_pixels(raw: bytes) -> int:
    """Width x height from the image's header (0 when unreadable: decode_png then says why, cheaply)."""
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
            return image.width * image.height
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return 0


_WHAT_TO_SEND = ('send a PNG (image/png, or multipart field "image"), or JSON (application/json) '
                 '{"image": base64 PNG} or {"array": 28x28 numbers}')


async def read_input(request: Request, lanes: Lanes) -> np.ndarray:
    """The request's image or array as the network's (28, 28) input, preprocessed like ``predict``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception:  # noqa: BLE001 - python-multipart raises several types for broken bodies
            raise BadInput("the multipart body cannot be parsed; send the PNG in a form field named 'image'") from None
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadInput("no file in the form field 'image'; send the PNG as multipart field 'image'")
        return await lanes.to_input(await upload.read())
    body = await request.body()
    if content_type.startswith("image/") or (not content_type and body[:8] == b"\x89PNG\r\n\x1a\n"):
        return await lanes.to_input(body)
    payload = await lanes.json_object(content_type, body, _WHAT_TO_SEND)
    if "array" in payload:
        array = await lanes.array(payload["array"])
        return _preprocess(array) if payload.get("preprocess") is True else array
    if "image" in payload:
        return await lanes.to_input(_decode_base64(payload["image"]))
    raise BadInput('the JSON object needs an "image" (base64 PNG) or an "array" (28x28 numbers) key')


def refusal(errors: list[dict[str, Any]]) -> str:
    """A declared constraint's refusal in one line: what was wrong, what is accepted, what was sent.

    >>> refusal([{"loc": ("query", "limit"), "msg": "Input should be less than or equal to 1000", "input": "5000"}])
    'limit: input should be less than or equal to 1000, got 5000'
    """
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
    message = str(first.get("msg", "bad value"))
    got = first.get("input")
    number = isinstance(got, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?", got)
    shown = "" if got is None or isinstance(got, dict | list) else f", got {got if number else repr(got)}"
    return f"{where or 'request'}: {message[:1].lower()}{message[1:]}{shown}"


def parse_json_object(content_type: str, body: bytes, what_to_send: str) -> dict[str, Any]:
    """A JSON object from a body sent as application/json, or a 4xx saying what to send."""
    if content_type != "application/json":
        # JSON only as application/json: a page on another site can post text/plain without asking first.
        raise BadInput(f"unsupported content type {content_type or '(none)'}; {what_to_send}", status=415)
    if not body:
        raise BadInput(f"the request body is empty; {what_to_send}", status=400)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        raise BadInput(f"the body is not valid JSON; {what_to_send}", status=400) from None
    if not isinstance(payload, dict):
        raise BadInput(f"the JSON body must be an object; {what_to_send}")
    return payload


def _preprocess(gray: np.ndarray) -> np.ndarray:
    try:
        return mnist_preprocess(gray)
    except NoDigitError:
        raise BadInput("the image holds no visible digit; draw a digit first") from None
    except LenetlabError as exc:
        raise BadInput(str(exc)) from None
