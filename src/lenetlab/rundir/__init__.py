"""A run directory: what ``lenetlab train`` writes, and the one reader everything after training uses.

    RUN/config.json   RunConfig: every setting, the data's sha256, library versions, the source's hash
    RUN/metrics.json  Metrics: per-epoch history, best epoch, parameters, test numbers
    RUN/best.pt       weights of the epoch with the lowest validation loss (used for evaluation)
    RUN/last.pt       weights of the last epoch, with optimizer and RNG state for --resume
    RUN/*.png         samples, loss curves, predictions, confusion matrix, per-class accuracy
    RUN/report.html   all of it in one self-contained page
    RUN/explore/      what the explore commands write for this run
    RUN/filters/      C1's kernels after every epoch (train --keep-filters)
    RUN/projections.npz  the test set in 2-d for `serve`'s projector (written on first use, keyed by best.pt)

The JSON files are typed (``RunConfig``, ``Metrics``, in :mod:`lenetlab.rundir.schema`, importable from here
too): they are written with ``asdict`` and read back by pydantic through one validating reader, so a damaged or
foreign file is one line naming the file and the fix, and no other module reads them by string keys.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .._fs import LOCK_NAME, MANIFEST, ensure_folder, is_owned, remove_owned, remove_temporary, write_json
from ..errors import LenetlabError
from .schema import DataInfo, EpochRecord, Metrics, Mismatch, Progress, RunConfig, Scores, damaged, parse, read_json

__all__ = ["DataInfo", "EpochRecord", "Metrics", "Progress", "RunConfig", "Scores",  # schema.py's: the files' types
           "MAX_PROGRESS_BYTES", "PROGRESS_STATES", "RUN_ARTIFACTS", "RUN_FIGURES", "ProgressFile", "RunDir",
           "default_run_dir"]

RUN_FIGURES = ("samples.png", "loss_curves.png", "predictions.png", "confusion_matrix.png", "per_class_accuracy.png")
RUN_ARTIFACTS = ("config.json", "metrics.json", "best.pt", "last.pt", *RUN_FIGURES, "report.html", "model.html",
                 "progress.json")


PROGRESS_STATES = ("training", "finished", "interrupted", "failed")
MAX_PROGRESS_BYTES = 4 << 20  # about 20,000 epochs of history: a page polls it every second


class ProgressFile:
    """``RUN/progress.json``: where a training stands, for a page watching it (``lenetlab serve``).

    Rewritten atomically at most once every ``interval`` seconds during an epoch (the step), and at
    once when an epoch ends (its record joins the history) or the run ends (``state``). Writing costs
    about a millisecond; a step is 10 to 20 ms on a CPU, so at most once a second is far below noise.
    """

    def __init__(self, path: Path, epochs: int, steps_per_epoch: int, history: list[EpochRecord],
                 interval: float = 1.0) -> None:
        self.path, self.interval = path, interval
        self.state: dict[str, Any] = {"state": "training", "epochs": epochs, "steps_per_epoch": steps_per_epoch,
                                      "epoch": len(history) + 1, "step": 0, "epoch_started": time.time(),
                                      "best_epoch": 0, "history": [dataclasses.asdict(r) for r in history]}
        self._last = 0.0

    def step(self, epoch: int, step: int) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self.state.update(epoch=epoch, step=step)
            self._write(now)

    def epoch_started(self, epoch: int) -> None:
        self.state.update(epoch=epoch, step=0, epoch_started=time.time())
        self._write(time.monotonic())

    def epoch_ended(self, record: EpochRecord, best_epoch: int) -> None:
        self.state["history"].append(dataclasses.asdict(record))
        self.state.update(step=self.state["steps_per_epoch"], best_epoch=best_epoch)
        self._write(time.monotonic())

    def ended(self, state: str) -> None:
        """``finished``, ``interrupted`` or ``failed``."""
        self.state["state"] = state
        self._write(time.monotonic())

    def _write(self, now: float) -> None:
        self.state["updated"] = time.time()
        write_json(self.path, self.state)
        self._last = now


class RunDir:
    """The paths of a run directory and validated reads of its files (each read once, then cached).

    Examples
    --------
    >>> run = RunDir("runs/lenet5")
    >>> run.config.train.model, run.class_names[:2]
    ('lenet5', ['0', '1'])
    >>> round(run.metrics.test.accuracy, 2) > 0.5   # best.pt on the test set (0.99 after the default 40 epochs)
    True
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._config: RunConfig | None = None
        self._metrics: Metrics | None = None

    @classmethod
    def containing(cls, path: str | Path) -> RunDir:
        """The run directory ``path`` is, or holds ``path`` (a checkpoint inside a run)."""
        path = Path(path)
        return cls(path if path.is_dir() or not path.suffix else path.parent)

    def __repr__(self) -> str:
        return f"RunDir({str(self.path)!r})"

    # paths
    config_path = property(lambda self: self.path / "config.json")
    metrics_path = property(lambda self: self.path / "metrics.json")
    best_path = property(lambda self: self.path / "best.pt")
    last_path = property(lambda self: self.path / "last.pt")
    report_path = property(lambda self: self.path / "report.html")
    explore_dir = property(lambda self: self.path / "explore")
    filters_dir = property(lambda self: self.path / "filters")
    progress_path = property(lambda self: self.path / "progress.json")

    def progress(self) -> dict[str, Any] | None:
        """What ``progress.json`` says now (read afresh each time), or ``None`` if absent or unreadable.

        A page polls it while another process writes it; the writes are atomic, and anything that is
        not the expected shape is treated as absent rather than trusted.
        """
        try:
            if self.progress_path.stat().st_size > MAX_PROGRESS_BYTES:
                return None
            progress = parse(self.progress_path.read_bytes(), Progress)
            numbers = [v for r in progress.history for v in dataclasses.astuple(r)]
            if progress.state not in PROGRESS_STATES or not all(
                    math.isfinite(v) for v in (*numbers, progress.epoch_started, progress.updated)):
                return None
            return dict(vars(progress))
        except (OSError, ValueError, Mismatch):
            return None

    def end_progress(self, state: str) -> None:
        """Mark ``progress.json`` ``finished``, ``interrupted`` or ``failed`` (when there is one)."""
        try:
            data = json.loads(self.progress_path.read_text())
        except (OSError, ValueError):
            return
        if isinstance(data, dict):
            write_json(self.progress_path, {**data, "state": state, "updated": time.time()})

    def has_config(self) -> bool:
        return self.config_path.is_file()

    def is_finished(self) -> bool:
        return self.metrics_path.is_file()

    @property
    def config(self) -> RunConfig:
        if self._config is None:
            self._config = read_json(self.config_path, RunConfig, "settings")
        return self._config

    @property
    def metrics(self) -> Metrics:
        if self._metrics is None:
            metrics = read_json(self.metrics_path, Metrics, "metrics")
            matrix, n = metrics.test.confusion_matrix, len(metrics.test.per_class_accuracy)
            if len(matrix) != n or any(len(row) != n for row in matrix):
                raise damaged(self.metrics_path, f"test.confusion_matrix is not {n}x{n}", "metrics")
            self._metrics = metrics
        return self._metrics

    @metrics.setter
    def metrics(self, metrics: Metrics) -> None:
        """Hold ``metrics`` in memory (what a report drawn before ``write_metrics`` shows)."""
        self._metrics = metrics

    def config_or_none(self) -> RunConfig | None:
        """The run's settings, or ``None`` when the folder holds no config.json (a bare checkpoint)."""
        return self.config if self.has_config() else None

    @property
    def class_names(self) -> list[str]:
        return list(self.config.data.class_names)

    @property
    def data_dir(self) -> str | None:
        """The data folder the run was trained on (``None``: the bundled MNIST)."""
        return self.config.train.data_dir

    def write_config(self, config: RunConfig) -> None:
        write_json(self.config_path, dataclasses.asdict(config))
        self._config = config

    def write_metrics(self, metrics: Metrics) -> None:
        write_json(self.metrics_path, dataclasses.asdict(metrics))
        self._metrics = metrics

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run for this process: a second ``train`` or ``--resume`` on it is refused in one line.

        An advisory lock (``flock``) on ``RUN/.lock``: the kernel drops it when the process dies, so a
        killed run never stays locked. (On systems without ``fcntl`` the run is not locked.)
        """
        try:
            import fcntl
        except ImportError:  # Windows
            yield
            return
        ensure_folder(self.path)
        fd = os.open(self.path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LenetlabError.of("error.run_in_use", path=self.path) from None
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def _locked_elsewhere(self) -> bool:
        """Whether another process holds :meth:`lock` on this run (probed without creating the lock file)."""
        try:
            import fcntl
            fd = os.open(self.path / LOCK_NAME, os.O_RDWR)
        except (ImportError, OSError):  # Windows, or no lock file: nobody holds it
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        else:
            fcntl.flock(fd, fcntl.LOCK_UN)
            return False
        finally:
            os.close(fd)

    def is_lenetlab_run(self) -> bool:
        """Whether lenetlab trained this run: its config.json is on the folder's list of lenetlab's files."""
        return self.has_config() and is_owned(self.config_path)

    def remove_stale_temporary_files(self) -> None:
        """Temporary files a killed lenetlab left half-written for its own files (call under lock)."""
        remove_temporary(self.path, set(RUN_ARTIFACTS))
        remove_temporary(self.filters_dir)

    def check_can_prepare(self, force: bool) -> None:
        """Refuse, before anything is written, a folder that :meth:`prepare` must not empty."""
        if self._holds_files() and self._locked_elsewhere():  # a train just started here: its files, not a user's
            raise LenetlabError.of("error.run_in_use", path=self.path)
        self._check_contents(force)

    def _holds_files(self) -> bool:
        return self.path.is_dir() and any(p.name not in (LOCK_NAME, MANIFEST) for p in self.path.iterdir())

    def _check_contents(self, force: bool) -> None:
        if not self._holds_files():
            return
        if not force:
            raise LenetlabError.of("error.run_exists" if self.has_config() else "error.folder_not_empty",
                                   path=self.path)
        if not self.is_lenetlab_run():
            raise LenetlabError.of("error.not_a_run", path=self.path)

    def prepare(self, force: bool) -> None:
        """Empty the folder for a new run (call under :meth:`lock`); never overwrite a run without ``force``.

        ``force`` deletes only the files lenetlab wrote (the run's, its explorations, its filter
        snapshots); a file of the user's, in the run or in explore/ or filters/, stays where it is.
        """
        self._check_contents(force)  # the lock is ours by now
        if self.path.is_dir():
            remove_owned(self.path)
        ensure_folder(self.path)


def default_run_dir(model: str) -> Path:
    return Path("runs") / f"{model}-{time.strftime('%Y%m%d-%H%M%S')}"
