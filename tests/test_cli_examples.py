"""Every example a ``--help`` prints is a command that works.

All 75 (or however many the help texts hold) go through the command line's own parser: a renamed flag or a
removed choice breaks an example here, not in a student's terminal. The examples that read a run (evaluate,
predict, report, export in both formats, the page that trains and the way back, the explorations of one run)
then run for real, as printed, in a folder holding the runs they name (one epoch of LeNet-5) and ``my_digit.png``.
Training, sweeps, the paper's table, bench, speedrun, the class pack and serve are only parsed here: their own
tests run them at a tiny size.
"""

from __future__ import annotations

import argparse
import json
import re
import shlex
import shutil

import pytest
from PIL import Image

from lenetlab import load_checkpoint
from lenetlab.cli import build_parser, main
from lenetlab.graph import model_graph


def _parsers(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    yield prefix, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _parsers(sub, (*prefix, name))


def examples() -> list[str]:
    """Each command line of every help's examples (``a && b`` is two), without its comment."""
    found = []
    for _, parser in _parsers(build_parser()):
        for line in (parser.epilog or "").splitlines():
            match = re.match(r"\s+(lenetlab\s.*?)(\s+#.*)?$", line)
            if match and "COMMAND" not in match.group(1):
                found += [part.strip() for part in match.group(1).split("&&")]
    return list(dict.fromkeys(found))


EXAMPLES = examples()
# The examples run for real below: cheap, and reading only the runs the folder holds.
RUN_FOR_REAL = re.compile(r"^lenetlab (evaluate|predict|report|export|lab|import|explore (params|filters runs/lenet5$|"
                          r"filters runs/page|feature-maps))")


def argv_of(example: str) -> list[str]:
    return shlex.split(example.replace("$SLURM_ARRAY_TASK_ID", "0"))[1:]


def test_the_examples_are_found():
    assert len(EXAMPLES) > 60 and "lenetlab train --preset seed" in EXAMPLES


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_parses(example):
    build_parser().parse_args(argv_of(example))  # argparse exits (status 2) on a flag or value it does not know


@pytest.mark.long  # about 40 s: CI runs it right after the README's command
def test_the_examples_that_read_a_run_work_as_printed(trained_run, mnist, tmp_path, monkeypatch, capsys):
    for name in ("lenet5-20261126-101500", "lenet5"):
        shutil.copytree(trained_run, tmp_path / "runs" / name)
    Image.fromarray(mnist.test.images[0].numpy()).save(tmp_path / "my_digit.png")
    model, _ = load_checkpoint(trained_run / "best.pt")
    (tmp_path / "lenetlab-lenet5-A.json").write_text(json.dumps(model_graph(model, "lenet5")))  # as the page saves
    monkeypatch.chdir(tmp_path)
    ran = []
    for example in EXAMPLES:
        argv = argv_of(example)
        if not RUN_FOR_REAL.match(example) or "--open" in argv or any(a.endswith((".jpg", "photo2.png")) for a in argv):
            continue
        assert main(argv) == 0, (example, capsys.readouterr().err)
        ran.append(example)
    assert len(ran) >= 15, ran
    assert {"lenetlab import lenetlab-lenet5-A.json --out runs/page-lenet5",
            "lenetlab explore filters runs/page-lenet5"} <= set(ran)
