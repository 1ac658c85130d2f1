"""Train a grid (or a list of named variants) of one model, resumably, and tabulate the results.

Every variant is an ordinary run directory ``OUT/NAME/`` written by :func:`lenetlab.train_run`, so
a variant whose ``metrics.json`` exists is finished and never trained again: an interrupted sweep
(or one cluster shard) is simply run again. ``--shard I/N`` keeps the I-th of N disjoint slices of
the grid; :func:`merge_sweeps` gathers the shards' tables into one ``sweep.csv`` / ``sweep.json``.
"""

from __future__ import annotations

import csv
import dataclasses
import inspect
import itertools
import json
import os
import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import LenetlabError
from ..training import TrainConfig

_CONFIG_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)} - {"model", "model_args"}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
CSV_COLUMNS = ("name", "status", "model", "settings", "parameters", "macs", "best_epoch", "best_valid_accuracy",
               "test_accuracy", "test_error", "seconds", "message")


@dataclass
class Variant:
    """One point of a sweep: a model, its constructor arguments and recipe overrides."""

    name: str
    model: str
    model_args: dict[str, Any] = field(default_factory=dict)
    recipe: dict[str, Any] = field(default_factory=dict)

    @property
    def settings(self) -> dict[str, Any]:
        return {**self.model_args, **self.recipe}


def parse_value(text: str) -> Any:
    """``"5"`` -> 5, ``"0.1"`` -> 0.1, ``"true"`` -> True, anything else stays a string.

    Examples
    --------
    >>> parse_value("5"), parse_value("1e-3"), parse_value("yes"), parse_value("max")
    (5, 0.001, True, 'max')
    """
    low = text.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text.strip()


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
    from ..models import MODELS

    if "model" in keys or model not in MODELS:
        return
    params = inspect.signature(MODELS[model][0]).parameters
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return  # a wrapper such as lenet5-modern: the model itself will say what it refuses
    known = _CONFIG_FIELDS | set(params)
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise LenetlabError(f"--vary {', '.join(unknown)}: not a setting of {model} or of training; "
                            f"choose from {', '.join(sorted(set(params)))} or {', '.join(sorted(_CONFIG_FIELDS))}")


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
    if not sep or not _NAME_RE.match(name):
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
# Training one variant (in this process or a spawned worker)
# ---------------------------------------------------------------------------------------------

def check_variant(variant: Variant, base: dict[str, Any], n_classes: int = 10, input_size: int = 28) -> TrainConfig:
    """The variant's TrainConfig, after building its model once: invalid settings raise LenetlabError."""
    from ..models import build_model

    if not _NAME_RE.match(variant.name):
        raise LenetlabError(f"variant name {variant.name!r} must be letters, digits, . _ + -; rename it")
    config = TrainConfig.from_preset(base.get("preset", "default"), **{
        **{k: v for k, v in base.items() if k != "preset"}, **variant.recipe,
        "model": variant.model, "model_args": dict(variant.model_args)})
    build_model(config.model, **{"n_classes": n_classes, "input_size": input_size, **config.model_args})
    return config


def _train_in_worker(config: dict[str, Any], run_dir: str, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    _train_one(TrainConfig(**config), Path(run_dir))


def _train_one(config: TrainConfig, run_dir: Path) -> None:
    """Train one variant into its run directory (tests replace this to count what is trained)."""
    from ..runs import train_run

    # force: a folder without metrics.json is an interrupted variant, to be trained again from scratch
    train_run(config, run_dir, force=True, progress=False, log=None)


def row_from_run(variant: Variant, run_dir: Path) -> dict[str, Any]:
    """One line of the sweep table from a finished run directory."""
    from ..training import load_checkpoint
    from .params import layer_table

    metrics = json.loads((run_dir / "metrics.json").read_text())
    model, _ = load_checkpoint(run_dir, "cpu")
    config = json.loads((run_dir / "config.json").read_text())
    size = int(config.get("model_args", {}).get("input_size", 28))
    channels = int(config.get("model_args", {}).get("in_channels", 1))
    epochs = metrics["epochs"]
    return {
        "name": variant.name,
        "status": "ok",
        "model": variant.model,
        "settings": variant.settings,
        "parameters": metrics["parameters"],
        "macs": layer_table(model, (channels, size, size))["total_macs"],
        "epochs": len(epochs),
        "best_epoch": metrics["best_epoch"],
        "best_valid_accuracy": max(e["valid_accuracy"] for e in epochs),
        "test_accuracy": metrics["test"]["accuracy"],
        "test_error": round(1 - metrics["test"]["accuracy"], 6),
        "seconds": round(sum(e["train_seconds"] + e["valid_seconds"] for e in epochs), 2),
        "run_dir": str(run_dir),
        "message": "",
    }


def run_variants(
    variants: Sequence[Variant],
    out: str | Path,
    base: dict[str, Any] | None = None,
    *,
    jobs: int = 1,
    threads: int | None = None,
    log: Callable[[str], None] | None = print,
) -> list[dict[str, Any]]:
    """Train every variant not yet finished in ``OUT/NAME/`` and return one row per variant.

    ``base`` holds the recipe shared by all (``preset``, ``epochs``, ``data_dir``, ...). Invalid
    variants and ones that diverge become rows with ``status`` "invalid" / "failed"; nothing crashes.
    ``jobs`` processes train at once, each with ``threads`` PyTorch threads (default: the cores
    divided by ``jobs``; on a machine shared with other work, 1 thread is often much faster).

    Examples
    --------
    >>> rows = run_variants(expand_grid("lenet5", {"kernel_size": [3, 5]}), "runs/sweep", {"epochs": 2})  # doctest: +SKIP
    >>> [(r["name"], r["test_accuracy"]) for r in rows]                                               # doctest: +SKIP
    """
    out = Path(out)
    base = dict(base or {})
    if int(jobs) < 1 or (threads is not None and int(threads) < 1):
        raise LenetlabError(f"--jobs and --threads must be at least 1, got {jobs} and {threads}; try --jobs 1")
    jobs = int(jobs)
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        duplicate = next(n for n in names if names.count(n) > 1)
        raise LenetlabError(f"two variants are named {duplicate!r}; give each --variant its own name")
    if out.exists() and not out.is_dir():
        raise LenetlabError(f"{out} is a file, not a folder; choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    data_classes, data_size = _data_shape(base.get("data_dir"))

    rows: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Variant, TrainConfig]] = []
    for variant in variants:
        try:
            config = check_variant(variant, base, data_classes, data_size)
        except LenetlabError as exc:
            rows[variant.name] = _status_row(variant, "invalid", str(exc))
            if log:
                log(f"skip {variant.name}: {exc}")
            continue
        if (out / variant.name / "metrics.json").is_file():
            _check_same_settings(config, out / variant.name)
            rows[variant.name] = row_from_run(variant, out / variant.name)
            if log:
                log(f"done already: {variant.name} (test accuracy {100 * rows[variant.name]['test_accuracy']:.2f}%)")
            continue
        todo.append((variant, config))

    def finished(variant: Variant, error: BaseException | None) -> None:
        if error is None:
            rows[variant.name] = row_from_run(variant, out / variant.name)
            r = rows[variant.name]
            message = f"test accuracy {100 * r['test_accuracy']:.2f}%, {r['parameters']:,} parameters, {r['seconds']:.1f}s"
        else:
            rows[variant.name] = _status_row(variant, "failed", str(error).splitlines()[0])
            message = f"failed: {rows[variant.name]['message']}"
        if log:
            log(f"[{len(rows)}/{len(variants)}] {variant.name}: {message}")

    if log and todo:
        log(f"training {len(todo)} of {len(variants)} variants into {out} ({jobs} job{'s' if jobs > 1 else ''})")
    # Each job gets its share of the cores: threads fighting over the same cores slow down badly.
    threads = max(1, int(threads)) if threads else max(1, (os.cpu_count() or 1) // jobs)
    if jobs == 1 or len(todo) <= 1:
        import torch

        previous = torch.get_num_threads()
        torch.set_num_threads(threads)
        try:
            for variant, config in todo:
                try:
                    _train_one(config, out / variant.name)
                except LenetlabError as exc:  # diverged, bad data...: report it, go on with the others
                    finished(variant, exc)
                else:
                    finished(variant, None)
        finally:
            torch.set_num_threads(previous)
    else:
        import multiprocessing

        # spawn, because fork and PyTorch's threads do not mix
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(_train_in_worker, config.to_dict(), str(out / variant.name), threads): variant
                       for variant, config in todo}
            from concurrent.futures import as_completed

            for future in as_completed(futures):
                error = future.exception()
                if error is not None and not isinstance(error, LenetlabError):
                    raise error
                finished(futures[future], error)
    return [rows[v.name] for v in variants]


# Settings that change what a finished run means; device and the like do not.
_COMPARED = ("model", "model_args", "preset", "epochs", "batch_size", "lr", "optimizer", "momentum", "nesterov",
             "weight_decay", "schedule", "label_smoothing", "augment", "seed", "valid_fraction", "data_dir")


def _check_same_settings(config: TrainConfig, run_dir: Path) -> None:
    """Refuse to reuse a finished variant that was trained with other settings (say, fewer epochs)."""
    saved = json.loads((run_dir / "config.json").read_text()).get("train", {})
    wanted = config.to_dict()
    differ = [f"{k} {saved.get(k)!r} there, {wanted[k]!r} now" for k in _COMPARED if saved.get(k) != wanted[k]]
    if differ:
        raise LenetlabError(f"{run_dir} holds a finished run with other settings ({'; '.join(differ[:3])}); "
                            "use another --out, or delete that folder to train it again")


def _status_row(variant: Variant, status: str, message: str) -> dict[str, Any]:
    return {"name": variant.name, "status": status, "model": variant.model, "settings": variant.settings,
            "parameters": None, "macs": None, "epochs": None, "best_epoch": None, "best_valid_accuracy": None,
            "test_accuracy": None, "test_error": None, "seconds": None, "run_dir": None, "message": message}


def _data_shape(data_dir: str | None) -> tuple[int, int]:
    from ..data import load_mnist

    data = load_mnist(data_dir)
    return data.n_classes, int(data.train.images.shape[-1])


# ---------------------------------------------------------------------------------------------
# The table, the plots, the merge
# ---------------------------------------------------------------------------------------------

def shard_stem(shard: tuple[int, int] | None) -> str:
    return "sweep" if shard is None else f"sweep-shard-{shard[0]}-of-{shard[1]}"


def write_table(rows: Sequence[dict[str, Any]], out: Path, stem: str = "sweep", meta: dict[str, Any] | None = None,
                plots: bool = True) -> list[Path]:
    """``STEM.json`` (meta + rows), ``STEM.csv`` and, for full tables, the two accuracy plots."""
    from ._common import write_json

    written = [write_json(out / f"{stem}.json", {**(meta or {}), "rows": list(rows)})]
    with open(out / f"{stem}.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "settings": ";".join(f"{k}={v}" for k, v in row["settings"].items())})
    written.append(out / f"{stem}.csv")
    ok = [r for r in rows if r["status"] == "ok"]
    if plots and ok:
        from .. import plots as _plots
        from .figures import sweep_figure

        for x_key, filename in (("parameters", "sweep_accuracy_vs_parameters.png"),
                                ("seconds", "sweep_accuracy_vs_time.png")):
            written.append(_plots.save(sweep_figure(ok, x_key), out / filename))
    return written


def format_rows(rows: Sequence[dict[str, Any]]) -> str:
    """The sweep as aligned text, best test accuracy first."""
    width = max([len(r["name"]) for r in rows] + [7])
    lines = [f"{'variant':<{width}}  {'params':>9}  {'MACs':>10}  {'valid acc':>9}  {'test acc':>8}  {'seconds':>8}"]
    ranked = sorted(rows, key=lambda r: -(r["test_accuracy"] if r["test_accuracy"] is not None else -1))
    for r in ranked:
        if r["status"] != "ok":
            lines.append(f"{r['name']:<{width}}  {r['status']}: {r['message']}")
            continue
        lines.append(f"{r['name']:<{width}}  {r['parameters']:>9,}  {r['macs']:>10,}  "
                     f"{100 * r['best_valid_accuracy']:>8.2f}%  {100 * r['test_accuracy']:>7.2f}%  {r['seconds']:>8.1f}")
    return "\n".join(lines)


def merge_sweeps(folders: Sequence[str | Path], out: str | Path | None = None) -> dict[str, Any]:
    """Gather the ``sweep-shard-I-of-N.json`` tables found in ``folders`` into one sweep.

    Writes ``OUT/sweep.json``, ``OUT/sweep.csv`` and the plots (``OUT`` defaults to the first
    folder); rows keep the grid's order. Missing shards are listed in the result, not guessed.

    Examples
    --------
    >>> merged = merge_sweeps(["runs/sweep"])  # doctest: +SKIP
    >>> merged["missing_shards"]               # doctest: +SKIP
    []
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
    write_table(rows, out, "sweep", merged)
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
) -> dict[str, Any]:
    """Expand the grid (plus named variants), train this shard's unfinished ones, write the table.

    Without ``shard`` writes ``OUT/sweep.json``, ``sweep.csv`` and the plots; with one,
    ``OUT/sweep-shard-I-of-N.json`` and ``.csv`` for :func:`merge_sweeps`.

    Examples
    --------
    >>> result = sweep("lenet5", {"kernel_size": [3, 5, 7]}, out="runs/k", base={"epochs": 3})  # doctest: +SKIP
    >>> [r["test_accuracy"] for r in result["rows"]]                                          # doctest: +SKIP
    """
    check_keys(model, list(vary))
    grid = expand_grid(model, vary) if vary else []
    grid += list(variants)
    if not grid:
        raise LenetlabError("nothing to sweep; give --vary KEY=V1,V2 or --variant NAME:KEY=V,...")
    mine = select_shard(grid, shard)
    started = time.time()
    rows = run_variants(mine, out, base, jobs=jobs, threads=threads, log=log)
    meta = {"model": model, "vary": vary or {}, "base": dict(base or {}), "grid": [v.name for v in grid],
            "grid_size": len(grid), "shard": list(shard) if shard else None,
            "wall_seconds": round(time.time() - started, 1)}
    write_table(rows, Path(out), shard_stem(shard), meta, plots=shard is None)
    return {**meta, "rows": rows}


__all__ = ["Variant", "expand_grid", "merge_sweeps", "parse_shard", "parse_vary", "parse_variant", "run_variants",
           "select_shard", "sweep"]
