"""The ablation of the 1998 choices on the paper's own training (``lenetlab paper --published --ablation``).

Every row starts from the same initialisation as ``OUT/seed-S.json`` (the published runs' ``root-fan-in``)
and changes one 1998 choice. The rows that keep SDLM train one step per image, as
:func:`~lenetlab.explore.published.train_published` does; the first row *is* ``seed-S.json``, shared with
the published table. The SGD row swaps the optimizer for today's: batches of 16, Nesterov momentum, a
one-cycle schedule (``explore.paper.ABLATION``), for as many passes. Each row writes
``OUT/NAME-seed-S.json`` and is not trained again while that file exists, so a study resumes; the table
is ``published-ablation.md`` (and ``.json``, ``.png``), beside the older batch ablation's ``ablation.*``.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import plots
from .._fs import write_json, write_text
from ..errors import DivergedError
from ..i18n import check_lang, number, percent, t
from ..machine import cpu_name, library_versions, machine_load
from ..models import build_model, count_parameters
from .figures import bars_figure
from .paper import ABLATION, PAPER_RECIPE
from .published import INIT, read_run, run_name, train_published
from .variants import Variant, train_variants

BASE = "lenet5-1998"  # ABLATION's first row: every 1998 choice


def ablation_run_name(name: str, seed: int) -> str:
    return run_name(seed, False) if name == BASE else f"{name}-seed-{seed}"


def train_published_ablation(out: str | Path, seed: int, *, passes: int = 20, data_dir: str | Path | None = None,
                             threads: int | None = None, lang: str = "en",
                             log: Callable[[str], None] | None = print) -> None:
    """Train every row of :data:`~lenetlab.explore.paper.ABLATION` not yet in ``out`` for ``seed``; ``log``
    is told each row's test error (or why it failed). A row that diverges is recorded as failed, and the
    study goes on: that is the row's answer."""
    out = Path(out)
    for done, (name, (_, model_args, recipe)) in enumerate(ABLATION.items(), 1):
        path = out / f"{ablation_run_name(name, seed)}.json"
        label = t(lang, f"study.ablation.{name}")
        if path.exists():
            run = read_run(path, passes)
        elif not recipe:  # the optimizer stays SDLM: one step per image
            try:
                run = train_published(out, seed, passes=passes, model_args=model_args, name=path.stem, desc=label,
                                      data_dir=data_dir, lang=lang)
            except DivergedError as exc:  # its "lower --lr" does not apply: the loss's value and where is the answer
                run = {"seed": seed, "passes": passes, "init": INIT, "model_args": model_args, "status": "failed",
                       "message": exc.localized(lang).split(";")[0], "test_error": None, "seconds": None}
                write_json(path, run)
        else:
            run = _train_batch_row(out, path, seed, passes, model_args, recipe, data_dir, threads, lang)
        if log is not None:
            error = final_test_error(run)
            message = (t(lang, "study.status_line", status=t(lang, "study.status.failed"), message=run.get("message"))
                       if error is None else t(lang, "study.published.postfix", epoch=passes, error=percent(error, lang)))
            log(t(lang, "study.variants.progress", done=done, total=len(ABLATION),
                  name=t(lang, "study.ablation.row", label=label, seed=seed), message=message))


def _train_batch_row(out: Path, path: Path, seed: int, passes: int, model_args: dict[str, Any],
                     recipe: dict[str, Any], data_dir: str | Path | None, threads: int | None,
                     lang: str) -> dict[str, Any]:
    """The SGD row: today's optimizer in batches, trained in ``OUT/NAME/`` from the same initialisation."""
    variant = Variant(path.stem, "lenet5-1998", {**model_args, "init": INIT}, {**PAPER_RECIPE, **recipe})
    trained_before = (out / variant.name / "metrics.json").is_file()  # then its load is not known here
    load, versions = (None if trained_before else machine_load()), library_versions()
    (row,) = train_variants([variant], out, passes, augment="none", seed=seed, data_dir=data_dir, threads=threads,
                            log=None, lang=lang)
    run = {"seed": seed, "passes": passes, "init": INIT, "model_args": model_args, "recipe": variant.recipe,
           "status": row["status"], "message": row.get("message"), "test_error": row.get("test_error"),
           "train_images": row.get("train_images"), "run": str(out / variant.name), "seconds": row.get("seconds"),
           "machine": cpu_name(), "load_at_start": load, "load_at_end": None if trained_before else machine_load(), "versions": versions}
    write_json(path, run)
    return run


def final_test_error(run: dict[str, Any]) -> float | None:
    """The test error after a run's last pass (a per-image run keeps every pass; the SGD row only the last)."""
    passes = run.get("passes")
    return passes[-1]["test_error"] if isinstance(passes, list) and passes else run.get("test_error")


def published_ablation(out: str | Path, seeds: Sequence[int], passes: int = 20, lang: str = "en") -> dict[str, Any]:
    """Write ``published-ablation.json``, ``.md`` and ``.png`` in ``out`` from the rows trained there
    (``passes`` is what they were trained for): each row's test error (mean over the seeds it finished), its
    change from the first row (over the seeds both finished), its parameters, its minutes. A row not
    trained yet stays empty; a failed one says why."""
    lang = check_lang(lang)
    out = Path(out)
    rows = []
    images = None
    for name, (_, model_args, _) in ABLATION.items():
        paths = [out / f"{ablation_run_name(name, s)}.json" for s in seeds]
        runs = [json.loads(p.read_text()) for p in paths if p.exists()]
        by_seed = {r["seed"]: e for r in runs if (e := final_test_error(r)) is not None}
        images = images or next((r["train_images"] for r in runs if r.get("train_images")), None)
        times = [r["seconds"] for r in runs if r.get("seconds") is not None]
        rows.append({"name": name, "label": t(lang, f"study.ablation.{name}"),
                     "parameters": count_parameters(build_model("lenet5-1998", **model_args)),
                     "errors": by_seed, "test_error": statistics.mean(by_seed.values()) if by_seed else None,
                     "std_error": statistics.stdev(by_seed.values()) if len(by_seed) > 1 else None,
                     "seconds": statistics.mean(times) if times else None,
                     "failed": [r.get("message") for r in runs if r.get("status", "ok") != "ok"]})
    base = rows[0]["errors"]
    for row in rows[1:]:
        common = sorted(set(base) & set(row["errors"]))
        row["change"] = statistics.mean(row["errors"][s] - base[s] for s in common) if common else None
    columns = [t(lang, "study.ablation.col_change"), t(lang, "study.paper.col_parameters"),
               t(lang, "study.ablation.col_error"), t(lang, "study.ablation.col_delta"), t(lang, "study.published.col_minutes")]
    lines = ["| " + " | ".join(columns) + " |", "|---|---:|---:|---:|---:|"]
    for row in rows:
        cells = []
        if row["test_error"] is not None:
            cells.append(percent(row["test_error"], lang)
                         + ("" if row["std_error"] is None else f" ± {number(100 * row['std_error'], lang, 2)}"))
            if len(row["errors"]) < len(seeds):
                cells.append(t(lang, "study.ablation.partial", k=len(row["errors"]), n=len(seeds)))
        cells += [t(lang, "study.status_line", status=t(lang, "study.status.failed"), message=m) for m in row["failed"]]
        change = "" if row.get("change") is None else t(
            lang, "study.ablation.points", delta=number(100 * row["change"], lang, 2, sign=True))
        minutes = "" if row["seconds"] is None else number(row["seconds"] / 60, lang)
        lines.append(f"| {row['label']} | {number(row['parameters'], lang)} | {' '.join(cells)} | {change} | {minutes} |")
    result = {"passes": passes, "seeds": list(seeds), "train_images": images, "rows": rows}
    write_json(out / "published-ablation.json", result)
    write_text(out / "published-ablation.md", "\n".join(lines) + "\n\n" + t(
        lang, "study.ablation.published_footer", passes=passes, images=number(images or 60000, lang),
        seeds=", ".join(map(str, seeds))) + "\n")
    plots.save(bars_figure([r for r in rows if r["test_error"] is not None],
                           t(lang, "study.ablation.published_title", passes=passes), lang=lang),
               out / "published-ablation.png")
    return result
