"""The public API is small, documented, and its examples run (issue: the notebook on the Python API).

The examples run as doctests with the tests (pyproject: ``--doctest-modules`` over src/lenetlab, in the
folder the checkout's conftest.py prepares); here, that every public name has one and none is skipped.
"""

import inspect

import pytest

import lenetlab


@pytest.mark.parametrize("name", [n for n in lenetlab.__all__ if n not in ("MODELS", "LenetlabError")])
def test_every_public_name_has_an_example_that_runs(name):
    doc = inspect.getdoc(getattr(lenetlab, name)) or ""
    assert ">>>" in doc, f"help(lenetlab.{name}) shows no example"
    assert "+SKIP" not in doc, f"help(lenetlab.{name})'s example is skipped: --doctest-modules never runs it"
