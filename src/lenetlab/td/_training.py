"""The checks of the training and evaluation loops, run on a few hundred real MNIST images and a tiny network.

The network, the loss and the optimizer handed to the student's function are instrumented: the network
records, at each call, whether gradients are on and whether it is in training mode; the loss records each
batch's mean loss and size; the optimizer records whether each step applies the gradients of the last
``backward()`` alone (``zero_grad`` forgotten: they accumulate). The student's answer is then compared with
what was recorded, and a wrong value is matched against the classic mistakes.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from ..data import load_mnist, to_input
from ._messages import Fail, as_float, brief, call, num, pct, student, tr, verdict

Weights = dict[str, torch.Tensor]


@functools.cache
def _mnist() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """256 training and 240 validation images of the bundled MNIST, as float (N, 1, 28, 28) in [0, 1]."""
    data = load_mnist()
    return (to_input(data.train.images[:256]), data.train.labels[:256].clone(),
            to_input(data.valid.images[:240]), data.valid.labels[:240].clone())


class _Watch:
    """Which loader is being read (``train`` or ``valid``), in which epoch, and the weights each validation saw."""

    def __init__(self, model: nn.Module) -> None:
        self.model, self.phase, self.epoch, self.snapshots = model, "", 0, {}

    def start(self, phase: str) -> None:
        self.phase = phase
        if phase == "train":
            self.epoch += 1
        else:
            self.snapshots[self.epoch] = _weights(self.model)


class _Loader(DataLoader):
    """A plain ``DataLoader`` of (images, labels) that tells its watch when a pass over it starts."""

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int, watch: _Watch | None = None,
                 phase: str = "") -> None:
        super().__init__(TensorDataset(x, y), batch_size=batch_size)
        self.watch, self.phase = watch, phase

    def __iter__(self) -> Any:
        if self.watch is not None:
            self.watch.start(self.phase)
        return super().__iter__()


class _TinyNet(nn.Module):
    """784 → 32 → 10, recording (gradients on, training mode) at each call."""

    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Flatten(), nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
        self.calls: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls.append((torch.is_grad_enabled(), self.training))
        return self.net(x)


class _Criterion(nn.CrossEntropyLoss):
    """Cross-entropy recording (mean loss, batch size, phase, epoch) of each batch."""

    def __init__(self, watch: _Watch | None = None) -> None:
        super().__init__()
        self.watch = watch
        self.records: list[tuple[float, int, str, int]] = []

    def forward(self, input: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        loss = super().forward(input, target)
        w = self.watch
        self.records.append((float(loss.detach()), int(target.shape[0]), w.phase if w else "", w.epoch if w else 0))
        return loss


class _SGD:
    """Plain SGD counting backwards and steps, and the steps whose gradients were accumulated or zeroed.

    With ``watch``, epoch 2 climbs the gradient and epoch 3 stands still, so that the best validation
    loss is epoch 1's: a checkpoint saved at every epoch is then told apart from one saved at the best.
    (Not a ``torch.optim.Optimizer``: creating the first of those imports TorchDynamo, seconds.)
    """

    def __init__(self, model: nn.Module, lr: float = 0.1, watch: _Watch | None = None) -> None:
        self.params, self.lr = list(model.parameters()), lr
        self.param_groups = [{"params": self.params, "lr": lr}]
        self.watch, self.steps, self.backwards, self.accumulated, self.empty = watch, 0, 0, 0, 0
        self.last: dict[int, torch.Tensor] = {}  # the gradient of the last backward alone, per parameter
        self.before: dict[int, torch.Tensor] = {}  # the gradient the previous step applied
        for p in self.params:
            p.register_hook(functools.partial(self._seen, id(p)))

    def _seen(self, key: int, grad: torch.Tensor) -> None:
        self.backwards += 1
        self.last[key] = grad.detach().clone()

    def _accumulated(self, p: torch.Tensor, grad: torch.Tensor) -> bool:
        """The gradient is the last backward's plus the one the previous step applied (a change of scale, as
        gradient clipping makes, is not accumulation)."""
        new, old = self.last.get(id(p)), self.before.get(id(p))
        return (new is not None and old is not None and not torch.allclose(grad, new, atol=1e-7)
                and torch.allclose(grad, new + old, atol=1e-6))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:
        self.steps += 1
        grads = [(p, p.grad) for p in self.params if p.grad is not None]
        if not any(g.any() for _, g in grads):
            self.empty += 1
        elif any(self._accumulated(p, g) for p, g in grads):
            self.accumulated += 1
        self.before = {id(p): g.clone() for p, g in grads}
        self.last.clear()
        epoch = self.watch.epoch if self.watch else 1
        if epoch <= 2:
            for p, g in grads:
                p.add_(g, alpha=1.0 if epoch == 2 else -self.lr)


def _weights(model: nn.Module) -> Weights:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _same(a: Any, b: Any) -> bool:
    try:
        return a.keys() == b.keys() and all(torch.equal(a[k].cpu(), b[k].cpu()) for k in a)
    except (AttributeError, TypeError, RuntimeError):
        return False


def _mean(records: list[tuple[float, int]]) -> float:
    return sum(loss * n for loss, n in records) / sum(n for _, n in records)


def _diagnose_mean(value: float, records: list[tuple[float, int]], which: str) -> None:
    """Raise the hint for the recognised mistake unless ``value`` is the mean loss per image over ``records``."""
    def close(a: float, b: float) -> bool:
        return math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-7)

    n, mean, (last, size) = sum(b for _, b in records), _mean(records), records[-1]
    if close(value, mean):
        return
    sum_of_means = sum(loss for loss, _ in records)
    candidates = {"mean_overwritten": last * size / n, "mean_not_divided": mean * n, "mean_no_size": sum_of_means / n,
                  "mean_by_batches": mean * n / len(records), "mean_sum_means": sum_of_means, "mean_last": last}
    loss, var = tr(which), which
    for key, candidate in candidates.items():
        if close(value, candidate):
            factor = max(value, mean) / max(min(value, mean), 1e-12)
            raise Fail(tr(key, loss=loss, var=var, factor=num(factor)))
    raise Fail(tr("mean_wrong", loss=loss, value=num(value, 4), expected=num(mean, 4)))


def _rig(x: torch.Tensor, y: torch.Tensor, batch_size: int, training: bool) -> tuple[_TinyNet, _Loader, _Criterion, Weights]:
    """A tiny network left in the wrong mode (the loop under test must set its own), a loader, a recording criterion,
    and the network's weights before the loop."""
    model = _TinyNet().train(training)
    return model, _Loader(x, y, batch_size), _Criterion(), _weights(model)


def _refuse_first_broken(name: str, rules: list[tuple[str, Any]]) -> None:
    """Fail with the message of the first rule broken, in the order written: (message key, broken?) pairs."""
    for key, is_broken in rules:
        if is_broken:
            raise Fail(tr(key, name=name))


def _check_loop_use(name: str, model: _TinyNet, criterion: _Criterion) -> None:
    if not model.calls:
        raise Fail(tr("unused_arg", name=name, arg="model"))
    if not criterion.records:
        raise Fail(tr("unused_arg", name=name, arg="criterion"))


@verdict
def check_train_one_epoch(train_one_epoch: Any) -> str:
    """Check ``train_one_epoch(model, loader, criterion, optimizer) -> float`` on 256 MNIST images, 3 epochs."""
    name = "train_one_epoch"
    fn = student(train_one_epoch, name, "train_one_epoch(model, loader, criterion, optimizer)", 4)
    model, loader, criterion, before = _rig(*_mnist()[:2], batch_size=32, training=False)
    optimizer = _SGD(model)
    value = call(name, fn, model, loader, criterion, optimizer)
    if value is None:
        raise Fail(tr("returns_none", name=name))
    _check_loop_use(name, model, criterion)
    _refuse_first_broken(name, [
        ("no_backward", not optimizer.backwards), ("no_step", not optimizer.steps),
        ("no_zero_grad", optimizer.accumulated), ("zero_grad_late", optimizer.empty == optimizer.steps),
        ("train_mode", not all(training for _, training in model.calls)),
        ("no_step", _same(before, _weights(model))),  # steps that changed nothing
    ])
    _diagnose_mean(as_float(value, name), [r[:2] for r in criterion.records], "train_loss")
    means = [_mean([r[:2] for r in criterion.records])]
    for _ in range(2):
        criterion.records.clear()
        call(name, fn, model.eval(), loader, criterion, optimizer)
        means.append(_mean([r[:2] for r in criterion.records]))
    if not means[-1] < means[0]:
        raise Fail(tr("not_falling", loss=tr("train_loss"), n=3, values=" → ".join(num(m, 3) for m in means)))
    return tr("train_one_epoch_ok", first=num(means[0], 3), last=num(means[-1], 3), n=3)


@verdict
def check_evaluate(evaluate: Any) -> str:
    """Check ``evaluate(model, loader, criterion) -> float``: mean loss per image, ``no_grad``, ``eval()``, weights kept."""
    name = "evaluate"
    fn = student(evaluate, name, "evaluate(model, loader, criterion)", 3)
    model, loader, criterion, before = _rig(*_mnist()[2:], batch_size=30, training=True)
    value = as_float(call(name, fn, model, loader, criterion), name)
    _check_loop_use(name, model, criterion)
    _diagnose_mean(value, [r[:2] for r in criterion.records], "valid_loss")
    _refuse_first_broken(name, [("eval_no_grad", any(grad for grad, _ in model.calls)),
                                ("eval_mode", any(training for _, training in model.calls)),
                                ("eval_weights", not _same(before, _weights(model)))])
    return tr("evaluate_ok", value=num(value, 3))


def _load(path: str) -> Any:
    """What ``torch.save`` wrote at ``path`` (weights first, a pickled model otherwise), or None."""
    if not os.path.exists(path):
        return None
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # a whole model was pickled
        return torch.load(path, map_location="cpu", weights_only=False)


@verdict
def check_train(train: Any) -> str:
    """Check ``train(...)``: one training and one validation loss per epoch, the best epoch's weights saved."""
    name, n_epochs = "train", 3
    expected = "train(model, train_loader, valid_loader, criterion, optimizer, n_epochs, checkpoint_path)"
    fn = student(train, name, expected, 7)
    xt, yt, xv, yv = _mnist()
    model = _TinyNet()
    watch = _Watch(model)
    loaders = _Loader(xt, yt, 32, watch, "train"), _Loader(xv, yv, 30, watch, "valid")
    criterion, optimizer = _Criterion(watch), _SGD(model, watch=watch)
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "model.pt")
        out = call(name, fn, model, *loaders, criterion, optimizer, n_epochs, path)
        saved = _load(path)
    if out is None:
        raise Fail(tr("returns_none", name=name))
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise Fail(tr("train_not_pair", got=brief(out)))
    losses = {}
    for var, values in zip(("train_losses", "valid_losses"), out):
        values = list(values) if hasattr(values, "__len__") and not isinstance(values, (str, torch.Tensor)) else [values]
        if len(values) != n_epochs:
            raise Fail(tr("train_length", var=var, got=len(values), n=n_epochs))
        losses[var] = [as_float(v, name) for v in values]
        if bad := [v for v in losses[var] if not math.isfinite(v)]:
            raise Fail(tr("not_finite", var=var, value=bad[0]))
    for arg, seen in (("train_loader", watch.epoch), ("valid_loader", watch.snapshots), ("optimizer", optimizer.steps)):
        if not seen:
            raise Fail(tr("unused_arg", name=name, arg=arg))
    for epoch in range(1, n_epochs + 1):
        for phase in ("train", "valid"):
            records = [r[:2] for r in criterion.records if r[2:] == (phase, epoch)]
            if not records:
                raise Fail(tr("unused_arg", name=name, arg="criterion"))
            try:
                _diagnose_mean(losses[f"{phase}_losses"][epoch - 1], records, f"{phase}_loss")
            except Fail as fail:
                text = str(fail)
                raise Fail(tr("train_epoch_value", epoch=epoch, text=text[0].lower() + text[1:])) from None
    valid = losses["valid_losses"]
    best = valid.index(min(valid)) + 1
    if saved is None:
        raise Fail(tr("no_checkpoint"))
    if isinstance(saved, nn.Module):
        raise Fail(tr("checkpoint_model"))
    matching = [epoch for epoch, weights in watch.snapshots.items() if _same(weights, saved)]
    if best not in matching:
        raise Fail(tr("checkpoint_every" if n_epochs in matching else "checkpoint_wrong", best=best))
    return tr("train_ok", n=n_epochs)


def _take(loader: Any, limit: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``limit`` (images, labels) of a loader, as two tensors."""
    xs, ys = [], []
    for batch in loader:
        xs.append(batch[0])
        ys.append(torch.as_tensor(batch[1]))
        if sum(len(b) for b in ys) >= limit:
            break
    return torch.cat(xs)[:limit], torch.cat(ys)[:limit].long().cpu()


@verdict
def check_per_class_accuracy(per_class_accuracy: Any, model: Any, loader: Any) -> str:
    """Check ``per_class_accuracy(model, loader, n_classes=10)`` (percent per true class) on 1,000 images of ``loader``."""
    name = "per_class_accuracy"
    fn = student(per_class_accuracy, name, "per_class_accuracy(model, loader, n_classes=10)", 2)
    if not isinstance(model, nn.Module):
        raise Fail(tr("pass_instance", name=getattr(model, "__name__", type(model).__name__)))
    try:
        x, y = _take(loader, 1000)
    except Exception as exc:
        raise Fail(tr("pca_bad_loader", error=brief(exc))) from None
    small = DataLoader(TensorDataset(x, y), batch_size=getattr(loader, "batch_size", None) or 100)
    was_training = model.training
    try:
        device = next(model.parameters()).device
        with torch.no_grad():
            predicted = torch.cat([call("model", model.eval(), x[i:i + 250].to(device)).argmax(1).cpu()
                                   for i in range(0, len(x), 250)])
        got = call(name, fn, model, small)
    finally:
        model.train(was_training)
    correct = torch.bincount(y[predicted == y], minlength=10).double()
    total, by_prediction = torch.bincount(y, minlength=10).double(), torch.bincount(predicted, minlength=10).double()
    right, wrong_axis = (100 * correct / total).tolist(), (100 * correct / by_prediction).tolist()
    if got is None:
        raise Fail(tr("returns_none", name=name))
    try:
        values = [float(v) for v in got]
    except (TypeError, ValueError):
        raise Fail(tr("not_a_number", name=name, got=brief(got))) from None
    if len(values) != 10:
        raise Fail(tr("pca_length", got=len(values), n=10))
    present = [c for c in range(10) if total[c] > 0]

    def close(a: list[float], b: list[float]) -> bool:
        return all(math.isclose(a[c], b[c], abs_tol=1e-4) for c in present)

    if not close(values, right):
        if close([100 * v for v in values], right):
            raise Fail(tr("pca_fraction"))
        if close(values, wrong_axis):
            raise Fail(tr("pca_axis"))
        c = next(c for c in present if not math.isclose(values[c], right[c], abs_tol=1e-4))
        raise Fail(tr("pca_wrong", label=c, got=pct(values[c]), expected=pct(right[c])))
    worst, best = min(present, key=lambda c: right[c]), max(present, key=lambda c: right[c])
    return tr("pca_ok", n=num(len(y)), low=pct(right[worst]), worst=worst, high=pct(right[best]), best=best)
