"""The ``lenetlab`` command line: argument parsing only, each command a thin layer over the Python API.

One module per family of commands (``train``, ``explore``, ``pages``, ``bench``), one convention
(``_parser.add_command``), and the training flags generated from ``TrainConfig``'s fields. Building
the parser imports neither PyTorch nor matplotlib: ``lenetlab --help`` answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from ..errors import LenetlabError
from . import bench, course, explore, pages, train
from ._help import localize_help
from ._parser import Parser, add_lang_flag


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__

    parser = Parser(prog="lenetlab", description="Train LeNet-5 and the MLP of the course notebook on real MNIST, "
                    "offline, and look inside what they learned.",
                    epilog="examples:\n  lenetlab train\n  lenetlab evaluate runs/lenet5-20261126-101500\n"
                           "  lenetlab report runs/lenet5-20261126-101500 --open\n  lenetlab COMMAND --help",
                    formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"lenetlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    for module in (train, pages, explore, bench, course):
        module.register(sub)
    _every_command_speaks(parser)
    return parser


def _every_command_speaks(parser: argparse.ArgumentParser) -> None:
    """``--lang fr|en`` on every command (and subcommand) that does not define its own."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command in action.choices.values():
                if "--lang" not in command._option_string_actions:
                    add_lang_flag(command)
                _every_command_speaks(command)


def _language(args: argparse.Namespace | None, argv: Sequence[str] | None = None) -> str:
    """The language of a command's words: its --lang (read from argv when parsing failed), else the system's."""
    from ..i18n import LANGS, default_lang

    lang = getattr(args, "lang", None)
    if args is None:
        words = list(sys.argv[1:] if argv is None else argv)
        if words[:1] == ["td"]:  # the course's pack speaks French unless asked (its --lang default)
            lang = "fr"
        for i, word in enumerate(words):
            if word == "--lang" and i + 1 < len(words):
                lang = words[i + 1]
            elif word.startswith("--lang="):
                lang = word.partition("=")[2]
    return lang if lang in LANGS else default_lang()


def _say_error(exc: LenetlabError, lang: str) -> None:
    from ..i18n import t

    print(t(lang, "cli.error", message=exc.localized(lang)), file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status. User mistakes are one line on stderr, never a traceback.

    Ctrl-C is not swallowed here: an in-process caller (pytest, a notebook) stops as asked, and the
    ``lenetlab`` program (:func:`entry`) turns it into one line and exit status 130.
    """
    parser = localize_help(build_parser(), _language(None, argv))  # --help in the words of the other output
    args = None
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except KeyboardInterrupt:
        raise
    except LenetlabError as exc:
        _say_error(exc, _language(args, argv))
        return exc.exit_code
    except BrokenPipeError:  # `lenetlab evaluate --json | head`: the reader left; nothing is wrong
        # Point stdout at /dev/null so that Python's flush at exit does not complain a second time.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def entry() -> int:
    """The ``lenetlab`` program: :func:`main`, with Ctrl-C (or SIGTERM in training) as one line."""
    try:
        return main()
    except KeyboardInterrupt as exc:
        from ..i18n import t

        if isinstance(exc, LenetlabError):  # training saved its last epoch: the message says how to resume
            _say_error(exc, _language(None))
            return exc.exit_code
        print("\n" + t(_language(None), "cli.interrupted"), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(entry())
