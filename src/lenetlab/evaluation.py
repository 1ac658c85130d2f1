"""A run's best epoch on its test set: ``evaluate_run``, ``evaluate_best`` and the most ``confidently_wrong``.

One place for what the report, the explorations, ``lenetlab evaluate`` and the served page each need
of a trained run's test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import load_checkpoint
from .data import MNISTData, load_mnist
from .errors import LenetlabError
from .i18n import number, t
from .rundir import RunDir
from .training import EvalResult, evaluate, resolve_device


def evaluate_best(run: RunDir) -> tuple[MNISTData, EvalResult]:
    """The run's data and its ``best.pt`` evaluated on their test set.

    Examples
    --------
    >>> data, result = evaluate_best(RunDir("runs/lenet5"))
    >>> len(data.test) == len(result.predictions), result.accuracy > 0.5
    (True, True)
    """
    model, checkpoint = load_checkpoint(run.best_path)
    data = load_mnist(run.data_dir)
    return data, evaluate(model, data.test, n_classes=int(checkpoint["model_args"].get("n_classes", data.n_classes)))


def evaluate_run(path: str | Path, data_dir: str | None = None, device: str = "auto",
                 log: Callable[[str], None] | None = None, lang: str = "en",
                 tta_shift: int = 0) -> tuple[EvalResult, tuple[str, ...]]:
    """Evaluate a run's ``best.pt`` (or any checkpoint) on the test set; returns the result and class names.

    ``tta_shift``: decide on the predictions averaged over shifted copies (``training.evaluate``).

    The test set is the one the run was trained on (its recorded ``data_dir``) unless ``data_dir``
    is given; ``log`` is told which.

    Examples
    --------
    >>> result, names = evaluate_run("runs/lenet5-20261126-101500")
    >>> len(result.per_class_accuracy), names[:2]
    (10, ('0', '1'))
    >>> round(result.accuracy, 2) > 0.5   # 0.99 after the default 40 epochs
    True
    """
    model, checkpoint = load_checkpoint(path, resolve_device(device))
    data_dir = data_dir if data_dir is not None else recorded_data_dir(path)
    data = load_mnist(data_dir)
    if log is not None:
        source = t(lang, "report.bundled_mnist") if data.source == "bundled MNIST" else data.source
        log(t(lang, "cli.test_set", n=number(len(data.test), lang), source=source))
    expected = int(checkpoint["model_args"].get("n_classes", 10))
    if data.n_classes > expected:
        raise LenetlabError.of("error.classes_mismatch", data=data.n_classes, expected=expected)
    size = int(checkpoint["model_args"].get("input_size", 28))
    if tuple(data.test.images.shape[1:]) != (size, size):
        raise LenetlabError.of("error.size_mismatch", size=size, shape="x".join(map(str, data.test.images.shape[1:])))
    return evaluate(model, data.test, n_classes=expected, tta_shift=tta_shift), tuple(checkpoint.get("class_names") or data.class_names)


def recorded_data_dir(path: str | Path) -> str | None:
    """The data folder recorded in the run that holds ``path`` (``None``: bundled MNIST, or no run)."""
    run = RunDir.containing(path)
    return run.data_dir if run.has_config() else None


@dataclass(frozen=True)
class WrongPrediction:
    """A misclassified test image: its index in the test set, the prediction, the truth, the confidence."""

    index: int
    predicted: int
    true: int
    confidence: float


def confidently_wrong(probabilities: Any, labels: Any, k: int = 12) -> list[WrongPrediction]:
    """The ``k`` misclassified images the model was most sure about, most confident first.

    ``probabilities`` is (N, n_classes), ``labels`` is (N,) (tensors or arrays). Ties keep test-set order.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    >>> [(w.index, w.predicted, w.true) for w in confidently_wrong(probs, np.array([1, 1, 0, 0]), k=2)]
    [(0, 0, 1), (3, 1, 0)]
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probs.argmax(1)
    confidence = probs.max(1)
    wrong = np.nonzero(predicted != labels)[0]
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return [WrongPrediction(int(i), int(predicted[i]), int(labels[i]), float(confidence[i])) for i in order]
