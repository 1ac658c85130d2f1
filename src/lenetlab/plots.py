"""One function per figure; each returns a matplotlib Figure and the caller saves it.

Figures are built on ``matplotlib.figure.Figure`` directly (no pyplot state), so they are safe in
servers and threads and never pop up a window. The figures of a run speak the run's language
(``lang``: titles, axis labels and the numbers written on them, from :mod:`lenetlab.i18n`).
"""

from __future__ import annotations

import functools
import math
import textwrap
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import Formatter, MaxNLocator

from ._fs import atomic_write
from .i18n import localize_number_text, number, percent, t

RIGHT, WRONG = "#1a7f37", "#cf222e"
# Above this many classes the per-class figures drop their per-cell numbers and keep a bounded size:
# 256 classes with a number in each of 65,536 cells took over 11 GB and two minutes to draw.
MAX_ANNOTATED_CLASSES = 50


def _grid(n: int, max_cols: int) -> tuple[int, int]:
    """Integer rows and columns for n panels (the notebook divided and got floats)."""
    cols = min(n, max_cols)
    return max(1, math.ceil(n / max(cols, 1))), max(cols, 1)


def image_grid(
    images: np.ndarray,
    titles: Sequence[str],
    colors: Sequence[str] | None = None,
    max_cols: int = 8,
    suptitle: str | None = None,
) -> Figure:
    """A grid of grayscale images with a title above each."""
    n = len(images)
    rows, cols = _grid(n, max_cols)
    fig = Figure(figsize=(1.4 * cols, 1.6 * rows + (0.4 if suptitle else 0)), layout="constrained")
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for i, ax in enumerate(axes):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i], cmap="gray", vmin=0, vmax=255 if images[i].dtype == np.uint8 else 1)
            ax.set_title(titles[i], fontsize=9, color=colors[i] if colors else "black")
    if suptitle:
        fig.suptitle(suptitle)
    return fig


def samples_figure(images: np.ndarray, labels: Sequence[int], class_names: Sequence[str], n: int = 16,
                   lang: str = "en") -> Figure:
    """The first ``n`` training images with their labels (the notebook's sample grid, fixed)."""
    n = min(n, len(images))
    return localize(image_grid(images[:n], [class_names[int(y)] for y in labels[:n]], max_cols=4 if n <= 16 else 8,
                               suptitle=t(lang, "fig.training_samples")), lang)


def predictions_figure(
    images: np.ndarray, predictions: Sequence[int], labels: Sequence[int], class_names: Sequence[str], n: int = 20,
    lang: str = "en",
) -> Figure:
    """Test images titled "pred (true)", green when right, red when wrong."""
    n = min(n, len(images))
    titles = [f"{class_names[int(p)]} ({class_names[int(t)]})" for p, t in zip(predictions[:n], labels[:n])]
    colors = [RIGHT if int(p) == int(t) else WRONG for p, t in zip(predictions[:n], labels[:n])]
    return localize(image_grid(images[:n], titles, colors, max_cols=5, suptitle=t(lang, "fig.test_predictions")), lang)


def loss_curves_figure(history: Sequence[dict], train_label: str | None = None, lang: str = "en",
                       epoch_images: str = "valid") -> Figure:
    """Training and validation loss per epoch as they are (not divided by their sum), and accuracy.

    ``epoch_images="page"``: each epoch was checked on the test images of the page that trained it, said so.
    """
    epochs = [h["epoch"] for h in history]
    fig = Figure(figsize=(10, 4), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    # A long label (« entraînement (lissage des étiquettes 0,1, décalages aléatoires) ») is wrapped, and the
    # legend sits under the axes: inside, it covered the curves, and a wide one the ticks and the y label.
    wrap = functools.partial(textwrap.fill, width=48, break_long_words=False)
    ax_loss.plot(epochs, [h["train_loss"] for h in history], "o-", label=wrap(train_label or t(lang, "fig.train")))
    ax_loss.plot(epochs, [h["valid_loss"] for h in history], "o-", label=wrap(t(lang, f"fig.epoch_images.{epoch_images}")))
    ax_loss.set(xlabel=t(lang, "fig.epoch"), ylabel=t(lang, "fig.cross_entropy"), title=t(lang, "fig.loss"))
    ax_loss.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncols=2, fontsize=9, frameon=False)
    ax_loss.grid(alpha=0.3)
    ax_acc.plot(epochs, [100 * h["valid_accuracy"] for h in history], "o-", color="C2")
    ax_acc.set(xlabel=t(lang, "fig.epoch"), ylabel=t(lang, "fig.accuracy_percent"),
               title=t(lang, f"fig.epoch_accuracy.{epoch_images}"))
    ax_acc.grid(alpha=0.3)
    for ax in (ax_loss, ax_acc):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # epochs are whole numbers
    return localize(fig, lang)


def confusion_matrix_figure(matrix: Sequence[Sequence[int]], class_names: Sequence[str], lang: str = "en") -> Figure:
    """Counts of (true, predicted) pairs; the diagonal is what the network got right."""
    cm = np.asarray(matrix)
    k = len(class_names)
    # a number in every cell needs room; without numbers a fixed size shows any count of classes
    size = (1.0 + 0.62 * k, 0.6 + 0.55 * k) if k <= MAX_ANNOTATED_CLASSES else (12.0, 11.0)
    fig = Figure(figsize=size, layout="constrained")
    ax = fig.subplots()
    shown = np.log1p(cm)
    im = ax.imshow(shown, cmap="Blues")
    threshold = shown.max() / 2 if shown.size else 0
    if k <= MAX_ANNOTATED_CLASSES:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, number(cm[i, j], lang), ha="center", va="center", fontsize=7,
                        color="white" if shown[i, j] > threshold else "black")
    ticks = _ticks(k)
    ax.set_xticks(ticks, [class_names[t] for t in ticks], rotation=45 if max(map(len, class_names)) > 2 else 0)
    ax.set_yticks(ticks, [class_names[t] for t in ticks])
    ax.set(xlabel=t(lang, "fig.predicted"), ylabel=t(lang, "fig.true"), title=t(lang, "fig.confusion_title"))
    fig.colorbar(im, ax=ax, shrink=0.8, label=t(lang, "fig.log_count"))
    return localize(fig, lang)


def per_class_accuracy_figure(per_class: Sequence[float], class_names: Sequence[str], lang: str = "en") -> Figure:
    """Test accuracy of each class as bars, the mean as a line."""
    acc = 100 * np.asarray(per_class, dtype=float)
    fig = Figure(figsize=(max(5, 0.6 * len(acc) + 2) if len(acc) <= MAX_ANNOTATED_CLASSES else 14.0, 3.6),
                 layout="constrained")
    ax = fig.subplots()
    bars = ax.bar(range(len(acc)), acc, color="C0")
    if len(acc) <= MAX_ANNOTATED_CLASSES:
        ax.bar_label(bars, [number(a, lang, 1) for a in acc], fontsize=8)
    ax.axhline(acc.mean(), color="C3", ls="--", lw=1, label=t(lang, "fig.mean", value=percent(acc.mean() / 100, lang)))
    ticks = _ticks(len(acc))
    ax.set_xticks(ticks, [class_names[t] for t in ticks])
    low = max(0.0, min(acc.min() - 5, 90.0))
    ax.set(ylim=(low, 100.5), ylabel=t(lang, "fig.accuracy_percent"), title=t(lang, "fig.per_class_title"))
    ax.legend(loc="lower right")
    return localize(fig, lang)


def _ticks(k: int) -> list[int]:
    """Every class index up to MAX_ANNOTATED_CLASSES classes, then evenly spaced ones."""
    step = max(1, -(-k // MAX_ANNOTATED_CLASSES))
    return list(range(0, k, step))


class _LocalizedTicks(Formatter):
    """A tick formatter that writes another formatter's numbers in ``lang``'s way (0,5 ; −1 ; 10 000)."""

    def __init__(self, inner: Formatter, lang: str) -> None:
        self.inner, self.lang = inner, lang

    def set_axis(self, axis) -> None:
        super().set_axis(axis)
        self.inner.set_axis(axis)

    def set_locs(self, locs) -> None:
        self.inner.set_locs(locs)

    def __call__(self, x, pos=None) -> str:
        return localize_number_text(self.inner(x, pos), self.lang)

    def format_ticks(self, values) -> list[str]:
        return [localize_number_text(text, self.lang) for text in self.inner.format_ticks(values)]

    def format_data_short(self, value) -> str:
        return localize_number_text(self.inner.format_data_short(value), self.lang)

    def get_offset(self) -> str:
        return localize_number_text(self.inner.get_offset(), self.lang)


def localize(fig: Figure, lang: str) -> Figure:
    """The numbers matplotlib writes on ``fig``'s axes (ticks, colour bars) in ``lang``'s way.

    Every lenetlab figure ends with this: a French figure reads 0,2 … 1,2 and 96,0 … 98,0 on its axes,
    like its titles. Tick labels a figure set as text (class names, layer names) are left as they are.

    Examples
    --------
    >>> fig = Figure(); ax = fig.subplots(); _ = ax.plot([0, 0.5, 1], [-1.5, 0, 10000])
    >>> _ = localize(fig, "fr"); fig.canvas.draw()
    >>> [t.get_text() for t in ax.get_xticklabels()][:3], ax.get_yticklabels()[-2].get_text()
    (['\u22120,2', '0,0', '0,2'], '10\u202f000')
    """
    from matplotlib.ticker import FixedFormatter, NullFormatter, StrMethodFormatter

    if lang == "en":
        return fig
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            # minor ticks too: a log axis labels them (6×10⁴ … 6,2×10⁴)
            for get, put in ((axis.get_major_formatter, axis.set_major_formatter),
                             (axis.get_minor_formatter, axis.set_minor_formatter)):
                formatter = get()
                if isinstance(formatter, (_LocalizedTicks, FixedFormatter, NullFormatter)):
                    continue  # already localized, or words set by the figure
                if isinstance(formatter, StrMethodFormatter) and "{x" not in formatter.fmt:
                    continue
                put(_LocalizedTicks(formatter, lang))
    return fig


def _as_written(fig: Figure) -> Figure:
    """Every text of ``fig`` drawn as written: a ``$`` in a class name (``a$b%c$d``) is not mathtext.

    No lenetlab figure uses mathtext, and a user's class names must never be parsed as it (a lone
    ``$\\sqrt{x$`` used to end a finished training with a traceback while drawing its figures).
    """
    from matplotlib.text import Text

    for text in fig.findobj(Text):
        text.set_parse_math(False)
    return fig


def png_bytes(fig: Figure, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (the report embeds figures it draws in its own language)."""
    import io

    buffer = io.BytesIO()
    _as_written(fig).savefig(buffer, dpi=dpi, format="png")
    return buffer.getvalue()


def save(fig: Figure, path: str | Path, dpi: int = 110) -> Path:
    """Write the figure as a PNG atomically (a reader, or the report, never sees half a picture)."""
    return atomic_write(path, lambda f: _as_written(fig).savefig(f, dpi=dpi, format="png"))
