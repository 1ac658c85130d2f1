"""``fit``'s contract on the fast path: what ``lenetlab train --device cuda`` runs when the recipe allows it.

:func:`fit_fast` trains with :class:`~lenetlab.engine.FastTrainer` (data on the device, each step
replayed from one CUDA graph; the default recipe on an H200: 1.0-1.5 s an epoch with ``fit``'s loop,
0.165 s here) and keeps
everything else ``fit`` promises: the same observer calls (a run directory's ``best.pt``, ``last.pt``
and ``progress.json``), the history, the best epoch by validation loss, and an exact ``--resume`` (the
device generator's state and the optimizer's tensors go into ``last.pt``). Two differences, both from
the captured step's fixed shapes: the last partial batch of each epoch is dropped, and the random
numbers come from the device's generator, so a run matches ``fit``'s in distribution, not bit for bit.

:func:`loop_for` decides: the CPU keeps ``fit``'s loop bit for bit, and so does a recipe the fast
path cannot train (affine distortions, SDLM, several processes) or a run ``fit`` started.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm

from .config import TrainConfig
from .data import MNISTData
from .engine import FastTrainer
from .errors import LenetlabError, Words
from .i18n import t
from .optimizers import DEVICE_OPTIMIZERS
from .step import average_fields
from .training import EpochEnd, FitObserver, TrainState, epoch_line, epoch_record, evaluate, fit, make_deterministic

# What a resume() dictionary of this path says of itself; fit's carries no "loop".
LOOP = "device"

Fit = Callable[..., TrainState]


def loop_for(config: TrainConfig, device: torch.device, world: int = 1,
             resume_state: dict[str, Any] | None = None) -> tuple[Fit, str | None]:
    """The training loop for this recipe on ``device`` (``fit_fast`` or ``fit``), and the i18n key of why.

    Examples
    --------
    >>> from lenetlab import TrainConfig
    >>> loop, why = loop_for(TrainConfig(), torch.device("cpu"))
    >>> loop.__name__, why                       # the CPU keeps fit's loop, bit for bit
    ('fit', None)
    >>> loop, why = loop_for(TrainConfig(augment="affine"), torch.device("cuda"))
    >>> loop.__name__, why
    ('fit', 'cli.loop.augment')
    """
    loop, why = _choose_loop(config, device, world, resume_state)
    if config.fuse and loop is fit:  # the fused kernels exist on the fast path only: say so, do not drop --fuse
        if device.type != "cuda":
            raise LenetlabError.of("error.fuse_needs_cuda", device=device.type)
        raise LenetlabError.of("error.fuse_needs_fast_path", why=Words(why))
    return loop, why


def _choose_loop(config: TrainConfig, device: torch.device, world: int,
                 resume_state: dict[str, Any] | None) -> tuple[Fit, str | None]:
    started_here = resume_state is not None and resume_state.get("loop") == LOOP
    if device.type != "cuda":
        if started_here:  # its generator state is the GPU's: the CPU cannot continue it exactly
            raise LenetlabError.of("error.resume_on_gpu")
        return fit, None
    if started_here:
        return fit_fast, "cli.loop.fast"
    if resume_state is not None:
        return fit, "cli.loop.resume"
    if world > 1:
        return fit, "cli.loop.processes"
    if config.augment not in ("none", "shift"):
        return fit, "cli.loop.augment"
    if config.optimizer not in DEVICE_OPTIMIZERS:
        return fit, "cli.loop.optimizer"
    return fit_fast, "cli.loop.fast"


def fit_fast(model: nn.Module, data: MNISTData, config: TrainConfig, *, observer: FitObserver | None = None,
             progress: bool = True, log: Callable[[str], None] | None = print,
             resume_state: dict[str, Any] | None = None, lang: str = "en") -> TrainState:
    """``fit`` on the fast path: same arguments, same observer calls, same history; see the module.

    On the CPU the step runs eagerly (nothing to capture): the way the tests check this loop.

    Examples
    --------
    >>> from lenetlab import load_mnist, LeNet5, TrainConfig
    >>> config = TrainConfig.from_preset("default", epochs=1, batch_size=16)
    >>> state = fit_fast(LeNet5(), load_mnist("mnist_small"), config, progress=False, log=None)
    >>> len(state.history), state.history[0].valid_accuracy > 0.9   # as fit's example: 95 % after one epoch
    (1, True)
    """
    device = next(model.parameters()).device
    observer = observer if observer is not None else FitObserver()
    if config.deterministic:
        make_deterministic()
    start = {name: value.detach().clone() for name, value in model.state_dict().items()}
    trainer = FastTrainer(model, data.train, data.valid, config, device)  # capturing changes the weights...
    trainer.reset(start, seed=config.seed)  # ...so every run starts from the weights it was given
    state = TrainState()
    if resume_state is not None:
        trainer.optimizer.load_state_dict(resume_state["optimizer"])
        trainer.set_generator_state(resume_state["rng"]["device"])
        if trainer.average is not None:
            trainer.average.continue_from(resume_state)
        state = TrainState.from_resume(resume_state)
        trainer.epochs_done = state.epoch
    observer.started(trainer.steps_per_epoch, state)
    n_classes = int(getattr(model, "config", {}).get("n_classes", 10))

    for epoch in range(state.epoch + 1, config.epochs + 1):
        t0 = time.perf_counter()
        observer.epoch_started(epoch)
        with tqdm(total=trainer.steps_per_epoch, desc=t(lang, "cli.epoch_bar", epoch=epoch, epochs=config.epochs),
                  leave=False, disable=not progress, unit=t(lang, "cli.batch")) as bar:
            def on_step(done: int, epoch: int = epoch, bar: tqdm = bar) -> None:
                bar.update()
                observer.step(epoch, done)

            train_loss = trainer.train_epoch(on_step)  # reads the loss once: the device has caught up
        train_seconds = time.perf_counter() - t0

        with trainer.averaged() as raw:  # with --ema, validation and the checkpoints see the average
            t1 = time.perf_counter()
            result = evaluate(model, data.valid, config.eval_batch_size, n_classes)
            valid_seconds = time.perf_counter() - t1
            record = epoch_record(epoch, train_loss, train_seconds, result, valid_seconds, trainer.last_lr())
            improved = state.close_epoch(record, result.loss, config)
            if log is not None:
                log(epoch_line(record, config.epochs, improved, lang))

            def resume(raw: list[torch.Tensor] | None = raw) -> dict[str, Any]:
                return {"loop": LOOP, "optimizer": trainer.optimizer.state_dict(),
                        "rng": {"device": trainer.generator_state()}, **state.resume_fields(),
                        **average_fields(trainer.average, raw)}

            observer.epoch_ended(EpochEnd(record, improved, state, model, result, resume))
    return state
