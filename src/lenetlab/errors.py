"""The one exception type the command line turns into a one-line message and exit status 2."""


class LenetlabError(Exception):
    """A user mistake or bad input: the message names the problem and the fix."""
