"""Helpers every explore module shares: where outputs go, JSON writing, loading a run's model."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from torch import nn

from .._fs import ensure_folder
from ..errors import LenetlabError


def output_dir(run: str | Path | None, out: str | Path | None) -> Path:
    """``--out`` when given, else ``RUN/explore`` (the HTML report embeds every PNG found there)."""
    if out is not None:
        folder = Path(out)
    elif run is not None:
        run = Path(run)
        folder = (run if run.is_dir() else run.parent) / "explore"
    else:
        raise LenetlabError("no output folder; pass --out DIR")
    return ensure_folder(folder)


def write_json(path: Path, obj: Any) -> Path:
    """Write JSON atomically (a crash never leaves half a file beside a finished picture)."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(obj, indent=2) + "\n")
    os.replace(tmp, path)
    return path


def load_run_model(run: str | Path) -> tuple[nn.Module, dict[str, Any]]:
    """A run's best model on the CPU, in eval mode (explore never needs the GPU)."""
    from ..training import load_checkpoint

    return load_checkpoint(run, "cpu")


def stage_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The named stages ``model.activations`` reports, in order (C1, S2, ... or H1, H2, ..., output)."""
    if hasattr(model, "feature_extractor"):
        parts = list(model.feature_extractor.named_children()) + list(model.classifier.named_children())
    elif hasattr(model, "layers"):
        parts = list(model.layers.named_children())
    else:
        raise LenetlabError(f"{type(model).__name__} has no named stages; explore works on lenetlab's registered models")
    return [(name, module) for name, module in parts if name != "flatten"]
