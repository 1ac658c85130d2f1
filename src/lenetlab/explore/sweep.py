"""Train a grid (or a list of named variants) of one model, resumably, and tabulate the results.

Every variant is an ordinary run directory ``OUT/NAME/`` written by :func:`lenetlab.train_run`, so
a variant whose ``metrics.json`` exists is finished and never trained again: an interrupted sweep
(or one cluster shard) is simply run again. ``--shard I/N`` keeps the I-th of N disjoint slices of
the grid; :func:`merge_sweeps` gathers the shards' tables into one ``sweep.csv`` / ``sweep.json``.
"""

from __future__ import annotations

import csv
import io
import itertools
import json
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .. import plots as _plots
from .._fs import write_json, write_text
from ..config import DATA_ARGUMENTS, FIELDS, STUDY_EPOCHS, parse_value
from ..errors import LenetlabError
from ..i18n import number, percent, t
from ..registry import MODELS
from .figures import sweep_figure
from .variants import NAME_RE, Variant, run_variants

DEFAULT_EPOCHS = STUDY_EPOCHS["sweep"]
_CONFIG_FIELDS = set(FIELDS) - {"model", "model_args"}
CSV_COLUMNS = ("name", "status", "model", "settings", "parameters", "macs", "best_epoch", "best_valid_accuracy",
               "test_accuracy", "test_error", "seconds", "message")


def parse_vary(items: Sequence[str]) -> dict[str, list[Any]]:
    """``["kernel_size=3,5,7", "pooling=avg,max"]`` -> ``{"kernel_size": [3, 5, 7], "pooling": [...]}``.

    Values are separated by commas, or by semicolons when a value itself holds commas
    (``hidden=300,100;500,150``).

    Examples
    --------
    >>> parse_vary(["kernel_size=3,5", "hidden=300,100;1000"])
    {'kernel_size': [3, 5], 'hidden': ['300,100', 1000]}
    """
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep or not key or not values.strip():
            raise LenetlabError(f"--vary {item!r} is not KEY=V1,V2,...; write it like --vary kernel_size=3,5,7")
        if key in ("model", "model_args"):
            raise LenetlabError(f"--vary {key} is not supported; run one sweep per --model, or use --variant")
        if key in grid:
            raise LenetlabError(f"--vary {key} is given twice; list all its values once, like --vary {key}=3,5,7")
        parts = values.split(";") if ";" in values else values.split(",")
        grid[key] = [parse_value(v) for v in parts if v.strip()]
    return grid


def _split_settings(model: str, settings: dict[str, Any]) -> Variant:
    recipe = {k: v for k, v in settings.items() if k in _CONFIG_FIELDS}
    model_args = {k: v for k, v in settings.items() if k not in _CONFIG_FIELDS and k != "model"}
    return Variant("", str(settings.get("model", model)), model_args, recipe)


def _slug(settings: dict[str, Any]) -> str:
    text = "_".join(f"{k}-{v}" for k, v in settings.items()) or "base"
    return re.sub(r"[^A-Za-z0-9._+-]", "-", text)


def check_keys(model: str, keys: Sequence[str]) -> None:
    """A key no variant can take (a typo, say) is refused up front rather than failing every variant."""
    if "model" in keys or model not in MODELS:
        return
    params = [p for p in MODELS[model].argument_names() if p not in DATA_ARGUMENTS]
    unknown = [k for k in keys if k not in _CONFIG_FIELDS and k not in params]
    if unknown:
        raise LenetlabError(f"--vary {', '.join(unknown)}: not a setting of {model} or of training; "
                            f"choose from {', '.join(sorted(params))} or {', '.join(sorted(_CONFIG_FIELDS))}")


def expand_grid(model: str, vary: dict[str, list[Any]]) -> list[Variant]:
    """Every combination of the ``vary`` values, in a fixed order, each named after its settings.

    Examples
    --------
    >>> [v.name for v in expand_grid("lenet5", {"kernel_size": [3, 5], "pooling": ["avg", "max"]})]
    ['kernel_size-3_pooling-avg', 'kernel_size-3_pooling-max', 'kernel_size-5_pooling-avg', 'kernel_size-5_pooling-max']
    """
    keys = list(vary)
    variants = []
    for combo in itertools.product(*(vary[k] for k in keys)):
        settings = dict(zip(keys, combo))
        variant = _split_settings(model, settings)
        variant.name = _slug(settings)
        variants.append(variant)
    return variants


def parse_variant(spec: str, model: str) -> Variant:
    """``"small:c1_channels=4,c3_channels=8"`` -> a named variant (``model=mlp`` switches the model).

    A piece without ``=`` continues the previous value, so ``wide:model=fcnet,hidden=500,150`` works.

    Examples
    --------
    >>> v = parse_variant("wide:model=fcnet,hidden=500,150,lr=0.1", "lenet5")
    >>> v.name, v.model, v.model_args, v.recipe
    ('wide', 'fcnet', {'hidden': '500,150'}, {'lr': 0.1})
    """
    name, sep, body = spec.partition(":")
    name = name.strip()
    if not sep or not NAME_RE.match(name):
        raise LenetlabError(f"--variant {spec!r} is not NAME:KEY=V,...; write it like --variant small:c1_channels=4 "
                            "(NAME of letters, digits, . _ + -)")
    pieces: list[list[str]] = []
    for piece in body.split(","):
        if "=" in piece:
            key, _, value = piece.partition("=")
            if not key.strip():
                raise LenetlabError(f"--variant {spec!r}: {piece!r} has no KEY; write it like {name}:kernel_size=3")
            pieces.append([key.strip().replace("-", "_"), value])
        elif pieces and piece.strip():
            pieces[-1][1] += "," + piece
        elif piece.strip():
            raise LenetlabError(f"--variant {spec!r}: {piece!r} is not KEY=VALUE; write it like {name}:kernel_size=3")
    settings = {k: parse_value(v) for k, v in pieces}
    variant = _split_settings(model, settings)
    variant.name = name
    return variant


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"2/4"`` -> ``(2, 4)``: the second of four slices (1-based, like SLURM's ``--array=1-4``).

    Examples
    --------
    >>> parse_shard("2/4")
    (2, 4)
    """
    if text is None:
        return None
    match = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", text)
    if not match or not 1 <= int(match[1]) <= int(match[2]):
        raise LenetlabError(f"--shard {text!r} is not I/N with 1 <= I <= N; write it like --shard 1/4")
    return int(match[1]), int(match[2])


def select_shard(variants: Sequence[Variant], shard: tuple[int, int] | None) -> list[Variant]:
    """The I-th of N disjoint slices (round-robin, so shards get similar mixes of big and small models).

    Examples
    --------
    >>> vs = expand_grid("lenet5", {"kernel_size": [3, 5, 7], "c1_channels": [4, 6]})
    >>> [len(select_shard(vs, (i, 4))) for i in (1, 2, 3, 4)]
    [2, 2, 1, 1]
    """
    if shard is None:
        return list(variants)
    index, count = shard
    return [v for k, v in enumerate(variants) if k % count == index - 1]


# ---------------------------------------------------------------------------------------------
# The table, the plots, the merge
# ---------------------------------------------------------------------------------------------

def shard_stem(shard: tuple[int, int] | None) -> str:
    return "sweep" if shard is None else f"sweep-shard-{shard[0]}-of-{shard[1]}"


def write_table(rows: Sequence[dict[str, Any]], out: Path, stem: str = "sweep", meta: dict[str, Any] | None = None,
                plots: bool = True, lang: str = "en") -> list[Path]:
    """``STEM.json`` (meta + rows in the grid's order), ``STEM.csv`` (ranked by validation accuracy) and,
    for full tables, the two accuracy plots (in ``lang``)."""
    written = [write_json(out / f"{stem}.json", {**(meta or {}), "rows": list(rows)})]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    for row in ranked(rows):
        writer.writerow({**row, "settings": ";".join(f"{k}={v}" for k, v in row["settings"].items())})
    written.append(write_text(out / f"{stem}.csv", table.getvalue()))
    ok = [r for r in rows if r["status"] == "ok"]
    if plots and ok:
        for x_key, filename in (("parameters", "sweep_accuracy_vs_parameters.png"),
                                ("seconds", "sweep_accuracy_vs_time.png")):
            written.append(_plots.save(sweep_figure(ok, x_key, lang), out / filename))
    return written


def ranked(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Best validation accuracy first, the variants that did not train last; ties keep the grid's order.

    Validation, never test: choosing a variant by its test accuracy would make that number optimistic,
    so the test set would no longer measure the chosen one. The test accuracy is shown beside, unranked.

    Examples
    --------
    >>> rows = [{"name": "a", "best_valid_accuracy": 0.97, "test_accuracy": 0.99},
    ...         {"name": "b", "best_valid_accuracy": None, "test_accuracy": None},
    ...         {"name": "c", "best_valid_accuracy": 0.98, "test_accuracy": 0.96}]
    >>> [r["name"] for r in ranked(rows)]
    ['c', 'a', 'b']
    """
    def key(row: dict[str, Any]) -> float:
        valid = row.get("best_valid_accuracy")
        return -valid if valid is not None else 1.0

    return sorted(rows, key=key)


def format_rows(rows: Sequence[dict[str, Any]], lang: str = "en") -> str:
    """The sweep as aligned text in ``lang``, best validation accuracy first (see :func:`ranked`), test accuracy beside.

    Examples
    --------
    >>> row = {"name": "k3", "status": "ok", "parameters": 60074, "macs": 303516, "best_valid_accuracy": 0.9812,
    ...        "test_accuracy": 0.9807, "seconds": 31.25}
    >>> line = format_rows([row], "fr").splitlines()[1]
    >>> line.split()[0], "60\u202f074" in line, "98,12\u202f%" in line, line.endswith("31,2")
    ('k3', True, True, True)
    """
    def word(key: str) -> str:
        return t(lang, f"study.sweep.col_{key}")

    width = max([len(r["name"]) for r in rows] + [len(word("variant"))])
    lines = [f"{word('variant'):<{width}}  {word('params'):>11}  {word('macs'):>10}  {word('valid'):>13}  "
             f"{word('test'):>11}  {word('seconds'):>8}"]
    for r in ranked(rows):
        if r["status"] != "ok":
            status = t(lang, "study.status_line", status=t(lang, f"study.status.{r['status']}"), message=r["message"])
            lines.append(f"{r['name']:<{width}}  {status}")
            continue
        lines.append(f"{r['name']:<{width}}  {number(r['parameters'], lang):>11}  {number(r['macs'], lang):>10}  "
                     f"{percent(r['best_valid_accuracy'], lang):>13}  {percent(r['test_accuracy'], lang):>11}  "
                     f"{number(r['seconds'], lang, 1):>8}")
    lines.append(t(lang, "study.sweep.ranked"))
    return "\n".join(lines)


def merge_sweeps(folders: Sequence[str | Path], out: str | Path | None = None, lang: str = "en") -> dict[str, Any]:
    """Gather the ``sweep-shard-I-of-N.json`` tables found in ``folders`` into one sweep.

    Writes ``OUT/sweep.json``, ``OUT/sweep.csv`` and the plots (``OUT`` defaults to the first
    folder); rows keep the grid's order. Missing shards are listed in the result, not guessed.

    Examples
    --------
    >>> half = sweep("lenet5", {"kernel_size": [3, 5]}, out="runs/halves", shard=(1, 2), log=None,
    ...              base={"epochs": 1, "data_dir": "mnist_small"})   # the first of two machines' shares
    >>> merged = merge_sweeps(["runs/halves"])
    >>> merged["missing_shards"]   # the second machine's share is not there yet
    [2]
    """
    tables = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise LenetlabError(f"{folder} is not a folder; pass the --out folders of the sweep shards")
        tables += [json.loads(p.read_text()) for p in sorted(folder.glob("sweep-shard-*-of-*.json"))]
    if not tables:
        raise LenetlabError(f"no sweep-shard-I-of-N.json in {', '.join(map(str, folders))}; "
                            "run `lenetlab explore sweep --shard I/N --out DIR` first")
    counts = {t["shard"][1] for t in tables}
    if len(counts) > 1:
        raise LenetlabError(f"the shards were cut {sorted(counts)} ways; merge shards of one sweep only")
    count = counts.pop()
    grid = tables[0]["grid"]
    if any(t["grid"] != grid for t in tables):
        raise LenetlabError("the shards come from different grids (--model, --vary or --variant differ); merge one sweep")
    found = {t["shard"][0] for t in tables}
    by_name = {row["name"]: row for t in tables for row in t["rows"]}
    rows = [by_name[name] for name in grid if name in by_name]
    meta = {k: v for k, v in tables[0].items() if k not in ("rows", "shard")}
    merged = {**meta, "shard": None, "merged_from": sorted(found), "missing_shards": sorted(set(range(1, count + 1)) - found),
              "missing_variants": [n for n in grid if n not in by_name]}
    out = Path(out) if out is not None else Path(folders[0])
    out.mkdir(parents=True, exist_ok=True)
    write_table(rows, out, "sweep", merged, lang=lang)
    return {**merged, "rows": rows}


def sweep(
    model: str,
    vary: dict[str, list[Any]] | None = None,
    variants: Sequence[Variant] = (),
    out: str | Path = "runs/sweep",
    base: dict[str, Any] | None = None,
    *,
    jobs: int = 1,
    threads: int | None = None,
    shard: tuple[int, int] | None = None,
    log: Callable[[str], None] | None = print,
    lang: str = "en",
) -> dict[str, Any]:
    """Expand the grid (plus named variants), train this shard's unfinished ones, write the table.

    Without ``shard`` writes ``OUT/sweep.json``, ``sweep.csv`` and the plots; with one,
    ``OUT/sweep-shard-I-of-N.json`` and ``.csv`` for :func:`merge_sweeps`.

    Examples
    --------
    >>> result = sweep("lenet5", {"kernel_size": [3, 5]}, out="runs/k", log=None,
    ...                base={"epochs": 1, "batch_size": 16, "data_dir": "mnist_small"})
    >>> [(r["name"], r["test_accuracy"] > 0.8) for r in result["rows"]]   # one epoch on 12,000 images
    [('kernel_size-3', True), ('kernel_size-5', True)]
    """
    check_keys(model, list(vary))
    grid = expand_grid(model, vary) if vary else []
    grid += list(variants)
    if not grid:
        raise LenetlabError("nothing to sweep; give --vary KEY=V1,V2 or --variant NAME:KEY=V,...")
    mine = select_shard(grid, shard)
    started = time.time()
    rows = run_variants(mine, out, base, jobs=jobs, threads=threads, log=log, lang=lang)
    meta = {"model": model, "vary": vary or {}, "base": dict(base or {}), "grid": [v.name for v in grid],
            "grid_size": len(grid), "shard": list(shard) if shard else None,
            "wall_seconds": round(time.time() - started, 1)}
    write_table(rows, Path(out), shard_stem(shard), meta, plots=shard is None, lang=lang)
    return {**meta, "rows": rows}


__all__ = ["Variant", "expand_grid", "merge_sweeps", "parse_shard", "parse_vary", "parse_variant", "ranked",
           "run_variants", "select_shard", "sweep"]
