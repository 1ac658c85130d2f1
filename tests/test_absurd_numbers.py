"""Absurd numbers on the command line are refused at once: exit 2, one line, nothing written (issue: data loss).

The attack round found ``--threads 100000`` crashing PyTorch (rc 139), and a huge seed, ``--lr 1e308`` and
``--valid-fraction 0.999999`` ending in tracebacks with a config.json and a "training" progress.json left
behind. Each bound is declared with its setting (TrainConfig, or the --threads type) and so holds for
every command that takes it.
"""

from __future__ import annotations

import os

import pytest

from conftest import write_idx_folder
from lenetlab.cli import main


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_idx_folder(tmp_path_factory.mktemp("data"), n_train=100, n_test=20)


@pytest.mark.parametrize("flags, fragment", [
    (["--threads", "100000"], "give 1 to"),
    (["--threads", "0"], "give 1 to"),
    (["--seed", "18446744073709551616"], "--seed must be a whole number from 0 to 4294967295"),
    (["--seed", "-1"], "--seed must be"),
    (["--lr", "1e308"], "--lr must be a positive number, at most 1000"),
    (["--lr", "nan"], "--lr must be"),
    (["--lr", "inf"], "--lr must be"),
    (["--valid-fraction", "0.999999"], "leaves 0 to train on"),
    (["--valid-fraction", "0.001"], "to validate; each needs at least one"),
], ids=lambda v: " ".join(v) if isinstance(v, list) else None)
def test_train_refuses_before_writing(data, tmp_path, capsys, flags, fragment):
    out = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--model", "linear", "--epochs", "1", "--out", str(out),
                 "--no-progress", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err
    assert not out.exists()


@pytest.mark.parametrize("command", [["explore", "compare", "--epochs", "1"], ["speedrun", "--seeds", "1"]])
def test_threads_are_bounded_for_every_command_that_takes_them(command, capsys):
    assert main([*command, "--threads", str(4 * (os.cpu_count() or 1) + 1)]) == 2
    assert "give 1 to" in capsys.readouterr().err


def test_the_largest_learning_rate_allowed_ends_in_one_line_not_a_traceback(data, tmp_path, capsys):
    """--lr 1000 trains the linear model on one batch (its loss is finite) or stops as diverged, in one line."""
    code = main(["train", "--data-dir", str(data), "--model", "linear", "--epochs", "2", "--lr", "1000",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 0 or (code == 2 and err.count("\n") == 1 and "--lr" in err), (code, err)


def test_speedrun_refuses_an_optimizer_the_fast_path_lacks_instead_of_using_adam(capsys):
    assert main(["speedrun", "--optimizer", "sdlm", "--seeds", "1", "--device", "cpu"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not --optimizer sdlm" in err and "lenetlab train --optimizer sdlm" in err
