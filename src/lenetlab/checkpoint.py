"""The checkpoint format: plain dicts of tensors, numbers and strings, written atomically and
loaded with ``weights_only=True`` (never unpickling arbitrary objects).

    {"format": "lenetlab-checkpoint/1", "model": registry name, "model_args": model.config,
     "class_names": [...], "state_dict": {...}, "epoch": ..., "valid_loss": ..., "valid_accuracy": ...,
     "resume": {optimizer, RNG states, history...}   # last.pt only, for --resume}
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ._fs import atomic_write
from .errors import DivergedError, LenetlabError, Words
from .models import build_model

CHECKPOINT_FORMAT = "lenetlab-checkpoint/1"
_HINT = "give a run directory or its best.pt, written by `lenetlab train`"
# What torch.save writes into its zip, each entry stored (never compressed): read from the zip's directory
# before torch.load, so that a small file cannot expand into gigabytes. 25 million parameters (the model
# cap) and their optimizer state fit well under the byte budget.
_ENTRY = re.compile(r"[^/]+/(data\.pkl|byteorder|version|\.format_version|\.storage_alignment|"
                    r"\.data/version|\.data/serialization_id|data/\d+)")
MAX_CHECKPOINT_BYTES = 1 << 30
MAX_CHECKPOINT_ENTRIES = 100_000


def _check_archive(path: Path) -> None:
    """Refuse, from the zip's directory alone, a checkpoint whose entries torch.save would not write."""
    try:
        with zipfile.ZipFile(path) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise LenetlabError.of("error.checkpoint_not_zip", path=path, hint=Words("error.checkpoint_hint")) from None
    unknown = next((e.filename for e in entries if not _ENTRY.fullmatch(e.filename)), None)
    packed = next((e.filename for e in entries if e.compress_type != zipfile.ZIP_STORED), None)
    size = sum(e.file_size for e in entries)
    if unknown is not None or packed is not None:
        what = f"an entry torch.save never writes ({unknown!r})" if unknown else f"a compressed entry ({packed!r})"
        raise LenetlabError(f"{path} is not a lenetlab checkpoint: it holds {what}; {_HINT}")
    if size > MAX_CHECKPOINT_BYTES or len(entries) > MAX_CHECKPOINT_ENTRIES:
        raise LenetlabError(f"{path} would take {size / 1e9:.1f} GB in {len(entries):,} entries once read, more than "
                            f"any lenetlab model ({MAX_CHECKPOINT_BYTES >> 30} GB); {_HINT}")


def torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through the atomic writer."""
    return atomic_write(path, lambda f: torch.save(obj, f))


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    model_name: str,
    class_names: tuple[str, ...] | list[str],
    extra: dict[str, Any] | None = None,
    resume: dict[str, Any] | None = None,
) -> None:
    """Write the model's weights, registry name and constructor arguments, atomically.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> save_checkpoint("lenet5.pt", LeNet5(), "lenet5", [str(d) for d in range(10)])
    >>> load_checkpoint("lenet5.pt")[1]["model"]
    'lenet5'
    """
    state_dict = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    if any(v.is_floating_point() and not torch.isfinite(v).all() for v in state_dict.values()):
        raise DivergedError.of("error.nonfinite_weights", path=path)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "model": model_name,
        "model_args": dict(model.config),
        "class_names": list(class_names),
        "state_dict": state_dict,
        **(extra or {}),
    }
    if resume is not None:
        payload["resume"] = resume
    torch_save(payload, path)


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A checkpoint's contents, checked for the fields every reader relies on.

    ``path`` may be a run directory (its ``best.pt`` is read). Anything that is not a whole,
    well-formed lenetlab checkpoint is a one-line :class:`LenetlabError`.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise LenetlabError.of("error.no_checkpoint", path=path)
    _check_archive(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure here means "not a safe lenetlab checkpoint"
        raise LenetlabError.of("error.checkpoint_unsafe", path=path, hint=Words("error.checkpoint_hint")) from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise LenetlabError.of("error.checkpoint_no_marker", path=path, marker=CHECKPOINT_FORMAT,
                               hint=Words("error.checkpoint_hint"))
    problems = [
        (isinstance(payload.get("model"), str), "'model' is not a model name"),
        (isinstance(payload.get("model_args"), dict) and all(isinstance(k, str) for k in payload["model_args"]),
         "'model_args' is not a mapping of argument names"),
        (isinstance(payload.get("state_dict"), dict)
         and all(isinstance(v, torch.Tensor) for v in payload["state_dict"].values()),
         "'state_dict' is not a mapping of tensors"),
        (isinstance(payload.get("class_names", []), list)
         and all(isinstance(n, str) for n in payload.get("class_names", [])), "'class_names' is not a list of names"),
    ]
    for ok, what in problems:
        if not ok:
            raise LenetlabError(f"{path} is damaged: {what}; {_HINT}")
    if any(t.is_floating_point() and not torch.isfinite(t).all() for t in payload["state_dict"].values()):
        raise LenetlabError(f"{path} holds NaN or infinite weights, so every prediction would be meaningless; "
                            "train the model again (with a lower --lr if training diverged)")
    return payload


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the model a checkpoint describes and load its weights. Returns ``(model, checkpoint)``.

    Examples
    --------
    >>> model, ckpt = load_checkpoint("runs/lenet5")
    >>> ckpt["model"], ckpt["class_names"][:3]
    ('lenet5', ['0', '1', '2'])
    """
    payload = read_checkpoint(path)
    try:
        model = build_model(payload["model"], **payload["model_args"])
    except LenetlabError as exc:
        raise LenetlabError(f"{path}: {exc}; the checkpoint is damaged or comes from another version") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except RuntimeError as exc:
        raise LenetlabError(
            f"{path}: its weights do not fit a {payload['model']} with the stored arguments ({str(exc).splitlines()[0]}); "
            "the checkpoint is damaged or was edited"
        ) from None
    model.to(device).eval()
    return model, payload


def save_filter_snapshot(run_dir: Path, model: nn.Module, epoch: int) -> None:
    """Keep C1's kernels at this epoch (``train --keep-filters``) so one can watch them form."""
    c1 = model.stage("C1") if hasattr(model, "stage") else None
    if c1 is None:
        return
    # "C1" (the kernels) for explore filters; "C1_state" (bias, batch norm too) so that the page's epoch
    # scrubber can compute C1's maps of a probe digit as they were at this epoch.
    state = {k: v.detach().cpu().clone() for k, v in c1.state_dict().items()}
    torch_save({"epoch": epoch, "C1": c1.conv.weight.detach().cpu().clone(), "C1_state": state},
               run_dir / "filters" / f"epoch_{epoch:03d}.pt")
