"""``lenetlab import``: a network trained in the page (``lenetlab lab``) becomes a run directory.

The page downloads its network as a graph (:func:`lenetlab.graph.model_graph`'s format) with how it was trained
(``"lab"``: the recipe, each epoch's numbers on the page's test images). :func:`import_run` rebuilds the model,
tests it on the whole MNIST test set and writes what ``lenetlab train`` writes (``config.json``, ``best.pt``,
``last.pt``, the figures, ``metrics.json``), so that ``evaluate``, ``report``, ``serve``, ``export`` and every
``explore`` command work on it. The page keeps its last epoch and chooses nothing on the images it shows, so the
test numbers here are as honest as a trained run's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .checkpoint import save_checkpoint
from .config import DATA_ARGUMENTS, TrainConfig
from .data import load_mnist
from .errors import LenetlabError
from .graph import model_from_graph
from .i18n import check_lang, number, percent, t
from .machine import library_versions
from .models import count_parameters
from .run_figures import train_loss_label, write_figures
from .rundir import DataInfo, EpochRecord, Metrics, RunConfig, RunDir
from .rundir.schema import BROWSER_DEVICE
from .runs import Finish
from .training import evaluate

MAX_MB = 64  # the page's largest network (a fully connected one of LeNet-5's depth) saves about 8 MB


def import_run(path: str | Path, run_dir: str | Path, *, force: bool = False, finish: Finish | None = None,
               log: Callable[[str], None] | None = print, lang: str | None = None) -> dict[str, Any]:
    """Write run directory ``run_dir`` from the page's network file ``path``; returns the metrics.

    Examples
    --------
    >>> import json
    >>> from lenetlab.graph import model_graph
    >>> from lenetlab import LeNet5
    >>> _ = open("page.json", "w").write(json.dumps(model_graph(LeNet5(), "lenet5")))
    >>> metrics = import_run("page.json", "runs/page", log=None)   # untrained: about chance
    >>> metrics["model"], RunDir("runs/page").best_path.is_file()
    ('lenet5', True)
    """
    lang = check_lang(lang)
    path = Path(path)
    graph = _read(path)
    model, name = model_from_graph(graph, str(path))
    lab = graph.get("lab") if isinstance(graph.get("lab"), dict) else {}
    recipe = lab.get("recipe") if isinstance(lab.get("recipe"), dict) else {}
    history = [_epoch(h) for h in lab.get("history", []) if isinstance(h, dict)]
    model_args = {k: v for k, v in graph["arguments"].items() if k not in DATA_ARGUMENTS}
    # split "all": the page trains on all its images and keeps its last epoch, choosing nothing on the images it tests.
    config = TrainConfig.from_preset(
        "default", model=name, model_args=model_args, device="cpu", epochs=max(1, len(history)), split="all",
        **{key: recipe[source] for key, source in (("batch_size", "batchSize"), ("lr", "lr"), ("seed", "seed"),
                                                   ("label_smoothing", "smoothing"))
           if isinstance(recipe.get(source), (int, float)) and not isinstance(recipe.get(source), bool)},
        **({"augment": "shift" if recipe["shift"] else "none"} if "shift" in recipe else {}))
    run = RunDir(run_dir)
    data = load_mnist()
    if run.has_config() and not force:  # train's words would offer --resume, which import has not
        raise LenetlabError.of("error.import_exists", path=run.path)
    run.check_can_prepare(force)
    with contextlib.ExitStack() as held:
        held.enter_context(run.lock())
        run.prepare(force)
        parameters = count_parameters(model)
        run.write_config(RunConfig(
            train=config, model_args=dict(model.config), parameters=parameters,
            data=DataInfo(data.source, data.sha256, list(data.class_names), int(lab.get("train_images", 0) or 0), 0,
                          len(data.test)),
            device=BROWSER_DEVICE, versions=library_versions()))
        extra = {"epoch": len(history), "imported_from": path.name}
        save_checkpoint(run.best_path, model, name, data.class_names, extra)
        save_checkpoint(run.last_path, model, name, data.class_names, extra)
        test = evaluate(model, data.test, n_classes=data.n_classes)
        if history:
            write_figures(run.path, data, [dataclasses.asdict(h) for h in history], test,
                          train_loss_label(config, lang), lang, epoch_images="page")
        run.metrics = Metrics(model=name, preset="default", epochs=history, best_epoch=len(history),
                              parameters=parameters, train_seconds=round(sum(h.train_seconds for h in history), 3),
                              test=test.scores())
        # metrics.json marks the run finished, so it comes last, after the report `finish` writes from it.
        if finish is not None:
            finish(run, data, test, lang)
        run.write_metrics(run.metrics)
    if log is not None:
        trained_on = int(lab.get("train_images", 0) or 0)
        log(t(lang, "cli.imported" if trained_on else "cli.imported_no_lab", model=name,
              parameters=number(parameters, lang), train=number(trained_on, lang), path=run.path,
              accuracy=percent(test.accuracy, lang), test=number(len(data.test), lang)))
    return dataclasses.asdict(run.metrics)


def _read(path: Path) -> Any:
    """The file's JSON, refused in one line when it is missing, too big or not JSON."""
    if not path.exists():
        raise LenetlabError.of("error.graph_missing", path=path)
    if path.is_dir():
        raise LenetlabError.of("error.graph_is_folder", path=path)
    try:
        size = path.stat().st_size
        if size > MAX_MB * 1_000_000:
            raise LenetlabError.of("error.graph_too_big", path=path, size=round(size / 1e6), limit=MAX_MB)
        return json.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a Windows editor's byte-order mark
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise LenetlabError.of("error.graph_unreadable", path=path) from None


def _epoch(h: dict[str, Any]) -> EpochRecord:
    """One epoch of the page's history as a run's: its test images play the validation images' part."""
    def value(key: str) -> float:
        v = h.get(key)
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0.0

    return EpochRecord(epoch=int(value("epoch")), train_loss=value("train_loss"), valid_loss=value("test_loss"),
                       valid_accuracy=value("test_accuracy"), train_seconds=round(value("seconds"), 3),
                       valid_seconds=0.0)
