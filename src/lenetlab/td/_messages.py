"""What the TD's checks say and how: their words (the ``td.*`` keys of i18n/fr.td.json and en.td.json), the verdict.

A check's verdict is a :class:`CheckResult`; :func:`verdict` runs a check quietly, prints its one line,
records it in :data:`results` and in ``LENETLAB_TD_LOG``; :func:`call` runs the student's code and turns
any exception into the hint for it.

The French words are written with plain spaces; :func:`tr` puts the narrow no-break space (U+202F)
where French typography wants one (before ``: ; ? !``, inside « »). Numbers are formatted by the
caller with :func:`num` (``61 706``, ``0,25``), so every placeholder arrives as text.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import io
import json
import numbers
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from ..i18n import NARROW_NBSP, messages, number, percent

LANGS = ("fr", "en")
_state = {"lang": "fr"}

FORMULA = "⌊(n + 2p − k)/s⌋ + 1"  # every message's {formula}

_FRENCH_SPACES = re.compile(r" ([:;?!»])|(«) ")


def set_language(lang: str) -> None:
    """Choose the language of the checks' messages, ``"fr"`` (the default) or ``"en"``.

    >>> set_language("en"); language()
    'en'
    >>> set_language("fr")
    """
    if lang not in LANGS:
        raise ValueError(f"unknown language {lang!r}: choose 'fr' or 'en'")
    _state["lang"] = lang


def language() -> str:
    """The language the checks speak now."""
    return _state["lang"]


def _french(template: str) -> str:
    """Plain spaces before ``: ; ? ! »`` and after ``«`` become narrow no-break spaces (outside `code`)."""
    parts = template.split("`")
    parts[::2] = [_FRENCH_SPACES.sub(lambda m: f"{NARROW_NBSP}{m[1]}" if m[1] else f"{m[2]}{NARROW_NBSP}", p)
                  for p in parts[::2]]
    return "`".join(parts)


def tr(key: str, **values: object) -> str:
    """The message ``key`` in the current language, its placeholders filled.

    >>> tr("count_ok", name="LeNet-5", count=num(61706)) == "LeNet-5 compte bien 61\\u202f706 paramètres."
    True
    """
    template = messages(_state["lang"])[f"td.{key}"]
    if _state["lang"] == "fr":
        template = _french(template)
    return template.format(formula=FORMULA, **values)


def num(value: float, digits: int = 0) -> str:
    """A number in the current language (``61 706`` / ``61,706``; ``0,25`` / ``0.25``)."""
    return number(value, _state["lang"], digits)


def pct(value: float) -> str:
    """A percentage given in percent (``99.3`` -> ``99,3 %`` / ``99.3 %``)."""
    return percent(value / 100, _state["lang"], 1)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: truthy when it passed; ``message`` is the line that was printed."""

    name: str
    passed: bool
    message: str

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Show nothing in a notebook: the check has already printed its message."""


results: list[CheckResult] = []
MISMATCH = re.compile(r"mat1 and mat2 shapes cannot be multiplied \((\d+)x(\d+) and (\d+)x(\d+)\)")


class Fail(Exception):
    """The check stops here; the exception's text is the message for the student."""


def short(exc: BaseException) -> str:
    """``TypeError: the first line of its message``, at most 200 characters."""
    first = (str(exc).strip().splitlines() or [""])[0]
    return f"{type(exc).__name__}: {first}"[:200].rstrip(": ")


def brief(obj: Any) -> str:
    """The ``repr`` of what the student gave, cut to 40 characters, as code."""
    text = repr(obj)
    return f"`{text if len(text) <= 40 else text[:37] + '...'}`"


def verdict(fn: Callable[..., str]) -> Callable[..., CheckResult]:
    """Run a check quietly (the student's prints and warnings hidden, torch's random state kept), print its verdict."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> CheckResult:
        threads = torch.get_num_threads()
        try:
            torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and steady on a busy machine
            with (contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()),
                  warnings.catch_warnings(), torch.random.fork_rng(devices=[]), torch.enable_grad()):
                warnings.simplefilter("ignore")
                torch.manual_seed(0)
                passed, message = True, "✅ " + tr("ok", text=fn(*args, **kwargs))
        except Fail as fail:
            passed, message = False, f"❌ {fail}"
        except (Exception, SystemExit) as exc:  # a check never raises
            passed, message = False, "❌ " + tr("internal", error=short(exc))
        finally:
            torch.set_num_threads(threads)
        result = CheckResult(fn.__name__, passed, message)
        results.append(result)
        print(message)
        log = os.environ.get("LENETLAB_TD_LOG")
        if log:
            with contextlib.suppress(OSError), open(log, "a", encoding="utf-8") as f:
                f.write(json.dumps({"check": result.name, "passed": passed, "message": message}, ensure_ascii=False) + "\n")
        return result

    wrapper.__signature__ = inspect.signature(fn).replace(return_annotation="CheckResult")  # type: ignore[attr-defined]
    return wrapper


def _explain(exc: BaseException, name: str) -> str:
    """The hint for an exception raised by the student's code."""
    text = str(exc)
    if isinstance(exc, AttributeError) and "Inf" in text:
        return tr("np_inf")
    if "before Module.__init__()" in text:
        return tr("super_init", name=name)
    if "same device" in text:
        return tr("device")
    if "does not require grad" in text:
        return tr("eval_backward" if name == "evaluate" else "train_no_grad")
    if m := MISMATCH.search(text):
        return tr("mismatch", name=name, expected=num(int(m[3])), got=num(int(m[2])))
    return tr("crashed", name=name, error=short(exc))


def call(name: str, fn: Callable[..., Any], *args: Any, explain: Callable[[Exception], str | None] | None = None) -> Any:
    """Call the student's code; an exception becomes the matching hint."""
    try:
        return fn(*args)
    except Fail:
        raise
    except NotImplementedError:
        raise Fail(tr("not_written", name=name)) from None
    except (Exception, SystemExit) as exc:
        raise Fail((explain(exc) if explain and isinstance(exc, Exception) else None) or _explain(exc, name)) from None


def student(fn: Any, name: str, expected: str, n_args: int) -> Callable[..., Any]:
    """The student's function, once it is known to exist and to take ``n_args`` arguments."""
    if fn is None or fn is Ellipsis:
        raise Fail(tr("not_written", name=name))
    if not callable(fn):
        raise Fail(tr("not_callable", name=name, got=brief(fn)))
    try:
        inspect.signature(fn).bind(*range(n_args))
    except TypeError:
        raise Fail(tr("signature", name=name, expected=expected)) from None
    except ValueError:
        pass
    return fn


def as_float(value: Any, name: str) -> float:
    """The number a student's function returned; None, a tensor or anything else gets its hint."""
    if value is None:
        raise Fail(tr("returns_none", name=name))
    if isinstance(value, torch.Tensor):
        raise Fail(tr("tensor_not_float", name=name))
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise Fail(tr("not_a_number", name=name, got=brief(value)))
    return float(value)
