import gzip
import os
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
    """One real epoch of LeNet-5 on the bundled MNIST: a run directory the read-only tests share."""
    run_dir = tmp_path_factory.mktemp("runs") / "lenet5"
    train_run(TrainConfig.from_preset("default", epochs=1), run_dir, progress=False, log=None)
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


# The language of pages, reports and figures follows the system locale; tests that check English text must
# not depend on the machine's, so they run under an English one (tests of French ask for it).
for _variable in ("LC_ALL", "LC_MESSAGES"):
    os.environ.pop(_variable, None)
os.environ["LANG"] = "C.UTF-8"
