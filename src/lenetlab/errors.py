"""The exceptions the command line turns into a one-line message and a non-zero exit status."""

from __future__ import annotations


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
    def of(cls, key: str, **values: object) -> LenetlabError:
        """The error whose words are the catalogue's ``key`` (English in ``str``, any language in :meth:`localized`)."""
        from .i18n import t

        exc = cls(t("en", key, **values))
        exc.key, exc.values = key, values
        return exc

    def localized(self, lang: str) -> str:
        """The message in ``lang`` where the catalogue has it, else the English one."""
        if self.key is None or lang == "en":
            return str(self)
        from .i18n import t

        return t(lang, self.key, **self.values)


class TrainingInterrupted(LenetlabError, KeyboardInterrupt):
    """Ctrl-C or SIGTERM during training: the run was saved and can be resumed.

    A KeyboardInterrupt too, so that an in-process caller (a test under pytest, a notebook) stops as
    Ctrl-C asks instead of seeing one more error; the ``lenetlab`` program words it in one line.
    """

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class DivergedError(LenetlabError):
    """The loss became NaN, infinite or absurdly large: the learning rate is too high."""


class NoDigitError(LenetlabError):
    """An image holds no ink against its background (a blank canvas)."""


class ImageTooLarge(LenetlabError):
    """An image whose header declares more pixels than the caller accepts (checked before decoding)."""
