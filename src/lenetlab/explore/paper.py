"""LeCun et al. 1998 (Fig. 9), reproduced: the paper's MNIST test error next to ours, model by model.

Our training is not the paper's: SGD with Nesterov momentum and a one-cycle schedule (the project's
``default`` preset) for a few epochs, on 48,000 images with 12,000 held out for validation, where
the paper trained on all 60,000 for about 20 passes with its stochastic diagonal Levenberg-Marquardt
method. LeNet-1 and LeNet-4 connect every map (the paper's were sparse); "distortions" here are
random affine maps (rotation, scale, shift), not the paper's 540,000 planned ones. Not tuned to match.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any

from .. import plots
from .._fs import write_json, write_text
from ..config import PRESETS, STUDY_EPOCHS
from ..i18n import check_lang, number, percent, t
from .figures import bars_figure, prototypes_figure
from .variants import Variant, train_variants

# The 1998 rows train with the paper's recipe (preset "paper": SDLM, its schedule, all 60,000 images).
PAPER_RECIPE = {k: v for k, v in PRESETS["paper"].items() if k != "epochs"}

# name -> (label, paper's test error in %, model, model_args, recipe overrides); the label in French and
# English is the catalogue's study.paper.model.NAME, and an ablation's study.ablation.NAME.
PAPER_MODELS: dict[str, tuple[str, float, str, dict[str, Any], dict[str, Any]]] = {
    "linear": ("linear classifier", 12.0, "linear", {}, {}),
    "nn-300": ("2-layer NN, 300 HU", 4.7, "fcnet", {"hidden": [300]}, {}),
    "nn-1000": ("2-layer NN, 1000 HU", 4.5, "fcnet", {"hidden": [1000]}, {}),
    "nn-300-100": ("3-layer NN, 300+100 HU", 3.05, "fcnet", {"hidden": [300, 100]}, {}),
    "nn-500-150": ("3-layer NN, 500+150 HU", 2.95, "fcnet", {"hidden": [500, 150]}, {}),
    "lenet1": ("LeNet-1", 1.7, "lenet1", {}, {}),
    "lenet4": ("LeNet-4", 1.1, "lenet4", {}, {}),
    "lenet5": ("LeNet-5", 0.95, "lenet5", {}, {}),
    "lenet5-distortions": ("LeNet-5, distortions", 0.8, "lenet5", {}, {"augment": "affine"}),
    "lenet5-1998": ("LeNet-5 as published (1998 recipe)", 0.95, "lenet5-1998", {}, PAPER_RECIPE),
    "lenet5-1998-distortions": ("LeNet-5 as published, distortions", 0.8, "lenet5-1998", {},
                                {**PAPER_RECIPE, "augment": "affine"}),
}
# The ablation: from lenet5-1998 with the paper's recipe, one 1998 choice at a time switched to today's.
# name -> (label, model_args, recipe changes). SGD: peak 0.001 one-cycle with Nesterov momentum 0.9,
# a rate seen to learn on validation images with the MAP loss (0.05, the project's, is for cross-entropy).
ABLATION: dict[str, tuple[str, dict[str, Any], dict[str, Any]]] = {
    "lenet5-1998": ("every 1998 choice", {}, {}),
    "ablation-full-c3": ("C3 connected to all S2 maps", {"c3_table": False}, {}),
    "ablation-tanh": ("plain tanh instead of 1.7159 tanh(2a/3)", {"activation": "tanh"}, {}),
    "ablation-avg-pooling": ("average pooling instead of trainable subsampling", {"subsampling": "avg"}, {}),
    "ablation-softmax": ("linear output + cross-entropy instead of RBF + MAP", {"output": "linear"}, {}),
    "ablation-sgd": ("SGD + Nesterov momentum instead of SDLM", {},
                     dict(optimizer="sgd", lr=0.001, momentum=0.9, nesterov=True, schedule="onecycle")),
}
DEFAULT_EPOCHS = STUDY_EPOCHS["paper"]


def ablation_table(out: str | Path = "runs/paper", epochs: int = 20, *, lang: str = "en",
                   **training: Any) -> dict[str, Any]:
    """Train :data:`ABLATION` (in ``OUT/NAME/``, sharing the lenet5-1998 run with :func:`paper_table`) and
    write ``ablation.md``, ``ablation.json`` and ``ablation.png``: test error and parameters of each switch,
    in ``lang``."""
    lang = check_lang(lang)
    out = Path(out)
    variants = [Variant(name, "lenet5-1998", dict(args), {**PAPER_RECIPE, **recipe})
                for name, (_, args, recipe) in ABLATION.items()]
    rows = train_variants(variants, out, epochs, augment="none", lang=lang, **training)
    for row in rows:
        row["label"] = t(lang, f"study.ablation.{row['name']}")
    base = rows[0].get("test_error")
    result = {"epochs": epochs, "seed": training.get("seed", 0), "rows": rows}
    columns = ("change", "parameters", "error", "delta", "seconds")
    lines = ["| " + " | ".join(t(lang, f"study.{'paper' if c in ('parameters', 'seconds') else 'ablation'}.col_{c}")
                               for c in columns) + " |", "|---|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] != "ok":
            status = t(lang, "study.status_line", status=t(lang, f"study.status.{r['status']}"), message=r["message"])
            lines.append(f"| {r['label']} | | {status} | | |")
            continue
        change = "" if r is rows[0] or base is None else t(
            lang, "study.ablation.points", delta=number(100 * (r["test_error"] - base), lang, 2, sign=True))
        lines.append(f"| {r['label']} | {number(r['parameters'], lang)} | {percent(r['test_error'], lang)} | {change} | "
                     f"{number(r['seconds'], lang)} |")
    write_json(out / "ablation.json", result)
    write_text(out / "ablation.md", "\n".join(lines) + "\n\n"
               + t(lang, "study.ablation.footer", epochs=epochs, seed=result["seed"]) + "\n")
    plots.save(bars_figure(rows, t(lang, "study.ablation.title", epochs=epochs), lang=lang), out / "ablation.png")
    plots.save(prototypes_figure(lang), out / "prototypes.png")
    return result


def paper_variants(names: list[str] | None = None) -> list[Variant]:
    """The paper's models as sweep variants (all of them, or those named)."""
    names = list(PAPER_MODELS) if names is None else names
    return [Variant(n, PAPER_MODELS[n][2], dict(PAPER_MODELS[n][3]), dict(PAPER_MODELS[n][4])) for n in names]


def paper_table(out: str | Path = "runs/paper", epochs: int = DEFAULT_EPOCHS, *, models: list[str] | None = None,
                lang: str = "en", **training: Any) -> dict[str, Any]:
    """Train each of the paper's models (resumably, in ``OUT/NAME/``) and write ``paper.md`` and ``paper.json``.

    ``lang``: the language of paper.md, the figure and the labels (the numbers do not change).

    ``training``: ``seed``, ``data_dir``, ``jobs``, ``threads``, ``log``, as :func:`train_variants` takes them.

    Examples
    --------
    >>> result = paper_table("runs/paper", epochs=1, models=["linear"], data_dir="mnist_small",
    ...                      log=None)   # by default: every model, 10 epochs
    >>> [(r["name"], r["paper_error"], r["test_error"] < 0.2) for r in result["rows"]]   # test error 0.0788, 10 epochs
    [('linear', 12.0, True)]
    """
    import torch

    lang = check_lang(lang)
    out = Path(out)
    rows = train_variants(paper_variants(models), out, epochs, augment="none", lang=lang, **training)
    seed, jobs, threads = training.get("seed", 0), training.get("jobs", 1), training.get("threads")
    for row in rows:
        _, paper_error, *_ = PAPER_MODELS[row["name"]]
        row["label"] = t(lang, f"study.paper.model.{row['name']}")
        row["paper_error"] = paper_error
    result = {
        "epochs": epochs,
        "seed": seed,
        "differences": t(lang, "study.paper.differences", epochs=epochs, seed=seed),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {threads or 'default'} PyTorch threads per job, "
                   f"{jobs} job(s), PyTorch {torch.__version__}",
        "total_seconds": round(sum(r["seconds"] or 0 for r in rows), 1),
        "rows": rows,
    }
    write_json(out / "paper.json", result)
    write_text(out / "paper.md", format_markdown(result, lang))
    reference = {r["name"]: r["paper_error"] for r in rows}
    plots.save(bars_figure(rows, t(lang, "study.paper.title", epochs=epochs), reference, lang), out / "paper.png")
    return result


def format_markdown(result: dict[str, Any], lang: str = "en") -> str:
    """The side-by-side table as Markdown in ``lang``, with the differences stated under it."""
    columns = ("model", "parameters", "paper", "ours", "epochs", "seconds")
    lines = ["| " + " | ".join(t(lang, f"study.paper.col_{c}") for c in columns) + " |", "|---|---:|---:|---:|---:|---:|"]
    for r in result["rows"]:
        paper = percent(r["paper_error"] / 100, lang)
        if r["status"] != "ok":
            status = t(lang, "study.status_line", status=t(lang, f"study.status.{r['status']}"), message=r["message"])
            lines.append(f"| {r['label']} | | {paper} | {status} | | |")
            continue
        lines.append(f"| {r['label']} | {number(r['parameters'], lang)} | {paper} | "
                     f"{percent(r['test_error'], lang)} | {r['epochs']} | {number(r['seconds'], lang)} |")
    return "\n".join(lines) + f"\n\n{result['differences']}\n"
