"""fit and evaluate: the training loop and the test-set numbers.

The loop is the familiar one from pytorch/examples, with the notebook's bugs fixed: the
validation loss is summed over every batch (the notebook overwrote it each batch), and on a
GPU the per-step loss stays on the device (no ``.item()`` sync per step). The settings are
:class:`~lenetlab.config.TrainConfig`, augmentation is :mod:`lenetlab.augment`. ``fit`` writes no
file: what a caller keeps of each epoch (a run directory's checkpoints, a live page's progress) is a
:class:`FitObserver`'s business (:class:`lenetlab.runs.RunWriter` writes a run directory).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from . import distributed
from .config import TrainConfig
from .data import ImageSet, MNISTData, iterate_batches
from .errors import LenetlabError
from .i18n import number, t
from .optimizers import make_optimizer
from .rundir import EpochRecord, Scores
from .schedule import PAPER_STEPS, lr_factor  # noqa: F401 - part of this module's API since the start
from .step import (  # noqa: F401
    DIVERGED_LOSS,
    WeightAverage,
    average_fields,
    averaged,
    check_loss,
    compiled,
    diverged_loss,
    model_loss,
    training_batch,
)


@dataclass
class EvalResult:
    """Test-set numbers, the notebook's per-class table included (``to_dict`` drops the tensors).

    Examples
    --------
    >>> from lenetlab import load_mnist, LeNet5
    >>> sorted(evaluate(LeNet5(), load_mnist().test).to_dict())
    ['accuracy', 'confusion_matrix', 'loss', 'per_class_accuracy']
    """

    loss: float
    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]
    predictions: torch.Tensor
    probabilities: torch.Tensor

    def scores(self) -> Scores:
        """The numbers without the tensors, as ``metrics.json`` keeps them."""
        return Scores(self.loss, self.accuracy, self.per_class_accuracy, self.confusion_matrix)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.scores())


def resolve_device(name: str = "auto") -> torch.device:
    """``auto`` picks CUDA when present, else the CPU; asking for CUDA without one is a user error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name != "cpu" and not (name == "cuda" or (name.startswith("cuda:") and name[5:].isdigit())):
        raise LenetlabError.of("error.unknown_device", name=name)
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise LenetlabError.of("error.no_cuda")
    return torch.device(name)


def evaluate(model: nn.Module, images: ImageSet, batch_size: int = 500, n_classes: int | None = None,
             tta_shift: int = 0) -> EvalResult:
    """Loss (mean cross-entropy, summed over every batch), accuracy, per-class accuracy, confusion matrix.

    ``tta_shift=N`` (test-time augmentation) decides on the softmax averaged over the image and its
    copies shifted by up to N pixels in x and y, (2N+1)² in all, the borders filled with background;
    the loss stays the plain images'. 1 pixel added 0.05 to 0.11 point of validation accuracy to each of
    5 lenet5-modern runs (README: Results).

    Examples
    --------
    >>> from lenetlab import load_mnist, LeNet5
    >>> result = evaluate(LeNet5(), load_mnist().test)
    >>> 0.0 <= result.accuracy <= 1.0
    True
    """
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    n_classes = n_classes or _n_outputs(model)
    loss_sum = torch.zeros((), device=device)
    probabilities = []
    with torch.inference_mode():
        for inputs, labels in iterate_batches(images.images.to(device), images.labels.to(device), batch_size):
            logits = model(inputs)
            loss_sum += model_loss(model, logits.float(), labels, "sum")
            probability = logits.softmax(1).float()
            for moved in shifted_copies(inputs, tta_shift):
                probability += model(moved).softmax(1).float()
            probabilities.append((probability / (2 * tta_shift + 1) ** 2).cpu())
    model.train(was_training)
    probs = torch.cat(probabilities) if probabilities else torch.zeros(0, n_classes)
    labels = images.labels.cpu()
    predictions = probs.argmax(1)
    confusion = torch.bincount(labels * n_classes + predictions, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    per_class = confusion.diag().double() / confusion.sum(1).clamp(min=1).double()
    n = max(len(images), 1)
    return EvalResult(
        loss=float(loss_sum) / n,
        accuracy=float((predictions == labels).double().mean()) if len(images) else 0.0,
        per_class_accuracy=[round(float(a), 6) for a in per_class],
        confusion_matrix=confusion.tolist(),
        predictions=predictions,
        probabilities=probs,
    )


def shifted_copies(inputs: torch.Tensor, shift: int) -> Iterator[torch.Tensor]:
    """``inputs`` (N, C, H, W) moved by every (dy, dx) in [-shift, shift]² but (0, 0), filled with 0."""
    if shift <= 0:
        return
    h, w = inputs.shape[-2:]
    padded = torch.nn.functional.pad(inputs, (shift,) * 4)
    for dy in range(-shift, shift + 1):
        for dx in range(-shift, shift + 1):
            if dy or dx:
                yield padded[..., shift + dy:shift + dy + h, shift + dx:shift + dx + w]


def _n_outputs(model: nn.Module) -> int:
    return int(getattr(model, "config", {}).get("n_classes", 10))


@dataclass
class TrainState:
    """What a run needs to continue where it stopped: written to ``last.pt`` after every epoch."""

    epoch: int = 0
    history: list[EpochRecord] = field(default_factory=list)
    best_epoch: int = 0
    best_valid_loss: float = math.inf

    @classmethod
    def from_resume(cls, resume_state: dict[str, Any]) -> TrainState:
        """The state a ``resume()`` dictionary carries (either training path's)."""
        return cls(epoch=int(resume_state["epoch"]), history=[EpochRecord(**r) for r in resume_state["history"]],
                   best_epoch=int(resume_state["best_epoch"]), best_valid_loss=float(resume_state["best_valid_loss"]))

    def resume_fields(self) -> dict[str, Any]:
        """This state as a ``resume()`` dictionary keeps it (beside the path's optimizer and generators)."""
        return {"epoch": self.epoch, "history": [dataclasses.asdict(r) for r in self.history],
                "best_epoch": self.best_epoch, "best_valid_loss": self.best_valid_loss}

    def close_epoch(self, record: EpochRecord, valid_loss: float, config: TrainConfig) -> bool:
        """Add ``record`` to the history; True when its weights are the ones to keep.

        Best = lowest validation loss; split "all" (the paper's way) keeps the last epoch, whose
        validation images were trained on.
        """
        self.history.append(record)
        self.epoch = record.epoch
        improved = config.split == "all" or valid_loss < self.best_valid_loss
        if improved:
            self.best_valid_loss, self.best_epoch = valid_loss, record.epoch
        return improved


@dataclass
class EpochEnd:
    """An epoch just validated, as a :class:`FitObserver` hears it.

    ``improved``: this epoch is the best so far (lowest validation loss; the last one with split "all"),
    so its weights are the ones to keep. ``resume()`` gives what continuing exactly needs (optimizer and
    random generators' states, the history): built only when asked, it costs a copy of the optimizer state.
    """

    record: EpochRecord
    improved: bool
    state: TrainState
    model: nn.Module
    valid: EvalResult
    resume: Callable[[], dict[str, Any]]


class FitObserver:
    """What ``fit`` tells its caller, moment by moment; each method does nothing unless overridden.

    Examples
    --------
    >>> class Losses(FitObserver):
    ...     def __init__(self): self.valid = []
    ...     def epoch_ended(self, end): self.valid.append(end.record.valid_loss)
    >>> # fit(model, data, config, observer=Losses())  # then observer.valid holds one loss per epoch
    """

    def started(self, steps_per_epoch: int, state: TrainState) -> None:
        """Before the first step (``state``: the history so far when resuming)."""

    def epoch_started(self, epoch: int) -> None:
        """An epoch begins."""

    def step(self, epoch: int, steps_done: int) -> None:
        """A step of ``epoch`` is done (``steps_done`` of them): keep this cheap, it runs every step."""

    def epoch_ended(self, end: EpochEnd) -> None:
        """An epoch was validated: the place to save weights and progress."""


def fit(
    model: nn.Module,
    data: MNISTData,
    config: TrainConfig,
    *,
    observer: FitObserver | None = None,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    resume_state: dict[str, Any] | None = None,
    lang: str = "en",
) -> TrainState:
    """Train ``model`` on ``data.train``, validating on ``data.valid`` after every epoch.

    Writes nothing: ``observer`` (a :class:`FitObserver`) hears each moment of the training, and
    :class:`lenetlab.runs.RunWriter` is the one that writes a run directory's ``best.pt``, ``last.pt``
    and ``progress.json``. ``resume_state`` is what an :class:`EpochEnd`'s ``resume()`` gave: training
    continues from there exactly. Returns the history. Under ``torchrun`` (an initialised process group) each process trains on its slice of every
    global batch and rank 0 alone logs and writes; the result matches one process with the same
    global batch.

    Examples
    --------
    >>> from lenetlab import load_mnist, LeNet5, TrainConfig
    >>> config = TrainConfig.from_preset("default", epochs=1, batch_size=16)
    >>> state = fit(LeNet5(), load_mnist("mnist_small"), config, progress=False, log=None)
    >>> len(state.history), state.history[0].valid_accuracy > 0.9   # one epoch on 9,600 images (0.99 on all, 40)
    (1, True)
    """
    device = next(model.parameters()).device
    rank, world = distributed.rank_and_world()
    if rank != 0:
        observer, log, progress = None, None, False
    observer = observer if observer is not None else FitObserver()
    if config.deterministic:
        make_deterministic()
    torch.manual_seed(config.seed)
    shuffle_gen = torch.Generator().manual_seed(config.seed + 1)
    augment_gen = torch.Generator().manual_seed(config.seed + 2)
    train = data.train.to(device)
    optimizer = make_optimizer(model, config)
    steps_per_epoch = math.ceil(len(train) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    state = TrainState()
    if resume_state is not None:
        optimizer.load_state_dict(resume_state["optimizer"])
        shuffle_gen.set_state(resume_state["rng"]["shuffle"])
        augment_gen.set_state(resume_state["rng"]["augment"])
        torch.set_rng_state(resume_state["rng"]["torch"])
        state = TrainState.from_resume(resume_state)
    observer.started(steps_per_epoch, state)
    n_classes = _n_outputs(model)
    network = _training_network(model, config, world)
    average = WeightAverage(model, config.ema) if config.ema else None
    if average is not None and resume_state is not None:
        average.continue_from(resume_state)
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.precision == "bf16")
    # On the CPU reading the loss costs nothing, so check it every step; on a GPU it would stall
    # the launch queue, so check it now and then.
    check_every = 1 if device.type == "cpu" else 50
    diverged_at = diverged_loss(model)

    for epoch in range(state.epoch + 1, config.epochs + 1):
        model.train()
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), device=device)
        order = torch.randperm(len(train), generator=shuffle_gen).to(device)
        bar = tqdm(range(steps_per_epoch), desc=t(lang, "cli.epoch_bar", epoch=epoch, epochs=config.epochs),
                   leave=False, disable=not progress, unit=t(lang, "cli.batch"))
        observer.epoch_started(epoch)
        for step_in_epoch in bar:
            step = (epoch - 1) * steps_per_epoch + step_in_epoch
            for group in optimizer.param_groups:
                group["lr"] = config.lr * lr_factor(config.schedule, step, total_steps)
            idx = order[step_in_epoch * config.batch_size : (step_in_epoch + 1) * config.batch_size]
            inputs, labels = _training_batch(train, idx, config.augment, augment_gen, config.channels_last)
            n_global = labels.shape[0]
            if hasattr(optimizer, "estimate"):  # SDLM: the curvature h_kk on this batch (lenetlab/sdlm.py)
                optimizer.estimate(model, inputs, labels)
            if world > 1:  # every rank draws the same global batch, then keeps its own slice
                inputs, labels = inputs[rank::world], labels[rank::world]
            # Summed loss over the global batch size: the mean of the global batch, whatever the
            # slicing (DDP averages gradients over ranks, hence the factor world).
            with autocast:
                logits = network(inputs)
            loss_total = model_loss(model, logits.float(), labels, "sum", config.label_smoothing)
            loss = loss_total * (world / n_global)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            if average is not None:
                average.update()
            loss_sum += loss_total.detach()
            if step_in_epoch % check_every == check_every - 1:
                check_loss(loss.detach(), diverged_at, epoch, step_in_epoch + 1)
            observer.step(epoch, step_in_epoch + 1)
        loss_sum = distributed.all_reduce_sum(loss_sum) if world > 1 else loss_sum
        train_loss = float(loss_sum) / len(train)
        check_loss(train_loss, diverged_at, epoch, steps_per_epoch)
        train_seconds = time.perf_counter() - t0

        with averaged(average) as raw:  # with --ema, validation and the checkpoints see the average
            t1 = time.perf_counter()
            result = evaluate(model, data.valid, config.eval_batch_size, n_classes)
            valid_seconds = time.perf_counter() - t1
            record = epoch_record(epoch, train_loss, train_seconds, result, valid_seconds,
                                  optimizer.param_groups[0]["lr"])
            improved = state.close_epoch(record, result.loss, config)
            if log is not None:
                log(epoch_line(record, config.epochs, improved, lang))

            def resume(raw: list[torch.Tensor] | None = raw) -> dict[str, Any]:
                return {"optimizer": optimizer.state_dict(),
                        "rng": {"shuffle": shuffle_gen.get_state(), "augment": augment_gen.get_state(),
                                "torch": torch.get_rng_state()},
                        **state.resume_fields(), **average_fields(average, raw)}

            observer.epoch_ended(EpochEnd(record, improved, state, model, result, resume))
        distributed.barrier()
    return state


def make_deterministic() -> None:
    """Deterministic kernels (``--deterministic``): the same run gives the same bits on a GPU too."""
    # cuBLAS needs a fixed workspace to be deterministic; it must be set before its first use.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True)


def epoch_record(epoch: int, train_loss: float, train_seconds: float, valid: EvalResult, valid_seconds: float,
                 lr: float) -> EpochRecord:
    """One line of the history, rounded as ``metrics.json`` keeps it."""
    return EpochRecord(epoch, round(train_loss, 6), round(valid.loss, 6), round(valid.accuracy, 6),
                       round(train_seconds, 3), round(valid_seconds, 3), round(lr, 8))


def epoch_line(record: EpochRecord, epochs: int, best: bool, lang: str = "en") -> str:
    """The line ``fit`` logs after an epoch, in ``lang`` (French: « époque », decimal commas).

    Examples
    --------
    >>> record = EpochRecord(1, 1.3872, 0.3387, 0.937, 2.0, 0.4, 0.05)
    >>> epoch_line(record, 3, True)
    'epoch   1/3  train_loss 1.3872  valid_loss 0.3387  valid_acc  93.70%    2.4s  *best'
    >>> epoch_line(record, 3, True, "fr")
    'époque   1/3  perte entr. 1,3872  perte valid. 0,3387  exactitude valid.  93,70\u202f%    2,4\u202fs  *meilleure'
    """
    return t(lang, "cli.epoch_line", epoch=record.epoch, epochs=epochs, train_loss=number(record.train_loss, lang, 4),
             valid_loss=number(record.valid_loss, lang, 4),
             valid_acc=number(100 * record.valid_accuracy, lang, 2).rjust(6),
             seconds=number(record.train_seconds + record.valid_seconds, lang, 1).rjust(5),
             best=t(lang, "cli.best") if best else "")


def _training_batch(
    train: ImageSet, idx: torch.Tensor, augment: str, generator: torch.Generator, channels_last: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """Gather a batch from the in-memory uint8 images, augment it (CPU generator: exact resume), convert to float."""
    return training_batch(train.images[idx], train.labels[idx], augment, generator, channels_last)


def _training_network(model: nn.Module, config: TrainConfig, world: int) -> nn.Module:
    """The module the training steps call: the model itself, or its fast form (same weights)."""
    if config.channels_last:
        model.to(memory_format=torch.channels_last)
    if world > 1:
        return distributed.wrap(model)
    return compiled(model) if config.compile else model
