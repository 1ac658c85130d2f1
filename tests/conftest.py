import gzip
import struct
from pathlib import Path

import numpy as np
import pytest

from lenetlab import TrainConfig, load_mnist, train_run


@pytest.fixture(scope="session")
def mnist():
    return load_mnist()


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory):
    """One real epoch of LeNet-5 on the bundled MNIST, report included as `lenetlab train` writes it: a run
    directory the read-only tests share."""
    from lenetlab.report import finish_run

    run_dir = tmp_path_factory.mktemp("runs") / "lenet5"
    train_run(TrainConfig.from_preset("default", epochs=1), run_dir, progress=False, log=None, finish=finish_run)
    return run_dir


def written(folder: Path) -> list[Path]:
    """The files a command wrote in ``folder``, sorted (lenetlab's list of its own files, .lenetlab-files, aside)."""
    from lenetlab._fs import MANIFEST

    return sorted(p for p in Path(folder).iterdir() if p.name != MANIFEST)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array as IDX (synthetic data for unit tests only)."""
    return struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_idx_folder(folder: Path, n_train: int = 60, n_test: int = 20, n_classes: int = 10, gz: bool = True,
                     seed: int = 0) -> Path:
    """A folder of the four IDX files holding random synthetic images, gzipped or raw."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte": (np.arange(n_train) % n_classes).astype(np.uint8),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte": (np.arange(n_test) % n_classes).astype(np.uint8),
    }
    for stem, array in arrays.items():
        raw = idx_bytes(array)
        if gz:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(raw))
        else:
            (folder / stem).write_bytes(raw)
    return folder


# The tests run under an English locale (tests of French ask for it): the checkout's conftest.py sets it,
# for the doctests of src/ too.


# ------------------------------------------------------------------ the unit tier (`pytest -m unit`)
# The edit loop's tests: synthetic data, tiny models, no browser, no child process, no real training.
# Every test that is not slow, long, browser or gpu and uses none of these fixtures is a unit test; a test
# that is heavy without them says so with @pytest.mark.integration. docs/development.md has the timings.
HEAVY_FIXTURES = {"trained_run", "mnist", "small_mnist", "client", "server", "page", "browser", "live_server",
                  "uninterrupted", "small_run", "windowsish", "tmp_run", "tiny_run", "mlp_run", "planted_run"}
# Modules and tests that train or start child processes without those fixtures (measured: 1.5 s or more each).
INTEGRATION = ("test_hostile.py::", "test_hostile_names.py::", "test_layout.py::",
               "test_ownership.py::test_force_replaces_a_run_and_keeps_the_users_files_in_it",
               "test_explore_embeddings.py::test_cli_embeddings_on_tiny_runs",
               "test_cli.py::test_other_dataset_trains_from_data_dir", "test_explore_models.py::test_fcnet_run",
               "test_explore_models.py::test_lenet1_keeps_its_filters", "test_td_notebooks.py::test_build",
               "test_explore_paper.py::test_paper_ablation", "test_explore_sweep.py::test_interrupted_sweep",
               "test_explore_sweep.py::test_shards_then_merge", "test_explore_sweep.py::test_a_variant_without",
               "test_explore_feature_maps.py::test_feature_maps_of_a_users_image",
               "test_explore_filters.py::test_cli_filters", "test_absurd_numbers.py::test_the_largest_learning_rate",
               "test_api.py::test_docstring_examples_run")
NOT_UNIT = {"slow", "long", "browser", "gpu", "integration"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(part in item.nodeid for part in INTEGRATION):
            item.add_marker(pytest.mark.integration)
        if NOT_UNIT.isdisjoint(m.name for m in item.iter_markers()) and HEAVY_FIXTURES.isdisjoint(
                getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.unit)
