"""One served run: the model the draw-a-digit page talks to, and what the API says about its run.

A run still training is served too: ``best.pt`` is loaded again whenever it changes on disk, the run's
``progress.json`` says where training stands, and the test set's predictions (the confusion matrix and
its cells) are computed once per ``best.pt``.
"""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..data import load_mnist
from ..errors import LenetlabError
from ..explore.attribution import occlusion, saliency
from ..graph import model_graph, stage_ops
from ..models import count_parameters
from ..predict import Predictor
from ..rundir import RunDir
from ..training import evaluate
from .projector import CACHE_NAME, METHODS, SPRITE_COLUMNS, Projector, features, sprite_png, vector_layers


def expand_runs(paths: str | Path | list[str | Path] | tuple[str | Path, ...]) -> list[Path]:
    """Run directories or checkpoints to serve; a folder of runs (a sweep's) stands for the runs in it."""
    items = [Path(paths)] if isinstance(paths, str | Path) else [Path(p) for p in paths]
    out: list[Path] = []
    for item in items:
        inner = sorted(p for p in item.iterdir() if (p / "config.json").is_file()) \
            if item.is_dir() and not (item / "config.json").exists() and not (item / "best.pt").exists() else []
        out.extend(inner or [item])
    if not out:
        raise LenetlabError("give at least one run directory or checkpoint to serve")
    return out



class ServedRun:
    """The model the page talks to, and what the API says about its run.

    A run still training is served too: ``best.pt`` is loaded again whenever it changes on disk (one
    ``stat`` per request), and until its first epoch ends the page shows the curves alone.
    """

    def __init__(self, checkpoint_path: str | Path) -> None:
        path = Path(checkpoint_path)
        self.run = RunDir.containing(path)
        self.file = path if path.suffix == ".pt" else self.run.best_path
        # The run's folder name and the file, never an absolute path: the page is no map of the disk.
        self.checkpoint = f"{self.file.parent.name}/{self.file.name}"
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._predictor: Predictor | None = None
        self.graph: dict[str, Any] | None = None
        self.layers: list[dict[str, Any]] = []
        self._test = None
        self._sprite: bytes | None = None
        self._sprite_lock = threading.Lock()
        self.projector = Projector(self.run.path / CACHE_NAME)
        # A run about to start (an empty folder) or still before its first epoch: serve its curves and wait.
        waiting = self.file == self.run.best_path and not self.file.exists() and self.run.path.is_dir() and (
            self.run.has_config() or self.run.progress_path.is_file() or not any(self.run.path.iterdir()))
        if not waiting:
            self.refresh()  # a missing or bad checkpoint is a one-line error now, before anything listens
        # Damaged run files too: read once now (one line, exit 2), not at the first request of a page.
        if self.run.has_config():
            self.run.config  # noqa: B018 - read for its checks
        if self.run.is_finished():
            self.run.metrics  # noqa: B018

    def refresh(self) -> Predictor | None:
        """The model of ``best.pt`` as it is now on disk (``None`` before the first epoch ends)."""
        try:
            info = self.file.stat()
        except FileNotFoundError:
            if self._predictor is None and not self.run.path.is_dir():
                Predictor.load(self.file)  # the usual one-line error
            return self._predictor  # before the first epoch (None), or the last one loaded
        stamp = (info.st_mtime_ns, info.st_size)
        with self._lock:
            if stamp != self._stamp:
                predictor = Predictor.load(self.file)
                predictor.require_digit_input()  # the page draws 28x28 grayscale digits
                try:
                    self.graph = model_graph(predictor.model, predictor.name)
                except LenetlabError:  # a model the page cannot evaluate: it shows the server's numbers only
                    self.graph = None
                self.layers = [{"name": k, "shape": v} for k, v in predictor.layer_shapes().items()]
                self._predictor, self._stamp = predictor, stamp
            return self._predictor

    @property
    def predictor(self) -> Predictor:
        predictor = self.refresh()
        if predictor is None:
            raise LenetlabError(f"{self.run.path.name} has no finished epoch yet: the drawing panel starts with the "
                                "first best.pt")
        return predictor

    @property
    def metrics(self) -> Any:
        return self.run.metrics if self.run.is_finished() else None

    @property
    def data_dir(self) -> str | None:
        return self.run.data_dir if self.run.has_config() else None

    def describe(self) -> dict[str, Any]:
        p = self.predictor
        metrics = self.metrics
        return {
            "name": p.name,
            "arguments": p.arguments,
            "parameters": count_parameters(p.model),
            "class_names": p.class_names,
            "layers": self.layers,
            "test_accuracy": metrics.test.accuracy if metrics else None,
            "best_epoch": metrics.best_epoch if metrics else p.epoch,
            "epoch": p.epoch,
            "checkpoint": self.checkpoint,
        }

    def training(self) -> dict[str, Any]:
        """Where the run stands: its epochs so far, the current one and its step, the time left."""
        try:
            self.refresh()  # so that model_epoch says which best.pt a drawing would use now
        except LenetlabError:
            pass
        progress = self.run.progress()
        if progress is not None:
            history, state = progress["history"], progress["state"]
        elif self.run.is_finished():  # a run from before progress.json existed
            history, state = self.run.metrics.epochs, "finished"
            progress = {"epoch": len(history), "epochs": len(history), "step": 0, "steps_per_epoch": 0,
                        "best_epoch": self.run.metrics.best_epoch, "epoch_started": 0.0, "updated": 0.0}
        else:
            return {"state": "unknown", "history": []}
        per_epoch = [r.train_seconds + r.valid_seconds for r in history]
        mean = sum(per_epoch) / len(per_epoch) if per_epoch else None
        left = progress["epochs"] - len(history)
        if state == "training" and mean is not None:
            done_in_epoch = progress["step"] / max(progress["steps_per_epoch"], 1)
            remaining = round(max(0.0, (left - done_in_epoch) * mean), 1)
        else:
            remaining = None
        return {"state": state, "epoch": progress["epoch"], "epochs": progress["epochs"], "step": progress["step"],
                "steps_per_epoch": progress["steps_per_epoch"], "best_epoch": progress["best_epoch"],
                "seconds_per_epoch": round(mean, 2) if mean is not None else None, "remaining_seconds": remaining,
                "model_epoch": self._predictor.epoch if self._predictor is not None else None,
                "history": [dataclasses.asdict(r) for r in history]}

    def explain(self, x: np.ndarray, method: str, target: int | None) -> dict[str, Any]:
        """Which pixels of the input ``x`` made the model score ``target`` (default: its prediction)."""
        if target is None:
            target = self.predictor.predict_array(x).label
        inputs = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None, None]
        attribute = saliency if method == "saliency" else occlusion
        heat = np.asarray(attribute(self.predictor.model, inputs, torch.tensor([target]))[0], dtype=np.float64)
        return {"method": method, "target": target, "class_name": self.predictor.class_names[target],
                "map": np.round(heat, 6).tolist(), "max_abs": round(float(np.abs(heat).max()), 6)}

    def test_set(self) -> Any:
        """The test images, loaded on first use (the data set the run was trained on)."""
        if self._test is None:
            self._test = load_mnist(self.data_dir).test
        return self._test

    def test_predictions(self) -> tuple[Any, np.ndarray, np.ndarray]:
        """best.pt's predicted class and confidence for every test image (computed once per best.pt)."""
        predictor = self.predictor
        with self._lock:
            if getattr(self, "_predictions_of", None) is not self._predictor:
                result = evaluate(predictor.model, self.test_set(), n_classes=len(predictor.class_names))
                probabilities = result.probabilities.numpy()
                self._predictions = (probabilities.argmax(1), probabilities.max(1))
                self._predictions_of = predictor
            predicted, confidence = self._predictions
        return self.test_set(), predicted, confidence

    def filter_epochs(self) -> dict[str, Any]:
        """C1 at every epoch ``train --keep-filters`` kept, as page operations, and a fixed probe digit.

        The page computes the probe's C1 maps at each epoch itself (lenet.js), from these weights.
        """
        import copy

        folder = self.run.filters_dir
        files = sorted(folder.glob("epoch_*.pt")) if folder.is_dir() else []
        predictor = self.predictor
        c1 = predictor.model.stage("C1")
        epochs = []
        for path in files:
            try:
                payload = torch.load(path, map_location="cpu", weights_only=True)
                stage = copy.deepcopy(c1)
                if "C1_state" in payload:
                    stage.load_state_dict(payload["C1_state"])
                    maps = True
                else:  # kept by an older lenetlab: the kernels only (no bias), no maps
                    stage.conv.weight.data.copy_(payload["C1"])
                    maps = False
                stage.eval()
                with torch.no_grad():
                    ops = stage_ops("C1", stage, predictor.name)
                epochs.append({"epoch": int(payload["epoch"]), "ops": ops, "maps": maps})
            except (OSError, RuntimeError, KeyError, ValueError, AttributeError, TypeError, LenetlabError):
                continue  # a damaged or foreign file: left out, the others still shown
        test = self.test_set()
        return {"epochs": epochs, "probe": {"index": 0, "label": int(test.labels[0]), "image": test.images[0].tolist()}}

    def confusion(self) -> dict[str, Any]:
        """best.pt's confusion matrix on the test set, rows = true class, columns = predicted."""
        test, predicted, _ = self.test_predictions()
        k = len(self.predictor.class_names)
        labels = test.labels.numpy()
        matrix = np.bincount(labels * k + predicted, minlength=k * k).reshape(k, k)
        return {"class_names": self.predictor.class_names, "matrix": matrix.tolist(),
                "epoch": self.predictor.epoch, "accuracy": round(float((predicted == labels).mean()), 6)}

    def cell(self, true: int, predicted: int | None, limit: int) -> dict[str, Any]:
        """The test images of one cell of the confusion matrix (``predicted`` None: every wrong one of
        class ``true``, what its accuracy bar stands for), most confident first (at most ``limit``)."""
        test, predictions, confidence = self.test_predictions()
        labels = test.labels.numpy()
        chosen = predictions != true if predicted is None else predictions == predicted
        indices = np.nonzero((labels == true) & chosen)[0]
        order = indices[np.argsort(-confidence[indices], kind="stable")]
        return {"true": true, "predicted": predicted, "count": int(len(order)),
                "images": [{"index": int(i), "confidence": round(float(confidence[i]), 6),
                            "predicted": int(predictions[i]),
                            "image": test.images[int(i)].tolist()} for i in order[:limit]]}

    # ----- the projector: the test set in 2-d, per representation (projector.py) -----
    def _model_key(self) -> tuple[Predictor, tuple[int, ...]]:
        """The model now, and what its projections are keyed by: the checkpoint's mtime, size, the test set's size."""
        self.predictor  # noqa: B018 - loads a newer best.pt, or says that there is none yet
        with self._lock:
            predictor, stamp = self._predictor, self._stamp
        return predictor, (*stamp, len(self.test_set()))

    def representations(self, predictor: Predictor) -> list[dict[str, Any]]:
        """What the projector can show for this model: the pixels, then each hidden layer that outputs a vector."""
        shapes = {layer["name"]: layer["shape"] for layer in self.layers}
        return [{"key": "pixels", "layer": None, "dimensions": predictor.input_size ** 2}] + [
            {"key": layer.lower(), "layer": layer, "dimensions": int(np.prod(shapes[layer]))}
            for layer in vector_layers(shapes)]

    def projections(self) -> dict[str, Any]:
        """The representations the projector offers, and which of their projections are computed already."""
        predictor, key = self._model_key()
        return {"representations": self.representations(predictor), "methods": list(METHODS),
                "ready": self.projector.ready(key), "n": key[-1], "sprite": {"columns": SPRITE_COLUMNS,
                                                                              "tile": predictor.input_size}}

    def projection(self, rep: str, method: str) -> dict[str, Any]:
        """The test images as 2-d points in [-1, 1] (``rep`` by ``method``, both checked by the caller), their
        labels and predictions; ``{"state": "computing", ...}`` while a t-SNE runs in the background."""
        predictor, key = self._model_key()
        layers = [r["layer"] for r in self.representations(predictor) if r["layer"]]
        points = self.projector.points(key, rep, method,
                                       lambda: features(predictor.model, self.test_set().as_float(), layers))
        if isinstance(points, dict):
            return points
        test, predicted, _ = self.test_predictions()
        return {"rep": rep, "method": method, "n": len(points), "points": np.round(points, 4).tolist(),
                "labels": test.labels.tolist(), "predicted": predicted.tolist(),
                "seconds": self.projector.seconds.get(f"{rep}-{method}")}

    def sprite(self) -> bytes:
        """Every test digit in one PNG (tile i at column i % 100, row i // 100), made once.

        Built under its own lock: 32 first requests wait for one build instead of making 32 (13.9 s and
        +440 MB measured before).
        """
        with self._sprite_lock:
            if self._sprite is None:
                self._sprite = sprite_png(self.test_set().images)
            return self._sprite

    def predict(self, x: np.ndarray) -> dict[str, Any]:
        prediction = self.predictor.predict_array(x, activations=True)
        activations = {}
        for name, v in (prediction.activations or {}).items():
            if v.ndim == 3 and v.shape[1] * v.shape[2] == 1:  # C5 is 120 maps of 1x1: a strip, not maps
                v = v.reshape(-1)
            activations[name] = {
                "kind": "maps" if v.ndim == 3 else "vector",
                "shape": list(v.shape),
                "min": round(float(v.min()), 5),
                "max": round(float(v.max()), 5),
                "values": np.round(v.astype(np.float64), 3).tolist(),
            }
        return {
            "label": prediction.label,
            "class_name": prediction.class_name,
            "probabilities": [round(float(p), 6) for p in prediction.probabilities],
            "input": np.round(x.astype(np.float64), 4).tolist(),
            "activations": activations,
        }
