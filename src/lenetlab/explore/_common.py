"""What every explore module shares: where outputs go, and a run's model on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from .._fs import ensure_folder
from ..checkpoint import load_checkpoint
from ..errors import LenetlabError
from ..rundir import RunDir


def output_dir(run: str | Path | None, out: str | Path | None) -> Path:
    """``--out`` when given, else ``RUN/explore`` (the HTML report embeds every PNG found there)."""
    if out is not None:
        return ensure_folder(Path(out))
    if run is None:
        raise LenetlabError("no output folder; pass --out DIR")
    return ensure_folder(RunDir.containing(run).explore_dir)


def load_run_model(run: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A run's best model on the CPU, in eval mode (explore never needs the GPU)."""
    return load_checkpoint(run, "cpu")


def named_stages(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The stages ``model.activations`` reports, in order (C1, S2, ... or H1, H2, ..., output)."""
    if not hasattr(model, "stages"):
        raise LenetlabError(f"{type(model).__name__} has no named stages; explore works on lenetlab's registered models")
    return [(name, module) for name, module in model.stages() if name != "flatten"]
