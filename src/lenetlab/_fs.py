"""Creating output folders with a user-facing error instead of an OSError traceback."""

from __future__ import annotations

from pathlib import Path

from .errors import LenetlabError


def ensure_folder(folder: Path, flag: str = "--out") -> Path:
    """Create ``folder`` (and its parents); a path that cannot be a folder is a one-line error."""
    if folder.exists() and not folder.is_dir():
        raise LenetlabError(f"{flag} {folder} is a file, not a folder; choose another {flag}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LenetlabError(f"cannot create {flag} {folder} ({reason}); choose a folder you can write to") from None
    return folder
