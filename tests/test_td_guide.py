"""The teacher's guide of the TD (issue #21): docs/enseignant.md, shipped in the pack as lenetlab/td/enseignant.md.

Fast, text only: the two files are the same bytes; every check the énoncé calls is in the guide's table of
mistakes; the guide names every value of ``SEANCE``; its lesson plan covers every section of the énoncé and fits
in two hours; it has no relative link (the pack copies it out of the repository, where those would break).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = ROOT / "docs" / "enseignant.md"
PACKAGED = ROOT / "src" / "lenetlab" / "td" / "enseignant.md"
BUILT = ROOT / "src" / "lenetlab" / "td" / "notebooks"
SOURCE = ROOT / "notebooks" / "td_lenet5.src.py"


def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def block(name: str) -> str:
    """The part of the guide between ``<!-- name:debut -->`` and ``<!-- name:fin -->``."""
    m = re.search(rf"<!-- {name}:debut -->(.*?)<!-- {name}:fin -->", guide(), re.S)
    assert m, f"docs/enseignant.md has no <!-- {name}:debut --> ... <!-- {name}:fin --> block"
    return m[1]


def enonce_cells(lang: str) -> list[dict]:
    return json.loads((BUILT / f"td_lenet5_enonce_{lang}.ipynb").read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def table_rows(markdown: str) -> list[list[str]]:
    """The body rows of the markdown table(s) in ``markdown`` (header and separator rows left out)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in markdown.splitlines() if line.strip().startswith("|")]
    return [r for i, r in enumerate(rows) if i > 0 and not all(set(c) <= set(":- ") for c in r)]


def test_the_packaged_guide_is_the_docs_guide():
    assert PACKAGED.read_bytes() == GUIDE.read_bytes(), (
        "src/lenetlab/td/enseignant.md differs from docs/enseignant.md: copy it, "
        "`cp docs/enseignant.md src/lenetlab/td/enseignant.md`")


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_every_check_of_the_enonce_is_in_the_table_of_mistakes(lang):
    used = {name for cell in enonce_cells(lang) if cell["cell_type"] == "code"
            for name in re.findall(r"\btd\.(check_\w+)", text(cell))}
    assert len(used) >= 8, used
    mistakes = block("erreurs")
    in_table = {name for row in table_rows(mistakes) for name in re.findall(r"check_\w+", row[0])}
    assert not used - in_table, f"checks missing from the guide's table of mistakes: {sorted(used - in_table)}"


def test_the_guide_names_every_seance():
    settings = re.search(r"^SETTINGS = \{(.*?)^\}", SOURCE.read_text(encoding="utf-8"), re.S | re.M)
    assert settings, "no SETTINGS = {...} in the notebook's source"
    values = re.findall(r'^    "(\w+)": \{', settings[1], re.M)
    assert set(values) >= {"2h", "complet", "test"}, values
    for value in values:
        assert f'SEANCE = "{value}"' in guide(), f'the guide never mentions SEANCE = "{value}"'


def test_the_lesson_plan_covers_the_enonce_and_fits_two_hours():
    plan = table_rows(block("deroule"))
    sections = [r for r in plan if re.match(r"\d+\.", r[0])]
    minutes = [int(re.match(r"\d+", r[1])[0]) for r in sections]
    total = sum(minutes)
    assert 60 <= total < 120, f"the sections of the lesson plan add up to {total} min for a 2-hour class"
    stated = [r for r in plan if r[0].strip("* ").lower().startswith("total")]
    assert stated and int(re.search(r"\d+", stated[0][1])[0]) == total, "the Total row is not the sum of the rows"
    headings = [m[1] for cell in enonce_cells("fr") if cell["cell_type"] == "markdown"
                for m in [re.search(r"^## (\d+)\.", text(cell), re.M)] if m]
    numbers = {re.match(r"(\d+)\.", r[0])[1] for r in sections}
    assert headings and set(headings) <= numbers, f"sections of the énoncé missing from the plan: {headings}"


def test_the_guide_has_no_relative_link():
    relative = re.findall(r"\]\((?!https?://|#)([^)]*)\)", guide())
    assert not relative, f"relative links break once the pack copies the guide elsewhere: {relative}"
