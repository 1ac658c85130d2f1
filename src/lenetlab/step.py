"""What one training step is made of, shared by ``fit`` and the fast path (``engine.FastTrainer``).

- :func:`training_batch`: gather a batch from the in-memory uint8 images, augment it, convert to float;
- :func:`model_loss`: the model's own criterion where it has one (lenet5-1998's MAP loss), else
  cross-entropy with the recipe's label smoothing;
- :func:`check_loss`: the divergence rule (not finite, or above the model's ``diverged_loss``);
- :func:`compiled`: ``torch.compile`` where it works, the eager model where it does not;
- :class:`WeightAverage`: the moving average of the weights that ``--ema`` validates and keeps.

The two loops differ only where they must (``fit`` draws its random numbers on the CPU for exact
resuming; the fast path draws them on the device and keeps fixed shapes for a CUDA graph).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_affine, random_shift
from .data import to_input
from .errors import DivergedError, Number, Words

# A healthy run starts near ln(10) = 2.3; a cross-entropy this high means the weights blew up
# (tanh saturates, so an lr of 100 gives huge but finite losses rather than NaN).
DIVERGED_LOSS = 100.0


def model_loss(model: nn.Module, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean",
               label_smoothing: float = 0.0) -> torch.Tensor:
    """The model's own criterion where it has one (lenet5-1998: the MAP loss), else cross-entropy.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> logits = torch.zeros(2, 10); labels = torch.tensor([3, 4])
    >>> round(float(model_loss(LeNet5(), logits, labels)), 4)   # ln 10
    2.3026
    """
    criterion = getattr(model, "criterion", None)
    if criterion is not None:
        return criterion(logits, labels, reduction)
    return F.cross_entropy(logits, labels, label_smoothing=label_smoothing, reduction=reduction)


def diverged_loss(model: nn.Module) -> float:
    """The loss above which ``model`` has diverged (its own ``diverged_loss``, else :data:`DIVERGED_LOSS`)."""
    return float(getattr(model, "diverged_loss", DIVERGED_LOSS))


def check_loss(loss: torch.Tensor | float, limit: float, epoch: int, step: int | None = None) -> None:
    """Raise :class:`DivergedError` when the loss is not finite or above ``limit`` (one host read).

    Examples
    --------
    >>> check_loss(2.3, 100.0, 1, 10)
    >>> check_loss(float("nan"), 100.0, 2)
    Traceback (most recent call last):
    ...
    lenetlab.errors.DivergedError: training diverged: the loss is nan at epoch 2; lower --lr (for example by 10x) and start again
    """
    value = float(loss)
    if not (value == value and abs(value) != float("inf")) or value > limit:  # NaN, ±inf, or blown up
        where = (Words("error.diverged_at_step", epoch=epoch, step=step) if step is not None
                 else Words("error.diverged_at_epoch", epoch=epoch))
        raise DivergedError.of("error.diverged", loss=Number(value, ".4g"), where=where)


def training_batch(images: torch.Tensor, labels: torch.Tensor, augment: str,
                   generator: torch.Generator | None = None, channels_last: bool = False
                   ) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of uint8 ``images`` (N, H, W) augmented as the recipe says, as float inputs (N, 1, H, W).

    ``generator`` on the CPU: ``fit``'s exact-resume way; ``None``: drawn on the images' device (the fast path).
    """
    if augment == "shift":
        images = random_shift(images, 2, generator)
    inputs = to_input(images)
    if augment == "affine":
        inputs = random_affine(inputs, generator)
    if channels_last:
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    return inputs, labels


def compiled(model: nn.Module) -> nn.Module:
    """``torch.compile(model)``, falling back to eager where compilation fails (no C++ compiler, an op)."""
    from torch import _dynamo

    _dynamo.config.suppress_errors = True
    return torch.compile(model)


class WeightAverage:
    """An exponential moving average of a model's parameters (``--ema DECAY``), updated after every step.

    Validation, ``best.pt`` and the test see the average (:meth:`swapped`); training goes on with the raw
    weights. Bias-corrected as Adam's moments are: after t steps it is the weighted mean of the t weights
    training went through, the latest weighing most, with no weight left on the initial ones (so a short
    run is not pulled back to its random start). The tensors keep their addresses and the step count
    lives on the device, so a captured CUDA graph can update them. On the speedrun recipe it reached
    99.0 % validation in 5.8 epochs instead of 8.6 (5 seeds, docs/speed.md).

    Examples
    --------
    >>> model = nn.Linear(1, 1, bias=False)
    >>> average = WeightAverage(model, 0.5)
    >>> for value in (1.0, 3.0):
    ...     with torch.no_grad(): _ = model.weight.fill_(value)
    ...     average.update()
    >>> with average.swapped(): round(model.weight.item(), 4)   # (0.5 * 1 + 1 * 3) / 1.5
    2.3333
    >>> model.weight.item()
    3.0
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        self.params = [p for p in model.parameters()]
        self.decay = decay
        self.average = [torch.zeros_like(p) for p in self.params]  # the uncorrected sum, from zero
        self.steps = torch.zeros((), dtype=torch.float64, device=self.params[0].device)

    @torch.no_grad()
    def update(self) -> None:
        torch._foreach_lerp_(self.average, [p.detach() for p in self.params], 1.0 - self.decay)
        self.steps += 1

    @torch.no_grad()
    def reset(self) -> None:
        """Forget every step (a new run)."""
        torch._foreach_zero_(self.average)
        self.steps.zero_()

    def corrected(self) -> list[torch.Tensor]:
        """The average itself (the raw weights when no step was taken yet)."""
        steps = float(self.steps)
        if steps == 0:
            return [p.detach().clone() for p in self.params]
        return torch._foreach_div(self.average, 1.0 - self.decay ** steps)

    @contextlib.contextmanager
    def swapped(self) -> Iterator[list[torch.Tensor]]:
        """The average in the model for the ``with`` block (which gets the raw weights), the raw weights back after it."""
        with torch.no_grad():
            raw = [p.detach().clone() for p in self.params]
            for p, average in zip(self.params, self.corrected(), strict=True):
                p.copy_(average)
        try:
            yield raw
        finally:
            with torch.no_grad():
                for p, value in zip(self.params, raw, strict=True):
                    p.copy_(value)

    def resume_fields(self, raw: list[torch.Tensor]) -> dict[str, Any]:
        """What a resume state adds (taken inside :meth:`swapped`, while the model holds the average)."""
        return {"raw_weights": [r.cpu() for r in raw], "average_sum": [a.detach().cpu().clone() for a in self.average],
                "average_steps": float(self.steps)}

    @torch.no_grad()
    def continue_from(self, state: dict[str, Any]) -> None:
        """Resuming: the running sum and the step count back, and the raw weights back in the model (which
        holds the average: ``last.pt`` keeps what validation saw)."""
        self.steps.fill_(float(state["average_steps"]))
        for average, p, saved, value in zip(self.average, self.params, state["average_sum"], state["raw_weights"],
                                            strict=True):
            average.copy_(saved)
            p.copy_(value)


def averaged(average: WeightAverage | None) -> contextlib.AbstractContextManager[list[torch.Tensor] | None]:
    """``average.swapped()``, or nothing to do (``None``) without ``--ema``."""
    return average.swapped() if average is not None else contextlib.nullcontext()


def average_fields(average: WeightAverage | None, raw: list[torch.Tensor] | None) -> dict[str, Any]:
    """What a resume state adds with ``--ema`` (nothing without)."""
    return {} if average is None or raw is None else average.resume_fields(raw)
