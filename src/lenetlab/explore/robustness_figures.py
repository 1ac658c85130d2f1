"""The figures of the two "why" studies: accuracy under attack (attack.py) and attribution maps (attribution.py).

Each function returns a matplotlib Figure in ``lang`` (words from the catalogue, numbers the way of the
language, ticks included); the caller saves it.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from ..i18n import localize_number_text, number, percent, t
from ..plots import localize
from .figures import _symmetric


def run_label(row: dict[str, Any]) -> str:
    """A run's name, with its model when the name does not say it: ``mlp-1 (mlp)``."""
    return row["name"] if row["name"] == row["model"] else f"{row['name']} ({row['model']})"


def eps_text(eps: float | str, lang: str) -> str:
    """An attack budget as it is written in ``lang``: ``0.1`` or ``0,1``."""
    return localize_number_text(f"{float(eps):g}", lang)


def curves_figure(result: dict[str, Any], lang: str = "en") -> Figure:
    """Accuracy against eps, one colour per run, FGSM solid, PGD dashed."""
    fig = Figure(figsize=(7, 4.6), layout="constrained")
    ax = fig.subplots()
    for i, row in enumerate(result["runs"]):
        for m, style, marker in (("fgsm", "-", "o"), ("pgd", "--", "s")):
            if m in row["accuracy"]:
                curve = row["accuracy"][m]
                ax.plot([float(e) for e in curve], [100 * a for a in curve.values()], style, marker=marker,
                        color=f"C{i % 10}", ms=4, label=f"{run_label(row)} {m.upper()}")
    ax.set_xlabel(t(lang, "study.attack.xlabel"))
    ax.set_ylabel(t(lang, "study.attack.ylabel"))
    ax.set_ylim(-2, 102)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    size = (localize_number_text(f"2.5ε/{result['steps']}", lang) if isinstance(result["step_size"], str)
            else eps_text(result["step_size"], lang))
    pgd = t(lang, "study.attack.pgd_steps", steps=result["steps"], size=size) if result["method"] != "fgsm" else ""
    ax.set_title(t(lang, "study.attack.title", n=number(result["n"], lang), seed=result["seed"], pgd=pgd), fontsize=9)
    return localize(fig, lang)


def examples_figure(rows: Sequence[dict[str, Any]], eps: float, method: str, lang: str = "en") -> Figure:
    """Per run, a few images: original, perturbation (red +, blue -, scale ±eps), adversarial."""
    k, scale = len(rows[0]["x"]), max(eps, 1e-6)
    fig = Figure(figsize=(1.3 * 3 * k + 0.3 * (k - 1) + 0.5, 1.7 * len(rows) + 0.5), layout="constrained")
    grid = fig.add_gridspec(len(rows), 4 * k - 1, width_ratios=([1, 1, 1, 0.3] * k)[:-1])
    for r, row in enumerate(rows):
        names, label = row["class_names"], row["name"] + ("" if row["name"] == row["model"] else f"\n{row['model']}")
        for j in range(k):
            before, after = row["before"][j], row["after"][j]
            panels = ((row["x"][j], "gray", 0, t(lang, "study.attack.original", label=names[row["labels"][j]],
                                                  predicted=names[before]), "black"),
                      (row["x_adv"][j] - row["x"][j], "RdBu_r", scale, t(lang, "study.attack.perturbation"), "black"),
                      (row["x_adv"][j], "gray", 0, t(lang, "study.attack.adversarial", predicted=names[after]),
                       "#cf222e" if after != before else "#1a7f37"))
            for p, (image, cmap, low, title, color) in enumerate(panels):
                ax = fig.add_subplot(grid[r, 4 * j + p])
                ax.imshow(image, cmap=cmap, vmin=-low, vmax=1 if low == 0 else low)
                ax.set_xticks([])
                ax.set_yticks([])
                ax.set_title(title, fontsize=8, color=color)
                if j == 0 and p == 0:
                    ax.set_ylabel(label, fontsize=9, fontweight="bold")
    fig.suptitle(t(lang, "study.attack.examples_title", method=method.upper(), eps=eps_text(eps, lang)), fontsize=10)
    return localize(fig, lang)


def attribution_figure(x: np.ndarray, records: Sequence[dict[str, Any]], maps: dict[str, np.ndarray | None],
                       class_names: Sequence[str], title: str, patch: int = 4, stride: int = 2,
                       layer: str = "C3", model_name: str = "MLP", lang: str = "en") -> Figure:
    """One row per image: the digit, then each map (RdBu_r centred on zero, the digit's outline in grey)."""
    headers = {"saliency": t(lang, "study.attribution.saliency"),
               "gradient_times_input": t(lang, "study.attribution.gradient_times_input"),
               "gradcam": t(lang, "study.attribution.gradcam_layer", layer=layer) if maps.get("gradcam") is not None
               else "Grad-CAM",
               "occlusion": t(lang, "study.attribution.occlusion", patch=patch, stride=stride)}
    cols = 1 + len(maps)
    fig = Figure(figsize=(1.9 * cols + 0.3, 1.75 * len(records) + 0.9), layout="constrained")
    axes = fig.subplots(len(records), cols, squeeze=False)
    for r, (record, image) in enumerate(zip(records, x)):
        ax = axes[r, 0]
        ax.imshow(image, cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
        source = (t(lang, "study.attribution.test_image", index=record["index"]) if record["index"] is not None
                  else Path(record["source"]).name[:22])
        says = t(lang, "study.attribution.says", predicted=class_names[record["prediction"]],
                 probability=percent(record["probability"], lang, 1))
        label = record["label"]
        wrong = label is not None and label != record["prediction"]
        true = t(lang, "study.attribution.true", label=class_names[label]) if label is not None else ""
        ax.set_title(f"{source}\n{true}{says}", fontsize=7, color="#cf222e" if wrong else "black")
        ax.set_ylabel(t(lang, "study.attribution.maps_for", target=class_names[record["target"]]), fontsize=7)
        for c, (name, values) in enumerate(maps.items(), start=1):
            ax = axes[r, c]
            if values is None:
                ax.text(0.5, 0.5, t(lang, "study.attribution.no_conv", model=model_name), ha="center", va="center",
                        fontsize=8, color="0.4", transform=ax.transAxes)
                ax.set_box_aspect(1)
                ax.set_xticks([])
                ax.set_yticks([])
            elif name == "gradcam":
                ax.imshow(image, cmap="Greys", vmin=0, vmax=2.5)  # the digit in light grey on white
                m = float(values[r].max()) or 1.0
                ax.imshow(values[r], cmap="RdBu_r", vmin=-m, vmax=m, alpha=np.clip(values[r] / m, 0, 1) * 0.9)
                ax.set_xticks([])
                ax.set_yticks([])
            else:
                _symmetric(ax, values[r])
                ax.contour(image, levels=[0.5], colors="0.45", linewidths=0.5)
            if r == 0:
                ax.set_title(headers[name], fontsize=8)
    fig.suptitle(title, fontsize=9)
    return localize(fig, lang)
