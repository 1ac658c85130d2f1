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
from ._parser import Parser


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
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status. User mistakes are one line on stderr, never a traceback.

    Ctrl-C is not swallowed here: an in-process caller (pytest, a notebook) stops as asked, and the
    ``lenetlab`` program (:func:`entry`) turns it into one line and exit status 130.
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return args.handler(args)
    except KeyboardInterrupt:
        raise
    except LenetlabError as exc:
        print(f"lenetlab: error: {exc}", file=sys.stderr)
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
        if isinstance(exc, LenetlabError):  # training saved its last epoch: the message says how to resume
            print(f"lenetlab: error: {exc}", file=sys.stderr)
            return exc.exit_code
        print("\nlenetlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(entry())
