"""The exceptions the command line turns into a one-line message and a non-zero exit status."""

from __future__ import annotations

from .catalogue import localize_number_text, messages


class LenetlabError(Exception):
    """A user mistake or bad input: the message names the problem and the fix (exit status 2).

    ``str(exc)`` is the English message. An error a student is likely to meet also carries a catalogue
    key and its values (:meth:`of`), so that the command line words it in the student's language.

    Examples
    --------
    >>> exc = LenetlabError.of("error.no_checkpoint", path="runs/x")
    >>> str(exc).startswith("no checkpoint at runs/x"), exc.localized("fr").startswith("aucun point de sauvegarde")
    (True, True)
    """

    exit_code = 2
    key: str | None = None
    values: dict[str, object] = {}

    @classmethod
    def of(cls, key: str, /, **values: object) -> LenetlabError:
        """The error whose words are the catalogue's ``key`` (English in ``str``, any language in :meth:`localized`).

        A value may itself be words of the catalogue (:class:`Words`, a setting's rule) or another error
        (the one a message wraps): each is written in the language of the message around it.
        """
        exc = cls(_text("en", key, values))
        exc.key, exc.values = key, values
        return exc

    def localized(self, lang: str) -> str:
        """The message in ``lang`` where the catalogue has it, else the English one."""
        if self.key is None or lang == "en":
            return str(self)
        return _text(lang, self.key, self.values)

    def __reduce__(self) -> tuple:  # a pickled error (a sweep's worker process) keeps its key and values
        return _rebuild, (type(self), self.args, dict(self.__dict__))


class Localized:
    """A value of a message that is written in the message's language (``text(lang)``): words, a number, a rule."""

    def text(self, lang: str) -> str:
        raise NotImplementedError


class Words(Localized):
    """Catalogue words used as the value of a message: ``Words("cli.type.int")`` is « un nombre entier » in French.

    Examples
    --------
    >>> exc = LenetlabError.of("error.setting_type", flag="--epochs", kind=Words("cli.type.int"), got="'x'")
    >>> str(exc), exc.localized("fr")
    ("--epochs must be a whole number (got 'x')", "--epochs doit être un nombre entier (reçu : 'x')")
    """

    def __init__(self, key: str, /, **values: object) -> None:
        self.key, self.values = key, values

    def text(self, lang: str) -> str:
        return _text(lang, self.key, self.values)

    def __repr__(self) -> str:
        return f"Words({self.key!r})"


class Number(Localized):
    """A number as the value of a message, written ``format(value, spec)`` the way of the message's language.

    >>> Number(1234.5, ".1f").text("fr"), Number(-0.25, "g").text("en")
    ('1234,5', '-0.25')
    """

    def __init__(self, value: float, spec: str = "") -> None:
        self.value, self.spec = value, spec

    def text(self, lang: str) -> str:
        return localize_number_text(format(self.value, self.spec), lang)


def _text(lang: str, key: str, values: dict[str, object]) -> str:
    def written(value: object) -> object:
        if isinstance(value, Localized):
            return value.text(lang)
        if isinstance(value, LenetlabError):
            return value.localized(lang)
        return value

    return messages(lang)[key].format(**{name: written(value) for name, value in values.items()})


def _rebuild(cls: type, args: tuple, state: dict) -> LenetlabError:
    exc = cls.__new__(cls)
    exc.args = args
    exc.__dict__.update(state)
    return exc


class ArchitectureError(LenetlabError, ValueError):
    """An architecture that cannot be built (a layer left with no output, a size below 1).

    A ValueError for callers of the models' PyTorch-style constructors, a LenetlabError with catalogue
    words for the command line, which writes it in the student's language.

    Examples
    --------
    >>> exc = ArchitectureError.of("error.size_at_least_one", name="c1_channels", value=0)
    >>> isinstance(exc, ValueError), exc.localized("fr")
    (True, 'c1_channels doit valoir au moins 1 (reçu : 0)')
    """


class TrainingInterrupted(LenetlabError, KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training: the run was saved and can be resumed.

    A KeyboardInterrupt too, so that an in-process caller (a test under pytest, a notebook) stops as
    Ctrl-C asks instead of seeing one more error; the ``lenetlab`` program words it in one line.
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    @classmethod
    def of(cls, key: str, exit_code: int = 130, /, **values: object) -> TrainingInterrupted:  # type: ignore[override]
        exc = cls(_text("en", key, values), exit_code)
        exc.key, exc.values = key, values
        return exc


class DivergedError(LenetlabError):
    """The loss became NaN, infinite or absurdly large: the learning rate is too high."""


class NoDigitError(LenetlabError):
    """An image holds no ink against its background (a blank canvas)."""


class ImageTooLarge(LenetlabError):
    """An image whose header declares more pixels than the caller accepts (checked before decoding)."""
