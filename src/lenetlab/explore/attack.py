"""How easily is each network fooled? FGSM and PGD, seeded, on the same test images for every run.

The attacks work in the pixel space the models take, images in [0, 1], with an L-infinity budget
``eps``: no pixel moves by more than ``eps`` (0.3 is 77 grey levels out of 255). Models are
attacked in eval mode, batch by batch, with PyTorch autograd on the CPU.

- FGSM (Goodfellow et al. 2015): one step of ``eps`` along the sign of the loss gradient.
- PGD (Madry et al. 2018): a random start in the eps ball, then ``steps`` steps of
  ``step_size`` along the gradient's sign, projected back to the ball and to [0, 1] after each.

The accuracy reported at ``eps`` is the worst case the attack found within a budget of ``eps``
(see :func:`robust_accuracy`), so it never rises with ``eps`` and PGD is never weaker than FGSM.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import plots
from .._fs import write_json
from ..constraints import Interval, Options, require
from ..data import load_mnist
from ..errors import LenetlabError
from ..evaluation import recorded_data_dir
from ..i18n import check_lang, percent, seconds, t
from ..machine import cpu_name
from ..models import count_parameters
from ._common import load_run_model, output_dir
from .robustness_figures import curves_figure, eps_text, examples_figure, run_label

METHODS = ("fgsm", "pgd", "both")
DEFAULT_EPS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)
EXAMPLE_EPS = 0.1
NOTE = ("accuracy at eps = share of the images the attack did not fool with ANY perturbation it found within an "
        "L-infinity budget of eps (pixels in [0, 1]): an image counts as fooled at eps if the attack at eps fooled "
        "the model or it was already fooled at a smaller eps of the list (that perturbation also lies within eps); "
        "for PGD also if any PGD iterate or the FGSM point at that eps fooled it. So accuracy never rises with eps, "
        "PGD <= FGSM, and eps = 0 is the clean accuracy on the same images.")


def check_eps(eps: str | float | Iterable[Any]) -> list[float]:
    """The budgets as sorted, distinct floats in [0, 1]; anything else is a one-line :class:`LenetlabError`.

    Examples
    --------
    >>> check_eps("0.3,0,0.1")
    [0.0, 0.1, 0.3]
    >>> check_eps([0.1, -0.1])
    Traceback (most recent call last):
    ...
    lenetlab.errors.LenetlabError: --eps -0.1 is outside [0, 1] (pixels are in [0, 1]); give values like 0,0.1,0.3
    """
    items = eps.split(",") if isinstance(eps, str) else [eps] if isinstance(eps, int | float) else list(eps)
    values = []
    for item in items:
        try:
            value = float(item if not isinstance(item, bool) else "bool")
        except (TypeError, ValueError):
            raise LenetlabError(f"--eps {item!r} is not a number; give values like 0,0.1,0.3") from None
        if not 0.0 <= value <= 1.0:  # NaN fails this too
            raise LenetlabError(f"--eps {item} is outside [0, 1] (pixels are in [0, 1]); give values like 0,0.1,0.3")
        values.append(value)
    if not values:
        raise LenetlabError("--eps is empty; give values like 0,0.1,0.3")
    return sorted(set(values))


def _check_int(value: Any, flag: str, low: int = 1) -> int:
    return require(int(value) if isinstance(value, np.integer) else value, Interval(int, low, None), flag)


def _check_settings(method: str, steps: int, step_size: float | None, batch_size: int = 1) -> None:
    require(method, Options(METHODS), "--method")
    _check_int(steps, "--steps")
    _check_int(batch_size, "batch_size")
    if step_size is not None:
        require(step_size, Interval(float, 0, 1, closed="right"), "--step-size")


@contextlib.contextmanager
def _eval_mode(model: nn.Module) -> Iterator[None]:
    """The model in eval mode (batch norm on its running statistics), its own mode restored after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def _logits_and_gradient(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The logits at ``x`` and the gradient of the summed cross-entropy with respect to ``x`` (not the weights)."""
    with torch.enable_grad():
        x = x.detach().requires_grad_(True)
        logits = model(x)
        (gradient,) = torch.autograd.grad(F.cross_entropy(logits, y, reduction="sum"), x)
    return logits.detach(), gradient


def _project(x_adv: torch.Tensor, x: torch.Tensor, eps: float) -> torch.Tensor:
    return torch.minimum(torch.maximum(x_adv, x - eps), x + eps).clamp_(0.0, 1.0)


def fgsm(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float) -> torch.Tensor:
    """Fast gradient sign method: ``clamp(x + eps * sign(grad_x CE(model(x), y)), 0, 1)``.

    ``x``: float images (N, C, H, W) in [0, 1]; ``y``: their labels. The model runs in eval mode.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> x, y = torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> x_adv = fgsm(LeNet5(), x, y, eps=0.1)
    >>> bool((x_adv - x).abs().max() <= 0.1 + 1e-6), bool(x_adv.min() >= 0), bool(x_adv.max() <= 1)
    (True, True, True)
    """
    with _eval_mode(model):
        _, gradient = _logits_and_gradient(model, x, y)
    return (x.detach() + eps * gradient.sign()).clamp_(0.0, 1.0)


def _pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int, step_size: float,
         start: torch.Tensor | None, early_stop: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """PGD from ``x + eps * start`` (``start`` uniform in [-1, 1], or None); returns the last iterate and
    which images any iterate (the start and the last included) fooled. Each step's gradient pass gives that
    iterate's logits, so tracking costs one forward pass in all. ``early_stop``: stop moving fooled images."""
    x = x.detach()
    x_adv = x.clone() if start is None else _project(x + eps * start, x, eps)
    fooled = torch.zeros(len(x), dtype=torch.bool)
    live = torch.arange(len(x))
    for _ in range(steps):
        if not len(live):
            break
        logits, gradient = _logits_and_gradient(model, x_adv[live], y[live])
        hit = logits.argmax(1) != y[live]
        fooled[live[hit]] = True
        if early_stop:
            live, gradient = live[~hit], gradient[~hit]
        x_adv[live] = _project(x_adv[live] + step_size * gradient.sign(), x[live], eps)
    if len(live):
        with torch.no_grad():
            fooled[live] |= model(x_adv[live]).argmax(1) != y[live]
    return x_adv, fooled


def pgd(model: nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 40,
        step_size: float | None = None, random_start: bool = True,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Projected gradient descent, L-infinity (Madry et al. 2018); returns the last iterate.

    Defaults: ``steps=40``; ``step_size = 2.5 * eps / steps`` (Madry's rule of thumb: enough to cross
    the ball and back); ``random_start=True``: start uniform in the eps ball (clamped to [0, 1]),
    drawn from ``generator`` (``None``: PyTorch's global generator, see ``torch.manual_seed``).
    After each step of ``step_size * sign(gradient)`` the image is projected to the eps ball around
    ``x`` and to [0, 1]. The model runs in eval mode.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> model, x, y = LeNet5(), torch.rand(4, 1, 28, 28), torch.tensor([0, 1, 2, 3])
    >>> a = pgd(model, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(0))
    >>> b = pgd(model, x, y, 0.1, steps=5, generator=torch.Generator().manual_seed(0))
    >>> torch.equal(a, b), bool((a - x).abs().max() <= 0.1 + 1e-6)
    (True, True)
    """
    _check_settings("pgd", steps, step_size)
    start = torch.rand(x.shape, generator=generator) * 2 - 1 if random_start else None
    with _eval_mode(model):
        return _pgd(model, x, y, eps, steps, 2.5 * eps / steps if step_size is None else step_size, start)[0]


def _predict(model: nn.Module, images: torch.Tensor, batch_size: int) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model(images[i:i + batch_size]).argmax(1) for i in range(0, len(images), batch_size)])


def robust_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, eps_list: Sequence[float] | str,
                    method: str = "both", *, steps: int = 40, step_size: float | None = None, seed: int = 0,
                    batch_size: int = 500) -> dict[str, Any]:
    """Accuracy under attack at each eps: the worst case the attack found within a budget of at most eps.

    An image counts as fooled at ``eps`` if the attack at ``eps`` fooled the model, or if it was fooled
    at a smaller eps of the list (that perturbation also lies within ``eps``); for PGD, also if any PGD
    iterate or the FGSM point at ``eps`` fooled it. So the accuracy never rises with eps, PGD's is never
    above FGSM's, and at eps = 0 it is the clean accuracy on the same images, exactly. Once fooled, an
    image is attacked no more (same number, less time): PGD runs on what FGSM left standing, drops each
    image from its steps as soon as an iterate fools it, and skips images fooled at a smaller eps.

    PGD's random starts are one seeded draw (``seed``) for all the images, scaled by each eps, so the
    result does not depend on ``batch_size``. ``step_size=None``: 2.5 * eps / steps at each eps.

    Returns ``{"n", "clean_accuracy", "fgsm": {eps: accuracy}, "pgd": {...}, "seconds": {method: s}}``
    (only the methods asked for; ``method`` is fgsm, pgd or both).

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> x, y = torch.rand(8, 1, 28, 28), torch.arange(8)
    >>> r = robust_accuracy(LeNet5(), x, y, [0, 0.1], "both", steps=3)
    >>> r["pgd"][0.0] == r["fgsm"][0.0] == r["clean_accuracy"], r["pgd"][0.1] <= r["fgsm"][0.1]
    (True, True)
    """
    eps_values = check_eps(eps_list)
    _check_settings(method, steps, step_size, batch_size)
    if len(images) != len(labels) or len(images) == 0:
        raise LenetlabError(f"{len(images)} images and {len(labels)} labels: give as many of each, at least one")
    images, labels = images.detach().float(), labels.detach().long()
    n = len(images)
    result: dict[str, Any] = {"n": n, "seconds": {}}
    with _eval_mode(model):
        correct = _predict(model, images, batch_size) == labels
        result["clean_accuracy"] = int(correct.sum()) / n
        start = torch.rand(images.shape, generator=torch.Generator().manual_seed(seed)) * 2 - 1
        for m in ("fgsm", "pgd") if method == "both" else (method,):
            began = time.perf_counter()
            fooled, curve = ~correct, {}
            for eps in eps_values:
                standing = torch.nonzero(~fooled).flatten()
                for i in range(0, len(standing) if eps > 0 else 0, batch_size):
                    index = standing[i:i + batch_size]
                    x, y = images[index], labels[index]
                    with torch.no_grad():
                        hit = model(fgsm(model, x, y, eps)).argmax(1) != y
                    rest = torch.nonzero(~hit).flatten()
                    if m == "pgd" and len(rest):  # PGD on what FGSM left standing, each until it falls
                        size = 2.5 * eps / steps if step_size is None else step_size
                        hit[rest] = _pgd(model, x[rest], y[rest], eps, steps, size, start[index][rest], True)[1]
                    fooled[index] |= hit
                curve[eps] = (n - int(fooled.sum())) / n
            result[m] = curve
            result["seconds"][m] = round(time.perf_counter() - began, 3)
    return result


def _run_name(run: str | Path) -> str:
    """The run folder's name (``FOLDER/FILE.pt`` for a checkpoint file)."""
    path = Path(run).resolve()
    return path.name if path.is_dir() or not path.suffix else f"{path.parent.name}/{path.name}"


def explore_attack(
    runs: str | Path | Sequence[str | Path],
    out: str | Path | None = None,
    *,
    method: str = "both",
    eps: str | Sequence[float] = DEFAULT_EPS,
    n: int = 10000,
    steps: int = 40,
    step_size: float | None = None,
    seed: int = 0,
    data_dir: str | None = None,
    log: Any = print,
    lang: str = "en",
) -> dict[str, Any]:
    """Accuracy of each run under FGSM and/or PGD against the L-infinity budget eps, side by side.

    Every run is attacked on the same seeded sample of ``n`` test images (all 10,000 by default) of
    the first run's data folder (or ``data_dir``). Writes into ``out`` (default ``RUNS[0]/explore``)
    ``attack.json`` (settings, machine, and per run its clean accuracy, accuracy at each eps and
    seconds), ``attack_curves.png`` and ``attack_examples.png`` (a few images at eps 0.1, or the
    median eps given: original, perturbation, adversarial). Every argument is checked before any
    work. See :func:`robust_accuracy` for what the accuracy at eps means. ``lang``: the figures' and
    the log's language (the JSON stays in English).

    Examples
    --------
    >>> result = explore_attack(["runs/mlp", "runs/lenet5"], n=200, log=None)   # 40 epochs: PGD 0.1: 0.021, 0.412
    >>> [r["accuracy"]["pgd"]["0.1"] < r["accuracy"]["pgd"]["0"] for r in result["runs"]]   # eps 0: clean
    [True, True]
    >>> print(format_table(result).splitlines()[0])   # then a row per run and method
    | run | method | ε = 0 | ε = 0.05 | ε = 0.1 | ε = 0.15 | ε = 0.2 | ε = 0.3 |
    """
    lang = check_lang(lang)
    eps_values = check_eps(eps)
    _check_settings(method, steps, step_size)
    n = _check_int(n, "--n")
    seed = _check_int(seed, "--seed", 0)
    runs = [runs] if isinstance(runs, str | Path) else list(runs)
    if not runs:
        raise LenetlabError("no run to attack; give one or more run directories")
    models = [load_run_model(run) for run in runs]
    shapes = {(c["model_args"].get("in_channels", 1), c["model_args"].get("input_size", 28),
               c["model_args"].get("n_classes", 10)) for _, c in models}
    if len(shapes) > 1:
        raise LenetlabError("the runs take different inputs or classes (in_channels, input_size, n_classes): "
                            + ", ".join(map(str, sorted(shapes))) + "; attack runs trained on the same data")
    channels, size, n_classes = shapes.pop()
    test = load_mnist(data_dir if data_dir is not None else recorded_data_dir(runs[0])).test
    if (channels, size) != (1, test.images.shape[-1]) or int(test.labels.max()) >= n_classes:
        raise LenetlabError(f"the runs take {channels}x{size}x{size} images of {n_classes} classes, the test set "
                            f"holds 1x{test.images.shape[-1]}x{test.images.shape[-1]} images of labels up to "
                            f"{int(test.labels.max())}; give the --data-dir the runs were trained on")
    folder = output_dir(runs[0], out)

    n = min(n, len(test))
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    images, labels = test.as_float()[order], test.labels[order]
    rows, names = [], []
    for run, (model, ckpt) in zip(runs, models):
        name = _run_name(run)
        names.append(name if name not in names else f"{name} ({len(names) + 1})")
        r = robust_accuracy(model, images, labels, eps_values, method, steps=steps, step_size=step_size, seed=seed)
        row = {"name": names[-1], "run": str(run), "model": ckpt["model"], "parameters": count_parameters(model),
               "clean_accuracy": r["clean_accuracy"],
               "accuracy": {m: {f"{e:g}": a for e, a in r[m].items()} for m in ("fgsm", "pgd") if m in r},
               "seconds": r["seconds"]}
        rows.append(row)
        if log:
            for m, curve in row["accuracy"].items():
                points = "  ".join(t(lang, "study.attack.point", eps=eps_text(e, lang), accuracy=percent(a, lang, 1))
                                   for e, a in curve.items())
                log(f"{run_label(row)} {m.upper():<4} {points}  ({seconds(row['seconds'][m], lang)})")
    result = {
        "method": method, "eps": eps_values, "n": n, "seed": seed, "steps": steps,
        "step_size": "2.5 * eps / steps" if step_size is None else step_size, "random_start": True,
        "norm": "L-infinity, pixels in [0, 1]", "data_dir": data_dir if data_dir is not None else
        recorded_data_dir(runs[0]), "machine": f"{cpu_name()}, {os.cpu_count()} cores, "
        f"{torch.get_num_threads()} PyTorch threads", "torch": torch.__version__, "runs": rows, "note": NOTE,
    }
    files = [write_json(folder / "attack.json", result),
             plots.save(curves_figure(result, lang), folder / "attack_curves.png")]
    shown = EXAMPLE_EPS if EXAMPLE_EPS in eps_values else _median(eps_values)
    attack = "pgd" if method != "fgsm" else "fgsm"
    examples = _examples(models, names, images, labels, shown, attack, steps, step_size, seed)
    files.append(plots.save(examples_figure(examples, shown, attack, lang), folder / "attack_examples.png"))
    result["files"] = [str(f) for f in files]
    return result


def _median(values: Sequence[float]) -> float:
    positive = [v for v in values if v > 0] or list(values)
    return positive[(len(positive) - 1) // 2]


def _examples(models: Sequence[tuple[nn.Module, dict[str, Any]]], names: Sequence[str], images: torch.Tensor,
              labels: torch.Tensor, eps: float, method: str, steps: int, step_size: float | None, seed: int,
              k: int = 4) -> list[dict[str, Any]]:
    """The first ``k`` images of the sample every run gets right, attacked at ``eps`` for each run."""
    head = images[:500], labels[:500]
    right = torch.ones(len(head[0]), dtype=torch.bool)
    for model, _ in models:
        right &= _predict(model, head[0], 500) == head[1]
    index = torch.nonzero(right).flatten()[:k]
    if len(index) == 0:
        index = torch.arange(min(k, len(head[0])))
    x, y = head[0][index], head[1][index]
    rows = []
    for (model, ckpt), name in zip(models, names):
        if method == "pgd":
            x_adv = pgd(model, x, y, eps, steps, step_size, generator=torch.Generator().manual_seed(seed))
        else:
            x_adv = fgsm(model, x, y, eps)
        rows.append({"name": name, "model": ckpt["model"], "x": x[:, 0].numpy(), "x_adv": x_adv[:, 0].numpy(),
                     "before": _predict(model, x, k).tolist(), "after": _predict(model, x_adv, k).tolist(),
                     "labels": y.tolist(), "class_names": ckpt.get("class_names") or [str(i) for i in range(10)]})
    return rows


def format_table(result: dict[str, Any], lang: str = "en") -> str:
    """A Markdown table of :func:`explore_attack`'s result: a row per run and method, a column per eps.

    Examples
    --------
    >>> row = {"name": "mlp-1", "model": "mlp", "accuracy": {"fgsm": {"0": 0.98, "0.1": 0.5}, "pgd": {"0": 0.98}}}
    >>> print(format_table({"eps": [0.0, 0.1], "runs": [row]}))
    | run | method | ε = 0 | ε = 0.1 |
    |---|---|---:|---:|
    | mlp-1 (mlp) | FGSM | 98.00 % | 50.00 % |
    | mlp-1 (mlp) | PGD | 98.00 % |  |
    """
    keys = [f"{e:g}" for e in result["eps"]]
    header = f"| {t(lang, 'study.attack.col_network')} | {t(lang, 'study.attack.col_method')} | "
    lines = [header + " | ".join(f"ε = {eps_text(k, lang)}" for k in keys) + " |", "|---|---|" + "---:|" * len(keys)]
    for row in result["runs"]:
        for m, curve in row["accuracy"].items():
            cells = " | ".join(percent(curve[k], lang) if k in curve else "" for k in keys)
            lines.append(f"| {run_label(row)} | {m.upper()} | {cells} |")
    return "\n".join(lines)


__all__ = ["DEFAULT_EPS", "METHODS", "check_eps", "explore_attack", "fgsm", "format_table", "pgd", "robust_accuracy"]
