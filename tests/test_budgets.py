"""Small files never cost gigabytes: sizes are read and bounded before anything is allocated (issue: data loss).

The attack round's 4.4 MB checkpoint held an extra DEFLATE entry that torch.load expanded to 4.45 GB
before checking anything. The zip's directory says every entry's size and how it is stored: read first.
"""

from __future__ import annotations

import zipfile

import pytest

from lenetlab import LenetlabError
from lenetlab.checkpoint import read_checkpoint, save_checkpoint
from lenetlab.models import MLP


@pytest.fixture()
def checkpoint(tmp_path):
    path = tmp_path / "mlp.pt"
    save_checkpoint(path, MLP(), "mlp", [str(d) for d in range(10)])
    return path


def _add_entry(path, name: str, data: bytes, compress: int) -> None:
    prefix = zipfile.ZipFile(path).namelist()[0].split("/")[0]
    with zipfile.ZipFile(path, "a", compression=compress) as archive:
        archive.writestr(f"{prefix}/{name}", data)


def test_a_checkpoint_torch_wrote_is_read(checkpoint):
    assert read_checkpoint(checkpoint)["model"] == "mlp"


def test_a_compressed_entry_is_refused_before_it_is_expanded(checkpoint):
    _add_entry(checkpoint, "data/99", b"\0" * (64 << 20), zipfile.ZIP_DEFLATED)  # 64 MB in about 64 KB
    assert checkpoint.stat().st_size < 2 << 20
    with pytest.raises(LenetlabError, match="compressed entry"):
        read_checkpoint(checkpoint)


def test_an_entry_torch_never_writes_is_refused(checkpoint):
    _add_entry(checkpoint, "payload.bin", b"x", zipfile.ZIP_STORED)
    with pytest.raises(LenetlabError, match="an entry torch.save never writes"):
        read_checkpoint(checkpoint)


def test_a_file_that_is_not_a_zip_is_refused(tmp_path):
    path = tmp_path / "old.pt"
    path.write_bytes(b"\x80\x02not a zip at all")
    with pytest.raises(LenetlabError, match="not the zip file torch.save writes"):
        read_checkpoint(path)


@pytest.mark.parametrize("model, args, fragment", [
    ("lenet5", {"f6_units": 1, "n_classes": 30_000}, "1 to 1000 classes"),
    ("fcnet", {"hidden": [1] * 100_000}, "at most 64"),
    ("mlp", {"hidden_1": 100_000_000}, "beyond any layer"),
])
def test_a_checkpoint_asking_for_absurd_sizes_is_refused_before_building(tmp_path, model, args, fragment):
    import time

    import torch

    from lenetlab.checkpoint import CHECKPOINT_FORMAT, load_checkpoint

    path = tmp_path / "absurd.pt"
    torch.save({"format": CHECKPOINT_FORMAT, "model": model, "model_args": args, "state_dict": {},
                "class_names": []}, path)
    start = time.process_time()
    with pytest.raises(LenetlabError, match=fragment):
        load_checkpoint(path)
    assert time.process_time() - start < 5


def test_an_idx_file_declaring_millions_of_tiny_images_is_refused_from_its_header(tmp_path):
    import gzip
    import struct

    from lenetlab.data import read_idx

    path = tmp_path / "train-images-idx3-ubyte.gz"
    path.write_bytes(gzip.compress(struct.pack(">BBBB3I", 0, 0, 8, 3, 199_999_999, 1, 1) + b"\0" * 1_000_000))
    with pytest.raises(LenetlabError, match="199,999,999 items"):
        read_idx(path, expected_ndim=3)


def test_the_projector_reads_only_what_it_wrote(tmp_path):
    import numpy as np

    from lenetlab.web.projector import read_cache

    key, n = (123, 456, 50), 50
    path = tmp_path / "projections.npz"
    good = np.zeros((n, 2), np.float32)
    np.savez(path, key=np.array(key), **{"c5-pca": good})
    assert read_cache(path, key)["c5-pca"].shape == (n, 2)
    assert read_cache(path, (1, 2, 50)) == {}  # another model's points
    for arrays in ({"c5-pca": np.zeros((n, 3), np.float32)}, {"c5-pca": np.full((n, 2), np.nan, np.float32)},
                   {"c5-pca": good.astype(np.float64)}):
        np.savez(path, key=np.array(key), **arrays)
        assert read_cache(path, key) == {}
    np.savez_compressed(path, key=np.array(key), bomb=np.zeros(256 << 20, np.uint8))  # 256 MB in about 250 KB
    assert path.stat().st_size < 1 << 20 and read_cache(path, key) == {}


def test_the_sprite_is_built_once_however_many_ask_at_first(trained_run, monkeypatch):
    import threading
    import time

    from lenetlab.web import served

    builds = []

    def slow_sprite(images):
        builds.append(1)
        time.sleep(0.3)
        return b"png"

    monkeypatch.setattr(served, "sprite_png", slow_sprite)
    run = served.ServedRun(trained_run)
    answers = []
    threads = [threading.Thread(target=lambda: answers.append(run.sprite())) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert builds == [1] and answers == [b"png"] * 8
