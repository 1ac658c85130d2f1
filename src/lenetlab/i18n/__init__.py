"""The words and numbers a student reads, in French or English: one message catalogue per language.

``en.json`` and ``fr.json`` hold every user-facing string of the draw-a-digit page (served and
exported), the HTML report and the figures' titles and labels, under the same keys; the page gets the
catalogue of its language embedded, the report and the figures read it here. French text follows
French conventions: decimal comma, a narrow no-break space between thousands (61 706) and before
``%`` (99,34 %), and « exactitude » for accuracy (« précision » is precision).
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

from ..errors import LenetlabError

LANGS = ("en", "fr")
_HERE = Path(__file__).parent
NARROW_NBSP = "\u202f"


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


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """The catalogue of ``lang`` (key -> text with ``{placeholders}``)."""
    return json.loads((_HERE / f"{check_lang(lang)}.json").read_text(encoding="utf-8"))


def t(lang: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang``, placeholders filled.

    Examples
    --------
    >>> t("fr", "page.units", n=84)
    '84 unités'
    """
    return messages(lang)[key].format(**values)


def number(value: float, lang: str, digits: int = 0) -> str:
    """``61706`` -> ``61,706`` (en) or ``61 706`` (fr, narrow no-break space); decimals with a comma in French.

    Examples
    --------
    >>> number(61706, "fr"), number(0.5, "fr", 2), number(61706, "en")
    ('61\\u202f706', '0,50', '61,706')
    """
    text = f"{value:,.{digits}f}"
    if lang == "fr":
        text = text.replace(",", NARROW_NBSP).replace(".", ",")
    return text


def percent(fraction: float, lang: str, digits: int = 2) -> str:
    """``0.9934`` -> ``99.34 %`` (en) or ``99,34 %`` (fr, narrow no-break space before %)."""
    sign = NARROW_NBSP if lang == "fr" else " "
    return f"{number(100 * fraction, lang, digits)}{sign}%"
