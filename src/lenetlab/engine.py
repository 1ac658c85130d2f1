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

import contextlib
import dataclasses
import time
from collections.abc import Callable

import torch
from torch import nn

from . import fused
from .config import TrainConfig
from .data import ImageSet, to_input
from .errors import LenetlabError
from .optimizers import check_device_optimizer, device_optimizer
from .schedule import lr_table
from .step import WeightAverage, averaged, check_loss, compiled, diverged_loss, model_loss, training_batch


def check_fast_recipe(config: TrainConfig) -> None:
    """Refuse in one line what the fast path cannot train as asked, instead of training something else."""
    if config.augment not in ("none", "shift"):
        raise LenetlabError(f"the fast path augments with shift or none, not --augment {config.augment}")
    check_device_optimizer(config)


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
        self.optimizer = device_optimizer(list(model.parameters()), config, self._lr_table(config))
        self.average = WeightAverage(model, config.ema) if config.ema else None  # updated inside the step
        # --fuse: the first stage in two Triton kernels (see fused.py), then the rest of the network
        self.fused, trunk = config.fuse, model
        if self.fused:
            fused.check(model, train.images, device, config.augment, config.precision)
            trunk = nn.Sequential(*[stage for _, stage in model.stages()[2:]])  # after C1 and S2
            self.no_shift = torch.full((2, self.batch_size), 2, dtype=torch.long, device=device)
        # fused kernels from torch.compile, then captured like the eager ones
        self.network = compiled(trunk) if config.compile else trunk
        self.diverged_at, self.epochs_done = diverged_loss(model), 0
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
        if self.fused:  # the shift's offsets drawn as random_shift draws them, the rest in the kernels
            shifts = (torch.randint(0, 5, (2, self.batch_size), device=self.device)
                      if self.config.augment == "shift" else self.no_shift)
            labels = self.labels.index_select(0, idx)
            logits = self.network(fused.first_stage(self.images, idx, shifts, self.model.stage("C1").conv))
        else:
            inputs, labels = training_batch(self.images.index_select(0, idx), self.labels.index_select(0, idx),
                                            self.config.augment, None, self.channels_last)
            with self._autocast():
                logits = self.network(inputs)
        # the model's own loss (lenet5-1998: its MAP criterion), as fit computes it
        loss_total = model_loss(self.model, logits.float(), labels, "sum", self.config.label_smoothing)
        (loss_total / self.batch_size).backward()
        self.optimizer.step()
        if self.average is not None:
            self.average.update()
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
        if self.average is not None:
            self.average.reset()
        self.loss_sum.zero_()
        self.epochs_done = 0
        torch.manual_seed(seed)

    def reschedule(self, lr: float, epochs: int, schedule: str | None = None) -> None:
        """Another peak learning rate, number of epochs or schedule, keeping the captured step.

        At most as many epochs as the trainer was built for; the other settings (batch size,
        momentum, augmentation...) are part of the captured step and cannot change.
        """
        config = dataclasses.replace(self.config, lr=lr, epochs=epochs, schedule=schedule or self.config.schedule)
        table = self._lr_table(config)
        if len(table) > len(self.optimizer.lrs):
            raise LenetlabError(f"{config.epochs} epochs do not fit the {self.config.epochs} this trainer was built for")
        self.optimizer.lrs.zero_()
        self.optimizer.lrs[: len(table)].copy_(table)
        self.config = config

    def train_epoch(self, on_step: Callable[[int], None] | None = None) -> float:
        """One pass over the training images; returns the mean training loss (one host synchronisation).

        ``on_step(steps_done)`` is called after each step is queued (a progress bar; it must not read
        the device, or every step would wait for the GPU).
        """
        self.model.train()
        self.order.copy_(torch.randperm(len(self.order), device=self.device))
        self.position.zero_()
        self.loss_sum.zero_()
        for step in range(self.steps_per_epoch):
            if self.graph is not None:
                self.graph.replay()
            else:
                self.model.zero_grad(set_to_none=True)
                self._step()
            if on_step is not None:
                on_step(step + 1)
        loss = float(self.loss_sum) / (self.steps_per_epoch * self.batch_size)
        self.epochs_done += 1
        check_loss(loss, self.diverged_at, self.epochs_done)  # fit's rule, once an epoch (one host read)
        return loss

    def last_lr(self) -> float:
        """The learning rate of the last step taken (what ``fit`` records for an epoch)."""
        return float(self.optimizer.lrs[max(int(self.optimizer.step_index) - 1, 0)])

    def generator_state(self) -> torch.Tensor:
        """The state of the generator the steps draw from (the device's): with the optimizer's, what resuming needs."""
        return torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else torch.get_rng_state()

    def set_generator_state(self, state: torch.Tensor) -> None:
        if self.device.type == "cuda":
            torch.cuda.set_rng_state(state, self.device)
        else:
            torch.set_rng_state(state)

    def _lr_table(self, config: TrainConfig) -> torch.Tensor:
        return lr_table(config.lr, config.schedule, self.steps_per_epoch, config.epochs, self.device)

    def averaged(self) -> contextlib.AbstractContextManager[list[torch.Tensor] | None]:
        """With ``--ema``, the weight average in the model for a ``with`` block (what validation and the test see)."""
        return averaged(self.average)

    @torch.no_grad()
    def valid_accuracy(self, batch_size: int | None = None) -> float:
        """Accuracy on the validation images (the weight average with ``--ema``), in a few large batches."""
        with self.averaged():
            return self._valid_accuracy(batch_size)

    def _valid_accuracy(self, batch_size: int | None) -> float:
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
