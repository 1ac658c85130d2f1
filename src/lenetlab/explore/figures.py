"""The explore figures: each function returns a matplotlib Figure (no pyplot), the caller saves it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..i18n import messages, number, percent, seconds, t
from ..models.lenet1998 import prototype_bitmaps
from ..plots import localize
from .params import display_name

CLASS_COLORS = "tab10"


def _symmetric(ax: Any, kernel: np.ndarray, title: str | None = None, fontsize: int = 7) -> Any:
    """A kernel drawn with a diverging colormap centred on zero (white = 0, red > 0, blue < 0)."""
    m = float(np.abs(kernel).max()) or 1.0
    image = ax.imshow(kernel, cmap="RdBu_r", vmin=-m, vmax=m)
    ax.set_xticks([])
    ax.set_yticks([])
    if title:
        ax.set_title(title, fontsize=fontsize)
    return image


def sweep_figure(rows: Sequence[dict[str, Any]], x_key: str = "parameters", lang: str = "en") -> Figure:
    """Validation accuracy of each variant (what to choose by) against its parameters (log scale) or its
    training seconds; the test accuracy as a hollow marker beside, for reading, not for choosing."""
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.subplots()
    xs = [r[x_key] for r in rows]
    ys = [100 * r["best_valid_accuracy"] for r in rows]
    ax.scatter(xs, ys, s=30, color="#0969da", zorder=3, label=t(lang, "study.sweep.valid_label"))
    ax.scatter(xs, [100 * r["test_accuracy"] for r in rows], s=30, facecolors="none", edgecolors="#656d76",
               zorder=2, label=t(lang, "study.sweep.test_label"))
    for r, x, y in zip(rows, xs, ys):
        ax.annotate(r["name"], (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    if x_key == "parameters":
        ax.set_xscale("log")
        ax.set_xlabel(t(lang, "study.sweep.x_parameters"))
    else:
        ax.set_xlabel(t(lang, "study.sweep.x_seconds"))
    ax.set_ylabel(t(lang, "study.sweep.ylabel"))
    ax.margins(x=0.25, y=0.1)  # room for the names beside the points
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title(t(lang, "study.sweep.title_parameters" if x_key == "parameters" else "study.sweep.title_seconds"))
    return localize(fig, lang)


def params_figure(report: dict[str, dict[str, Any]], lang: str = "en") -> Figure:
    """Parameters and MACs per image of each model, stacked by layer (one linear scale, so sizes compare)."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    names = list(report)
    for ax, key, label in ((axes[0], "parameters", t(lang, "explore.parameters")),
                           (axes[1], "macs", t(lang, "explore.macs_per_image"))):
        largest = max(report[n][f"total_{key}"] for n in names)
        for i, name in enumerate(names):
            left = 0
            for j, row in enumerate(report[name]["layers"]):
                if row[key] == 0:
                    continue
                ax.barh(i, row[key], left=left, color=f"C{j % 10}", edgecolor="white")
                if row[key] > 0.06 * largest:  # label only the segments wide enough to hold it
                    ax.text(left + row[key] / 2, i, row["layer"], ha="center", va="center", fontsize=7, color="white")
                left += row[key]
            ax.text(left, i, f" {number(left, lang)}", va="center", fontsize=8)
        ax.set_yticks(range(len(names)), [display_name(n, lang) for n in names], fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(label)
        ax.set_xlim(0, 1.3 * largest)
    fig.suptitle(t(lang, "explore.params_title"))
    return localize(fig, lang)


def filters_figure(kernels: np.ndarray, matches: Sequence[dict[str, Any]], bank: dict[str, np.ndarray], title: str,
                   lang: str = "en") -> Figure:
    """Learned kernels (top) with their closest classic filter beneath, then the whole classic bank."""
    n = len(kernels)
    cols = max(n, 8)
    bank_rows = int(np.ceil(len(bank) / cols))
    fig = Figure(figsize=(1.15 * cols, 1.35 * (2 + bank_rows) + 0.6), layout="constrained")
    axes = fig.subplots(2 + bank_rows, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    for i, (kernel, match) in enumerate(zip(kernels, matches)):
        axes[0, i].axis("on")
        _symmetric(axes[0, i], kernel, f"#{i}")
        axes[1, i].axis("on")
        sign = match["sign"]
        _symmetric(axes[1, i], sign * bank[match["best"]],
                   f"{filter_name(match['best'], lang)}\ncos {number(match['similarity'], lang, 2)}", 6)
    axes[0, 0].set_ylabel(t(lang, "explore.learned"), fontsize=8)
    axes[1, 0].set_ylabel(t(lang, "explore.closest"), fontsize=8)
    for k, (name, kernel) in enumerate(bank.items()):
        ax = axes[2 + k // cols, k % cols]
        ax.axis("on")
        _symmetric(ax, kernel, filter_name(name, lang), 6)
    fig.suptitle(title + "\n" + t(lang, "explore.filters_note"), fontsize=9)
    return localize(fig, lang)


def filter_name(name: str, lang: str = "en") -> str:
    """A classic filter's name for a reader; the id (``gabor_22_odd``) stays in the JSON files.

    Examples
    --------
    >>> filter_name("prewitt_y", "fr"), filter_name("gabor_22_odd", "fr"), filter_name("gaussian", "en")
    ('Prewitt (y)', 'Gabor 22° impair', 'Gaussian')
    """
    parts = name.split("_")
    if parts[0] == "gabor" and len(parts) == 3:
        return f"Gabor {parts[1]}° {t(lang, f'explore.filter.{parts[2]}')}"
    if parts[0] in ("sobel", "prewitt") and len(parts) == 2:
        return f"{parts[0].capitalize()} ({parts[1]})"
    key = f"explore.filter.{name}"
    return t(lang, key) if key in messages(lang) else name


def kernel_grid_figure(weights: np.ndarray, title: str, row_label: str = "out", col_label: str = "in") -> Figure:
    """A (out, in, k, k) weight tensor as one mosaic: a row per output map, a column per input map.

    One image with blank gutters (not out x in axes) keeps it fast and every kernel on one shared scale.
    """
    n_out, n_in, kh, kw = weights.shape
    mosaic = np.full((n_out * (kh + 1) - 1, n_in * (kw + 1) - 1), np.nan)
    for o in range(n_out):
        for i in range(n_in):
            mosaic[o * (kh + 1):o * (kh + 1) + kh, i * (kw + 1):i * (kw + 1) + kw] = weights[o, i]
    m = float(np.abs(weights).max()) or 1.0
    fig = Figure(figsize=(0.42 * n_in + 1.6, 0.42 * n_out + 1.0), layout="constrained")
    ax = fig.subplots()
    image = ax.imshow(mosaic, cmap="RdBu_r", vmin=-m, vmax=m)
    ax.set_xticks([i * (kw + 1) + (kw - 1) / 2 for i in range(n_in)], [f"{col_label} {i}" for i in range(n_in)],
                  fontsize=6, rotation=90)
    ax.set_yticks([o * (kh + 1) + (kh - 1) / 2 for o in range(n_out)], [f"{row_label} {o}" for o in range(n_out)],
                  fontsize=6)
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    fig.colorbar(image, ax=ax, shrink=0.6)
    fig.suptitle(title, fontsize=9)
    return fig


def filters_over_epochs_figure(snapshots: Sequence[tuple[int, np.ndarray]], lang: str = "en") -> Figure:
    """C1's kernels (columns) at selected epochs (rows): watch them form."""
    n_rows = len(snapshots)
    n_cols = snapshots[0][1].shape[0]
    fig = Figure(figsize=(1.0 * n_cols + 0.8, 1.05 * n_rows + 0.6), layout="constrained")
    axes = fig.subplots(n_rows, n_cols, squeeze=False)
    for r, (epoch, kernels) in enumerate(snapshots):
        for c in range(n_cols):
            _symmetric(axes[r, c], kernels[c, 0], f"#{c}" if r == 0 else None)
        axes[r, 0].set_ylabel(t(lang, "explore.epoch", epoch=epoch), fontsize=8)
    fig.suptitle(t(lang, "explore.filters_epochs_title"), fontsize=9)
    return localize(fig, lang)


def feature_maps_figure(image: np.ndarray, maps: dict[str, np.ndarray], caption: str, max_maps: int = 16,
                        lang: str = "en") -> Figure:
    """The input, then one row per layer: its feature maps (conv / pooling) or its vector (C5, F6...)."""
    rows = 1 + len(maps)
    cols = max_maps
    fig = Figure(figsize=(0.85 * cols + 0.8, 1.0 * rows + 0.7), layout="constrained")
    grid = fig.add_gridspec(rows, cols)
    ax = fig.add_subplot(grid[0, 0])
    ax.imshow(image, cmap="gray", vmin=0, vmax=1)
    ax.set_title(t(lang, "explore.input"), fontsize=7)
    ax.axis("off")
    for r, (name, value) in enumerate(maps.items(), start=1):
        m = float(np.abs(value).max()) or 1.0
        if value.ndim == 3 and value.shape[1] > 1:  # spatial maps, one panel each
            for c in range(min(len(value), cols)):
                ax = fig.add_subplot(grid[r, c])
                ax.imshow(value[c], cmap="RdBu_r", vmin=-m, vmax=m)
                ax.axis("off")
                if c == 0:
                    shown = "" if len(value) <= cols else t(lang, "explore.first_shown", n=cols)
                    ax.set_title(f"{name} {'×'.join(map(str, value.shape))}{shown}", fontsize=7, loc="left")
        else:  # a vector (C5 is 120x1x1): one strip spanning the row
            vector = value.reshape(-1)
            ax = fig.add_subplot(grid[r, :])
            ax.imshow(vector[None, :], cmap="RdBu_r", vmin=-m, vmax=m, aspect="auto")
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=6)
            ax.set_title(t(lang, "explore.values", name=name, n=vector.size), fontsize=7, loc="left")
    fig.suptitle(caption + "  " + t(lang, "explore.maps_note"), fontsize=9)
    return localize(fig, lang)


def embeddings_figure(points: dict[str, np.ndarray], labels: np.ndarray, scores: dict[str, dict[str, float]],
                      method: str, class_names: Sequence[str], lang: str = "en") -> Figure:
    """One 2-d scatter per representation, coloured by class, its k-NN accuracy and silhouette in the title."""
    n = len(points)
    fig = Figure(figsize=(4.2 * n, 4.4), layout="constrained")
    axes = np.atleast_1d(fig.subplots(1, n))
    for ax, (name, xy) in zip(axes, points.items()):
        scatter = ax.scatter(xy[:, 0], xy[:, 1], c=labels, cmap=CLASS_COLORS, s=3, vmin=-0.5, vmax=9.5, alpha=0.7,
                             linewidths=0)
        s = scores[name]
        ax.set_title(name + "\n" + t(lang, "explore.embedding_scores", knn=percent(s["knn_accuracy"], lang, 1),
                                      silhouette=number(s["silhouette"], lang, 3)), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    cbar = fig.colorbar(scatter, ax=list(axes), ticks=range(10), shrink=0.8)
    cbar.ax.set_yticklabels(list(class_names)[:10])
    title = {"pca": t(lang, "explore.pca"), "tsne": "t-SNE"}.get(method, method)
    fig.suptitle(t(lang, "explore.embeddings_title", method=title), fontsize=10)
    return localize(fig, lang)


def bars_figure(rows: Sequence[dict[str, Any]], title: str, reference: dict[str, float] | None = None,
                lang: str = "en") -> Figure:
    """Test error (%) per model, ours beside the reference (the paper's) when given, parameters in labels."""
    fig = Figure(figsize=(max(6.0, 1.0 * len(rows) + 2), 4.5), layout="constrained")
    ax = fig.subplots()
    x = np.arange(len(rows))
    ours = [100 * r["test_error"] if r.get("test_error") is not None else np.nan for r in rows]
    width = 0.4 if reference else 0.6
    ax.bar(x - (width / 2 if reference else 0), ours, width, label=t(lang, "study.bars.ours"), color="#0969da")
    if reference:
        ax.bar(x + width / 2, [reference.get(r["name"], np.nan) for r in rows], width, label=t(lang, "study.bars.paper"),
               color="#bf8700")
        ax.legend()
    for xi, value in zip(x, ours):
        if not np.isnan(value):
            ax.text(xi - (width / 2 if reference else 0), value, number(value, lang, 2), ha="center", va="bottom", fontsize=7)
    labels = [t(lang, "study.bars.label", name=r.get("label", r["name"]), parameters=number(r["parameters"], lang),
                seconds=seconds(r["seconds"], lang, 0)) if r.get("parameters") else r.get("label", r["name"]) for r in rows]
    ax.set_xticks(x, labels, fontsize=7, rotation=30, ha="right")
    ax.set_ylabel(t(lang, "study.bars.ylabel"))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title, fontsize=10)
    return localize(fig, lang)


def prototypes_figure(lang: str = "en") -> Figure:
    """The 10 fixed RBF prototypes of LeNet-5 (1998), 7x12 bitmaps drawn after the paper's Figure 3."""
    fig = Figure(figsize=(7.0, 1.7), layout="constrained")
    for digit, ax in enumerate(fig.subplots(1, 10)):
        ax.imshow(prototype_bitmaps()[digit].numpy(), cmap="gray_r", vmin=-1, vmax=1)
        ax.set_title(str(digit), fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(t(lang, "study.prototypes.title"), fontsize=9)
    return localize(fig, lang)
