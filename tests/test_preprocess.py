import numpy as np
import pytest
from PIL import Image

from lenetlab import LenetlabError, mnist_preprocess
from lenetlab.preprocess import open_image


def _center_of_mass(x):
    ys, xs = np.indices(x.shape)
    return (ys * x).sum() / x.sum(), (xs * x).sum() / x.sum()


def test_dark_on_light_is_inverted_cropped_and_centred():
    canvas = np.full((300, 200), 250, np.uint8)
    canvas[40:260, 20:60] = 10  # a tall dark bar in the top-left
    x = mnist_preprocess(canvas)
    assert x.shape == (28, 28) and x.dtype == np.float32
    assert x[0].max() == 0 and x[:, 0].max() == 0  # background became black
    rows, cols = np.nonzero(x > 0.5)
    assert rows.max() - rows.min() + 1 == 20  # the longer side is fitted to 20 px
    assert 3 <= cols.max() - cols.min() + 1 <= 5  # aspect ratio kept: 220x40 -> 20x~3.6
    cy, cx = _center_of_mass(x)
    assert abs(cy - 14) < 1 and abs(cx - 14) < 1


def test_light_on_dark_is_not_inverted_and_same_result():
    ink = np.zeros((90, 90), np.uint8)
    ink[10:70, 30:45] = 255
    ink[10:20, 30:70] = 255
    light_on_dark = mnist_preprocess(ink)
    dark_on_light = mnist_preprocess(255 - ink)
    assert np.allclose(light_on_dark, dark_on_light, atol=1e-6)


def test_mnist_digit_survives_the_round_trip(mnist):
    correlations = []
    for digit in mnist.test.images[:20].numpy():
        # as a user would photograph it: dark on light paper, ten times larger
        big = np.asarray(Image.fromarray(255 - digit).resize((280, 280), Image.Resampling.BICUBIC))
        x = mnist_preprocess(big)
        correlations.append(np.corrcoef(x.ravel(), digit.ravel() / 255.0)[0, 1])
    assert np.median(correlations) > 0.85


def test_transparent_png_counts_as_paper(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[10:54, 28:36] = (0, 0, 0, 255)  # black stroke on a transparent canvas
    path = tmp_path / "stroke.png"
    Image.fromarray(rgba, "RGBA").save(path)
    x = mnist_preprocess(open_image(path))
    assert x.max() == pytest.approx(1.0) and x[0].max() == 0


def test_white_ink_on_a_transparent_canvas(tmp_path):
    rgba = np.zeros((64, 64, 4), np.uint8)
    rgba[10:54, 28:36] = (255, 255, 255, 255)  # white stroke, as a dark-mode drawing app saves it
    path = tmp_path / "white_stroke.png"
    Image.fromarray(rgba, "RGBA").save(path)
    black = rgba.copy()
    black[10:54, 28:36, :3] = 0
    Image.fromarray(black, "RGBA").save(tmp_path / "black_stroke.png")
    white_x = mnist_preprocess(open_image(path))
    assert white_x.max() == pytest.approx(1.0) and white_x[0].max() == 0
    assert np.allclose(white_x, mnist_preprocess(open_image(tmp_path / "black_stroke.png")))


def test_blank_and_unreadable_images(tmp_path):
    with pytest.raises(LenetlabError, match="no visible digit"):
        mnist_preprocess(np.full((50, 50), 255, np.uint8))
    bad = tmp_path / "notes.png"
    bad.write_text("this is not a picture")
    with pytest.raises(LenetlabError, match="cannot read .* as an image"):
        open_image(bad)
    with pytest.raises(LenetlabError, match="no image at"):
        open_image(tmp_path / "missing.png")
    with pytest.raises(LenetlabError, match="NaN"):
        mnist_preprocess(np.full((28, 28), np.nan, np.float32))


def test_noisy_unevenly_lit_photo_still_yields_a_full_size_digit():
    """Sensor noise and a lighting gradient must not become "ink" that shrinks the digit."""
    from PIL import ImageDraw

    page = Image.new("L", (1200, 900), 235)
    ImageDraw.Draw(page).line([(500, 350), (700, 350), (600, 450), (700, 550), (500, 550)], fill=20, width=24)
    rng = np.random.default_rng(0)
    gradient = 30 * np.linspace(-1, 1, 1200)[None, :]
    photo = np.clip(np.asarray(page, np.float32) + rng.normal(0, 15, (900, 1200)) + gradient, 0, 255).astype(np.uint8)
    x = mnist_preprocess(photo)
    rows = np.nonzero(x.max(axis=1) > 0.3)[0]
    assert rows.max() - rows.min() + 1 == 20  # fitted to 20 px, as the clean drawing is
    clean = mnist_preprocess(np.asarray(page))
    assert np.corrcoef(x.ravel(), clean.ravel())[0, 1] > 0.9
