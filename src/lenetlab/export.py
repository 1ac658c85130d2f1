"""``lenetlab export``: a trained run as one offline HTML file, the network running in the page itself.

The page is the draw-a-digit page of ``lenetlab serve`` (the same ``web/static`` files, inlined), with
the model as a graph (:func:`lenetlab.graph.model_graph`) that ``web/static/lenet.js`` evaluates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._fs import check_not_input, check_output_file, write_text
from .data import load_mnist
from .graph import model_graph
from .i18n import check_lang
from .models import count_parameters
from .page import render_page
from .predict import Predictor
from .rundir import RunDir


def sample_digits(model: nn.Module, test: Any, per_kind: int = 10) -> list[dict[str, Any]]:
    """A handful of test digits to click: the first ``per_kind`` the model gets right and wrong."""
    with torch.no_grad():
        predicted = model(test.images.unsqueeze(1).float().div(255)).argmax(1)
    right = (predicted == test.labels).nonzero().flatten()[:per_kind].tolist()
    wrong = (predicted != test.labels).nonzero().flatten()[:per_kind].tolist()
    return [{"index": i, "label": int(test.labels[i]), "predicted": int(predicted[i]),
             "image": test.images[i].tolist()} for i in sorted(right + wrong)]


def export_run(run: str | Path, out: str | Path | None = None, lang: str | None = None) -> Path:
    """Write ``RUN/model.html`` (or ``out``): the run's model in one offline page, in ``lang`` (default: the
    system's language). Returns the path."""
    lang = check_lang(lang)
    run_dir = RunDir.containing(run)
    path = Path(out) if out is not None else run_dir.path / "model.html"
    check_output_file(path, (".html", ".htm"), "cli.writes.html")  # before any work; a user's file is never replaced
    predictor = Predictor.load(run)  # a run directory (its best.pt) or a checkpoint inside one
    check_not_input(path, [predictor.source, run_dir.config_path, run_dir.metrics_path, run_dir.report_path])
    predictor.require_digit_input()
    model = predictor.model.cpu().eval()
    metrics = run_dir.metrics if run_dir.is_finished() else None
    data_dir = run_dir.data_dir if run_dir.has_config() else None
    test = load_mnist(data_dir).test
    embedded = {
        "model": {"name": predictor.name, "arguments": predictor.arguments, "parameters": count_parameters(model),
                  "class_names": list(predictor.class_names),
                  "test_accuracy": metrics.test.accuracy if metrics else None,
                  "best_epoch": metrics.best_epoch if metrics else predictor.epoch,
                  "checkpoint": f"{predictor.source.parent.name}/{predictor.source.name}"},
        "graph": model_graph(model, predictor.name),
        "samples": sample_digits(model, test),
        "training": {"state": "finished", "history": [vars(e) for e in metrics.epochs]} if metrics else None,
    }
    title = f"lenetlab · {predictor.name} · {run_dir.path.name}"
    write_text(path, render_page(lang, embedded=embedded, title=title))
    return path
