"""The public API is small, documented, and its examples run (issue: the notebook on the Python API)."""

import doctest
import inspect

import pytest

import lenetlab
from lenetlab import data, models, preprocess, training


@pytest.mark.parametrize("name", [n for n in lenetlab.__all__ if n not in ("MODELS", "LenetlabError")])
def test_every_public_name_has_an_example(name):
    doc = inspect.getdoc(getattr(lenetlab, name)) or ""
    assert ">>>" in doc, f"help(lenetlab.{name}) shows no example"


@pytest.mark.parametrize("module", [data, models, preprocess, training])
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0
