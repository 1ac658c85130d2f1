import gzip

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import idx_bytes, write_idx_folder
from lenetlab import LenetlabError, load_mnist, read_idx
from lenetlab.data import bundled_data_dir, iterate_batches, parse_idx, split_train_valid


def test_bundled_mnist_matches_published_statistics(mnist):
    full_train = torch.cat([mnist.train.labels, mnist.valid.labels])
    assert torch.bincount(full_train).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert torch.bincount(mnist.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    raw_labels = read_idx(bundled_data_dir() / "train-labels-idx1-ubyte.gz")
    assert raw_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    raw_images = read_idx(bundled_data_dir() / "train-images-idx3-ubyte.gz") / 255.0
    assert round(float(raw_images.mean()), 4) == 0.1307
    assert round(float(raw_images.std()), 4) == 0.3081
    assert mnist.class_names == tuple("0123456789")
    assert mnist.source == "bundled MNIST"


def test_split_is_seeded_disjoint_and_80_20(mnist):
    assert (len(mnist.train), len(mnist.valid), len(mnist.test)) == (48000, 12000, 10000)
    again = load_mnist(seed=0)
    assert torch.equal(again.valid.labels, mnist.valid.labels)
    other = load_mnist(seed=1)
    assert not torch.equal(other.valid.labels, mnist.valid.labels)
    # disjoint and complete: the two parts together hold every training image exactly once
    all_images = read_idx(bundled_data_dir() / "train-images-idx3-ubyte.gz").reshape(60000, -1)
    hashes = {row.tobytes() for row in all_images}
    parts = torch.cat([mnist.train.images, mnist.valid.images]).reshape(60000, -1).numpy()
    assert {row.tobytes() for row in parts} == hashes


def test_split_fraction_and_validation():
    from lenetlab.data import ImageSet

    images = ImageSet(torch.zeros(100, 28, 28, dtype=torch.uint8), torch.arange(100))
    train, valid = split_train_valid(images, 0.3, seed=5)
    assert (len(train), len(valid)) == (70, 30)
    assert set(train.labels.tolist()).isdisjoint(valid.labels.tolist())
    with pytest.raises(LenetlabError, match="valid-fraction"):
        split_train_valid(images, 1.5)


@pytest.mark.parametrize("gz", [True, False])
def test_data_dir_gzipped_or_raw(tmp_path, gz):
    folder = write_idx_folder(tmp_path / "MNIST" / "raw", gz=gz)
    data = load_mnist(folder, valid_fraction=0.25)
    assert (len(data.train), len(data.valid), len(data.test)) == (45, 15, 20)
    assert data.train.images.dtype == torch.uint8
    expected = read_idx(folder / ("t10k-images-idx3-ubyte" + (".gz" if gz else "")))
    assert np.array_equal(data.test.images.numpy(), expected)


def test_class_names_from_known_dataset_or_classes_txt(tmp_path):
    fashion = write_idx_folder(tmp_path / "FashionMNIST" / "raw")
    assert load_mnist(fashion).class_names[0] == "T-shirt/top"
    custom = write_idx_folder(tmp_path / "letters", n_classes=3)
    (custom / "classes.txt").write_text("alpha\nbeta\ngamma\n")
    assert load_mnist(custom).class_names == ("alpha", "beta", "gamma")
    plain = write_idx_folder(tmp_path / "plain", n_classes=4)
    assert load_mnist(plain).class_names == ("0", "1", "2", "3")


def test_read_idx_rejects_bad_files(tmp_path):
    good = idx_bytes(np.zeros((3, 28, 28), np.uint8))
    cases = {
        "magic": (b"\x00\x00\x09\x03" + good[4:], "magic"),
        "truncated": (good[:-5], "truncated"),
        "header": (good[:9], "truncated inside its IDX header"),
        "longer": (good + b"\x00", "longer than its header"),
        "absurd": (b"\x00\x00\x08\x03" + (4_000_000_000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2, "absurd"),
        "tiny": (b"\x00", "not an IDX file"),
    }
    for name, (payload, message) in cases.items():
        path = tmp_path / name
        path.write_bytes(payload)
        with pytest.raises(LenetlabError, match=message):
            read_idx(path)
    (tmp_path / "bad.gz").write_bytes(gzip.compress(good)[:-10])
    with pytest.raises(LenetlabError, match="damaged gzip"):
        read_idx(tmp_path / "bad.gz")


def test_folder_with_wrong_or_mismatched_files(tmp_path):
    with pytest.raises(LenetlabError, match="not a folder"):
        load_mnist(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LenetlabError, match="has no train-images-idx3-ubyte"):
        load_mnist(tmp_path / "empty")
    folder = write_idx_folder(tmp_path / "mismatch")
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(np.zeros(7, np.uint8))))
    with pytest.raises(LenetlabError, match="differ in count"):
        load_mnist(folder)
    swapped = write_idx_folder(tmp_path / "swapped")
    (swapped / "train-labels-idx1-ubyte.gz").write_bytes((swapped / "train-images-idx3-ubyte.gz").read_bytes())
    with pytest.raises(LenetlabError, match="3-d array where 1-d was expected"):
        load_mnist(swapped)


def test_corrupt_bundled_file_fails_checksum(monkeypatch, tmp_path):
    folder = tmp_path / "bundled"
    folder.mkdir()
    for f in bundled_data_dir().iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    flipped = labels[:-1] + bytes([(labels[-1] + 1) % 10])
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(flipped))
    monkeypatch.setattr("lenetlab.data.bundled_data_dir", lambda: folder)
    with pytest.raises(LenetlabError, match="fails its sha256 check"):
        load_mnist()


def test_iterate_batches_covers_everything_once():
    images = torch.arange(10 * 4, dtype=torch.uint8).reshape(10, 2, 2)
    labels = torch.arange(10)
    seen = []
    for inputs, y in iterate_batches(images, labels, 3):
        assert inputs.dtype == torch.float32 and inputs.shape[1] == 1 and inputs.max() <= 1.0
        assert torch.equal((inputs[:, 0, 0, 0] * 255).round().long(), y * 4)
        seen += y.tolist()
    assert seen == list(range(10))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64))
def test_parse_idx_never_crashes_on_random_bytes(raw):
    try:
        array = parse_idx(raw)
    except LenetlabError:
        return
    assert array.dtype == np.uint8
    assert array.size == len(raw) - 4 - 4 * array.ndim


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4), st.binary(max_size=32))
def test_parse_idx_random_headers_are_checked_before_allocating(dims, body):
    raw = bytes([0, 0, 8, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + body
    try:
        array = parse_idx(raw)
    except LenetlabError:
        return
    assert list(array.shape) == dims
