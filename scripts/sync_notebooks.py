"""Build the committed notebooks from their jupytext sources, or check that they match (CI runs --check).

The course notebooks are written as Python in jupytext's "percent" format (``# %%`` code cells,
``# %% [markdown]`` text cells): ``notebooks/td_lenet5.py`` is the source of ``notebooks/td_lenet5.ipynb``,
and the same for ``td_lenet5_en``. Each pair is declared in the .py header (``formats: ipynb,py:percent``),
so ``jupytext --sync notebooks/td_lenet5.ipynb`` carries an edit made in Jupyter back into the .py.

The .ipynb is built from the .py by jupytext, stripped (no outputs, no execution counts) and with fixed
cell ids ``cell-00``, ``cell-01``, ... so that building it again gives the same file.

    python scripts/sync_notebooks.py            # rebuild every .ipynb under notebooks/ from its .py
    python scripts/sync_notebooks.py --check    # exit 1 if an .ipynb does not match its .py
    python scripts/sync_notebooks.py notebooks/td_lenet5.py   # or only the given sources / folders

The check compares what matters: the number of cells, and each cell's type, source and tags, and the
pairing; outputs, cell ids and other metadata are left to ``scripts/check_notebooks.py`` or ignored.

Rebuilding overwrites the .ipynb. When the .ipynb differs from its .py and was modified after it (an
edit in Jupyter, say), it is not overwritten: run ``jupytext --sync`` on it first, or pass ``--force``.

Exit status: 0 when every notebook matches (or was rebuilt), 1 when one does not (one line per problem,
with the fix) or was not rebuilt, 2 when a path does not exist or a file cannot be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import jupytext

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FORMATS = "ipynb,py:percent"


def _shown(path: Path) -> str:
    """The path relative to the repository when it lies inside it (shorter messages)."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def _fix(ipynb: Path) -> str:
    return (f"rebuild it with `python3 scripts/sync_notebooks.py`, or, if you edited the .ipynb, "
            f"run `jupytext --sync {_shown(ipynb)}` first")


def source_paths(paths: list[str | Path]) -> list[Path]:
    """The .py sources named, or found under the folders named (checkpoints folders skipped).

    A notebook named instead of its source stands for its source (``x.ipynb`` -> ``x.py``).
    """
    found: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found += sorted(f for f in p.rglob("*.py") if ".ipynb_checkpoints" not in f.parts)
        elif p.suffix == ".ipynb" and p.is_file():
            found.append(p.with_suffix(".py"))  # problems() and sync() say when it does not exist
        elif p.is_file():
            found.append(p)
        else:
            raise FileNotFoundError(f"{p} does not exist; give notebook sources (.py) or folders")
    return found


def _orphan(nb: Path) -> str:
    return (f"{_shown(nb)}: no source {nb.with_suffix('.py').name} beside it; create it with "
            f"`jupytext --set-formats {FORMATS} {_shown(nb)}`")


def orphans(folder: Path) -> list[str]:
    """One message per .ipynb under folder that has no .py source beside it."""
    return [_orphan(nb) for nb in sorted(folder.rglob("*.ipynb"))
            if ".ipynb_checkpoints" not in nb.parts and not nb.with_suffix(".py").is_file()]


def build(source: Path) -> str:
    """The text of the .ipynb that jupytext builds from source: stripped, fixed cell ids, final newline.

    Examples
    --------
    >>> json.loads(build(Path("notebooks/td_lenet5.py")))["cells"][0]["id"]  # doctest: +SKIP
    'cell-00'
    """
    try:
        nb = jupytext.read(source, fmt="py:percent")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{source} cannot be read as a jupytext percent notebook ({exc})") from None
    for i, cell in enumerate(nb.cells):
        cell.id = f"cell-{i:02d}"
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    text = jupytext.writes(nb, fmt="ipynb")
    return text if text.endswith("\n") else text + "\n"


def _cells(nb: dict) -> list[tuple[str, str, list[str]]]:
    """(type, source, tags) of each cell; sources joined as nbformat stores them either way."""
    out = []
    for cell in nb["cells"]:
        source = cell.get("source", "")
        out.append((cell.get("cell_type"), source if isinstance(source, str) else "".join(source),
                    list(cell.get("metadata", {}).get("tags", []))))
    return out


def problems(source: Path) -> list[str]:
    """One message per difference between source's .ipynb and what jupytext builds from source; [].

    Examples
    --------
    >>> problems(Path("notebooks/td_lenet5.py"))  # doctest: +SKIP
    []
    """
    ipynb = source.with_suffix(".ipynb")
    if not source.is_file():
        return [_orphan(ipynb)]
    built = json.loads(build(source))
    found = []
    formats = built["metadata"].get("jupytext", {}).get("formats")
    if formats != FORMATS:
        found.append(f"{_shown(source)}: its header pairs it with {formats!r}, not {FORMATS!r}; "
                     f"run `jupytext --set-formats {FORMATS} {_shown(source)}`")
    if not ipynb.is_file():
        return [*found, f"{_shown(ipynb)}: missing; build it from {source.name} with "
                        f"`python3 scripts/sync_notebooks.py`"]
    try:
        committed = json.loads(ipynb.read_text(encoding="utf-8"))
        have = _cells(committed)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"{ipynb} is not a notebook ({exc}); check the file") from None
    fix = _fix(ipynb)
    if committed.get("metadata", {}).get("jupytext", {}).get("formats") != formats:
        found.append(f"{_shown(ipynb)}: not paired with {source.name} (metadata jupytext.formats); {fix}")
    want = _cells(built)
    if len(have) != len(want):
        return [*found, f"{_shown(ipynb)}: {len(have)} cells, {source.name} has {len(want)}; {fix}"]
    for i, ((kind, text, tags), (want_kind, want_text, want_tags)) in enumerate(zip(have, want)):
        if kind != want_kind:
            found.append(f"{_shown(ipynb)}: cell {i} is {kind}, {want_kind} in {source.name}; {fix}")
        elif text != want_text:
            found.append(f"{_shown(ipynb)}: cell {i} ({kind}) source differs from {source.name}; {fix}")
        elif tags != want_tags:
            found.append(f"{_shown(ipynb)}: cell {i} tags {tags} differ from {want_tags} in {source.name}; {fix}")
    return found


def sync(source: Path, force: bool = False) -> str | None:
    """Rebuild source's .ipynb when its text differs from the build; a message when refused, else None."""
    ipynb = source.with_suffix(".ipynb")
    if not source.is_file():
        return _orphan(ipynb)
    text = build(source)
    if ipynb.is_file() and ipynb.read_text(encoding="utf-8") == text:
        return None
    if (not force and ipynb.is_file() and ipynb.stat().st_mtime > source.stat().st_mtime
            and problems(source)):
        return (f"{_shown(ipynb)}: differs from {source.name} and was modified after it, not overwritten; "
                f"run `jupytext --sync {_shown(ipynb)}` to carry its edits into the .py, or pass --force")
    ipynb.write_text(text, encoding="utf-8")
    print(f"wrote {_shown(ipynb)} from {source.name} ({len(json.loads(text)['cells'])} cells)")
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="*", help="notebook sources (.py) or folders (default notebooks/)")
    parser.add_argument("--check", action="store_true", help="exit 1 if an .ipynb does not match its .py")
    parser.add_argument("--force", action="store_true", help="rebuild even an .ipynb modified after its .py")
    args = parser.parse_args(argv)
    try:
        sources = source_paths(args.paths or [NOTEBOOKS])
        found = orphans(NOTEBOOKS) if not args.paths else []
        if args.check:
            found += [message for s in sources for message in problems(s)]
        else:
            found += [message for s in sources if (message := sync(s, args.force))]
    except (FileNotFoundError, ValueError) as exc:
        print(f"sync_notebooks: error: {exc}", file=sys.stderr)
        return 2
    for message in found:
        print(message)
    if not found and args.check:
        print(f"{len(sources)} notebook(s) match their jupytext source (.py)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
