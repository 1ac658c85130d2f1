"""Build the four course notebooks from their one source, or check that they match it (CI runs --check).

The course (« TD : Implémentation d'un réseau convolutif ») has one source, ``notebooks/td_lenet5.src.py``,
in jupytext's "percent" format (``# %%`` code cells, ``# %% [markdown]`` text cells), for both languages
and both versions. This script builds from it, into ``src/lenetlab/td/notebooks/`` (package data, copied
by ``lenetlab td --out DIR``):

    td_lenet5_enonce_fr.ipynb   td_lenet5_corrige_fr.ipynb   (French: exercises / solutions)
    td_lenet5_enonce_en.ipynb   td_lenet5_corrige_en.ipynb   (English)

Conventions of the source:

- a cell tagged ``fr`` or ``en`` goes to that language only, an untagged one to both; a cell tagged
  ``enonce`` or ``corrige`` to that version only; a cell tagged ``source`` to none (notes on the source);
- a markdown cell tagged ``solution`` is an answer: the corrigé keeps it, the énoncé gets
  « *Votre réponse :* » / "*Your answer:*" in its place (tagged ``answer``); questions are tagged ``question``
  (the printable worksheet, ``lenetlab.td.worksheet``, gathers them);
- in a code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION`` (nbgrader's markers)
  are the answer: the corrigé keeps them (without the markers), the énoncé replaces them with
  ``raise NotImplementedError  # À vous de compléter`` (``# Your turn`` in English) at the same indentation,
  or, when the block starts with ``### STUB <code>`` lines, with that code (``x = None  # À vous de compléter``),
  so that the énoncé still runs top to bottom;
- a whole-line comment ``# fr: texte`` / ``# en: text`` goes to that language only (as ``# texte``);
- the line ``LANG = "fr"`` of the parameters cell is set to the notebook's language.

Each notebook is written stripped (no outputs, no execution counts) with cell ids ``cell-00``, ``cell-01``,
... so that building it again gives the same bytes.

    python3 scripts/sync_notebooks.py            # rebuild the four notebooks
    python3 scripts/sync_notebooks.py --check    # exit 1 if one differs from what the source builds

Exit status: 0 when every notebook matches (or was rebuilt), 1 when one does not (one line per problem, with
the fix), 2 when the source cannot be read or is malformed (an unclosed solution block, say).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "td_lenet5.src.py"
OUT = ROOT / "src" / "lenetlab" / "td" / "notebooks"
LANGS = ("fr", "en")
VERSIONS = ("enonce", "corrige")
TURN = {"fr": "À vous de compléter", "en": "Your turn"}
ANSWER = {"fr": "*Votre réponse :*", "en": "*Your answer:*"}
BUILD_TAGS = {*LANGS, *VERSIONS, "source"}  # tags that steer the build, not kept in the notebooks
BEGIN, END, STUB = "### BEGIN SOLUTION", "### END SOLUTION", "### STUB "
LANG_COMMENT = re.compile(r"^(\s*)# (fr|en): ?(.*)$")


def target(lang: str, version: str, out: Path = OUT) -> Path:
    """The notebook built for one language and version."""
    return out / f"td_lenet5_{version}_{lang}.ipynb"


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def code_for(source: str, lang: str, version: str) -> str:
    """A code cell's source for one language and version (solution blocks, language comments, LANG)."""
    out: list[str] = []
    lines = source.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.strip() == BEGIN:
            indent = line[: len(line) - len(line.lstrip())]
            block: list[str] = []
            i += 1
            while i < len(lines) and lines[i].strip() != END:
                if lines[i].strip() == BEGIN:
                    raise ValueError(f"nested {BEGIN!r} in a code cell:\n{source}")
                block.append(lines[i])
                i += 1
            if i == len(lines):
                raise ValueError(f"{BEGIN!r} without {END!r} in a code cell:\n{source}")
            stubs = [b.strip()[len(STUB):] for b in block if b.strip().startswith(STUB)]
            if version == "corrige":
                out += [code_for_line(b, lang) for b in block if not b.strip().startswith(STUB)]
            elif stubs:
                out += [indent + s for s in stubs[:-1]] + [f"{indent}{stubs[-1]}  # {TURN[lang]}"]
            else:
                out.append(f"{indent}raise NotImplementedError  # {TURN[lang]}")
        elif line.strip() == END:
            raise ValueError(f"{END!r} without {BEGIN!r} in a code cell:\n{source}")
        elif line.strip().startswith(STUB):
            raise ValueError(f"{STUB.strip()!r} outside a solution block in a code cell:\n{source}")
        else:
            kept = code_for_line(line, lang)
            if kept is not None:
                out.append(kept)
        i += 1
    return "\n".join(x for x in out if x is not None)


def code_for_line(line: str, lang: str) -> str | None:
    """The line for this language: None for the other language's comment, ``LANG = ...`` set."""
    match = LANG_COMMENT.match(line)
    if match:
        return f"{match.group(1)}# {match.group(3)}".rstrip() if match.group(2) == lang else None
    if line == 'LANG = "fr"':
        return f'LANG = "{lang}"'
    return line


def build_notebook(source: Path, lang: str, version: str) -> str:
    """The text of one built notebook: stripped, fixed cell ids, final newline."""
    import jupytext
    import nbformat

    try:
        nb = jupytext.read(source, fmt="py:percent")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{source} cannot be read as a jupytext percent notebook ({exc})") from None
    cells = []
    for cell in nb.cells:
        tags = list(cell.metadata.get("tags", []))
        if "source" in tags:
            continue
        if any(t in LANGS for t in tags) and lang not in tags:
            continue
        if any(t in VERSIONS for t in tags) and version not in tags:
            continue
        kept = [t for t in tags if t not in BUILD_TAGS]
        if cell.cell_type == "markdown":
            text = cell.source
            if "solution" in kept and version == "enonce":
                text, kept = ANSWER[lang], ["answer" if t == "solution" else t for t in kept]
            new = nbformat.v4.new_markdown_cell(text)
        else:
            new = nbformat.v4.new_code_cell(code_for(cell.source, lang, version))
        if kept:
            new.metadata["tags"] = kept
        new.id = f"cell-{len(cells):02d}"
        cells.append(new)
    built = nbformat.v4.new_notebook(cells=cells, metadata={
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
        "lenetlab_td": {"lang": lang, "version": version, "source": "notebooks/td_lenet5.src.py"},
    })
    built.nbformat_minor = 5
    text = nbformat.writes(built)
    return text if text.endswith("\n") else text + "\n"


def problems(source: Path = SOURCE, out: Path = OUT) -> list[str]:
    """One message per built notebook that is missing or differs from what the source builds; []."""
    found = []
    for lang in LANGS:
        for version in VERSIONS:
            path = target(lang, version, out)
            want = build_notebook(source, lang, version)
            if not path.is_file():
                found.append(f"{_shown(path)}: missing; build it with `python3 scripts/sync_notebooks.py`")
            elif path.read_text(encoding="utf-8") != want:
                have = json.loads(path.read_text(encoding="utf-8")).get("cells", [])
                detail = (f"{len(have)} cells, the source builds {len(json.loads(want)['cells'])}"
                          if len(have) != len(json.loads(want)["cells"]) else "differs from what the source builds")
                found.append(f"{_shown(path)}: {detail}; it is built from {_shown(source)}, edit that and "
                             f"rebuild with `python3 scripts/sync_notebooks.py`")
    known = {target(lang, version, out).name for lang in LANGS for version in VERSIONS}
    found += [f"{_shown(p)}: not built from {_shown(source)}; remove it" for p in sorted(out.glob("*.ipynb"))
              if p.name not in known]
    return found


def sync(source: Path = SOURCE, out: Path = OUT) -> list[Path]:
    """Rebuild the notebooks whose text differs from the build; the paths written."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for lang in LANGS:
        for version in VERSIONS:
            path, text = target(lang, version, out), build_notebook(source, lang, version)
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                written.append(path)
                print(f"wrote {_shown(path)} ({len(json.loads(text)['cells'])} cells)")
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook differs from its source")
    parser.add_argument("--source", type=Path, default=SOURCE, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, default=OUT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        if args.check:
            found = problems(args.source, args.out)
        else:
            sync(args.source, args.out)
            found = []
    except (OSError, ValueError) as exc:
        print(f"sync_notebooks: error: {exc}", file=sys.stderr)
        return 2
    for message in found:
        print(message)
    if not found and args.check:
        print(f"{len(LANGS) * len(VERSIONS)} notebook(s) match {_shown(args.source)}")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
