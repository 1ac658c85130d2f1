"""The words and numbers a student reads, in French or English: one message catalogue per language.

``en.json`` and ``fr.json`` hold every user-facing string of the draw-a-digit page (served and
exported), the HTML report and the figures' titles and labels, under the same keys; ``en.AREA.json`` and
``fr.AREA.json`` add the words of one area (``cli``: what the command line prints; ``explore``: the
exploration figures and summaries). The catalogue of a language is the union of its files, a key in one
file only. The page gets the catalogue of its language embedded, the report and the figures read it here. French text follows
French conventions: decimal comma, a narrow no-break space between thousands (61 706) and before
``%`` (99,34 %), and « exactitude » for accuracy (« précision » is precision).
"""

from __future__ import annotations

import functools
import json
import os
import re
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


def catalogue_files(lang: str) -> list[Path]:
    """The files of ``lang``'s catalogue: ``fr.json`` first, then ``fr.AREA.json`` in name order."""
    lang = check_lang(lang)
    return [_HERE / f"{lang}.json", *sorted(_HERE.glob(f"{lang}.*.json"))]


@functools.cache
def messages(lang: str) -> dict[str, str]:
    """The catalogue of ``lang`` (key -> text with ``{placeholders}``): the union of its files."""
    catalogue: dict[str, str] = {}
    for path in catalogue_files(lang):
        part = json.loads(path.read_text(encoding="utf-8"))
        twice = sorted(part.keys() & catalogue.keys())
        if twice:  # a developer's mistake, caught by the tests
            raise RuntimeError(f"{path.name} repeats keys of another catalogue file: {', '.join(twice[:5])}")
        catalogue.update(part)
    return catalogue


def t(lang: str, key: str, **values: object) -> str:
    """The text of ``key`` in ``lang``, placeholders filled.

    Examples
    --------
    >>> t("fr", "page.units", n=84)
    '84 unités'
    """
    return messages(lang)[key].format(**values)


MINUS = "\u2212"


def number(value: float, lang: str, digits: int = 0, sign: bool = False) -> str:
    """``61706`` -> ``61,706`` (en) or ``61 706`` (fr, narrow no-break space); decimals with a comma in French.

    French also writes the true minus sign (−0,735, not -0,735). ``sign=True`` writes ``+`` before a
    positive number (a change, a difference).

    Examples
    --------
    >>> number(61706, "fr"), number(0.5, "fr", 2), number(61706, "en"), number(-0.7354, "fr", 3)
    ('61\\u202f706', '0,50', '61,706', '\\u22120,735')
    >>> number(0.28, "en", 2, sign=True)
    '+0.28'
    """
    text = f"{value:{'+' if sign else ''},.{digits}f}"
    if lang == "fr":
        text = text.replace(",", NARROW_NBSP).replace(".", ",").replace("-", MINUS)
    return text


def percent(fraction: float, lang: str, digits: int = 2, sign: bool = False) -> str:
    """``0.9934`` -> ``99.34 %`` (en) or ``99,34 %`` (fr, narrow no-break space before %)."""
    space = NARROW_NBSP if lang == "fr" else " "
    return f"{number(100 * fraction, lang, digits, sign)}{space}%"


def seconds(value: float, lang: str, digits: int = 1) -> str:
    """``18.64`` -> ``18.6 s`` (en) or ``18,6 s`` (fr, narrow no-break space before the unit).

    Examples
    --------
    >>> seconds(18.64, "fr"), seconds(18.64, "en")
    ('18,6\u202fs', '18.6 s')
    """
    space = NARROW_NBSP if lang == "fr" else " "
    return f"{number(value, lang, digits)}{space}s"


def localize_number_text(text: str, lang: str) -> str:
    """A number already written the English way (``1.25``, ``−0.5``, ``10000``) in ``lang``'s way.

    For texts made by another library (matplotlib's tick labels): French gets the decimal comma, the
    true minus sign and a narrow no-break space between thousands in numbers of five digits or more.

    Examples
    --------
    >>> localize_number_text("-1.25", "fr"), localize_number_text("10000", "fr"), localize_number_text("0.5", "en")
    ('\u22121,25', '10\u202f000', '0.5')
    """
    if lang != "fr":
        return text

    def group(match: re.Match) -> str:
        whole = match.group(0)
        return f"{int(whole):,}".replace(",", NARROW_NBSP) if len(whole) >= 5 else whole

    text = text.replace("-", MINUS).replace(".", ",")
    return re.sub(r"(?<![\d,])\d+", group, text)
