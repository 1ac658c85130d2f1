import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_idx_folder
from lenetlab import LeNet5, TrainConfig, load_checkpoint, load_mnist, mnist_preprocess, train_run
from lenetlab.cli import main
from lenetlab.explore.feature_maps import layer_activations


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fmaps")
    data_dir = write_idx_folder(root / "data", n_train=40, n_test=12)
    run = root / "run"
    train_run(TrainConfig.from_preset("seed", epochs=1, data_dir=str(data_dir)), run, progress=False, log=None)
    return run, data_dir


def test_layer_activations_are_the_models_own():
    torch.manual_seed(0)
    model = LeNet5().eval()
    image = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    maps = layer_activations(model, image)
    expected = model.activations(torch.from_numpy(image)[None, None])
    assert {k: v.shape for k, v in maps.items()} == {k: tuple(v.shape[1:]) for k, v in expected.items()}
    assert all(np.allclose(maps[k], expected[k][0].detach().numpy()) for k in maps)
    # C1 of tanh lies in (-1, 1), S2 is the 2x2 mean of C1
    assert np.abs(maps["C1"]).max() < 1
    assert np.allclose(maps["S2"][:, 0, 0], maps["C1"][:, :2, :2].mean(axis=(1, 2)), atol=1e-6)


def test_feature_maps_of_a_test_image(tiny_run, tmp_path, capsys):
    run, data_dir = tiny_run
    assert main(["explore", "feature-maps", str(run), "--index", "3", "--data-dir", str(data_dir),
                 "--out", str(tmp_path)]) == 0
    saved = json.loads((tmp_path / "feature_maps_3.json").read_text())
    test = load_mnist(data_dir).test
    model, _ = load_checkpoint(run)
    with torch.no_grad():
        probs = model(test.as_float(3, 4)).softmax(1)[0]
    assert saved["label"] == int(test.labels[3]) == 3
    assert saved["prediction"] == int(probs.argmax())
    assert saved["probabilities"] == pytest.approx(probs.tolist(), abs=1e-5)
    assert {k: v["shape"] for k, v in saved["layers"].items()} == {
        "C1": [6, 28, 28], "S2": [6, 14, 14], "C3": [16, 10, 10], "S4": [16, 5, 5], "C5": [120, 1, 1], "F6": [84]}
    assert (tmp_path / "feature_maps_3.png").stat().st_size > 10_000
    assert f"predicted {saved['prediction']}" in capsys.readouterr().out


def test_feature_maps_of_a_users_image_use_predicts_preprocessing(tiny_run, tmp_path):
    run, _ = tiny_run
    canvas = np.full((90, 60), 255, np.uint8)
    canvas[10:80, 25:35] = 0  # a dark "1" on white paper
    Image.fromarray(canvas).save(tmp_path / "one.png")
    assert main(["explore", "feature-maps", str(run), "--image", str(tmp_path / "one.png")]) == 0
    saved = json.loads((run / "explore" / "feature_maps_one.json").read_text())
    model, _ = load_checkpoint(run)
    x = torch.from_numpy(mnist_preprocess(canvas))[None, None]
    with torch.no_grad():
        expected = model.activations(x)
    assert saved["index"] is None and saved["label"] is None
    assert saved["layers"]["C3"]["max"] == pytest.approx(float(expected["C3"].max()), abs=1e-5)
    assert saved["prediction"] == int(expected["output"].argmax())


def test_feature_maps_errors(tiny_run, tmp_path, capsys):
    run, data_dir = tiny_run
    assert main(["explore", "feature-maps", str(run), "--index", "12", "--data-dir", str(data_dir)]) == 2
    assert "--index 12 is outside the test set; choose 0 to 11" in capsys.readouterr().err
    assert main(["explore", "feature-maps", str(run), "--image", str(tmp_path / "missing.png")]) == 2
    assert "no image at" in capsys.readouterr().err
    assert main(["explore", "feature-maps", str(tmp_path / "nothing")]) == 2
    assert "no checkpoint at" in capsys.readouterr().err
