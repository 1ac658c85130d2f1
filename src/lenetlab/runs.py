"""The glue between training and a run directory: ``train_run``, ``evaluate_run``, ``predict_images``.

``train_run`` loads the data, builds the model, calls :func:`~lenetlab.training.fit` (on a GPU,
when the recipe allows it, :func:`~lenetlab.fast_fit.fit_fast`: :func:`~lenetlab.fast_fit.loop_for`) with a
:class:`RunWriter` (which writes the checkpoints and progress after every epoch), tests the best epoch
and writes the figures and ``metrics.json``. The report is a view of the run, written by the caller's
``finish`` (the command line passes :func:`lenetlab.report.finish_run`), so this layer knows nothing of it.
The directory's layout and files are :class:`~lenetlab.rundir.RunDir`'s.
"""

from __future__ import annotations

import contextlib
import dataclasses
import signal
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from . import distributed
from .checkpoint import load_checkpoint, read_checkpoint, save_checkpoint, save_filter_snapshot
from .config import TrainConfig
from .data import MNISTData, load_mnist
from .errors import DivergedError, LenetlabError, TrainingInterrupted, Words
from .fast_fit import loop_for
from .i18n import check_lang, number, t
from .machine import library_versions, source_fingerprint  # noqa: F401 - part of runs' API
from .models import build_model, count_parameters
from .predict import Predictor
from .run_figures import run_figures, train_loss_label, write_figures  # noqa: F401 - runs' API
from .rundir import DataInfo, Metrics, ProgressFile, RunConfig, RunDir, default_run_dir
from .training import EpochEnd, EvalResult, FitObserver, TrainState, evaluate, resolve_device

# What train_run calls on a tested run before marking it finished: (run, data, test result, language).
Finish = Callable[[RunDir, MNISTData, EvalResult, str], object]


class RunWriter(FitObserver):
    """What a run directory keeps of ``fit``: after every epoch ``best.pt`` (when it improved), ``last.pt``
    (with what resuming needs) and, with ``--keep-filters``, C1's snapshot, all written atomically;
    ``progress.json`` for a page watching the run, rewritten at most once a second during an epoch.

    Examples
    --------
    >>> import tempfile
    >>> from lenetlab import ImageSet, LeNet5, MNISTData, TrainConfig, fit, load_mnist
    >>> d = load_mnist()
    >>> few = MNISTData(ImageSet(d.train.images[:256], d.train.labels[:256]), d.valid, d.test, d.class_names,
    ...                 d.sha256, d.source)
    >>> config, run = TrainConfig.from_preset("default", epochs=1), RunDir(tempfile.mkdtemp())
    >>> _ = fit(LeNet5(), few, config, observer=RunWriter(run, config, d.class_names), progress=False, log=None)
    >>> run.best_path.is_file(), run.last_path.is_file(), run.progress_path.is_file()
    (True, True, True)
    """

    def __init__(self, run: RunDir, config: TrainConfig, class_names: Any) -> None:
        self.run, self.config, self.class_names = run, config, class_names
        self.progress: ProgressFile | None = None

    def started(self, steps_per_epoch: int, state: TrainState) -> None:
        self.progress = ProgressFile(self.run.progress_path, self.config.epochs, steps_per_epoch, state.history)

    def epoch_started(self, epoch: int) -> None:
        self.progress.epoch_started(epoch)

    def step(self, epoch: int, steps_done: int) -> None:
        self.progress.step(epoch, steps_done)

    def epoch_ended(self, end: EpochEnd) -> None:
        epoch, model, names = end.record.epoch, end.model, self.class_names
        extra = {"epoch": epoch, "valid_loss": end.valid.loss, "valid_accuracy": end.valid.accuracy}
        if end.improved:
            save_checkpoint(self.run.best_path, model, self.config.model, names, extra)
        save_checkpoint(self.run.last_path, model, self.config.model, names, extra, resume=end.resume())
        if self.config.keep_filters:
            save_filter_snapshot(self.run.path, model, epoch)
        # last: a page that sees the epoch finds its best.pt already written
        self.progress.epoch_ended(end.record, end.state.best_epoch)


def train_run(
    config: TrainConfig,
    run_dir: str | Path | None = None,
    *,
    force: bool = False,
    resume: bool = False,
    progress: bool = True,
    log: Callable[[str], None] | None = print,
    figures: bool = True,
    finish: Finish | None = None,
    lang: str | None = None,
) -> dict[str, Any]:
    """Train a model as ``config`` says, test its best epoch, and write a complete run directory.

    With ``resume=True``, ``run_dir``'s own ``config.json`` is used and training continues from
    ``last.pt`` (or starts over if the run died before its first epoch ended). Ctrl-C and SIGTERM
    stop after the last complete epoch's checkpoint and raise :class:`TrainingInterrupted`.
    ``figures`` draws the run's PNGs (sweeps skip them per variant). ``finish(run, data, test, lang)`` is
    called once the best epoch is tested and before ``metrics.json`` marks the run finished, so a run
    killed inside it is completed by ``--resume``: ``lenetlab train`` writes ``report.html`` there
    (``finish=lenetlab.report.finish_run``). Returns the metrics (also in ``RUN/metrics.json``).

    Examples
    --------
    >>> config = TrainConfig.from_preset("default", epochs=1, batch_size=16, data_dir="mnist_small")
    >>> metrics = train_run(config, "runs/try", progress=False, log=None)
    >>> metrics["test"]["accuracy"] > 0.9   # one epoch on 9,600 images (0.99 on all of MNIST after 40)
    True
    """
    lang = check_lang(lang)  # the figures' and the report's language; checked before any training
    run = RunDir(run_dir if run_dir is not None else default_run_dir(config.model))
    with contextlib.ExitStack() as held:
        if resume:
            if not run.has_config():
                raise LenetlabError.of("error.no_run_to_resume", path=run.path)
            config = run.config.train  # read (and checked) before anything in the folder is touched
            held.enter_context(run.lock())
            run.remove_stale_temporary_files()
        return _train_locked(run, config, held, force=force, resume=resume, progress=progress, log=log,
                             figures=figures, finish=finish, lang=lang)


def _train_locked(run: RunDir, config: TrainConfig, held: contextlib.ExitStack, *, force: bool, resume: bool,
                  progress: bool, log: Callable[[str], None] | None, figures: bool, finish: Finish | None, lang: str) -> dict[str, Any]:
    """train_run's work; a new run takes the lock (``held``) once its data and model are known to be valid."""
    device = distributed.local_device(resolve_device(config.device))
    distributed.init(device)
    rank, world = distributed.rank_and_world()
    if rank != 0:
        log, progress = None, False
    data = load_mnist(config.data_dir, config.valid_fraction, config.seed)
    if config.split == "all":
        data = data.train_on_all()
    # The data decide the number of classes and the input size unless the user fixed them.
    model_args = {"n_classes": data.n_classes, "input_size": int(data.train.images.shape[-1]), **config.model_args}
    torch.manual_seed(config.seed)
    model = build_model(config.model, **model_args).to(device)
    resume_state = None
    if resume and run.last_path.is_file():
        model, checkpoint = load_checkpoint(run.last_path, device)
        resume_state = _resume_state(run, checkpoint, config)
        model.train()
    loop, why = loop_for(config, device, world, resume_state)  # a loop that refuses the recipe touches nothing
    if not resume and rank == 0:  # only now, with data, architecture and loop known to be valid, touch the disk
        run.check_can_prepare(force)  # before the lock file: a refused folder is left as it was
        held.enter_context(run.lock())
        run.prepare(force)
    distributed.barrier()
    parameters = count_parameters(model)
    if rank == 0:
        run.write_config(RunConfig(
            train=config, model_args=dict(model.config), parameters=parameters,
            data=DataInfo(data.source, data.sha256, list(data.class_names), len(data.train), len(data.valid),
                          len(data.test)),
            device=str(device), processes=world, versions=library_versions()))
    if log is not None:
        start = (t(lang, "cli.resuming", epoch=resume_state["epoch"], path=run.path) if resume_state
                 else t(lang, "cli.writing", path=run.path))
        source = t(lang, "report.bundled_mnist") if data.source == "bundled MNIST" else data.source
        log(t(lang, "cli.train_start", model=config.model, parameters=number(parameters, lang),
              train=number(len(data.train), lang), valid=number(len(data.valid), lang),
              test=number(len(data.test), lang), source=source,
              device=device if lang == "en" else t(lang, "report.device_cpu") if device.type == "cpu"
              else t(lang, "report.device_gpu", device=device),
              processes=t(lang, "cli.processes", n=world) if world > 1 else "", start=start))

    if log is not None and why is not None:
        log(t(lang, why))
    with _signals_raise_interrupt():
        try:
            writer = RunWriter(run, config, data.class_names)
            state = loop(model, data, config, observer=writer, progress=progress, log=log, resume_state=resume_state,
                         lang=lang)
        except KeyboardInterrupt as exc:
            done = _last_complete_epoch(run)
            code = 143 if isinstance(exc, _Terminated) else 130
            saved = (Words("error.interrupted_saved", last=run.last_path, done=done, epochs=config.epochs) if done
                     else Words("error.interrupted_nothing"))
            run.end_progress("interrupted")
            raise TrainingInterrupted.of("error.interrupted", code, saved=saved, path=run.path) from None
        except DivergedError as exc:
            run.end_progress("failed")
            raise LenetlabError.of("error.diverged_reuse", message=exc, path=run.path) from None

    if rank != 0:
        distributed.shutdown()
        return {}
    best, _ = load_checkpoint(run.best_path, device)
    test = evaluate(best, data.test, config.eval_batch_size, data.n_classes)
    run.metrics = Metrics(model=config.model, preset=config.preset, epochs=state.history, best_epoch=state.best_epoch,
                          parameters=parameters, train_seconds=round(sum(h.train_seconds for h in state.history), 3),
                          test=test.scores())
    # metrics.json marks the run finished, so it comes last: a kill before it leaves a run that
    # --resume completes (figures and finish included), never a finished run without them.
    if figures:
        write_figures(run.path, data, [dataclasses.asdict(h) for h in state.history], test,
                      train_loss_label(config, lang), lang)
    if finish is not None:
        finish(run, data, test, lang)
    run.write_metrics(run.metrics)
    run.end_progress("finished")
    distributed.shutdown()
    if log is not None:
        log(t(lang, "cli.test_summary", accuracy=number(100 * test.accuracy, lang, 2), best_epoch=state.best_epoch,
              loss=number(test.loss, lang, 4), path=run.path))
    return dataclasses.asdict(run.metrics)


def _resume_state(run: RunDir, checkpoint: dict[str, Any], config: TrainConfig) -> dict[str, Any]:
    """last.pt's training state, checked before training continues from it."""
    state = checkpoint.get("resume")
    if not isinstance(state, dict) or not {"optimizer", "rng", "epoch", "history", "best_epoch",
                                            "best_valid_loss"} <= set(state):
        raise LenetlabError(f"{run.last_path} carries no whole training state; it cannot be resumed "
                            "(start a new run with --out)")
    if int(state["epoch"]) >= config.epochs and run.is_finished():
        raise LenetlabError.of("error.already_finished", path=run.path, epochs=config.epochs)
    return state


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (a KeyboardInterrupt so the same clean-up path runs)."""


def _last_complete_epoch(run: RunDir) -> int:
    try:
        return int(read_checkpoint(run.last_path).get("epoch", 0))
    except LenetlabError:
        return 0


@contextlib.contextmanager
def _signals_raise_interrupt() -> Iterator[None]:
    """Turn SIGTERM into an exception like Ctrl-C, so both stop at a clean point.

    Checkpoints are written to a temporary file and renamed, so an interrupt that lands in the
    middle of a save leaves the previous checkpoint whole.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        raise _Terminated()

    previous = signal.signal(signal.SIGTERM, on_term)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def predict_images(path: str | Path, images: list[str | Path], device: str = "auto") -> list[dict[str, Any]]:
    """Classify image files with a checkpoint, after MNIST's own preprocessing.

    Returns one dict per image: ``path``, ``label``, ``class_name``, ``probability``, ``probabilities``.

    Examples
    --------
    >>> results = predict_images("runs/lenet5-20261126-101500", ["my_seven.png"])   # label 7, trained well
    >>> [r["path"] for r in results], sorted(results[0])
    (['my_seven.png'], ['class_name', 'label', 'path', 'probabilities', 'probability'])
    """
    predictor = Predictor.load(path, resolve_device(device))
    inputs = [predictor.preprocess(image) for image in images]
    results = []
    for image, row in zip(images, predictor.probabilities(np.stack(inputs))):
        label = int(row.argmax())
        results.append({"path": str(image), "label": label, "class_name": predictor.class_names[label],
                        "probability": round(float(row[label]), 6),
                        "probabilities": [round(float(v), 6) for v in row]})
    return results
