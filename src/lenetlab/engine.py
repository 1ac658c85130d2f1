"""The fast training path: everything on the device, one training step that needs nothing from the host.

``fit`` is the familiar loop (a learning rate set from Python, shuffling and augmentation drawn on
the CPU so that resuming is exact). On a GPU that loop is launch-bound: LeNet-5 does 416k
multiply-adds per image, so a step of 128 images is ~40 tiny kernels whose launches cost more than
their work. :class:`FastTrainer` removes every per-step round trip to the host:

- the training images (uint8) and labels live on the device, and a step gathers its batch from a
  device-resident permutation at a device-resident position;
- the ±2 px shift draws its offsets on the device;
- :class:`DeviceSGD` reads the learning rate of this step from a device table (the schedule) and
  advances its own step counter on the device;
- on CUDA the whole step (gather, augment, forward, backward, update) is captured once in a CUDA
  graph and replayed: one launch per step instead of ~60.

On the CPU the same step runs eagerly (there is no launch overhead to save). The recipe semantics
are ``fit``'s (same loss, optimizer arithmetic and schedule), with two differences, both because a
captured step has fixed shapes: the last partial batch of an epoch is dropped, and the random
numbers come from the device's generator, so runs match ``fit`` in distribution, not bit for bit.
"""

from __future__ import annotations

import dataclasses
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from .augment import random_shift
from .config import TrainConfig
from .data import ImageSet, to_input
from .errors import LenetlabError


def lr_table(config: TrainConfig, steps_per_epoch: int, device: torch.device) -> torch.Tensor:
    """The learning rate of every step of the run, as ``fit`` sets it (one-cycle, cosine or constant)."""
    from .training import lr_factor

    total = steps_per_epoch * config.epochs
    # one spare entry: the counter reaches ``total`` after the last step and must still index the table
    return torch.tensor([config.lr * lr_factor(config.schedule, s, total) for s in range(total + 1)],
                        dtype=torch.float32, device=device)


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


def device_optimizer(params: list[nn.Parameter], config: TrainConfig, lrs: torch.Tensor) -> DeviceSGD | DeviceAdam:
    """The optimizer ``config`` names, in its device form (:func:`check_fast_recipe` refused the others)."""
    check_fast_recipe(config)
    if config.optimizer == "sgd":
        return DeviceSGD(params, lrs, config.momentum, config.nesterov, config.weight_decay)
    return DeviceAdam(params, lrs, config.weight_decay, decoupled=config.optimizer == "adamw")


def check_fast_recipe(config: TrainConfig) -> None:
    """Refuse in one line what the fast path cannot train as asked, instead of training something else."""
    if config.augment not in ("none", "shift"):
        raise LenetlabError(f"the fast path augments with shift or none, not --augment {config.augment}")
    if config.optimizer not in ("sgd", "adam", "adamw"):
        raise LenetlabError(f"the fast path trains with sgd, adam or adamw, not --optimizer {config.optimizer}; "
                            f"train with `lenetlab train --optimizer {config.optimizer}` instead")


class FastTrainer:
    """Train one model on device-resident data with a step that needs nothing from the host.

    Build it once per (model, batch size, augmentation, precision); :meth:`reset` starts a new run
    (new weights, new seed) without capturing again, which is what lets ``speedrun`` time several
    seeds without paying for the capture each time.
    """

    def __init__(self, model: nn.Module, train: ImageSet, valid: ImageSet, config: TrainConfig,
                 device: torch.device, *, graph: bool | None = None) -> None:
        check_fast_recipe(config)
        self.model, self.config, self.device = model, config, device
        self.batch_size = min(config.batch_size, len(train))
        self.steps_per_epoch = len(train) // self.batch_size  # fixed shapes: the last partial batch is dropped
        self.images, self.labels = train.images.to(device), train.labels.to(device)
        # validation needs no augmentation: convert it once
        self.valid_inputs, self.valid_labels = to_input(valid.images.to(device)), valid.labels.to(device)
        self.channels_last = config.channels_last
        if self.channels_last:
            model.to(memory_format=torch.channels_last)
        self.order = torch.randperm(len(train), device=device)
        self.position = torch.zeros((), dtype=torch.long, device=device)
        self.offsets = torch.arange(self.batch_size, device=device)
        self.loss_sum = torch.zeros((), device=device)
        self.optimizer = device_optimizer(list(model.parameters()), config,
                                          lr_table(config, self.steps_per_epoch, device))
        self.network = model
        if config.compile:  # fused kernels from torch.compile, then captured like the eager ones
            from torch import _dynamo

            _dynamo.config.suppress_errors = True
            self.network = torch.compile(model)
        self.use_graph = device.type == "cuda" if graph is None else graph
        self.graph: torch.cuda.CUDAGraph | None = None
        self.capture_seconds = 0.0
        self.capture_error: str | None = None
        if self.use_graph:
            try:
                self._capture()
            except RuntimeError as exc:  # an op this PyTorch cannot capture: run eagerly, say why
                self.graph, self.capture_error = None, f"{exc.__class__.__name__}: {str(exc).splitlines()[0]}"
                torch.cuda.synchronize(self.device)

    # -- the step ------------------------------------------------------------------------------
    def _step(self) -> None:
        idx = self.order.index_select(0, self.position + self.offsets)
        self.position += self.batch_size
        images, labels = self.images.index_select(0, idx), self.labels.index_select(0, idx)
        if self.config.augment == "shift":
            images = random_shift(images, 2)
        inputs = to_input(images)
        if self.channels_last:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        with self._autocast():
            logits = self.network(inputs)
        loss_total = F.cross_entropy(logits.float(), labels, label_smoothing=self.config.label_smoothing,
                                     reduction="sum")
        (loss_total / self.batch_size).backward()
        self.optimizer.step()
        self.loss_sum += loss_total.detach()

    def _capture(self) -> None:
        """Warm up on a side stream (cuDNN picks its kernels, gradients get allocated), then capture one step.

        The warm-up steps change the weights; :meth:`reset` puts back whatever weights a run starts from.
        """
        t0 = time.perf_counter()
        self.model.train()
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self.model.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.model.zero_grad(set_to_none=True)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self._step()
        torch.cuda.synchronize(self.device)
        self.capture_seconds = time.perf_counter() - t0

    # -- runs ----------------------------------------------------------------------------------
    @torch.no_grad()
    def reset(self, state: dict[str, torch.Tensor], seed: int) -> None:
        """Start a new run from the weights ``state`` with ``seed`` for shuffling and augmentation."""
        self.model.load_state_dict(state)  # copies into the existing tensors: the graph stays valid
        if self.use_graph:
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.zero_()
        else:
            self.model.zero_grad(set_to_none=True)
        self.optimizer.reset()
        self.loss_sum.zero_()
        torch.manual_seed(seed)

    def reschedule(self, lr: float, epochs: int, schedule: str | None = None) -> None:
        """Another peak learning rate, number of epochs or schedule, keeping the captured step.

        At most as many epochs as the trainer was built for; the other settings (batch size,
        momentum, augmentation...) are part of the captured step and cannot change.
        """
        config = dataclasses.replace(self.config, lr=lr, epochs=epochs, schedule=schedule or self.config.schedule)
        table = lr_table(config, self.steps_per_epoch, self.device)
        if len(table) > len(self.optimizer.lrs):
            raise LenetlabError(f"{config.epochs} epochs do not fit the {self.config.epochs} this trainer was built for")
        self.optimizer.lrs.zero_()
        self.optimizer.lrs[: len(table)].copy_(table)
        self.config = config

    def train_epoch(self) -> float:
        """One pass over the training images; returns the mean training loss (one host synchronisation)."""
        self.model.train()
        self.order.copy_(torch.randperm(len(self.order), device=self.device))
        self.position.zero_()
        self.loss_sum.zero_()
        for _ in range(self.steps_per_epoch):
            if self.graph is not None:
                self.graph.replay()
            else:
                self.model.zero_grad(set_to_none=True)
                self._step()
        loss = float(self.loss_sum) / (self.steps_per_epoch * self.batch_size)
        if not math.isfinite(loss):
            from .errors import DivergedError

            raise DivergedError(f"training diverged (the loss is {loss}); lower --lr and start again")
        return loss

    @torch.no_grad()
    def valid_accuracy(self, batch_size: int | None = None) -> float:
        """Accuracy on the validation images, in a few large batches (one synchronisation)."""
        self.model.eval()
        batch = batch_size or (len(self.valid_labels) if self.device.type == "cuda" else 1000)
        correct = torch.zeros((), dtype=torch.long, device=self.device)
        with self._autocast():
            for start in range(0, len(self.valid_labels), batch):
                inputs = self.valid_inputs[start:start + batch]
                if self.channels_last:
                    inputs = inputs.contiguous(memory_format=torch.channels_last)
                predicted = self.model(inputs).argmax(1)
                correct += (predicted == self.valid_labels[start:start + batch]).sum()
        return int(correct) / max(len(self.valid_labels), 1)

    def _autocast(self) -> torch.autocast:
        # no weight cache: a captured graph must recompute the bf16 copies of the weights every replay
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bf16",
                              cache_enabled=False)

    def sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
