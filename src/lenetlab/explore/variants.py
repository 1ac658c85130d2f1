"""Training the variants of a sweep (or of ``compare`` and ``paper``): each one an ordinary run
directory ``OUT/NAME/``, trained once, in this process or in worker processes, and read back as a
row of the table.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..checkpoint import load_checkpoint
from ..config import TrainConfig, result_fields
from ..data import load_mnist
from ..errors import LenetlabError
from ..i18n import number, percent, seconds, t
from ..models import build_model
from ..rundir import RunDir
from ..runs import train_run
from .params import layer_table

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")


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


def check_variant(variant: Variant, base: dict[str, Any], n_classes: int = 10, input_size: int = 28) -> TrainConfig:
    """The variant's TrainConfig, after building its model once: invalid settings raise LenetlabError."""
    if not NAME_RE.match(variant.name):
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
    # force: a folder without metrics.json is an interrupted variant, to be trained again from scratch.
    # No figures or report per variant: the sweep's table and plots are what it is read by.
    train_run(config, run_dir, force=True, progress=False, log=None, figures=False)


def row_from_run(variant: Variant, run_dir: Path) -> dict[str, Any]:
    """One line of the sweep table from a finished run directory."""
    run = RunDir(run_dir)
    metrics, config = run.metrics, run.config
    model, _ = load_checkpoint(run.best_path, "cpu")
    size = int(config.model_args.get("input_size", 28))
    channels = int(config.model_args.get("in_channels", 1))
    epochs = metrics.epochs
    return {
        "name": variant.name,
        "status": "ok",
        "model": variant.model,
        "settings": variant.settings,
        "parameters": metrics.parameters,
        "macs": layer_table(model, (channels, size, size))["total_macs"],
        "epochs": len(epochs),
        "best_epoch": metrics.best_epoch,
        "best_valid_accuracy": max(e.valid_accuracy for e in epochs),
        "test_accuracy": metrics.test.accuracy,
        "test_error": round(1 - metrics.test.accuracy, 6),
        "seconds": round(sum(e.train_seconds + e.valid_seconds for e in epochs), 2),
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
    lang: str = "en",
) -> list[dict[str, Any]]:
    """Train every variant not yet finished in ``OUT/NAME/`` and return one row per variant.

    ``base`` holds the recipe shared by all (``preset``, ``epochs``, ``data_dir``, ...). Invalid
    variants and ones that diverge become rows with ``status`` "invalid" / "failed"; nothing crashes.
    ``jobs`` processes train at once, each with ``threads`` PyTorch threads (default: the cores
    divided by ``jobs``; on a machine shared with other work, 1 thread is often much faster).
    ``lang``: the language of the log and of the rows' messages.

    Examples
    --------
    >>> from lenetlab.explore.sweep import expand_grid
    >>> rows = run_variants(expand_grid("lenet5", {"kernel_size": [3, 5]}), "runs/sweep",
    ...                     {"epochs": 1, "batch_size": 16, "data_dir": "mnist_small"}, log=None)
    >>> [(r["name"], r["test_accuracy"] > 0.8) for r in rows]   # one epoch on 12,000 images
    [('kernel_size-3', True), ('kernel_size-5', True)]
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
    data_classes, data_size = _data_shape(base.get("data_dir"))
    checked: dict[str, TrainConfig | LenetlabError] = {}
    for variant in variants:
        try:
            checked[variant.name] = check_variant(variant, base, data_classes, data_size)
        except LenetlabError as exc:
            checked[variant.name] = exc
    if variants and all(isinstance(c, LenetlabError) for c in checked.values()):
        # nothing could train: say why, and leave the folder (and any earlier table in it) untouched
        raise LenetlabError(f"no variant can be trained; {variants[0].name}: {checked[variants[0].name]}")
    out.mkdir(parents=True, exist_ok=True)

    rows: dict[str, dict[str, Any]] = {}
    todo: list[tuple[Variant, TrainConfig]] = []
    for variant in variants:
        config = checked[variant.name]
        if isinstance(config, LenetlabError):
            rows[variant.name] = _status_row(variant, "invalid", config.localized(lang))
            if log:
                log(t(lang, "study.variants.skip", name=variant.name, reason=config.localized(lang)))
            continue
        if (out / variant.name / "metrics.json").is_file():
            _check_same_settings(config, out / variant.name)
            rows[variant.name] = row_from_run(variant, out / variant.name)
            if log:
                log(t(lang, "study.variants.done_already", name=variant.name,
                      accuracy=percent(rows[variant.name]["test_accuracy"], lang)))
            continue
        todo.append((variant, config))

    def finished(variant: Variant, error: BaseException | None) -> None:
        if error is None:
            rows[variant.name] = row_from_run(variant, out / variant.name)
            r = rows[variant.name]
            message = t(lang, "study.variants.trained", accuracy=percent(r["test_accuracy"], lang),
                        parameters=number(r["parameters"], lang), seconds=seconds(r["seconds"], lang))
        else:
            words = error.localized(lang) if isinstance(error, LenetlabError) else str(error)
            rows[variant.name] = _status_row(variant, "failed", words.splitlines()[0])
            message = t(lang, "study.variants.failed", message=rows[variant.name]["message"])
        if log:
            log(t(lang, "study.variants.progress", done=len(rows), total=len(variants), name=variant.name,
                  message=message))

    if log and todo:
        job_words = t(lang, "study.variants.jobs_one") if jobs == 1 else t(lang, "study.variants.jobs_many", n=jobs)
        log(t(lang, "study.variants.training", todo=len(todo), total=len(variants), out=out, jobs=job_words))
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


def _check_same_settings(config: TrainConfig, run_dir: Path) -> None:
    """Refuse to reuse a finished variant that was trained with other settings (say, fewer epochs)."""
    saved, wanted = RunDir(run_dir).config.train.to_dict(), config.to_dict()
    differ = [f"{k} {saved[k]!r} there, {wanted[k]!r} now" for k in result_fields() if saved[k] != wanted[k]]
    if differ:
        raise LenetlabError(f"{run_dir} holds a finished run with other settings ({'; '.join(differ[:3])}); "
                            "use another --out, or delete that folder to train it again")


def _status_row(variant: Variant, status: str, message: str) -> dict[str, Any]:
    return {"name": variant.name, "status": status, "model": variant.model, "settings": variant.settings,
            "parameters": None, "macs": None, "epochs": None, "best_epoch": None, "best_valid_accuracy": None,
            "test_accuracy": None, "test_error": None, "seconds": None, "run_dir": None, "message": message}


def _data_shape(data_dir: str | None) -> tuple[int, int]:
    data = load_mnist(data_dir)
    return data.n_classes, int(data.train.images.shape[-1])


def train_variants(
    variants: Sequence[Variant],
    out: str | Path,
    epochs: int,
    *,
    preset: str = "default",
    seed: int = 0,
    data_dir: str | None = None,
    jobs: int = 1,
    threads: int | None = None,
    log: Callable[[str], None] | None = print,
    lang: str = "en",
    **recipe: Any,
) -> list[dict[str, Any]]:
    """:func:`run_variants` with the shared recipe spelt as keywords (``compare`` and ``paper`` use it)."""
    base = {"preset": preset, "epochs": epochs, "seed": seed, "data_dir": data_dir, **recipe}
    return run_variants(variants, out, base, jobs=jobs, threads=threads, log=log, lang=lang)
