"""The first commands a new user types: bare ``lenetlab``, ``lenetlab --help`` and every ``--help`` below it.

A ``%`` in a help text once went through argparse's formatting and turned ``lenetlab --help`` into a
traceback; this walks the whole command tree, so a new command or flag cannot do it again.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

import pytest

from lenetlab.cli import build_parser, main


def _commands(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the tree: (), ("train",), ("explore", "filters"), ..."""
    found = [prefix]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*prefix, name))
    return found


COMMANDS = _commands(build_parser())


def test_the_tree_is_walked():
    assert ("train",) in COMMANDS and ("explore", "filters") in COMMANDS and len(COMMANDS) > 15


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "lenetlab")
def test_every_help_prints_usage(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([*command, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    if command[:1] == ("td",):  # the course's pack speaks French unless asked (its --lang default), its help too
        assert out.startswith("utilisation\u202f: lenetlab td") and "options\u202f:" in out
        return
    assert out.startswith(f"usage: lenetlab {' '.join(command)}".rstrip()) and "options:" in out


def test_bare_lenetlab_prints_usage_and_exits_2(capsys):
    assert main([]) == 2
    assert capsys.readouterr().out.startswith("usage: lenetlab")


def test_the_program_itself_prints_help_without_a_traceback():
    for argv in ([], ["--help"]):
        done = subprocess.run([sys.executable, "-m", "lenetlab", *argv], capture_output=True, text=True, timeout=60)
        assert done.returncode == (2 if not argv else 0)
        assert "usage: lenetlab" in done.stdout and "Traceback" not in done.stderr, done.stderr
        assert "99 % validation" in done.stdout  # the speedrun line whose % used to break the formatting


# --- Ctrl-C: the program words it; an in-process caller (this test suite) is stopped by it ----------

def test_ctrl_c_stops_an_in_process_caller_and_the_program_words_it(monkeypatch, capsys):
    from lenetlab import cli
    from lenetlab.errors import LenetlabError, TrainingInterrupted

    def pressed(args):
        raise KeyboardInterrupt

    parser = build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(handler=pressed)
    parser.parse_args = lambda argv=None: argparse.Namespace(command="train", handler=pressed)
    with pytest.raises(KeyboardInterrupt):  # pytest's own Ctrl-C handling must see it, not a failed test
        main(["train"])
    monkeypatch.setattr(sys, "argv", ["lenetlab", "train"])
    assert cli.entry() == 130 and "lenetlab: interrupted" in capsys.readouterr().err
    # training's own interruption carries the resume hint, and is a KeyboardInterrupt too
    saved = TrainingInterrupted("interrupted; continue with: lenetlab train --resume RUN", 143)
    assert isinstance(saved, KeyboardInterrupt) and isinstance(saved, LenetlabError)

    def terminated(args):
        raise saved

    parser.parse_args = lambda argv=None: argparse.Namespace(command="train", handler=terminated)
    assert cli.entry() == 143 and "--resume RUN" in capsys.readouterr().err
