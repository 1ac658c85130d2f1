"""The JSON files of a run directory, typed: ``config.json`` (:class:`RunConfig`), ``metrics.json``
(:class:`Metrics`) and ``progress.json`` (:class:`Progress`), with the one validating reader.

They are written with ``asdict`` and read back by pydantic (:func:`parse`: strict JSON validation of
these dataclasses, a whole number never a float nor ``true``), so a damaged or foreign file is one line
naming the file, the field and the fix (:class:`lenetlab.rundir.RunDir` reads them).

Examples
--------
>>> parse('{"epoch": 1, "train_loss": 0.5, "valid_loss": 0.4, "valid_accuracy": 0.9, '
...       '"train_seconds": 2, "valid_seconds": 0.5}', EpochRecord)
EpochRecord(epoch=1, train_loss=0.5, valid_loss=0.4, valid_accuracy=0.9, train_seconds=2.0, valid_seconds=0.5, lr=0.0)
>>> parse('[{"epoch": "one"}]', list[EpochRecord])
Traceback (most recent call last):
    ...
lenetlab.rundir.schema.Mismatch: [0].epoch is not a whole number
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from pydantic import PlainValidator, TypeAdapter, ValidationError

from ..config import FIELDS, TrainConfig
from ..errors import LenetlabError


@dataclass
class EpochRecord:
    """One line of the training history (losses are mean cross-entropies; seconds are wall time)."""

    epoch: int
    train_loss: float
    valid_loss: float
    valid_accuracy: float
    train_seconds: float
    valid_seconds: float
    lr: float = 0.0


@dataclass
class Scores:
    """The test-set numbers of ``best.pt``: the notebook's per-class table and the confusion matrix."""

    loss: float
    accuracy: float
    per_class_accuracy: list[float]
    confusion_matrix: list[list[int]]


@dataclass
class Metrics:
    """``metrics.json``."""

    model: str
    preset: str
    epochs: list[EpochRecord]
    best_epoch: int
    parameters: int
    train_seconds: float
    test: Scores


@dataclass
class DataInfo:
    """Which data a run was trained on: where from, its content hashes, class names and split sizes."""

    source: str
    sha256: dict[str, str]
    class_names: list[str]
    train: int
    valid: int
    test: int


BROWSER_DEVICE = "browser (lenetlab lab)"  # the device of a network the page trained


@dataclass
class RunConfig:
    """``config.json``: the settings (``train``), the model as built, the data, where it ran."""

    train: Annotated[TrainConfig, PlainValidator(train_settings)]
    model_args: dict[str, Any]
    parameters: int
    data: DataInfo
    device: str
    processes: int = 1
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def trained_in_page(self) -> bool:
        """Trained in the browser (``lenetlab lab``, then ``lenetlab import``): each epoch's numbers are on the
        page's test images, not on validation images."""
        return self.device == BROWSER_DEVICE




@dataclass
class Progress:
    """``progress.json``: where a training stands, rewritten while it trains (:class:`lenetlab.rundir.ProgressFile`)."""

    state: str
    epoch: int
    epochs: int
    step: int
    steps_per_epoch: int
    best_epoch: int
    history: list[EpochRecord]
    epoch_started: float = 0.0
    updated: float = 0.0


# ---------------------------------------------------------------------------------------------
# The validating reader: JSON text -> the dataclasses above, or one line naming the field that differs
# ---------------------------------------------------------------------------------------------

class Mismatch(Exception):
    """The JSON is not the type asked for; the message names where (``test.accuracy is not a number``)."""


# pydantic's error types, as the message words them after the field's place.
_WORDS = {"int_type": "is not a whole number", "float_type": "is not a number", "string_type": "is not a string",
          "bool_type": "is not true or false", "list_type": "is not a list", "dict_type": "is not an object",
          "dataclass_type": "is not an object", "missing": "is missing"}


def train_settings(value: Any) -> TrainConfig:
    """``config.json``'s ``train``: TrainConfig's own checks give the better message; unknown keys come from
    another lenetlab version."""
    if not isinstance(value, dict):
        raise ValueError("is not an object")
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown settings {', '.join(unknown)}, from another lenetlab version")
    try:
        return TrainConfig(**value)
    except (LenetlabError, TypeError) as exc:
        raise ValueError(str(exc)) from None


@functools.cache
def _adapter(kind: Any) -> TypeAdapter:
    return TypeAdapter(kind)


def parse(text: str | bytes, kind: Any) -> Any:
    """JSON ``text`` as ``kind`` (one of the dataclasses above, or a list of them), or :class:`Mismatch`."""
    try:
        return _adapter(kind).validate_json(text, strict=True)
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        if error["type"] == "json_invalid":
            raise ValueError(error["msg"]) from None
        place = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error["loc"]).lstrip(".")
        words = _WORDS.get(error["type"]) or error["msg"].removeprefix("Value error, ")
        raise Mismatch(f"{place} {words}" if place and error["type"] in _WORDS else
                       f"{place}: {words}" if place else f"the file {words}") from None


def damaged(path: Path, what: str, kind: str) -> LenetlabError:
    return LenetlabError(f"{path} is damaged ({what}); it is not the {kind} file `lenetlab train` writes: "
                         "train the run again, or restore the file")


def read_json(path: Path, kind: type, what: str) -> Any:
    """``path`` read as ``kind``; a missing, unreadable or damaged file is one line naming it and the fix."""
    try:
        text = path.read_bytes()
    except FileNotFoundError:
        raise LenetlabError.of("error.no_run_file", folder=path.parent, name=path.name) from None
    except OSError as exc:
        raise LenetlabError(f"{path} cannot be read ({exc.__class__.__name__}); the {what} file is damaged, "
                            "train the run again") from None
    try:
        return parse(text, kind)
    except ValueError:
        raise LenetlabError(f"{path} is not valid JSON; the {what} file is damaged, train the run again") from None
    except Mismatch as exc:
        raise damaged(path, str(exc), what) from None
