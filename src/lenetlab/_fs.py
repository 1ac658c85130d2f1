"""Files: output folders with a user-facing error, and the one atomic-write helper everything uses.

Every file lenetlab writes (checkpoints, JSON, figures, the report) goes through
:func:`atomic_write`: a uniquely named temporary file in the same folder, flushed to disk, then
renamed over the target, so a reader or a kill never sees half a file and two writers never share
a temporary name.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .errors import LenetlabError

# Files get the permissions any new file would (0644 under the usual umask), not mkstemp's 0600:
# classmates sharing a course folder must be able to load each other's checkpoints.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def ensure_folder(folder: Path, flag: str = "--out") -> Path:
    """Create ``folder`` (and its parents); a path that cannot be a folder is a one-line error."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LenetlabError(f"{flag} {folder} is a file, not a folder; choose another {flag}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LenetlabError(f"cannot create {flag} {folder} ({reason}); choose a folder you can write to") from None
    return folder


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> atomic_write(target, lambda f: f.write(b"hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_text(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically."""
    return atomic_write(path, lambda f: f.write(text.encode("utf-8")))


def write_json(path: str | Path, obj: Any) -> Path:
    """Write indented JSON atomically (a crash never leaves half a file beside a finished picture)."""
    return write_text(path, json.dumps(obj, indent=2) + "\n")
