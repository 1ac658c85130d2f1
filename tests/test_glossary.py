"""The course's words: one French term per idea everywhere a student reads French (i18n/glossary.json).

A teacher found « certitude » on the page and « confiance » in the notebook, « rembourrage » in the
calculator and « remplissage » in the notebook, « 2-d » beside « 2D ». The glossary names the term and the
words that must not stand for it; this test searches every French text lenetlab ships for those words.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lenetlab.i18n import catalogue_files
from lenetlab.td.worksheet import build_worksheet, glossary

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "lenetlab"


def french_texts() -> dict[str, str]:
    """Every French text a student or a teacher reads, by where it comes from."""
    texts = {path.name: "\n".join(json.loads(path.read_text(encoding="utf-8")).values())
             for path in catalogue_files("fr")}
    for path in sorted((PACKAGE / "td" / "notebooks").glob("*_fr.ipynb")):
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        texts[path.name] = "\n".join("".join(cell["source"]) for cell in cells)
    texts["enseignant.md"] = (PACKAGE / "td" / "enseignant.md").read_text(encoding="utf-8")
    page = build_worksheet("fr")
    texts["worksheet"] = page[:page.index('<section class="glossary">')]
    return texts


def test_the_glossary_is_well_formed():
    terms = glossary()
    assert len(terms) >= 15
    for term in terms:
        assert set(term) == {"en", "fr", "note_fr", "avoid"}, term
        assert term["fr"] not in term["avoid"]
    french = [term["fr"] for term in terms]
    assert len(set(french)) == len(french)


@pytest.mark.parametrize("where", sorted(french_texts()))
def test_no_french_text_uses_a_word_the_glossary_rejects(where):
    text = french_texts()[where].lower()
    found = [(term["fr"], word) for term in glossary() for word in term["avoid"]
             if re.search(rf"(?<![\w-]){re.escape(word.lower())}(?![\w-])", text)]
    assert found == [], f"{where}: use the glossary's term instead of {found}"


def test_the_french_worksheet_ends_with_the_glossary():
    page = build_worksheet("fr")
    assert "<h2>Lexique</h2>" in page and "<b>carte de caractéristiques</b>" in page
    assert build_worksheet("en").count("<tr>") == len(glossary()) + 1
