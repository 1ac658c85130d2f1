"""The projector's numbers: every test image as a point in 2-d, for each representation of the served model,
and the test digits as one sprite sheet for the page's hover thumbnails.

A representation is the raw pixels or a hidden layer whose output is one vector per image (LeNet-5's C5 and
F6, the MLP's H1 and H2), read with ``model.activations``. PCA of all of them takes a second or two and is
computed at the first request. t-SNE of the 10,000 test images takes from half a minute to over a minute per
representation on a 2-core machine, so it is computed only when the page asks for it, in the background and
one at a time (the page polls, answered 202 meanwhile). Both are kept in ``RUN/projections.npz``, written
atomically and keyed by the checkpoint's mtime and size: a newer ``best.pt`` (a run still training) computes
them again.
"""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .._fs import atomic_write
from ..errors import LenetlabError
from ..explore.embeddings import project as explore_project

CACHE_NAME = "projections.npz"
METHODS = ("pca", "tsne")
SPRITE_COLUMNS = 100  # 10,000 test digits: a 100x100 grid of 28x28 tiles, 2800x2800 pixels
_BATCH = 1000
# A t-SNE keeps its cores busy for a minute: one at a time, whichever run or representation asks.
_TSNE_SLOT = threading.Lock()


def in_background(work: Callable[[], Any]) -> Future:
    """``work()`` in a daemon thread, after any other t-SNE (a daemon: Ctrl+C stops `serve` at once)."""
    future: Future = Future()

    def run() -> None:
        with _TSNE_SLOT:
            try:
                future.set_result(work())
            except Exception as exc:  # noqa: BLE001 - handed to the request that asks next
                future.set_exception(exc)

    threading.Thread(target=run, name="lenetlab-tsne", daemon=True).start()
    return future


def vector_layers(shapes: dict[str, list[int]]) -> list[str]:
    """The hidden layers that turn an image into one vector (C5's 120 maps of 1x1 count; ``output`` is the
    answer, not a representation).

    Examples
    --------
    >>> vector_layers({"C1": [6, 28, 28], "C5": [120, 1, 1], "F6": [84], "output": [10]})
    ['C5', 'F6']
    """
    return [name for name, shape in shapes.items() if name != "output" and all(s == 1 for s in shape[1:])]


def features(model: torch.nn.Module, images: torch.Tensor, layers: list[str]) -> dict[str, np.ndarray]:
    """Each representation of float images (N, 1, H, W) as an (N, D) array, keyed ``pixels``, ``c5``, ..."""
    out = {"pixels": images.reshape(len(images), -1).numpy()}
    chunks: dict[str, list[np.ndarray]] = {layer: [] for layer in layers}
    with torch.inference_mode():
        for start in range(0, len(images), _BATCH):  # all 10,000 at once would hold C1's maps for all of them
            activations = model.activations(images[start:start + _BATCH])
            for layer in layers:
                chunks[layer].append(activations[layer].reshape(-1, activations[layer][0].numel()).float().numpy())
    out.update({layer.lower(): np.concatenate(parts) for layer, parts in chunks.items()})
    return out


def normalised(points: np.ndarray) -> np.ndarray:
    """Centred on their bounding box and scaled into [-1, 1], both axes by the same factor (PCA's axes keep
    their proportions).

    Examples
    --------
    >>> normalised(np.array([[0.0, 0.0], [4.0, 2.0]])).tolist()
    [[-1.0, -0.5], [1.0, 0.5]]
    """
    points = np.asarray(points, np.float64)
    low, high = points.min(0), points.max(0)
    half = float((high - low).max()) / 2 or 1.0
    return ((points - (low + high) / 2) / half).astype(np.float32)


def project(x: np.ndarray, method: str, seed: int = 0) -> np.ndarray:
    """2-d PCA or t-SNE of (N, D) features, as ``lenetlab explore embeddings`` computes them.

    PCA on one thread: the PCA of the 10,000 test images' pixels takes 0.2 s on one, and 1 to 11 s on two
    threads of a 2-core machine (idle, then busy). t-SNE on every core but one, left to the page's predictions.
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1 if method == "pca" else max(1, (os.cpu_count() or 2) - 1)):
        return explore_project(x, method, seed)


def sprite_png(images: torch.Tensor) -> bytes:
    """uint8 images (N, 28, 28) as one grayscale PNG: tile i at column i % 100, row i // 100."""
    from PIL import Image

    array = images.numpy()
    n, h, w = array.shape
    rows = -(-n // SPRITE_COLUMNS)
    sheet = np.zeros((rows * SPRITE_COLUMNS, h, w), np.uint8)
    sheet[:n] = array
    sheet = sheet.reshape(rows, SPRITE_COLUMNS, h, w).transpose(0, 2, 1, 3).reshape(rows * h, SPRITE_COLUMNS * w)
    buffer = io.BytesIO()
    Image.fromarray(sheet, "L").save(buffer, "PNG")
    return buffer.getvalue()


def read_cache(path: Path, key: tuple[int, ...]) -> dict[str, np.ndarray]:
    """The points ``path`` holds for ``key`` (the last of which is the number of test images), else none.

    Only what :class:`Projector` writes is read, and its sizes are checked from the zip's directory
    before anything is decompressed: a small file cannot cost gigabytes, nor serve a wrong shape or a NaN.
    """
    n = key[-1]
    try:
        with zipfile.ZipFile(path) as archive:
            entries = {e.filename: e for e in archive.infolist()}
            if "key.npy" not in entries or any(not name.endswith(".npy") or e.file_size > 16 * n + 4096
                                               for name, e in entries.items()):
                return {}
        with np.load(path, allow_pickle=False) as saved:
            if tuple(saved["key"].tolist()) != key:
                return {}
            points = {name: saved[name] for name in saved.files if name != "key"}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        return {}  # none yet, or damaged: computed again
    if all(p.dtype == np.float32 and p.shape == (n, 2) and np.isfinite(p).all() for p in points.values()):
        return points
    return {}


class Projector:
    """The 2-d points of one served run, cached in memory and in ``RUN/projections.npz``.

    ``key`` says which model and data the points belong to (the checkpoint's mtime and size, the number of
    test images); points of another key are never served.
    """

    def __init__(self, cache_path: Path) -> None:
        self.cache_path = cache_path
        self._lock = threading.Lock()
        self._key: tuple[int, ...] | None = None
        self._points: dict[str, np.ndarray] = {}  # "c5-pca" -> (N, 2) float32 in [-1, 1]
        self._running: dict[str, tuple[Future, float]] = {}  # t-SNE in the background, and when it started
        self.seconds: dict[str, float] = {}  # how long each took here (not kept on disk)

    def _use(self, key: tuple[int, ...]) -> None:
        """Switch to ``key``: the points on disk when they are that key's, else none (call under the lock)."""
        if key == self._key:
            return
        self._key, self._points, self._running = key, {}, {}
        self._points = read_cache(self.cache_path, key)

    def _save(self) -> None:
        """Every point of the current key, written atomically; a run folder we cannot write keeps them in memory."""
        arrays = {"key": np.array(self._key, np.int64), **self._points}
        try:
            atomic_write(self.cache_path, lambda f: np.savez(f, **arrays))
        except OSError:
            pass

    def ready(self, key: tuple[int, ...]) -> list[str]:
        """The ``rep-method`` names computed for ``key``."""
        with self._lock:
            self._use(key)
            return sorted(self._points)

    def points(self, key: tuple[int, ...], rep: str, method: str,
               compute_features: Callable[[], dict[str, np.ndarray]]) -> np.ndarray | dict[str, Any]:
        """The (N, 2) points of ``rep`` by ``method``, or, while t-SNE computes them, how long it has run."""
        name = f"{rep}-{method}"
        with self._lock:
            self._use(key)
            if name in self._points:
                return self._points[name]
            if method == "pca":  # every representation at once: the features are computed once
                started = time.perf_counter()
                reps = compute_features()
                self.seconds["features"] = round(time.perf_counter() - started, 2)
                for r, x in reps.items():
                    started = time.perf_counter()
                    self._points[f"{r}-pca"] = normalised(project(x, "pca"))
                    self.seconds[f"{r}-pca"] = round(time.perf_counter() - started, 2)
                self._save()
                return self._points[name]
            if name not in self._running:
                self._running[name] = (in_background(lambda: self._tsne(key, rep, compute_features)), time.time())
            job, since = self._running[name]
        if job.done():
            if job.exception() is not None:
                with self._lock:
                    self._running.pop(name, None)  # the next request tries again
                raise LenetlabError(f"t-SNE of {rep} failed ({job.exception()}); ask again to retry")
            return self.points(key, rep, method, compute_features)
        return {"state": "computing", "rep": rep, "method": method, "elapsed": round(time.time() - since, 1)}

    def _tsne(self, key: tuple[int, ...], rep: str, compute_features: Callable[[], dict[str, np.ndarray]]) -> None:
        started = time.perf_counter()
        points = normalised(project(compute_features()[rep], "tsne"))
        with self._lock:
            if key == self._key:  # not a model that best.pt has replaced meanwhile
                self._points[f"{rep}-tsne"] = points
                self.seconds[f"{rep}-tsne"] = round(time.perf_counter() - started, 2)
                self._running.pop(f"{rep}-tsne", None)
                self._save()
