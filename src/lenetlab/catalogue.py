"""The catalogue itself: the words of each language and the way each writes numbers.

Below everything (errors included), so that any module can word a message or a number; the package
face (:mod:`lenetlab.i18n`, whose folder holds the JSON files) adds the choice of language from the system and the user.
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

LANGS = ("en", "fr")
_HERE = Path(__file__).parent / "i18n"  # the JSON files live beside the package face
NARROW_NBSP = "\u202f"


def catalogue_files(lang: str) -> list[Path]:
    """The files of ``lang``'s catalogue: ``fr.json`` first, then ``fr.AREA.json`` in name order."""
    if lang not in LANGS:  # check_lang words this for users; here it is a programming error
        raise ValueError(f"unknown language {lang!r}; lenetlab speaks {', '.join(LANGS)}")
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
