"""pytest's setup for the whole checkout: the language tests run in, and the folder the doctests run in.

The doctests of every public docstring in src/lenetlab run with the tests (pyproject's addopts:
``--doctest-modules``; ``testpaths`` holds src/lenetlab). This file is the checkout's root conftest, so
pytest reads it for the doctests of src/ as well as for tests/ (tests/conftest.py is read only for
tests/). An example names what a user would have, relative to where they work: a run directory
(``runs/lenet5``, ``runs/mlp``, or one as ``lenetlab train`` names it, ``runs/lenet5-20261126-101500``),
an image of their own (``my_seven.png``). Every doctest runs in one temporary folder, so what an
example writes (``lenet5.pt``, ``runs/try``) never lands in the checkout; when an example names one of
those files, the folder gets them first (once a session): a LeNet-5 and the course's MLP trained one
epoch on a subset of the bundled MNIST, and ``doctest_namespace`` gets that LeNet-5 as
``trained_model`` with 8 of its test images, as the network's input, as ``images`` and their
``labels``. An example that names neither trains nothing and stays in the unit tier.
"""

from __future__ import annotations

import doctest
import gzip
import os
import re
import shutil
import struct
from pathlib import Path

import numpy as np
import pytest
from _pytest.doctest import DoctestItem

# The language of pages, reports and figures follows the system locale; tests that check English text must
# not depend on the machine's, so they run under an English one (tests of French ask for it).
for _variable in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"

# What a doctest may name that the doctest folder holds: its runs (runs/lenet5, runs/mlp, the dated copy
# runs/lenet5-20261126-101500; not a path that only passes through runs/), the user's image, the model.
NAMES_THE_RUNS = re.compile(r"(?<![\w/])runs/(lenet5|mlp)\b|\bmy_seven\.png\b|\btrained_model\b|\bmnist_small\b")
# Examples that train for real (seconds each): with those above, not in the unit tier (`pytest -m unit`).
TRAINS = re.compile(r"\b(fit|train_run|sweep|run_variants|explore_compare|paper_table)\(")
# Examples that train on the whole of MNIST for tens of seconds (a benchmark, a speedrun): `long`, run by CI.
LONG = re.compile(r"\b(run_bench|speedrun|fixed_budget)\(")
# The subset of the bundled MNIST the doctest runs train on, one epoch in batches of 16 (750 steps): 3.5 s
# for both runs, and test accuracies of 0.93 (LeNet-5) and 0.91 (MLP), every 7 read as a 7 (measured on 2
# CPU cores; the default batch of 128 gives 0.44 on 6,000 images). 2,000 test images: the explorations'
# examples ask for up to that many (explore embeddings, n=2000).
SUBSET = {"train": 12000, "t10k": 2000}
BATCH_SIZE = 16
# The name `lenetlab train` gives a run by default (runs/MODEL-DATE-TIME), as the examples write it.
DATED_RUN = "lenet5-20261126-101500"


def _examples(item: pytest.Item) -> str:
    """The source of ``item``'s examples that run (none with ``+SKIP``), or "" when it is not a doctest."""
    if not isinstance(item, DoctestItem):
        return ""
    return "\n".join(e.source for e in item.dtest.examples if not e.options.get(doctest.SKIP))


@pytest.hookimpl(tryfirst=True)  # before tests/conftest.py's hook gives the unit marker
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        source = _examples(item)
        if NAMES_THE_RUNS.search(source) or TRAINS.search(source):
            item.add_marker(pytest.mark.integration)
        if LONG.search(source):
            item.add_marker(pytest.mark.long)


def _idx(array: np.ndarray) -> bytes:
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


@pytest.fixture(scope="session")
def doctest_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The folder every doctest runs in: empty until an example names one of its trained runs."""
    return tmp_path_factory.mktemp("doctest")


@pytest.fixture(scope="session")
def doctest_runs(doctest_folder: Path, doctest_namespace: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``doctest_folder`` with runs/lenet5, runs/mlp, runs/lenet5-20261126-101500 (a copy of runs/lenet5)
    and my_seven.png (a test image of a 7), each run trained one epoch on 12,000 images of the bundled MNIST."""
    from PIL import Image

    from lenetlab import TrainConfig, load_checkpoint, load_mnist, train_run
    from lenetlab.data import bundled_data_dir, read_idx

    data_dir = doctest_folder / "mnist_small"  # examples that train name it: data_dir="mnist_small"
    data_dir.mkdir()
    for stem in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                 "t10k-labels-idx1-ubyte"):
        array = read_idx(bundled_data_dir() / f"{stem}.gz")[:SUBSET[stem.split("-")[0]]]
        (data_dir / f"{stem}.gz").write_bytes(gzip.compress(_idx(array), compresslevel=1))
    runs = doctest_folder / "runs"
    for model in ("lenet5", "mlp"):
        config = TrainConfig.from_preset("default", model=model, epochs=1, batch_size=BATCH_SIZE,
                                         data_dir=str(data_dir), keep_filters=model == "lenet5")
        train_run(config, runs / model, progress=False, log=None, figures=False)
    shutil.copytree(runs / "lenet5", runs / DATED_RUN)
    test = load_mnist(data_dir).test
    seven = int((test.labels == 7).nonzero()[0, 0])
    Image.fromarray(test.images[seven].numpy()).save(doctest_folder / "my_seven.png")
    doctest_namespace.update(trained_model=load_checkpoint(runs / "lenet5")[0], images=test.as_float(0, 8),
                             labels=test.labels[:8])
    return doctest_folder


@pytest.fixture(autouse=True)
def _doctests_run_in_the_doctest_folder(request: pytest.FixtureRequest) -> None:
    """A doctest runs in ``doctest_folder``, with the trained runs there when its examples name them."""
    if not isinstance(request.node, DoctestItem):
        return
    folder = request.getfixturevalue("doctest_runs" if NAMES_THE_RUNS.search(_examples(request.node))
                                     else "doctest_folder")
    request.getfixturevalue("monkeypatch").chdir(folder)
