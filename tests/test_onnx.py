"""``lenetlab export RUN --format onnx``: the file onnxruntime runs gives PyTorch's outputs.

On 200 test images the logits of onnxruntime and PyTorch agree within 1e-5 (relative, and absolute near zero),
for a trained LeNet-5 and for LeNet-5-modern (batch norm in eval mode); the file carries its metadata; a user's
file is never replaced and a wrong name is refused in one line.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from lenetlab import load_checkpoint
from lenetlab.cli import main
from lenetlab.models import build_model
from lenetlab.onnx_export import export_onnx

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


def run_onnx(path, images: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["logits"], {"image": images})[0]


def test_onnxruntime_gives_pytorchs_logits_for_a_trained_lenet5(trained_run, mnist, tmp_path, capsys):
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "lenet5.onnx"),
                 "--lang", "en"]) == 0
    assert "lenet5.onnx" in capsys.readouterr().out
    images = (mnist.test.images[:200].unsqueeze(1).float() / 255).numpy()
    model, _ = load_checkpoint(trained_run / "best.pt")
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(images)).numpy()
    got = run_onnx(tmp_path / "lenet5.onnx", images)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
    assert (got.argmax(1) == expected.argmax(1)).all()
    import onnx

    meta = {p.key: p.value for p in onnx.load(str(tmp_path / "lenet5.onnx")).metadata_props}
    assert meta["lenetlab.model"] == "lenet5" and json.loads(meta["lenetlab.class_names"])[7] == "7"


def test_batch_norm_exports_in_eval_mode(tmp_path, mnist):
    torch.manual_seed(0)
    model = build_model("lenet5-modern")
    run = tmp_path / "modern"
    run.mkdir()
    from lenetlab.checkpoint import save_checkpoint

    save_checkpoint(run / "best.pt", model, "lenet5-modern", [str(d) for d in range(10)])
    path = export_onnx(run / "best.pt", tmp_path / "modern.onnx")
    images = (mnist.test.images[:200].unsqueeze(1).float() / 255).numpy()
    with torch.no_grad():
        expected = model.eval()(torch.from_numpy(images)).numpy()
    np.testing.assert_allclose(run_onnx(path, images), expected, rtol=1e-5, atol=1e-5)


def test_export_onnx_refuses_a_wrong_name_and_never_replaces_a_users_file(trained_run, tmp_path, capsys):
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(tmp_path / "model.html")]) == 2
    assert "ending in .onnx" in capsys.readouterr().err
    mine = tmp_path / "mine.onnx"
    mine.write_bytes(b"my own model")
    assert main(["export", str(trained_run), "--format", "onnx", "--out", str(mine)]) == 2
    assert mine.read_bytes() == b"my own model"
