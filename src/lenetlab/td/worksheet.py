"""The printable worksheet of the course: every question of the énoncé, numbered, with room to write.

The questions are read from the built énoncé notebook (package data, ``td/notebooks/``): its markdown cells
tagged ``question``, in order. The worksheet and the notebook cannot drift apart: rebuilding the notebooks
(``python3 scripts/sync_notebooks.py``) changes both.

    >>> from lenetlab.td.worksheet import build_worksheet
    >>> page = build_worksheet("fr")
    >>> page.count('<section class="question">') >= 10 and "Lexique" in page
    True

Write it with ``Path("fiche.html").write_text(page, encoding="utf-8")`` and print it from a browser (A4).
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent / "notebooks"
LANGS = ("fr", "en")
TEXT = {
    "fr": {"title": "TD : Implémentation d'un réseau convolutif (LeNet-5)", "sub": "Fiche de questions",
           "name": "Nom", "group": "Groupe", "date": "Date", "question": "Question",
           "note": "Répondez sous chaque question ; les questions « à prévoir » se remplissent avant de lancer la "
                   "cellule correspondante du notebook.",
           "glossary": "Lexique", "term": "en anglais", "meaning": "en français"},
    "en": {"title": "Lab: implementing a convolutional network (LeNet-5)", "sub": "Question sheet",
           "name": "Name", "group": "Group", "date": "Date", "question": "Question",
           "note": "Answer under each question; the \"predict\" questions are filled in before running the "
                   "matching cell of the notebook.",
           "glossary": "Glossary", "term": "English", "meaning": "French (the course's words)"},
}
CSS = """
@page { size: A4; margin: 16mm 15mm 16mm 15mm; }
* { box-sizing: border-box; }
body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; line-height: 1.4; color: #111;
       max-width: 180mm; margin: 0 auto; padding: 8mm 0; }
header h1 { font-size: 16pt; margin: 0 0 2mm; }
header p.sub { margin: 0 0 4mm; font-size: 12pt; color: #444; }
.fields { display: flex; gap: 6mm; margin-bottom: 4mm; }
.fields span { flex: 1; border-bottom: 1px solid #555; padding-bottom: 1mm; }
p.note { font-size: 9.5pt; color: #444; margin: 0 0 6mm; }
section.question { break-inside: avoid; page-break-inside: avoid; margin: 0 0 6mm; }
section.question h2 { font-size: 12pt; margin: 0 0 1.5mm; }
table.glossary { border-collapse: collapse; width: 100%; font-size: 9.5pt; break-inside: avoid; }
table.glossary th, table.glossary td { border-bottom: 1px solid #ccc; padding: 1mm 2mm; text-align: left;
                                       vertical-align: top; }
section.question h2 small { font-weight: normal; color: #444; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 10pt; background: #f2f2f2; padding: 0 1mm; }
.answer { height: 55mm; margin-top: 2mm; border: 1px solid #999; border-radius: 1.5mm;
          background-image: repeating-linear-gradient(to bottom, transparent 0, transparent 8.5mm,
                                                      #ccc 8.5mm, #ccc 8.8mm); }
@media print { body { padding: 0; } .answer { -webkit-print-color-adjust: exact; print-color-adjust: exact; } }
"""
_HEADING = re.compile(r"^\*\*(?:Question|Exercice|Exercise)\s+\d+\s*(.*?)\s*[.:]?\*\*\s*", re.S)


def enonce_path(lang: str) -> Path:
    """The built énoncé notebook of one language (package data)."""
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}; choose one of: {', '.join(LANGS)}")
    return NOTEBOOKS / f"td_lenet5_enonce_{lang}.ipynb"


def questions(lang: str) -> list[str]:
    """The markdown of every cell tagged ``question`` in the énoncé, in order."""
    nb = json.loads(enonce_path(lang).read_text(encoding="utf-8"))
    out = []
    for cell in nb["cells"]:
        if cell.get("cell_type") == "markdown" and "question" in cell.get("metadata", {}).get("tags", []):
            source = cell.get("source", "")
            out.append(source if isinstance(source, str) else "".join(source))
    return out


def inline(text: str) -> str:
    """Inline markdown (``code``, **bold**, *italics*) as HTML, everything else escaped."""
    spans: list[str] = []

    def keep(match: re.Match[str]) -> str:
        spans.append(f"<code>{html.escape(match.group(1))}</code>")
        return f"\x00{len(spans) - 1}\x00"

    text = html.escape(re.sub(r"`([^`]+)`", keep, text), quote=False)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text, flags=re.S)
    text = re.sub(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])", r"<em>\1</em>", text, flags=re.S)
    return re.sub("\x00(\\d+)\x00", lambda m: spans[int(m.group(1))], text)


def blocks(markdown: str) -> str:
    """Paragraphs and ``-`` lists of a small markdown text as HTML."""
    out = []
    for block in re.split(r"\n\s*\n", markdown.strip()):
        lines = block.splitlines()
        if all(line.lstrip().startswith("- ") for line in lines):
            out.append("<ul>" + "".join(f"<li>{inline(line.lstrip()[2:])}</li>" for line in lines) + "</ul>")
        else:
            out.append(f"<p>{inline(' '.join(line.strip() for line in lines))}</p>")
    return "\n".join(out)


def glossary() -> list[dict[str, str]]:
    """The course's words (``lenetlab/i18n/glossary.json``): English term, French term, what it means."""
    path = Path(__file__).resolve().parent.parent / "i18n" / "glossary.json"
    return json.loads(path.read_text(encoding="utf-8"))["terms"]


def glossary_table(lang: str) -> str:
    """The glossary as an HTML table for the end of the worksheet (the words students meet everywhere)."""
    words = TEXT[lang]
    rows = "".join(f"<tr><td>{html.escape(term['en'])}</td><td><b>{html.escape(term['fr'])}</b>"
                   f"{' : ' + html.escape(term['note_fr']) if lang == 'fr' else ''}</td></tr>\n"
                   for term in glossary())
    return (f'<section class="glossary">\n<h2>{words["glossary"]}</h2>\n<table class="glossary">\n'
            f'<tr><th>{words["term"]}</th><th>{words["meaning"]}</th></tr>\n{rows}</table>\n</section>')


def build_worksheet(lang: str) -> str:
    """One self-contained HTML page (A4 print CSS) with every question of the énoncé, numbered, room to write."""
    enonce_path(lang)  # checks the language
    words, colon = TEXT[lang], " :" if lang == "fr" else ":"
    sections = []
    for number, markdown in enumerate(questions(lang), 1):
        match = _HEADING.match(markdown)
        subtitle = f" <small>{inline(match.group(1))}</small>" if match and match.group(1) else ""
        body = markdown[match.end():] if match else markdown
        sections.append(f'<section class="question">\n<h2>{words["question"]} {number}{subtitle}</h2>\n'
                        f'{blocks(body)}\n<div class="answer"></div>\n</section>')
    return (f'<!DOCTYPE html>\n<html lang="{lang}">\n<head>\n<meta charset="utf-8">\n'
            f'<title>{html.escape(words["title"])} — {html.escape(words["sub"])}</title>\n'
            f"<style>{CSS}</style>\n</head>\n<body>\n<header>\n<h1>{html.escape(words['title'])}</h1>\n"
            f'<p class="sub">{html.escape(words["sub"])}</p>\n<div class="fields"><span>{words["name"]}{colon}</span>'
            f'<span>{words["group"]}{colon}</span><span>{words["date"]}{colon}</span></div>\n'
            f'<p class="note">{html.escape(words["note"])}</p>\n</header>\n<main>\n'
            + "\n".join(sections) + "\n" + glossary_table(lang) + "\n</main>\n</body>\n</html>\n")
