"""Measure the TD's corrigé as a class would run it: time per cell and per section, accuracies, over seeds.

    python scripts/measure_td.py [--out docs/measurements/DATE-td] [--run SEANCE:SEED:THREADS ...] [--lang fr]
    python scripts/measure_td.py --messages [--out ...]     # the checks' messages for the classic mistakes

Each run executes the built corrigé (src/lenetlab/td/notebooks/td_lenet5_corrige_LANG.ipynb) top to bottom
with nbclient (kernel ``python3``, a fresh temporary folder as working directory), unchanged but for one cell
injected after the parameters cell (``SEANCE = ...``, ``SEED = ...``) and one appended at the end that
evaluates the networks the student's own loop trained (``my_mlp``: last epoch; ``my_lenet``: the best epoch,
reloaded by the notebook) on the validation and test sets. THREADS is ``1`` (``OMP_NUM_THREADS=1``,
``MKL_NUM_THREADS=1``, as the tests run) or ``default`` (both variables removed: PyTorch picks its own).

Per-cell times come from the executed notebook's cell metadata that nbclient records (``record_timing``):
``execution.iopub.execute_input`` to ``execution.shell.execute_reply``. Cells are summed per section (the
markdown headings ``## N.`` of the notebook; the cells before ``## 1.`` are section 0, the setup) and per
subsection (``### ...``); the appended measuring cell is left out of every sum. The load average
(``os.getloadavg``) is sampled every 5 s during each run, and recorded before and after.

One JSON per run (``corrige_LANG_SEANCE_seedSEED_THREADS.json``) and ``summary.json`` (all the runs of the
folder: total and per-section seconds, and the accuracies' mean and spread per SEANCE and threads over the
seeds) go to the output folder. Default runs: "2h" seed 0 with 1 thread and with the default threads, "2h"
seeds 1 and 2 with 1 thread, "complet" seed 0 with 1 thread (about 25 min in all on 2 idle cores).

``--messages`` runs each classic mistake of the teacher's guide (docs/enseignant.md) through its check and
writes the exact line the check prints to ``messages_LANG.json`` (a few seconds).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILT = ROOT / "src" / "lenetlab" / "td" / "notebooks"
DEFAULT_RUNS = ["2h:0:1", "2h:0:default", "2h:1:1", "2h:2:1", "complet:0:1"]
SECTION = re.compile(r"^##\s+(\d+)\.\s*(.*)$", re.M)
SUBSECTION = re.compile(r"^###\s+(.*)$", re.M)

# Appended at the end of the notebook: the student's networks (trained by the student's loop) evaluated.
MEASURE_CELL = """\
import json as _json
_extra = {"torch_threads": torch.get_num_threads(), "omp_num_threads": __import__("os").environ.get("OMP_NUM_THREADS")}
for _name in ("my_mlp", "my_lenet"):
    if _name in globals():
        _m = globals()[_name]
        _extra[_name] = {"validation": lenetlab.evaluate(_m, data.valid).accuracy,
                         "validation_eval_images": lenetlab.evaluate(_m, eval_valid).accuracy,
                         "test": lenetlab.evaluate(_m, data.test).accuracy,
                         "hand_images": S["hand_images"], "hand_epochs": S["hand_epochs"]}
_extra["student_lenet5_losses"] = {"train": hand_losses[0], "valid": hand_losses[1]}
_extra["seconds"] = {"mlp": seconds_mlp, "lenet": seconds_lenet}
Path("mesure_extra.json").write_text(_json.dumps(_extra, indent=1), encoding="utf-8")
"""


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, subprocess.CalledProcessError, StopIteration):
        return platform.processor() or "unknown"


def versions() -> dict:
    import numpy
    import torch

    import lenetlab

    return {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
            "lenetlab": lenetlab.__version__, "platform": platform.platform()}


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


class LoadSampler:
    """The load average every ``period`` seconds, in a background thread."""

    def __init__(self, period: float = 5.0) -> None:
        self.period, self.samples, self._stop = period, [], threading.Event()
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append([round(time.perf_counter() - self._t0, 1), *load()])
            self._stop.wait(self.period)

    def __enter__(self) -> LoadSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def parse_time(stamp: str) -> dt.datetime:
    return dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))


def cell_seconds(cell: dict) -> float | None:
    ex = cell.get("metadata", {}).get("execution", {})
    start, end = ex.get("iopub.execute_input"), ex.get("shell.execute_reply")
    if not (start and end):
        return None
    return (parse_time(end) - parse_time(start)).total_seconds()


def source(cell: dict) -> str:
    s = cell.get("source", "")
    return s if isinstance(s, str) else "".join(s)


def timings(cells: list[dict]) -> tuple[list[dict], dict, dict]:
    """Per cell (section, subsection, seconds), and the sums per section and per subsection."""
    section, sub = "0. Préambule (paramètres, imports)", ""
    rows, sections, subsections = [], {}, {}
    for i, cell in enumerate(cells):
        tags = cell.get("metadata", {}).get("tags", [])
        if cell["cell_type"] == "markdown":
            text = source(cell)
            if m := SECTION.search(text):
                section, sub = f"{m[1]}. {m[2].strip()}", ""
            if m := SUBSECTION.search(text):
                sub = m[1].strip()
            continue
        if cell["cell_type"] != "code" or "measure" in tags:
            continue
        seconds = cell_seconds(cell)
        first = next((line for line in source(cell).splitlines() if line.strip() and not line.startswith("#")), "")
        rows.append({"index": i, "section": section, "subsection": sub, "seconds": seconds, "first_line": first[:100],
                     "tags": tags})
        sections[section] = sections.get(section, 0.0) + (seconds or 0.0)
        key = f"{section} / {sub}" if sub else section
        subsections[key] = subsections.get(key, 0.0) + (seconds or 0.0)
    return rows, {k: round(v, 2) for k, v in sections.items()}, {k: round(v, 2) for k, v in subsections.items()}


def stdout_of(cells: list[dict]) -> str:
    return "".join(o.get("text", "") for c in cells for o in c.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout")


def execute(lang: str, seance: str, seed: int, threads: str) -> dict:
    import nbclient
    import nbformat

    nb = nbformat.read(BUILT / f"td_lenet5_corrige_{lang}.ipynb", as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(f'SEANCE = "{seance}"\nSEED = {seed}',
                                                     metadata={"tags": ["injected-parameters"]}))
    nb.cells.append(nbformat.v4.new_code_cell(MEASURE_CELL, metadata={"tags": ["measure"]}))
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    if threads != "default":
        env.update(OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads)
    with tempfile.TemporaryDirectory(prefix="measure_td_") as cwd:
        env["LENETLAB_TD_LOG"] = str(Path(cwd) / "checks.jsonl")
        client = nbclient.NotebookClient(nb, timeout=3600, kernel_name="python3", record_timing=True,
                                         resources={"metadata": {"path": cwd}})
        started = dt.datetime.now(dt.timezone.utc)
        before = load()
        t0 = time.perf_counter()
        with LoadSampler() as sampler:
            client.execute(env=env)
        wall = time.perf_counter() - t0
        after = load()
        results = json.loads((Path(cwd) / "td_resultats.json").read_text(encoding="utf-8"))
        extra = json.loads((Path(cwd) / "mesure_extra.json").read_text(encoding="utf-8"))
        checks = [json.loads(line) for line in Path(env["LENETLAB_TD_LOG"]).read_text(encoding="utf-8").splitlines()]
    cells = [dict(c) for c in nb.cells]
    rows, sections, subsections = timings(cells)
    cells_total = round(sum(r["seconds"] or 0.0 for r in rows), 2)
    samples = [s[1] for s in sampler.samples]
    return {
        "what": f"corrigé {lang} executed by nbclient, SEANCE={seance!r}, SEED={seed}, threads={threads}",
        "command": " ".join([sys.executable, *sys.argv]),
        "notebook": str((BUILT / f"td_lenet5_corrige_{lang}.ipynb").relative_to(ROOT)),
        "started_utc": started.isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cpus": os.cpu_count(), "versions": versions(),
        "seance": seance, "seed": seed, "threads": threads, "lang": lang,
        "torch_threads_in_kernel": extra["torch_threads"],
        "load_before": before, "load_after": after,
        "load_1min_during": {"min": min(samples), "max": max(samples), "mean": round(statistics.fmean(samples), 2),
                             "n": len(samples)},
        "load_samples": sampler.samples,
        "wall_seconds": round(wall, 2),
        "cells_seconds": cells_total,
        "kernel_and_overhead_seconds": round(wall - cells_total, 2),
        "sections_seconds": sections,
        "subsections_seconds": subsections,
        "cells": rows,
        "checks": [{"check": c["check"], "passed": c["passed"]} for c in checks],
        "accuracy": {
            "mlp_lenetlab_test": results["test_accuracy"]["MLP"],
            "lenet5_lenetlab_test": results["test_accuracy"]["LeNet-5"],
            "mlp_lenetlab_validation": results["comparison"]["MLP"]["validation"],
            "lenet5_lenetlab_validation": results["comparison"]["LeNet-5"]["validation"],
            "student_mlp_last_epoch": extra.get("my_mlp"),
            "student_lenet5_best_epoch": extra.get("my_lenet"),
        },
        "errors_test": {k: v["errors"] for k, v in results["comparison"].items()},
        "training_seconds": extra["seconds"],
        "student_lenet5_losses": extra["student_lenet5_losses"],
        "results": results,
        "stdout": stdout_of(cells),
    }


def spread(values: list[float]) -> dict:
    return {"values": values, "mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0, "n": len(values)}


def summarise(out: Path) -> dict:
    runs = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(out.glob("corrige_*.json"))]
    summary: dict = {"runs": [], "accuracy_over_seeds": {}}
    for r in runs:
        summary["runs"].append({k: r[k] for k in ("seance", "seed", "threads", "lang", "started_utc", "wall_seconds",
                                                  "cells_seconds", "sections_seconds", "load_before", "load_after",
                                                  "load_1min_during", "torch_threads_in_kernel", "cpu")})
    groups: dict = {}
    for r in runs:
        groups.setdefault(f"{r['seance']}|threads={r['threads']}", []).append(r)
    for key, group in groups.items():
        acc = {}
        for name in ("mlp_lenetlab_test", "lenet5_lenetlab_test", "mlp_lenetlab_validation",
                     "lenet5_lenetlab_validation"):
            acc[name] = spread([g["accuracy"][name] for g in group])
        for name in ("student_mlp_last_epoch", "student_lenet5_best_epoch"):
            got = [g["accuracy"][name] for g in group if g["accuracy"][name]]
            if got:
                acc[name + "_validation"] = spread([x["validation"] for x in got])
                acc[name + "_test"] = spread([x["test"] for x in got])
        acc["seeds"] = [g["seed"] for g in group]
        acc["wall_seconds"] = spread([g["wall_seconds"] for g in group])
        summary["accuracy_over_seeds"][key] = acc
    (out / "summary.json").write_text(json.dumps(summary, ensure_ascii=False, indent=1), encoding="utf-8")
    return summary


# --- the checks' messages for the classic mistakes (--messages) ---------------------------------------------

MISTAKES_CODE = r'''
import numpy as np
import torch
from torch import nn


def _mlp(layers):
    class MLP(nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = nn.Sequential(*layers())

        def forward(self, x):
            return self.layers(x)
    return MLP


def _lenet(fe, cl, fe_name="feature_extractor"):
    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            setattr(self, fe_name, nn.Sequential(*fe()))
            self.classifier = nn.Sequential(*cl())

        def forward(self, x):
            return self.classifier(getattr(self, fe_name)(x))
    return LeNet5


def FE(pool=nn.AvgPool2d, act=nn.Tanh, padding=2, order="ok"):
    if order == "pool_first":
        return lambda: [nn.Conv2d(1, 6, 5, padding=padding), pool(2), act(), nn.Conv2d(6, 16, 5), pool(2), act()]
    return lambda: [nn.Conv2d(1, 6, 5, padding=padding), act(), pool(2), nn.Conv2d(6, 16, 5), act(), pool(2)]


def CL(flatten=True):
    return lambda: ([nn.Flatten()] if flatten else []) + [nn.Linear(400, 120), nn.Tanh(), nn.Linear(120, 84),
                                                          nn.Tanh(), nn.Linear(84, 10)]


class MLPLateSuper(nn.Module):
    def __init__(self):
        self.layers = nn.Sequential(nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                                    nn.Linear(84, 10))
        super().__init__()


def epoch_no_zero_grad(model, loader, criterion, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.size(0)
    return total / len(loader.dataset)


def epoch_no_train_mode(model, loader, criterion, optimizer):
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.size(0)
    return total / len(loader.dataset)


def epoch_no_size(model, loader, criterion, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item()
    return total / len(loader.dataset)


def epoch_last(model, loader, criterion, optimizer):
    model.train()
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
    return loss.item()


def epoch_tensor(model, loader, criterion, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss * x.size(0)
    return total / len(loader.dataset)


def epoch_no_grad(model, loader, criterion, optimizer):
    model.train()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            optimizer.zero_grad()
            loss = criterion(model(x), y)
            loss.backward()
            optimizer.step()
            total += loss.item() * x.size(0)
    return total / len(loader.dataset)


def eval_overwritten(model, loader, criterion):
    model.eval()
    valid_loss = 0.0
    with torch.no_grad():
        for x, y in loader:
            valid_loss = criterion(model(x), y).item() * x.size(0)
    return valid_loss / len(loader.dataset)


def eval_no_grad(model, loader, criterion):
    model.eval()
    total = 0.0
    for x, y in loader:
        total += criterion(model(x), y).item() * x.size(0)
    return total / len(loader.dataset)


def eval_no_eval(model, loader, criterion):
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += criterion(model(x), y).item() * x.size(0)
    return total / len(loader.dataset)


def eval_backward(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            loss = criterion(model(x), y)
            loss.backward()
            total += loss.item() * x.size(0)
    return total / len(loader.dataset)


def _epoch(model, loader, criterion, optimizer):
    model.train()
    total = 0.0
    for x, y in loader:
        optimizer.zero_grad()
        loss = criterion(model(x), y)
        loss.backward()
        optimizer.step()
        total += loss.item() * x.size(0)
    return total / len(loader.dataset)


def _evaluate(model, loader, criterion):
    model.eval()
    total = 0.0
    with torch.no_grad():
        for x, y in loader:
            total += criterion(model(x), y).item() * x.size(0)
    return total / len(loader.dataset)


def make_train(start="inf", save="best", what="weights"):
    def train(model, train_loader, valid_loader, criterion, optimizer, n_epochs, checkpoint_path):
        train_losses, valid_losses = [], []
        valid_loss_min = np.Inf if start == "np.Inf" else float("inf")
        for epoch in range(n_epochs):
            train_losses.append(_epoch(model, train_loader, criterion, optimizer))
            valid_loss = _evaluate(model, valid_loader, criterion)
            valid_losses.append(valid_loss)
            if save == "every" or (save == "best" and valid_loss < valid_loss_min):
                torch.save(model if what == "model" else model.state_dict(), checkpoint_path)
                valid_loss_min = valid_loss
        return train_losses, valid_losses
    return train


def train_valid_overwritten(model, train_loader, valid_loader, criterion, optimizer, n_epochs, checkpoint_path):
    train_losses, valid_losses, valid_loss_min = [], [], float("inf")
    for epoch in range(n_epochs):
        train_losses.append(_epoch(model, train_loader, criterion, optimizer))
        valid_losses.append(eval_overwritten(model, valid_loader, criterion))
        if valid_losses[-1] < valid_loss_min:
            torch.save(model.state_dict(), checkpoint_path)
            valid_loss_min = valid_losses[-1]
    return train_losses, valid_losses


def pca_fraction(model, loader, n_classes=10):
    correct, total = [0] * n_classes, [0] * n_classes
    with torch.no_grad():
        for x, y in loader:
            p = model(x).argmax(1)
            for c in range(n_classes):
                total[c] += int((y == c).sum())
                correct[c] += int((p[y == c] == c).sum())
    return [k / n if n else 0.0 for k, n in zip(correct, total)]


def pca_axis(model, loader, n_classes=10):
    correct, predicted = [0] * n_classes, [0] * n_classes
    with torch.no_grad():
        for x, y in loader:
            p = model(x).argmax(1)
            for c in range(n_classes):
                predicted[c] += int((p == c).sum())
                correct[c] += int((p[y == c] == c).sum())
    return [100 * k / n if n else 0.0 for k, n in zip(correct, predicted)]
'''

# (check, mistake, the student's code in one line, the call in MISTAKES_CODE's namespace)
MISTAKES = [
    ("check_parameter_count", "réponse pas encore écrite", "mlp_parameters = None",
     "td.check_parameter_count(None, lenetlab.MLP)"),
    ("check_parameter_count", "biais oubliés (MLP)", "784 * 120 + 120 * 84 + 84 * 10",
     "td.check_parameter_count(784 * 120 + 120 * 84 + 84 * 10, lenetlab.MLP)"),
    ("check_parameter_count", "biais oubliés (LeNet-5)", "6*25 + 16*6*25 + 400*120 + 120*84 + 84*10",
     "td.check_parameter_count(6*25 + 16*6*25 + 400*120 + 120*84 + 84*10, lenetlab.LeNet5)"),
    ("check_parameter_count", "le nombre de l'article (60 000) pour le LeNet-5 du TD", "lenet_parameters = 60000",
     "td.check_parameter_count(60000, lenetlab.LeNet5)"),
    ("check_mlp", "classe pas encore écrite", "raise NotImplementedError", "td.check_mlp(_mlp(lambda: (_ for _ in ()).throw(NotImplementedError())))"),
    ("check_mlp", "images non aplaties (pas de nn.Flatten)", "nn.Linear(784, 120) directement sur (64, 1, 28, 28)",
     "td.check_mlp(_mlp(lambda: [nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10)]))"),
    ("check_mlp", "softmax à la fin du MLP", "... nn.Linear(84, 10), nn.Softmax(dim=1)",
     "td.check_mlp(_mlp(lambda: [nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10), nn.Softmax(dim=1)]))"),
    ("check_mlp", "ReLU après la dernière couche", "... nn.Linear(84, 10), nn.ReLU()",
     "td.check_mlp(_mlp(lambda: [nn.Flatten(), nn.Linear(784, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10), nn.ReLU()]))"),
    ("check_mlp", "pas d'activation entre les couches", "nn.Flatten(), nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)",
     "td.check_mlp(_mlp(lambda: [nn.Flatten(), nn.Linear(784, 120), nn.Linear(120, 84), nn.Linear(84, 10)]))"),
    ("check_mlp", "tanh au lieu de ReLU", "nn.Tanh() entre les couches",
     "td.check_mlp(_mlp(lambda: [nn.Flatten(), nn.Linear(784, 120), nn.Tanh(), nn.Linear(120, 84), nn.Tanh(), nn.Linear(84, 10)]))"),
    ("check_mlp", "mauvaise taille de couche", "nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 84)",
     "td.check_mlp(_mlp(lambda: [nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Linear(128, 84), nn.ReLU(), nn.Linear(84, 10)]))"),
    ("check_mlp", "super().__init__() appelé trop tard", "self.layers = ... avant super().__init__()",
     "td.check_mlp(MLPLateSuper)"),
    ("check_train_one_epoch", "optimizer.zero_grad() oublié", "pas de zero_grad()", "td.check_train_one_epoch(epoch_no_zero_grad)"),
    ("check_train_one_epoch", "model.train() oublié", "pas de model.train()", "td.check_train_one_epoch(epoch_no_train_mode)"),
    ("check_train_one_epoch", "perte non multipliée par la taille du lot", "total += loss.item()",
     "td.check_train_one_epoch(epoch_no_size)"),
    ("check_train_one_epoch", "perte du dernier lot seulement", "return loss.item()", "td.check_train_one_epoch(epoch_last)"),
    ("check_train_one_epoch", "tenseur au lieu d'un nombre", "total += loss * x.size(0)", "td.check_train_one_epoch(epoch_tensor)"),
    ("check_train_one_epoch", "entraînement sous torch.no_grad()", "with torch.no_grad(): ... loss.backward()",
     "td.check_train_one_epoch(epoch_no_grad)"),
    ("check_evaluate", "perte de validation écrasée (le bug du TD d'origine)", "valid_loss = loss.item() * data.size(0)",
     "td.check_evaluate(eval_overwritten)"),
    ("check_evaluate", "torch.no_grad() oublié", "pas de with torch.no_grad():", "td.check_evaluate(eval_no_grad)"),
    ("check_evaluate", "model.eval() oublié", "pas de model.eval()", "td.check_evaluate(eval_no_eval)"),
    ("check_evaluate", "loss.backward() dans l'évaluation", "loss.backward() sous no_grad", "td.check_evaluate(eval_backward)"),
    ("check_train", "np.Inf (NumPy ≥ 2)", "valid_loss_min = np.Inf", "td.check_train(make_train(start='np.Inf'))"),
    ("check_train", "poids enregistrés à chaque époque", "torch.save(...) sans condition",
     "td.check_train(make_train(save='every'))"),
    ("check_train", "modèle entier enregistré", "torch.save(model, checkpoint_path)", "td.check_train(make_train(what='model'))"),
    ("check_train", "aucun enregistrement", "pas de torch.save", "td.check_train(make_train(save='never'))"),
    ("check_train", "perte de validation écrasée dans train", "valid_loss = ... au lieu de +=",
     "td.check_train(train_valid_overwritten)"),
    ("check_per_class_accuracy", "fractions au lieu de pourcentages", "k / n au lieu de 100 * k / n",
     "td.check_per_class_accuracy(pca_fraction, lenetlab.MLP(), test_loader)"),
    ("check_per_class_accuracy", "division par les images prédites", "correct / prédits dans la classe",
     "td.check_per_class_accuracy(pca_axis, lenetlab.MLP(), test_loader)"),
    ("check_per_class_accuracy", "la classe au lieu du modèle", "per_class_accuracy(..., MLP, ...)",
     "td.check_per_class_accuracy(pca_axis, lenetlab.MLP, test_loader)"),
    ("check_conv_output_size", "« + 1 » oublié", "(n + 2*padding - kernel_size) // stride",
     "td.check_conv_output_size(lambda n, kernel_size, stride=1, padding=0: (n + 2 * padding - kernel_size) // stride)"),
    ("check_conv_output_size", "division / au lieu de //", "(n + 2*padding - kernel_size) / stride + 1",
     "td.check_conv_output_size(lambda n, kernel_size, stride=1, padding=0: (n + 2 * padding - kernel_size) / stride + 1)"),
    ("check_conv_output_size", "remplissage compté une fois", "(n + padding - kernel_size) // stride + 1",
     "td.check_conv_output_size(lambda n, kernel_size, stride=1, padding=0: (n + padding - kernel_size) // stride + 1)"),
    ("check_conv_output_size", "pas (stride) oublié", "n + 2*padding - kernel_size + 1",
     "td.check_conv_output_size(lambda n, kernel_size, stride=1, padding=0: n + 2 * padding - kernel_size + 1)"),
    ("check_lenet5", "pooling avant l'activation (ordre des couches)", "Conv2d, AvgPool2d, Tanh, ...",
     "td.check_lenet5(_lenet(FE(order='pool_first'), CL()))"),
    ("check_lenet5", "MaxPool2d au lieu de AvgPool2d", "nn.MaxPool2d(2)", "td.check_lenet5(_lenet(FE(pool=nn.MaxPool2d), CL()))"),
    ("check_lenet5", "ReLU au lieu de tanh", "nn.ReLU() dans feature_extractor", "td.check_lenet5(_lenet(FE(act=nn.ReLU), CL()))"),
    ("check_lenet5", "remplissage de C1 oublié", "nn.Conv2d(1, 6, 5)", "td.check_lenet5(_lenet(FE(padding=0), CL()))"),
    ("check_lenet5", "aplatissement oublié", "classifier sans nn.Flatten()", "td.check_lenet5(_lenet(FE(), CL(flatten=False)))"),
    ("check_lenet5", "blocs mal nommés", "self.features au lieu de self.feature_extractor",
     "td.check_lenet5(_lenet(FE(), CL(), fe_name='features'))"),
]


def mistake_messages(lang: str = "fr") -> list[dict]:
    """Each classic mistake run through its check: the exact line the check prints."""
    import contextlib
    import io

    import torch
    from torch.utils.data import DataLoader, TensorDataset

    import lenetlab
    from lenetlab import load_mnist, td

    td.set_language(lang)
    data = load_mnist(seed=0)
    test_loader = DataLoader(TensorDataset(data.test.as_float(), data.test.labels), batch_size=500)
    namespace = {"td": td, "lenetlab": lenetlab, "test_loader": test_loader}
    exec(MISTAKES_CODE, namespace)
    rows = []
    for check, mistake, code, call in MISTAKES:
        torch.manual_seed(0)
        buffer = io.StringIO()
        with contextlib.redirect_stdout(buffer):
            result = eval(call, namespace)
        rows.append({"check": check, "mistake": mistake, "code": code, "passed": bool(result),
                     "message": result.message})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path,
                        default=ROOT / "docs" / "measurements" / f"{dt.date.today().isoformat()}-td")
    parser.add_argument("--run", action="append", metavar="SEANCE:SEED:THREADS",
                        help=f"repeatable; default: {' '.join(DEFAULT_RUNS)}")
    parser.add_argument("--lang", default="fr", choices=("fr", "en"))
    parser.add_argument("--summary-only", action="store_true", help="only rebuild summary.json from the runs there")
    parser.add_argument("--messages", action="store_true",
                        help="only run each classic mistake through its check; writes messages_LANG.json")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    if args.messages:
        rows = mistake_messages(args.lang)
        (args.out / f"messages_{args.lang}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1),
                                                             encoding="utf-8")
        for row in rows:
            print(f"{row['check']:<26} {row['mistake']}\n    {row['message']}")
        return 0
    if not args.summary_only:
        for spec in args.run or DEFAULT_RUNS:
            seance, seed, threads = spec.split(":")
            print(f"[{dt.datetime.now(dt.timezone.utc):%H:%M:%S} UTC] {spec}: load {load()}", flush=True)
            run = execute(args.lang, seance, int(seed), threads)
            path = args.out / f"corrige_{args.lang}_{seance}_seed{seed}_{threads}.json"
            path.write_text(json.dumps(run, ensure_ascii=False, indent=1), encoding="utf-8")
            a = run["accuracy"]
            print(f"  {run['wall_seconds']} s (cells {run['cells_seconds']} s), load {run['load_before']} -> "
                  f"{run['load_after']}; MLP {a['mlp_lenetlab_test']:.4f}, LeNet-5 {a['lenet5_lenetlab_test']:.4f}; "
                  f"sections {run['sections_seconds']} -> {path.name}", flush=True)
    summarise(args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
