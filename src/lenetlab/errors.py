"""The exceptions the command line turns into a one-line message and a non-zero exit status."""


class LenetlabError(Exception):
    """A user mistake or bad input: the message names the problem and the fix (exit status 2)."""

    exit_code = 2


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
