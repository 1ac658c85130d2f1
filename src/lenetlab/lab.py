"""``lenetlab lab``: the page that trains, one offline HTML file.

It holds a class-sized part of MNIST (by default the first 12,000 images of the training split and the first
2,000 of the test set, gzip-compressed; the browser unpacks them itself), the default arguments of the models it
offers (from the registry, so the page declares none of Python's values) and the training engine of
``web/static`` (layers.js, networks.js, trainer.js, and gpu_kernels.js with gpu.js for a graphics card with
WebGPU, run by lab_worker.js in a Web Worker). Nothing is fetched.
"""

from __future__ import annotations

import base64
import gzip
from pathlib import Path
from typing import Any

import numpy as np

from ._fs import check_replaceable, write_text
from .config import TrainConfig
from .data import load_mnist
from .i18n import check_lang, t
from .models import FC_EQUAL_DEPTH_HIDDEN, build_model
from .page import STATIC, assemble_page, page_messages, render_page, script_json

# The page's own scripts, in index.html's order, and the Web Worker's (its code is their text, one after another).
LAB_SCRIPTS = ("lenet.js", "layers.js", "networks.js", "trainer.js", "app.js", "lab.js")
WORKER_SCRIPTS = ("lenet.js", "layers.js", "networks.js", "trainer.js", "gpu_kernels.js", "gpu.js",
                  "lab_worker.js")
TRAIN_IMAGES, TEST_IMAGES = 12_000, 2_000
# Where the page that trains puts a trained network into the draw-a-digit page (the one `lenetlab export` writes):
# that page, rendered with this stand-in for its model, which lab.js replaces (LabPage.openExplorer).
EXPLORER_MARK = {"lab": "the network trained in the page"}
# lenetlab's recipe (TrainConfig's defaults) but for the batch, the rate and the epochs, which suit 12,000 images:
# 3 epochs of batches of 32 at a peak rate of 0.1 gave 97.75 % on the page's 2,000 test images in PyTorch
# (seed 0; 96.85 % with batches of 64, 91.0 % with 128 at 0.05). docs/see-it.md: the page's own numbers.
LAB_RECIPE = {"epochs": 3, "batchSize": 32, "lr": 0.1, "schedule": "onecycle"}


def _packed(array: np.ndarray) -> str:
    """uint8 bytes, gzip-compressed, base64: what the page's DecompressionStream unpacks."""
    return base64.b64encode(gzip.compress(np.ascontiguousarray(array, dtype=np.uint8).tobytes(), 9, mtime=0)).decode()


def lab_data(train_images: int = TRAIN_IMAGES, test_images: int = TEST_IMAGES, lang: str = "en") -> dict[str, Any]:
    """What the page embeds: the images, the models' default arguments, the recipe, the worker's code and the
    draw-a-digit page in ``lang`` for a network it trained.

    Examples
    --------
    >>> data = lab_data(100, 10)
    >>> data["train"]["n"], data["test"]["n"], sorted(data["models"]), data["recipe"]["batchSize"]
    (100, 10, ['fcnet', 'lenet5', 'mlp'], 32)
    """
    mnist = load_mnist()
    defaults = TrainConfig()
    models = {name: dict(build_model(name).config) for name in ("lenet5", "mlp")}
    models["fcnet"] = dict(build_model("fcnet", hidden=list(FC_EQUAL_DEPTH_HIDDEN), activation="tanh").config)
    recipe = {"momentum": defaults.momentum, "nesterov": defaults.nesterov, "weightDecay": defaults.weight_decay,
              "smoothing": defaults.label_smoothing, "shift": 2 if defaults.augment == "shift" else 0, **LAB_RECIPE}
    worker = "\n".join((STATIC / name).read_text(encoding="utf-8") for name in WORKER_SCRIPTS)
    return {
        "train": {"n": train_images, "images": _packed(mnist.train.images[:train_images].numpy()),
                  "labels": _packed(mnist.train.labels[:train_images].numpy())},
        "test": {"n": test_images, "images": _packed(mnist.test.images[:test_images].numpy()),
                 "labels": _packed(mnist.test.labels[:test_images].numpy())},
        "models": models, "recipe": recipe, "worker": worker,
        "explorer": render_page(lang, embedded=EXPLORER_MARK, title=t(lang, "lab.explorer_title")),
        "explorerMark": script_json(EXPLORER_MARK),
    }


def render_lab(lang: str, data: dict[str, Any]) -> str:
    """The page in ``lang`` with ``data`` (:func:`lab_data`) and every style and script inlined."""
    settings = (f"window.LENETLAB_LANG = {script_json(lang)}; "
                f"window.LENETLAB_MESSAGES = {script_json(page_messages(lang))};\n"
                f"  window.LENETLAB_LAB = {script_json(data)};")
    body = (STATIC / "lab.html").read_text(encoding="utf-8")
    return assemble_page(body[body.index("<body"):], lang, t(lang, "lab.title"), settings, LAB_SCRIPTS, inline=True)


def write_lab(out: str | Path = "lab.html", lang: str | None = None, *, train_images: int = TRAIN_IMAGES,
              test_images: int = TEST_IMAGES) -> Path:
    """Write the page that trains to ``out`` in ``lang`` (default: the system's language); returns the path.

    Examples
    --------
    >>> path = write_lab("lab.html", "fr", train_images=200, test_images=50)
    >>> path.stat().st_size < 500_000, "Entraîner" in path.read_text(encoding="utf-8")   # the engine and 250 images
    (True, True)
    """
    lang = check_lang(lang)
    path = check_replaceable(out)  # before any work: a file of the user's is never replaced
    return write_text(path, render_lab(lang, lab_data(train_images, test_images, lang)))
