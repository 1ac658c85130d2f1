"""The ablation of the 1998 choices on the paper's own training (``lenetlab paper --published --ablation``).

Every row starts from the same initialisation as ``OUT/seed-S.json`` (the published runs' ``root-fan-in``)
and changes one 1998 choice. The rows that keep SDLM train one step per image, as
:func:`~lenetlab.explore.published.train_published` does; the first row *is* ``seed-S.json``, shared with
the published table. The SGD row swaps the optimizer for today's: batches of 16, Nesterov momentum, a
one-cycle schedule (``explore.paper.ABLATION``), for as many passes. Each row writes
``OUT/NAME-seed-S.json`` and is not trained again while that file exists, so a study resumes.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .. import plots
from .._fs import write_json, write_text
from ..i18n import check_lang, number, percent, t
from ..machine import cpu_name, library_versions, machine_load
from ..models import build_model, count_parameters
from .figures import bars_figure
from .paper import ABLATION, PAPER_RECIPE
from .published import INIT, run_name, train_published
from .variants import Variant, train_variants

BASE = "lenet5-1998"  # ABLATION's first row: every 1998 choice


def ablation_run_name(name: str, seed: int) -> str:
    return run_name(seed, False) if name == BASE else f"{name}-seed-{seed}"


def train_published_ablation(out: str | Path, seed: int, *, passes: int = 20, data_dir: str | Path | None = None,
                             threads: int | None = None, lang: str = "en") -> None:
    """Train every row of :data:`~lenetlab.explore.paper.ABLATION` not yet in ``out`` for ``seed``."""
    out = Path(out)
    for name, (_, model_args, recipe) in ABLATION.items():
        if not recipe:  # the optimizer stays SDLM: one step per image
            train_published(out, seed, passes=passes, model_args=model_args, name=ablation_run_name(name, seed),
                            data_dir=data_dir, lang=lang)
            continue
        path = out / f"{ablation_run_name(name, seed)}.json"
        if path.exists():
            continue
        variant = Variant(path.stem, "lenet5-1998", {**model_args, "init": INIT}, {**PAPER_RECIPE, **recipe})
        load, versions = machine_load(), library_versions()
        (row,) = train_variants([variant], out, passes, augment="none", seed=seed, data_dir=data_dir,
                                threads=threads, lang=lang)
        write_json(path, {"seed": seed, "passes": passes, "init": INIT, "model_args": model_args,
                          "recipe": variant.recipe, "status": row["status"], "message": row.get("message"),
                          "test_error": row.get("test_error"), "run": str(out / variant.name),
                          "seconds": row.get("seconds"), "machine": cpu_name(),
                          "load_at_start": load, "load_at_end": machine_load(), "versions": versions})


def final_test_error(run: dict[str, Any]) -> float | None:
    """The test error after a run's last pass (a per-image run keeps every pass; the SGD row only the last)."""
    passes = run.get("passes")
    return passes[-1]["test_error"] if isinstance(passes, list) and passes else run.get("test_error")


def published_ablation(out: str | Path, seeds: Sequence[int], passes: int = 20, lang: str = "en") -> dict[str, Any]:
    """Write ``ablation.json``, ``ablation.md`` and ``ablation.png`` in ``out`` from the rows trained there
    (``passes`` is what they were trained for): each row's test error (mean over ``seeds``), its change from
    the first row, its parameters, its minutes. A row not trained yet stays empty."""
    lang = check_lang(lang)
    out = Path(out)
    rows = []
    for name, (_, model_args, _) in ABLATION.items():
        paths = [out / f"{ablation_run_name(name, s)}.json" for s in seeds]
        runs = [json.loads(p.read_text()) for p in paths if p.exists()]
        errors = [e for e in map(final_test_error, runs) if e is not None]
        rows.append({"name": name, "label": t(lang, f"study.ablation.{name}"),
                     "parameters": count_parameters(build_model("lenet5-1998", **model_args)),
                     "seeds": [r["seed"] for r in runs], "errors": errors,
                     "test_error": statistics.mean(errors) if errors else None,
                     "std_error": statistics.stdev(errors) if len(errors) > 1 else None,
                     "seconds": statistics.mean(r["seconds"] for r in runs) if runs else None,
                     "failed": [r.get("message") for r in runs if r.get("status", "ok") != "ok"]})
    base = rows[0]["test_error"]
    columns = [t(lang, "study.ablation.col_change"), t(lang, "study.paper.col_parameters"),
               t(lang, "study.ablation.col_error"), t(lang, "study.ablation.col_delta"), t(lang, "study.published.col_minutes")]
    lines = ["| " + " | ".join(columns) + " |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        error = "" if row["test_error"] is None else percent(row["test_error"], lang)
        if row["std_error"] is not None:
            error += f" ± {number(100 * row['std_error'], lang, 2)}"
        if row["failed"]:
            error = "; ".join(filter(None, [error, *row["failed"]]))
        change = "" if row is rows[0] or None in (base, row["test_error"]) else t(
            lang, "study.ablation.points", delta=number(100 * (row["test_error"] - base), lang, 2, sign=True))
        minutes = "" if row["seconds"] is None else number(row["seconds"] / 60, lang)
        lines.append(f"| {row['label']} | {number(row['parameters'], lang)} | {error} | {change} | {minutes} |")
    result = {"passes": passes, "seeds": list(seeds), "rows": rows}
    write_json(out / "ablation.json", result)
    write_text(out / "ablation.md", "\n".join(lines) + "\n\n" + t(
        lang, "study.ablation.published_footer", passes=passes, seeds=", ".join(map(str, seeds))) + "\n")
    plots.save(bars_figure([r for r in rows if r["test_error"] is not None], t(lang, "study.ablation.published_title", passes=passes), lang=lang),
               out / "ablation.png")
    return result
