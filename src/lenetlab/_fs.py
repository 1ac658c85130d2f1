"""Files: output folders with a user-facing error, the one atomic-write helper everything uses, and ownership.

Every file lenetlab writes (checkpoints, JSON, figures, the report) goes through
:func:`atomic_write`: a uniquely named temporary file in the same folder, flushed to disk, then
renamed over the target, so a reader or a kill never sees half a file and two writers never share
a temporary name.

Ownership: nothing a user owns is ever lost. Each folder lenetlab writes into keeps, in a hidden
``.lenetlab-files``, the names of the files lenetlab wrote there. lenetlab replaces an existing file
only when its name is on that list, and ``train --force`` deletes only listed files (:func:`remove_owned`);
anything else (a notebook, a script, someone else's ``config.json``) is refused in one line or left alone.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from .errors import LenetlabError, Words

# Files get the permissions any new file would (0644 under the usual umask), not mkstemp's 0600:
# classmates sharing a course folder must be able to load each other's checkpoints.
_UMASK = os.umask(0)
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK


def ensure_folder(folder: Path, flag: str = "--out") -> Path:
    """Create ``folder`` (and its parents); a path that cannot be a folder is a one-line error."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise LenetlabError.of("error.out_is_file", flag=flag, folder=folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise LenetlabError.of("error.cannot_create", flag=flag, folder=folder, reason=reason) from None
    return folder


MANIFEST = ".lenetlab-files"
LOCK_NAME = ".lock"
# mkstemp's temporary names: ".NAME.<random letters, digits and _>.tmp"
_TEMPORARY = re.compile(r"\.(?P<name>.+)\.[a-z0-9_]+\.tmp")


def owned_names(folder: str | Path) -> set[str]:
    """The names of the files lenetlab wrote in ``folder`` (from its ``.lenetlab-files``)."""
    try:
        text = (Path(folder) / MANIFEST).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return set()
    return {line for line in text.splitlines() if line and "/" not in line and line not in (".", "..")}


def is_owned(path: str | Path) -> bool:
    """Whether lenetlab wrote ``path`` (so it may replace or delete it)."""
    path = Path(path)
    return path.name in owned_names(path.parent)


def check_replaceable(path: str | Path, what: str = "--out") -> Path:
    """``path`` if lenetlab may write it: absent, or a file lenetlab wrote; else a one-line error."""
    path = Path(path)
    if path.is_dir():
        raise LenetlabError.of("error.out_is_folder", what=what, path=path)
    if (path.exists() or path.is_symlink()) and not is_owned(path):
        raise LenetlabError.of("error.not_ours", path=path, what=what)
    return path


def check_output_file(path: str | Path, suffixes: tuple[str, ...], writes: str) -> Path:
    """``path`` (an ``--out``) if it names a file ending in one of ``suffixes`` that lenetlab may write; else one line.

    ``writes`` is the catalogue key of what the command writes (``cli.writes.html``: "export writes an HTML page").
    Checked before any work, so a wrong name costs no minutes of training.
    """
    path = Path(path)
    example = f"model{suffixes[0]}"
    if path.is_dir():
        raise LenetlabError.of("error.out_is_folder_example", path=path, example=path / example)
    if path.suffix.lower() not in suffixes:
        raise LenetlabError.of("error.out_suffix", path=path, writes=Words(writes), suffix=suffixes[0],
                               example=path.with_suffix(suffixes[0]).name if path.name else example)
    return check_replaceable(path)


def check_not_input(out: str | Path, inputs: list[str | Path], what: str = "--out") -> Path:
    """``out`` unless it is one of the command's ``inputs`` (a checkpoint, a config, a data file): one line then."""
    out = Path(out)
    for source in inputs:
        source = Path(source)
        same = out.resolve() == source.resolve()
        try:
            same = same or (out.exists() and source.exists() and out.samefile(source))
        except OSError:
            pass
        if same:
            raise LenetlabError.of("error.out_is_input", what=what, out=out, source=source)
    return out


def _record(path: Path) -> None:
    """Add ``path``'s name to its folder's list of lenetlab's files (one appended line: safe beside other writers)."""
    if path.name not in owned_names(path.parent):
        with open(path.parent / MANIFEST, "a", encoding="utf-8") as f:
            f.write(path.name + "\n")


def remove_owned(folder: str | Path, keep_folder: bool = True) -> None:
    """Delete the files lenetlab wrote under ``folder`` (and their temporary files), nothing else.

    A sub-folder left empty is removed; one that still holds a file of the user's stays, with that
    file. Symbolic links are removed, never followed.
    """
    folder = Path(folder)
    for sub in sorted((p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()), key=str):
        remove_owned(sub, keep_folder=False)
    remove_temporary(folder)
    for name in owned_names(folder):
        target = folder / name
        if target.is_symlink() or target.is_file():
            target.unlink()
    (folder / MANIFEST).unlink(missing_ok=True)
    if not keep_folder and not any(folder.iterdir()):
        folder.rmdir()


def remove_temporary(folder: str | Path, names: set[str] | None = None) -> None:
    """The temporary files a killed lenetlab left half-written in ``folder`` for its own files (or ``names``)."""
    folder = Path(folder)
    if not folder.is_dir():
        return
    names = owned_names(folder) if names is None else names | owned_names(folder)
    for tmp in folder.glob(".*.tmp"):
        match = _TEMPORARY.fullmatch(tmp.name)
        if match and match["name"] in names and tmp.is_file():
            tmp.unlink(missing_ok=True)


def atomic_write(path: str | Path, write: Callable[[IO[bytes]], Any]) -> Path:
    """Call ``write(file)`` on a temporary file beside ``path``, then rename it to ``path``.

    ``path`` must be absent or a file lenetlab wrote (:func:`check_replaceable`); it joins the
    folder's list of lenetlab's files.

    Examples
    --------
    >>> import tempfile
    >>> target = Path(tempfile.mkdtemp()) / "hello.txt"
    >>> atomic_write(target, lambda f: f.write(b"hi")).read_text()
    'hi'
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    check_replaceable(path, "output")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _FILE_MODE)
        _record(path)
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
