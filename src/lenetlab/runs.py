"""A run directory: what ``lenetlab train`` writes and everything after training reads.

    RUN/config.json   every setting, the data's sha256, library versions
    RUN/metrics.json  per-epoch history, best epoch, parameters, test numbers
    RUN/best.pt       weights of the epoch with the lowest validation loss (used for evaluation)
    RUN/last.pt       weights of the last epoch, with optimizer and RNG state for --resume
    RUN/*.png         samples, loss curves, predictions, confusion matrix, per-class accuracy
    RUN/report.html   all of it in one self-contained page
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import platform
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import distributed, plots
from ._fs import ensure_folder
from .data import MNISTData, load_mnist
from .errors import LenetlabError, TrainingInterrupted
from .models import build_model, count_parameters
from .preprocess import mnist_preprocess, open_image
from .report import write_report
from .training import (
    DivergedError,
    EvalResult,
    TrainConfig,
    evaluate,
    fit,
    load_checkpoint,
    read_checkpoint,
    resolve_device,
)

RUN_ARTIFACTS = (
    "config.json", "metrics.json", "best.pt", "last.pt", "samples.png", "loss_curves.png",
    "predictions.png", "confusion_matrix.png", "per_class_accuracy.png", "report.html",
)


def library_versions() -> dict[str, str]:
    import matplotlib
    import PIL

    from . import __version__

    return {
        "lenetlab": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": np.__version__,
        "matplotlib": matplotlib.__version__,
        "pillow": PIL.__version__,
        "platform": platform.platform(),
    }


def default_run_dir(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"


def prepare_run_dir(run_dir: Path, force: bool) -> None:
    """Create the run directory; never overwrite an existing run without ``force``."""
    if run_dir.is_dir() and any(run_dir.iterdir()):
        if not force:
            raise LenetlabError(
                f"{run_dir} already holds a run; choose another --out, pass --force to overwrite it, "
                f"or --resume {run_dir} to continue it"
            )
        for name in RUN_ARTIFACTS:
            (run_dir / name).unlink(missing_ok=True)
        shutil.rmtree(run_dir / "filters", ignore_errors=True)
    ensure_folder(run_dir)


def _write_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)


def _train_loss_label(config: TrainConfig) -> str:
    """Say why the training loss can sit above the validation loss: it is not measured the same way."""
    how = ([f"label smoothing {config.label_smoothing:g}"] if config.label_smoothing else []) + (
        [f"{config.augment} augmentation"] if config.augment != "none" else [])
    return f"train ({', '.join(how)})" if how else "train"


def write_figures(run_dir: Path, data: MNISTData, history: list[dict], test: EvalResult,
                  train_label: str = "train") -> None:
    """The five figures of a run, from its data, history and test evaluation."""
    names = data.class_names
    figures = {
        "samples.png": plots.samples_figure(data.train.images[:16].numpy(), data.train.labels[:16].tolist(), names),
        "loss_curves.png": plots.loss_curves_figure(history, train_label),
        "predictions.png": plots.predictions_figure(
            data.test.images[:20].numpy(), test.predictions[:20].tolist(), data.test.labels[:20].tolist(), names),
        "confusion_matrix.png": plots.confusion_matrix_figure(test.confusion_matrix, names),
        "per_class_accuracy.png": plots.per_class_accuracy_figure(test.per_class_accuracy, names),
    }
    for filename, fig in figures.items():
        plots.save(fig, run_dir / filename)


def train_run(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
) -> dict[str, Any]:
    """Train a model as ``config`` says, test its best epoch, and write a complete run directory.

    With ``resume=True``, ``run_dir``'s own ``config.json`` is used and training continues from
    ``last.pt`` (or starts over if the run died before its first epoch ended). Ctrl-C and SIGTERM
    stop after the last complete epoch's checkpoint and raise :class:`TrainingInterrupted`.
    Returns the metrics (also in ``RUN/metrics.json``).

    Examples
    --------
    >>> metrics = train_run(TrainConfig.from_preset("default", epochs=1), "runs/try")  # doctest: +SKIP
    >>> metrics["test"]["accuracy"]                                                    # doctest: +SKIP
    0.97...
    """
    run_dir = Path(run_dir) if run_dir is not None else default_run_dir(config.model)
    if resume:
        if not (run_dir / "config.json").is_file():
            raise LenetlabError(f"{run_dir} holds no run to resume (no config.json); start a new run with --out")
        config = TrainConfig(**json.loads((run_dir / "config.json").read_text())["train"])
    device = distributed.local_device(resolve_device(config.device))
    distributed.init(device)
    rank, world = distributed.rank_and_world()
    if rank != 0:
        log, progress = None, False
    data = load_mnist(config.data_dir, config.valid_fraction, config.seed)
    # The data decide the number of classes and the input size unless the user fixed them.
    model_args = {"n_classes": data.n_classes, "input_size": int(data.train.images.shape[-1]), **config.model_args}
    torch.manual_seed(config.seed)
    model = build_model(config.model, **model_args).to(device)
    resume_state = None
    if resume and (run_dir / "last.pt").is_file():
        model, checkpoint = load_checkpoint(run_dir / "last.pt", device)
        resume_state = checkpoint.get("resume")
        if resume_state is None:
            raise LenetlabError(f"{run_dir / 'last.pt'} carries no training state; it cannot be resumed")
        if int(resume_state["epoch"]) >= config.epochs and (run_dir / "metrics.json").is_file():
            raise LenetlabError(f"{run_dir} already finished all {config.epochs} epochs; nothing to resume. To train "
                                f"longer, start a new run: lenetlab train --epochs N --out NEW_DIR")
        model.train()
    elif not resume and rank == 0:  # only now, with data and architecture known to be valid, touch the disk
        prepare_run_dir(run_dir, force)
    distributed.barrier()
    parameters = count_parameters(model)
    if rank == 0:
        _write_json(run_dir / "config.json", {
            "train": config.to_dict(),
            "model_args": dict(model.config),
            "parameters": parameters,
            "data": {"source": data.source, "sha256": data.sha256, "class_names": list(data.class_names),
                     "train": len(data.train), "valid": len(data.valid), "test": len(data.test)},
            "device": str(device),
            "processes": world,
            "versions": library_versions(),
        })
    if log is not None:
        start = f"resuming after epoch {resume_state['epoch']}" if resume_state else "writing"
        log(f"{config.model}: {parameters:,} parameters, {len(data.train):,} train / {len(data.valid):,} valid / "
            f"{len(data.test):,} test images from {data.source}, on {device}"
            + (f" x {world} processes" if world > 1 else "") + f"; {start} {run_dir}")

    with _signals_raise_interrupt():
        try:
            state = fit(model, data, config, run_dir, progress=progress, log=log, resume_state=resume_state)
        except KeyboardInterrupt as exc:
            done = _last_complete_epoch(run_dir)
            code = 143 if isinstance(exc, _Terminated) else 130
            saved = (f"{run_dir / 'last.pt'} holds epoch {done} of {config.epochs}" if done
                     else "no epoch had finished yet (--resume starts it over)")
            raise TrainingInterrupted(f"interrupted; {saved}. Continue with: lenetlab train --resume {run_dir}",
                                      code) from None
        except DivergedError as exc:
            raise LenetlabError(f"{exc} (add --force to reuse {run_dir})") from None

    if rank != 0:
        distributed.shutdown()
        return {}
    best, checkpoint = load_checkpoint(run_dir / "best.pt", device)
    test = evaluate(best, data.test, config.eval_batch_size, data.n_classes)
    history = [dataclasses.asdict(r) for r in state.history]
    metrics = {
        "model": config.model,
        "preset": config.preset,
        "epochs": history,
        "best_epoch": state.best_epoch,
        "parameters": parameters,
        "train_seconds": round(sum(h["train_seconds"] for h in history), 3),
        "test": test.to_dict(),
    }
    _write_json(run_dir / "metrics.json", metrics)
    write_figures(run_dir, data, history, test, _train_loss_label(config))
    write_report(run_dir, evaluation=(data, test))
    distributed.shutdown()
    if log is not None:
        log(f"test accuracy {100 * test.accuracy:.2f}% (best epoch {state.best_epoch}, loss {test.loss:.4f}); "
            f"run saved in {run_dir}")
    return metrics


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (a KeyboardInterrupt so the same clean-up path runs)."""


def _last_complete_epoch(run_dir: Path) -> int:
    try:
        return int(read_checkpoint(run_dir / "last.pt").get("epoch", 0))
    except LenetlabError:
        return 0


@contextlib.contextmanager
def _signals_raise_interrupt() -> Iterator[None]:
    """Turn SIGTERM into an exception like Ctrl-C, so both stop at a clean point.

    Checkpoints are written to a temporary file and renamed, so an interrupt that lands in the
    middle of a save leaves the previous checkpoint whole.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def evaluate_run(path: str | Path, data_dir: str | None = None, device: str = "auto") -> tuple[EvalResult, tuple[str, ...]]:
    """Evaluate a run's ``best.pt`` (or any checkpoint) on the test set; returns the result and class names.

    Examples
    --------
    >>> result, names = evaluate_run("runs/lenet5-20261126-101500")  # doctest: +SKIP
    >>> round(result.accuracy, 4), result.per_class_accuracy[:2]      # doctest: +SKIP
    (0.9934, [0.997959, 0.998238])
    """
    model, checkpoint = load_checkpoint(path, resolve_device(device))
    data = load_mnist(data_dir)
    expected = checkpoint["model_args"].get("n_classes", 10)
    if data.n_classes > expected:
        raise LenetlabError(f"the data set has {data.n_classes} classes but the checkpoint predicts {expected}; "
                            "use the --data-dir it was trained on")
    return evaluate(model, data.test, n_classes=expected), tuple(checkpoint.get("class_names") or data.class_names)


def _preprocess_file(path: str | Path) -> np.ndarray:
    try:
        return mnist_preprocess(open_image(path))
    except LenetlabError as exc:
        if str(path) in str(exc):
            raise
        raise LenetlabError(f"{path}: {exc}; give an image with a dark digit on light paper or the reverse") from None


def predict_images(path: str | Path, images: list[str | Path], device: str = "auto") -> list[dict[str, Any]]:
    """Classify image files with a checkpoint, after MNIST's own preprocessing.

    Returns one dict per image: ``path``, ``label``, ``class_name``, ``probability``, ``probabilities``.

    Examples
    --------
    >>> [r["label"] for r in predict_images("runs/lenet5-20261126-101500", ["my_seven.png"])]  # doctest: +SKIP
    [7]
    """
    model, checkpoint = load_checkpoint(path, resolve_device(device))
    expected_size = int(checkpoint["model_args"].get("input_size", 28))
    if expected_size != 28:
        raise LenetlabError(f"this checkpoint expects {expected_size}x{expected_size} inputs; predict only handles 28x28")
    names = checkpoint.get("class_names") or [str(i) for i in range(10)]
    batch = np.stack([_preprocess_file(p) for p in images])
    inputs = torch.from_numpy(batch).unsqueeze(1).to(next(model.parameters()).device)
    with torch.inference_mode():
        probs = model(inputs).softmax(1).cpu()
    results = []
    for p, row in zip(images, probs):
        label = int(row.argmax())
        results.append({"path": str(p), "label": label, "class_name": names[label],
                        "probability": round(float(row[label]), 6),
                        "probabilities": [round(float(v), 6) for v in row]})
    return results

