"""The optimizers, one factory per training path, both refusing in one line what they cannot do.

``make_optimizer`` builds what ``fit`` steps (PyTorch's SGD, Adam, AdamW, or the paper's SDLM);
``device_optimizer`` builds the fast path's device form of SGD, Adam or AdamW, whose learning rate is
read on the device from a per-step table (:func:`lenetlab.schedule.lr_table`), so that a captured CUDA
graph can replay whole steps. Neither substitutes one optimizer for another.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .config import TrainConfig
from .errors import LenetlabError
from .sdlm import SDLM

OPTIMIZERS = ("sgd", "adam", "adamw", "sdlm")
DEVICE_OPTIMIZERS = ("sgd", "adam", "adamw")


def make_optimizer(model: nn.Module, config: TrainConfig) -> torch.optim.Optimizer:
    """The optimizer ``config`` names, for ``fit`` (its learning rate is set before every step)."""
    if config.optimizer == "sdlm":
        return SDLM(model.parameters(), lr=config.lr, batch_size=config.batch_size)
    if config.optimizer == "sgd":
        return torch.optim.SGD(model.parameters(), lr=config.lr, momentum=config.momentum,
                               nesterov=config.nesterov and config.momentum > 0, weight_decay=config.weight_decay)
    if config.optimizer == "adam":
        return torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    if config.optimizer == "adamw":
        return torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    raise LenetlabError(f"--optimizer {config.optimizer!r} is not one lenetlab knows; use one of {', '.join(OPTIMIZERS)}")


def check_device_optimizer(config: TrainConfig) -> None:
    """Refuse in one line an optimizer the fast path has no device form of (SDLM), instead of substituting."""
    if config.optimizer not in DEVICE_OPTIMIZERS:
        raise LenetlabError(f"the fast path trains with sgd, adam or adamw, not --optimizer {config.optimizer}; "
                            f"train with `lenetlab train --optimizer {config.optimizer}` instead")


class DeviceSGD:
    """SGD with momentum, Nesterov and weight decay, exactly as ``torch.optim.SGD`` computes it
    (dampening 0), but with the learning rate read on the device from a per-step table.

    ``torch.optim.SGD`` takes the learning rate as a Python number (a tensor one is turned back into
    a number by its multi-tensor path, a host synchronisation), so a schedule cannot change it
    inside a captured graph. Here nothing in :meth:`step` depends on a host value.
    """

    def __init__(self, params: list[nn.Parameter], lrs: torch.Tensor, momentum: float = 0.9,
                 nesterov: bool = True, weight_decay: float = 0.0) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lrs = lrs
        self.momentum, self.nesterov, self.weight_decay = momentum, nesterov and momentum > 0, weight_decay
        self.buffers = [torch.zeros_like(p) for p in self.params] if momentum > 0 else []
        self.step_index = torch.zeros((), dtype=torch.long, device=lrs.device)

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        if self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        if self.momentum > 0:
            # buf = momentum * buf + grad; from zero buffers the first step gives buf = grad, as SGD does.
            torch._foreach_mul_(self.buffers, self.momentum)
            torch._foreach_add_(self.buffers, grads)
            grads = torch._foreach_add(grads, self.buffers, alpha=self.momentum) if self.nesterov else self.buffers
        lr = self.lrs.index_select(0, self.step_index.view(1)).squeeze(0)
        torch._foreach_sub_(self.params, torch._foreach_mul(grads, lr))
        self.step_index += 1

    @torch.no_grad()
    def reset(self) -> None:
        """Back to step 0 with empty momentum (the tensors keep their addresses: a captured graph stays valid)."""
        for buf in self.buffers:
            buf.zero_()
        self.step_index.zero_()

    def state_dict(self) -> dict[str, Any]:
        """The step count and momentum, on the CPU, for ``last.pt``."""
        return _state(self.step_index, momentum=self.buffers)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Copy a :meth:`state_dict` back into the existing tensors (a captured graph stays valid)."""
        _load(self.step_index, state, momentum=self.buffers)


class DeviceAdam:
    """Adam (``decoupled=False``: L2 added to the gradient, as ``torch.optim.Adam``) or AdamW
    (``decoupled=True``, as ``torch.optim.AdamW``), with the learning rate and the bias corrections
    computed on the device, for the same reason as :class:`DeviceSGD`.
    """

    def __init__(self, params: list[nn.Parameter], lrs: torch.Tensor, weight_decay: float = 0.0, *,
                 decoupled: bool, betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8) -> None:
        self.params = [p for p in params if p.requires_grad]
        self.lrs, self.weight_decay, self.decoupled = lrs, weight_decay, decoupled
        self.beta1, self.beta2, self.eps = betas[0], betas[1], eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        self.step_index = torch.zeros((), dtype=torch.long, device=lrs.device)

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad for p in self.params]
        lr = self.lrs.index_select(0, self.step_index.view(1)).squeeze(0)
        self.step_index += 1
        if self.weight_decay and self.decoupled:
            torch._foreach_mul_(self.params, 1 - lr * self.weight_decay)
        elif self.weight_decay:
            grads = torch._foreach_add(grads, self.params, alpha=self.weight_decay)
        torch._foreach_lerp_(self.exp_avg, grads, 1 - self.beta1)
        torch._foreach_mul_(self.exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(self.exp_avg_sq, grads, grads, 1 - self.beta2)
        # the bias corrections in float64: 1 - 0.999 ** t in float32 is off by 1e-5 at small t
        t = self.step_index.to(torch.float64)
        step_size = (lr / (1 - self.beta1 ** t)).float()
        denom = torch._foreach_sqrt(self.exp_avg_sq)
        torch._foreach_div_(denom, torch.sqrt(1 - self.beta2 ** t).float())
        torch._foreach_add_(denom, self.eps)
        torch._foreach_sub_(self.params, torch._foreach_mul(torch._foreach_div(self.exp_avg, denom), step_size))

    @torch.no_grad()
    def reset(self) -> None:
        for buf in (*self.exp_avg, *self.exp_avg_sq):
            buf.zero_()
        self.step_index.zero_()

    def state_dict(self) -> dict[str, Any]:
        return _state(self.step_index, exp_avg=self.exp_avg, exp_avg_sq=self.exp_avg_sq)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        _load(self.step_index, state, exp_avg=self.exp_avg, exp_avg_sq=self.exp_avg_sq)


def _state(step_index: torch.Tensor, **buffers: list[torch.Tensor]) -> dict[str, Any]:
    return {"step": int(step_index), **{name: [b.detach().cpu().clone() for b in bufs] for name, bufs in buffers.items()}}


@torch.no_grad()
def _load(step_index: torch.Tensor, state: dict[str, Any], **buffers: list[torch.Tensor]) -> None:
    for name, bufs in buffers.items():
        saved = state.get(name)
        if not isinstance(saved, list) or [tuple(t.shape) for t in saved] != [tuple(b.shape) for b in bufs]:
            raise LenetlabError(f"the saved optimizer state has no {name} of this network's shapes; "
                                "it cannot be resumed (start a new run with --out)")
        for buf, value in zip(bufs, saved, strict=True):
            buf.copy_(value)
    step_index.fill_(int(state["step"]))


def device_optimizer(params: list[nn.Parameter], config: TrainConfig, lrs: torch.Tensor) -> DeviceSGD | DeviceAdam:
    """The optimizer ``config`` names, in its device form (SDLM has none: refused in one line)."""
    check_device_optimizer(config)
    if config.optimizer == "sgd":
        return DeviceSGD(params, lrs, config.momentum, config.nesterov, config.weight_decay)
    return DeviceAdam(params, lrs, config.weight_decay, decoupled=config.optimizer == "adamw")


