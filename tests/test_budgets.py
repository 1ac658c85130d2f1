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
