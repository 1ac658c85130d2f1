"""Declared constraints: one object per rule gives both the check and the words of its error.

The way scikit-learn's ``Interval`` and ``StrOptions`` do: a setting declares ``Interval(int, 1, None)``
and gets the test (``rule(value)``) and what a value must be (``rule.text("fr")``: « être au moins 1 »)
from the same object, so a bound and its message can never disagree. ``TrainConfig``'s fields, the
model registry's argument types, the studies' flags and the run files use them.

Examples
--------
>>> epochs = Interval(int, 1, None)
>>> epochs(3), epochs(0), epochs(True), epochs(2.0)
(True, False, False, False)
>>> epochs.text("en"), epochs.text("fr")
('be at least 1', 'être au moins 1')
>>> Interval(float, 0, 1, closed="left").text("fr")
'être dans [0 ; 1['
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from .catalogue import localize_number_text, t
from .errors import LenetlabError, Localized, Words

PLAIN_TYPES = (int, float, str, bool)  # the types a setting or a model argument can be checked against


def type_words(kind: type) -> Words:
    """What a value of ``kind`` is, in the catalogue's words (« un nombre entier »): ``cli.type.int``...

    >>> type_words(int).text("fr"), type_words(float).text("en")
    ('un nombre entier', 'a number')
    """
    return Words(f"cli.type.{kind.__name__}")


def is_a(value: Any, kind: type) -> bool:
    """``value`` is a ``kind`` the way a setting means it: a bool is not a number, a whole number is a float.

    Examples
    --------
    >>> is_a(True, int), is_a(3, float), is_a(3.0, int), is_a(True, bool)
    (False, True, False, True)
    """
    if kind is bool:
        return isinstance(value, bool)
    if isinstance(value, bool):
        return False
    if kind is float:
        return isinstance(value, int | float)
    return isinstance(value, kind)


class Constraint(Localized):
    """A rule on a value: called, it says whether the value keeps it; ``text(lang)`` says what it must be."""

    def __call__(self, value: Any) -> bool:
        raise NotImplementedError

    def text(self, lang: str) -> str:
        raise NotImplementedError


def _number(value: float, lang: str) -> str:
    return localize_number_text(f"{value:g}" if isinstance(value, float) else str(value), lang)


@dataclass(frozen=True)
class Interval(Constraint):
    """A number of type ``kind`` (int or float) between ``low`` and ``high`` (None: unbounded).

    ``closed``: which bounds belong to the interval ("both", "left", "right" or "neither").
    ``example``: a value to suggest in the message (« for example 0.2 »).
    """

    kind: type
    low: float | None
    high: float | None
    closed: Literal["both", "left", "right", "neither"] = "both"
    example: float | None = None

    def __call__(self, value: Any) -> bool:
        if not is_a(value, self.kind):
            return False
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if self.low is not None and not (value >= self.low if left else value > self.low):
            return False
        return self.high is None or (value <= self.high if right else value < self.high)

    def text(self, lang: str) -> str:
        low, high = (None if v is None else _number(v, lang) for v in (self.low, self.high))
        left = self.closed in ("both", "left")
        right = self.closed in ("both", "right")
        if high is None and left:
            words = t(lang, "rule.at_least", low=low)
        elif high is None:
            words = t(lang, "rule.more_than", low=low)
        elif low is None:
            words = t(lang, "rule.at_most" if right else "rule.less_than", high=high)
        elif self.kind is int and left and right:
            words = t(lang, "rule.whole_from_to", low=low, high=high)
        elif self.low == 0 and not left and right:
            words = t(lang, "rule.positive_at_most", high=high)
        else:
            words = t(lang, "rule.in", interval=t(lang, f"rule.interval.{'[' if left else '('}{']' if right else ')'}",
                                                 low=low, high=high))
        return words if self.example is None else t(lang, "rule.example", rule=words, example=_number(self.example, lang))


@dataclass(frozen=True)
class Options(Constraint):
    """One of ``values`` (the names a user types: models, presets, methods).

    >>> Options(("fgsm", "pgd", "both")).text("fr")
    "être l'une des valeurs fgsm, pgd, both"
    """

    values: Sequence[Any]

    def __call__(self, value: Any) -> bool:
        return any(value == v and type(value) is type(v) for v in self.values)

    def text(self, lang: str) -> str:
        return t(lang, "rule.one_of", choices=", ".join(map(str, self.values)))


@dataclass(frozen=True)
class Rule(Constraint):
    """Any test with its words from the catalogue (``key``): what an interval or a list cannot say.

    >>> device = Rule(lambda v: v in ("cpu", "cuda"), "cli.must.device")
    >>> device("cpu"), device("gpu"), device.text("en")
    (True, False, 'be auto, cpu, cuda or cuda:N')
    """

    test: Callable[[Any], bool]
    key: str

    def __call__(self, value: Any) -> bool:
        return bool(self.test(value))

    def text(self, lang: str) -> str:
        return t(lang, self.key)


def require(value: Any, rule: Constraint, flag: str) -> Any:
    """``value`` when it keeps ``rule``; else the one-line error naming ``flag``, in the student's language.

    >>> require(5, Interval(int, 1, None), "--n")
    5
    >>> require(0, Interval(int, 1, None), "--n")
    Traceback (most recent call last):
    ...
    lenetlab.errors.LenetlabError: --n must be at least 1 (got 0)
    >>> require(2.5, Interval(int, 1, None), "--n")
    Traceback (most recent call last):
    ...
    lenetlab.errors.LenetlabError: --n must be a whole number (got 2.5)
    """
    if isinstance(rule, Interval) and not is_a(value, rule.kind):
        raise LenetlabError.of("error.setting_type", flag=flag, kind=type_words(rule.kind), got=repr(value))
    if not rule(value):
        raise LenetlabError.of("error.setting_must", flag=flag, must=rule, got=repr(value))
    return value


__all__ = ["PLAIN_TYPES", "Constraint", "Interval", "Options", "Rule", "is_a", "require", "type_words"]
