"""The words and numbers a student reads, in French or English: one message catalogue per language.

``en.json`` and ``fr.json`` hold every user-facing string of the draw-a-digit page (served and
exported), the HTML report and the figures' titles and labels, under the same keys; ``en.AREA.json`` and
``fr.AREA.json`` add the words of one area (``cli``: what the command line prints; ``explore``: the
exploration figures and summaries; ``help``: every ``--help``, see cli/_help.py). The catalogue of a
language is the union of its files, a key in one file only. The page gets the catalogue of its language embedded, the report and the figures read it here. French text follows
French conventions: decimal comma, a narrow no-break space between thousands (61 706) and before
``%`` (99,34 %), and « exactitude » for accuracy (« précision » is precision).
"""

from __future__ import annotations

import os

from ..catalogue import (  # noqa: F401 - the package's face
    LANGS,
    MINUS,
    NARROW_NBSP,
    catalogue_files,
    localize_number_text,
    messages,
    number,
    percent,
    seconds,
    t,
)
from ..errors import LenetlabError


def default_lang() -> str:
    """French when the system locale is French (``LC_ALL``, ``LC_MESSAGES`` or ``LANG`` starting with fr)."""
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(variable, "")
        if value:
            return "fr" if value.lower().startswith("fr") else "en"
    return "en"


def check_lang(lang: str | None) -> str:
    """``None`` -> the system's language; an unknown one is a one-line error."""
    if lang is None:
        return default_lang()
    if lang not in LANGS:
        raise LenetlabError(f"--lang {lang!r} is not a language lenetlab speaks; use fr or en")
    return lang
