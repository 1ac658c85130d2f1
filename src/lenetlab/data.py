"""MNIST-style data: a checked IDX reader, the bundled MNIST, a seeded split, batches, preprocessing.

The whole split lives in memory as uint8 tensors (47 MB for MNIST) and batches are drawn by
indexing, converted to float per batch. That is what makes training fast: the course notebook
converts one PIL image per sample instead.
"""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .errors import LenetlabError
from .registry import MAX_CLASSES

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

# sha256 of the *uncompressed* IDX bytes of the bundled files, written by scripts/vendor_mnist.py.
# Hashing the content rather than the .gz makes the check independent of gzip settings.
MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

# Pixel statistics of the 60,000 MNIST training images (the values every reference uses).
MNIST_MEAN, MNIST_STD = 0.1307, 0.3081

DIGITS = tuple(str(d) for d in range(10))
_KNOWN_CLASS_NAMES = {
    "fashion": ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"),
    "kmnist": ("o", "ki", "su", "tsu", "na", "ha", "ma", "ya", "re", "wo"),
}

_IDX_DTYPES = {0x08: np.uint8}
# MAX_CLASSES (from the registry: a model's bound too) refuses a damaged labels file
_MAX_IDX_ELEMENTS = 200_000_000  # 200 MB of uint8: far above any MNIST-like file, refuses absurd headers.
# Each image also costs an int64 label, its place in a shuffle and its copies: 200 million 1x1 "images"
# under the element cap once took 8.7 GB. EMNIST's largest split has 814,255 images.
_MAX_IDX_ITEMS = 5_000_000


def bundled_data_dir() -> Path:
    """The folder holding the four MNIST IDX files shipped inside the package."""
    return Path(str(resources.files("lenetlab") / "datasets" / "mnist"))


def read_idx(path: str | Path, expected_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file (gzipped or not) into a NumPy array, checking its header first.

    Truncated files, wrong magic numbers, unsupported element types and absurd dimensions
    raise :class:`LenetlabError` before anything large is allocated: a gzipped file is
    decompressed as a stream, never beyond what its header declares.

    Examples
    --------
    >>> labels = read_idx(bundled_data_dir() / "t10k-labels-idx1-ubyte.gz")
    >>> labels.shape
    (10000,)
    """
    path = Path(path)
    return parse_idx(read_idx_bytes(path, expected_ndim), name=str(path), expected_ndim=expected_ndim)


_HINT = "re-download the data set or point --data-dir at a folder of valid IDX files"


def _idx_header(head: bytes, name: str, expected_ndim: int | None) -> tuple[tuple[int, ...], int, int]:
    """Check an IDX header; returns (shape, element count, header length). Nothing large is allocated."""
    if len(head) < 4:
        raise LenetlabError(f"{name} is not an IDX file (only {len(head)} bytes); {_HINT}")
    zero1, zero2, dtype_code, ndim = head[0], head[1], head[2], head[3]
    if zero1 != 0 or zero2 != 0 or dtype_code not in _IDX_DTYPES or not 1 <= ndim <= 4:
        raise LenetlabError(f"{name} has a wrong IDX magic number 0x{head[:4].hex()}; {_HINT}")
    if expected_ndim is not None and ndim != expected_ndim:
        raise LenetlabError(f"{name} holds a {ndim}-d array where {expected_ndim}-d was expected; {_HINT}")
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise LenetlabError(f"{name} is truncated inside its IDX header; {_HINT}")
    shape = struct.unpack(f">{ndim}I", head[4:header_len])
    count = 1
    for dim in shape:
        count *= dim
    if count > _MAX_IDX_ELEMENTS or (ndim > 1 and any(d > 65536 for d in shape[1:])):
        raise LenetlabError(f"{name} declares an absurd shape {shape}; {_HINT}")
    if shape[0] > _MAX_IDX_ITEMS:
        raise LenetlabError(f"{name} declares {shape[0]:,} items, more than the {_MAX_IDX_ITEMS:,} lenetlab reads "
                            f"from one file; {_HINT}")
    return shape, count, header_len


def parse_idx(raw: bytes, name: str = "<bytes>", expected_ndim: int | None = None) -> np.ndarray:
    """Parse the bytes of an uncompressed IDX file; see :func:`read_idx`."""
    shape, count, header_len = _idx_header(raw[:20], name, expected_ndim)
    if len(raw) - header_len != count:
        what = "truncated" if len(raw) - header_len < count else "longer than its header says"
        raise LenetlabError(
            f"{name} is {what}: header says {shape} ({count} bytes), file holds {len(raw) - header_len}; {_HINT}"
        )
    return np.frombuffer(raw, dtype=np.uint8, count=count, offset=header_len).reshape(shape)


def read_idx_bytes(path: Path, expected_ndim: int | None = None) -> bytes:
    """The uncompressed bytes of an IDX file, gzipped or not, read no further than its header allows.

    The header is checked first; then at most one byte more than it declares is read, enough for
    :func:`parse_idx` to say the file is longer than its header, so a small file that inflates to
    gigabytes costs nothing.
    """
    gzipped = False
    try:
        with open(path, "rb") as f:
            gzipped = f.read(2) == b"\x1f\x8b"
        with (gzip.open(path, "rb") if gzipped else open(path, "rb")) as stream:
            head = stream.read(4)
            if len(head) == 4:
                head += stream.read(4 * head[3] if 1 <= head[3] <= 4 else 0)
            _, count, _ = _idx_header(head, str(path), expected_ndim)
            return head + stream.read(count + 1)
    except LenetlabError:
        raise
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise LenetlabError.of("error.damaged_gzip", path=path, reason=exc.__class__.__name__) from None
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        if gzipped:
            raise LenetlabError.of("error.damaged_gzip", path=path, reason=reason) from None
        raise LenetlabError(f"cannot read {path}: {reason}; check the file exists and is readable") from None


def _find_idx(data_dir: Path, stem: str) -> Path:
    for candidate in (data_dir / f"{stem}.gz", data_dir / stem):
        if candidate.is_file():
            return candidate
    # torchvision also accepts the dotted spelling some mirrors use.
    dotted = stem.replace("-idx", ".idx")
    for candidate in (data_dir / f"{dotted}.gz", data_dir / dotted):
        if candidate.is_file():
            return candidate
    expected = ", ".join(f"{s}[.gz]" for s in IDX_FILES.values())
    raise LenetlabError.of("error.data_missing_file", folder=data_dir, stem=stem, expected=expected)


@dataclass(frozen=True)
class ImageSet:
    """Images as uint8 tensors (N, 28, 28) and their int64 labels, in memory.

    Examples
    --------
    >>> test = load_mnist().test
    >>> test.images.dtype, test.as_float(0, 2).shape
    (torch.uint8, torch.Size([2, 1, 28, 28]))
    """

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.labels.shape[0])

    def to(self, device: torch.device | str) -> ImageSet:
        return ImageSet(self.images.to(device), self.labels.to(device))

    def as_float(self, start: int = 0, stop: int | None = None) -> torch.Tensor:
        """Images[start:stop] as float (N, 1, H, W) in [0, 1], the network's input."""
        return to_input(self.images[start:stop])


@dataclass(frozen=True)
class MNISTData:
    """A data set split the notebook's way: train / valid from the 60,000, test held out.

    Examples
    --------
    >>> data = load_mnist()
    >>> data.n_classes, data.source
    (10, 'bundled MNIST')
    """

    train: ImageSet
    valid: ImageSet
    test: ImageSet
    class_names: tuple[str, ...]
    sha256: dict[str, str]
    source: str

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def train_on_all(self) -> MNISTData:
        """Train on every training image (the 1998 paper's way); ``valid`` stays, now a sample of the training images.

        Examples
        --------
        >>> data = load_mnist().train_on_all()
        >>> len(data.train), len(data.valid)
        (60000, 12000)
        """
        train = ImageSet(torch.cat([self.train.images, self.valid.images]), torch.cat([self.train.labels, self.valid.labels]))
        return dataclasses.replace(self, train=train)


def to_input(images_uint8: torch.Tensor) -> torch.Tensor:
    """uint8 (N, H, W) -> float32 (N, 1, H, W) in [0, 1], as the notebook's ToTensor()."""
    return images_uint8.unsqueeze(1).to(torch.float32).div_(255.0)


def load_idx_folder(data_dir: str | Path | None = None) -> tuple[ImageSet, ImageSet, dict[str, str], str]:
    """Read and check the four IDX files of a folder (the bundled MNIST when ``None``)."""
    bundled = data_dir is None
    folder = bundled_data_dir() if bundled else Path(data_dir).expanduser()
    if not folder.is_dir():
        raise LenetlabError.of("error.data_not_folder", folder=folder)
    arrays, digests = {}, {}
    for key, stem in IDX_FILES.items():
        path = _find_idx(folder, stem)
        raw = read_idx_bytes(path, expected_ndim=3 if key.endswith("images") else 1)
        digests[stem] = hashlib.sha256(raw).hexdigest()
        if bundled and digests[stem] != MNIST_SHA256[stem]:
            raise LenetlabError(
                f"bundled {path.name} fails its sha256 check (got {digests[stem][:12]}…); "
                "reinstall lenetlab or rebuild the data with scripts/vendor_mnist.py"
            )
        arrays[key] = parse_idx(raw, name=str(path), expected_ndim=3 if key.endswith("images") else 1)
    for part in ("train", "test"):
        n_img, n_lab = arrays[f"{part}_images"].shape[0], arrays[f"{part}_labels"].shape[0]
        if n_img != n_lab:
            raise LenetlabError(
                f"{folder}: {part} images ({n_img}) and labels ({n_lab}) differ in count; the files do not belong together"
            )
        if n_img == 0:
            raise LenetlabError(f"{folder}: the {part} files hold no images; give a data set with {part} images")
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise LenetlabError(f"{folder}: train and test images differ in size; the files do not belong together")
    train = ImageSet(torch.from_numpy(arrays["train_images"].copy()), torch.from_numpy(arrays["train_labels"].astype(np.int64)))
    test = ImageSet(torch.from_numpy(arrays["test_images"].copy()), torch.from_numpy(arrays["test_labels"].astype(np.int64)))
    return train, test, digests, "bundled MNIST" if bundled else str(folder.resolve())


def class_names_for(folder: Path | None, n_classes: int) -> tuple[str, ...]:
    """Class names: a ``classes.txt`` beside the data, a known data set by folder name, else digits."""
    if folder is not None:
        listed = folder / "classes.txt"
        if listed.is_file():
            names = tuple(line.strip() for line in listed.read_text(encoding="utf-8").splitlines() if line.strip())
            if len(names) >= n_classes:
                return names[:n_classes] if len(names) > n_classes else names
        lowered = str(folder.resolve()).lower()
        for key, names in _KNOWN_CLASS_NAMES.items():
            if key in lowered and len(names) >= n_classes:
                return names
    return tuple(str(i) for i in range(n_classes))


def split_train_valid(train: ImageSet, valid_fraction: float = 0.2, seed: int = 0) -> tuple[ImageSet, ImageSet]:
    """A seeded random split of the training images, as the notebook's ``random_split``."""
    if not 0.0 <= valid_fraction < 1.0:
        raise LenetlabError.of("error.valid_fraction_range", value=valid_fraction)
    n = len(train)
    n_valid = int(round(n * valid_fraction))
    if n - n_valid < 1 or (valid_fraction > 0 and n_valid < 1):
        raise LenetlabError(f"--valid-fraction {valid_fraction} of {n:,} training images leaves {n - n_valid:,} to train "
                            f"on and {n_valid:,} to validate; each needs at least one: use for example 0.2")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    valid_idx, train_idx = order[:n_valid].sort().values, order[n_valid:].sort().values
    return (
        ImageSet(train.images[train_idx], train.labels[train_idx]),
        ImageSet(train.images[valid_idx], train.labels[valid_idx]),
    )


def load_mnist(data_dir: str | Path | None = None, valid_fraction: float = 0.2, seed: int = 0) -> MNISTData:
    """Load MNIST (bundled, checksum-verified) or any folder of the four MNIST-format IDX files.

    Returns train / valid (a seeded split of the 60,000 training images) and the 10,000 test
    images, all as in-memory uint8 tensors.

    Examples
    --------
    >>> data = load_mnist()
    >>> len(data.train), len(data.valid), len(data.test)
    (48000, 12000, 10000)
    >>> data.class_names[:3]
    ('0', '1', '2')
    """
    train_all, test, digests, source = load_idx_folder(data_dir)
    n_classes = int(max(train_all.labels.max(), test.labels.max())) + 1
    if n_classes > MAX_CLASSES:
        raise LenetlabError(f"{source}: labels go up to {n_classes - 1}, more than {MAX_CLASSES} classes; "
                            "the labels file is damaged or is not an MNIST-style labels file")
    train, valid = split_train_valid(train_all, valid_fraction, seed)
    folder = None if data_dir is None else Path(data_dir).expanduser()
    return MNISTData(train, valid, test, class_names_for(folder, max(n_classes, 2)), digests, source)


def iterate_batches(
    images: torch.Tensor, labels: torch.Tensor, batch_size: int
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield (float inputs, labels) batches in order by slicing in-memory tensors, on their device.

    (Training draws its shuffled batches by indexing in ``training.fit``, augmentation included.)
    """
    for start in range(0, labels.shape[0], batch_size):
        yield to_input(images[start : start + batch_size]), labels[start : start + batch_size]
