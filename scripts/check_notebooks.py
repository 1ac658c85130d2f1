"""Fail when a committed notebook carries outputs or execution counts (CI runs this).

Notebooks are committed stripped so that diffs show code and text only, and so that nobody reads
numbers from an old run as if they were current: run the notebook to see the outputs.

    python scripts/check_notebooks.py                   # the built course notebooks (and any under notebooks/)
    python scripts/check_notebooks.py path/to/x.ipynb   # or the given files / folders

Exit status: 0 when every notebook is clean, 1 when one is not (one line per problem, with the fix),
2 when a path does not exist or a file is not a notebook.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The course notebooks are built from notebooks/td_lenet5.src.py into the package (scripts/sync_notebooks.py).
DEFAULT_FOLDERS = (ROOT / "src" / "lenetlab" / "td" / "notebooks", ROOT / "notebooks")
FIX = ("strip it with `jupyter nbconvert --clear-output --inplace {path}` "
       "or rebuild it from its source with `python3 scripts/sync_notebooks.py`")


def notebook_paths(paths: list[str | Path]) -> list[Path]:
    """The .ipynb files named, or found under the folders named (checkpoints folders skipped)."""
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*.ipynb") if ".ipynb_checkpoints" not in f.parts)
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist; give notebook files or folders")
    return found


def problems(path: Path) -> list[str]:
    """One message per code cell with outputs or an execution count; [] when the notebook is clean.

    Examples
    --------
    >>> problems(Path("src/lenetlab/td/notebooks/td_lenet5_enonce_fr.ipynb"))  # doctest: +SKIP
    []
    """
    try:
        nb = json.loads(path.read_text(encoding="utf-8"))
        cells = nb["cells"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} is not a notebook ({exc}); check the file") from None
    found = []
    for i, cell in enumerate(cells):
        if cell.get("cell_type") != "code":
            continue
        if cell.get("outputs"):
            found.append(f"{path}: code cell {i} has {len(cell['outputs'])} output(s); " + FIX.format(path=path))
        if cell.get("execution_count") is not None:
            found.append(f"{path}: code cell {i} has execution count {cell['execution_count']}; " + FIX.format(path=path))
    return found


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    try:
        paths = notebook_paths(args or [f for f in DEFAULT_FOLDERS if f.is_dir()])
        found = [message for p in paths for message in problems(p)]
    except (FileNotFoundError, ValueError) as exc:
        print(f"check_notebooks: error: {exc}", file=sys.stderr)
        return 2
    for message in found:
        print(message)
    if not found:
        print(f"{len(paths)} notebook(s) clean: no outputs, no execution counts")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
