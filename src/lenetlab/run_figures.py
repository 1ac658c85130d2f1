"""The five figures of a run (samples, predictions, loss curves, confusion matrix, per-class accuracy).

One list, drawn by ``train_run`` after training and by the report when it redraws them in its own
language; below both, so neither imports the other for them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import plots
from .config import TrainConfig
from .data import MNISTData
from .i18n import number, t
from .training import EvalResult


def train_loss_label(config: TrainConfig, lang: str = "en") -> str:
    """Say why the training loss can sit above the validation loss: it is not measured the same way."""

    how = ([t(lang, "fig.label_smoothing", value=number(config.label_smoothing, lang, 1))] if config.label_smoothing
           else []) + ([t(lang, f"fig.augment.{config.augment}")] if config.augment != "none" else [])
    return t(lang, "fig.train_with", how=t(lang, "fig.separator").join(how)) if how else t(lang, "fig.train")


def run_figures(data: MNISTData, history: list[dict[str, Any]], test: EvalResult, train_label: str | None = None,
                lang: str = "en", epoch_images: str = "valid") -> dict[str, Any]:
    """The five figures of a run (file name -> matplotlib Figure), from its data, history and test evaluation.

    ``epoch_images``: what each epoch was checked on, ``"valid"`` (the validation images) or ``"page"`` (the test
    images of the page that trained it, ``lenetlab lab``).
    """
    names = data.class_names
    return {
        "samples.png": plots.samples_figure(data.train.images[:16].numpy(), data.train.labels[:16].tolist(), names,
                                            lang=lang),
        "loss_curves.png": plots.loss_curves_figure(history, train_label, lang, epoch_images),
        "predictions.png": plots.predictions_figure(
            data.test.images[:20].numpy(), test.predictions[:20].tolist(), data.test.labels[:20].tolist(), names,
            lang=lang),
        "confusion_matrix.png": plots.confusion_matrix_figure(test.confusion_matrix, names, lang),
        "per_class_accuracy.png": plots.per_class_accuracy_figure(test.per_class_accuracy, names, lang),
    }


def write_figures(run_dir: Path, data: MNISTData, history: list[dict[str, Any]], test: EvalResult,
                  train_label: str | None = None, lang: str = "en", epoch_images: str = "valid") -> None:
    """The five figures of a run, written as PNG files."""
    for filename, fig in run_figures(data, history, test, train_label, lang, epoch_images).items():
        plots.save(fig, run_dir / filename)
