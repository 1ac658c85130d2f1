import json

import numpy as np
import pytest
import torch

from conftest import write_idx_folder
from lenetlab import LenetlabError, TrainConfig, load_checkpoint, save_checkpoint, train_run
from lenetlab.cli import main
from lenetlab.explore.filters import best_matches, classic_filters, cosine_similarity, explore_filters


def test_classic_bank_holds_the_textbook_kernels():
    bank3 = classic_filters(3)
    assert bank3["sobel_y"].astype(int).tolist() == [[-1, -2, -1], [0, 0, 0], [1, 2, 1]]
    assert bank3["prewitt_x"].astype(int).tolist() == [[-1, 0, 1]] * 3
    bank5 = classic_filters(5)
    # the usual 5x5 Sobel: binomial smoothing [1 4 6 4 1] times derivative [-1 -2 0 2 1]
    assert np.array_equal(bank5["sobel_x"], np.outer([1, 4, 6, 4, 1], [-1, -2, 0, 2, 1]))
    assert abs(bank5["laplacian"].sum()) < 1e-12 and abs(bank5["gaussian"].sum() - 1) < 1e-12
    assert sum(name.startswith("gabor_") for name in bank5) == 16
    assert all(k.shape == (5, 5) for k in bank5.values()) and all(k.shape == (7, 7) for k in classic_filters(7).values())


def test_even_or_tiny_kernels_are_refused():
    with pytest.raises(LenetlabError, match="odd kernel size"):
        classic_filters(4)


def test_cosine_is_sign_and_scale_invariant_and_zero_when_orthogonal():
    bank = classic_filters(5)
    assert cosine_similarity(bank["sobel_x"], -7 * bank["sobel_x"]) == pytest.approx(1.0)
    assert cosine_similarity(bank["sobel_x"], bank["sobel_y"]) == pytest.approx(0.0, abs=1e-12)
    assert cosine_similarity(np.zeros((5, 5)), bank["sobel_x"]) == 0.0


def test_planted_kernels_are_found_with_similarity_one():
    bank = classic_filters(5)
    rng = np.random.default_rng(0)
    kernels = np.stack([3.0 * bank["sobel_x"], -0.5 * bank["sobel_y"], bank["gabor_45_odd"], rng.normal(size=(5, 5))])
    matches = best_matches(kernels, bank)
    assert [(m["best"], m["similarity"], m["sign"]) for m in matches[:3]] == [
        ("sobel_x", 1.0, 1), ("sobel_y", 1.0, -1), ("gabor_45_odd", 1.0, 1)]
    assert matches[3]["similarity"] < 0.9


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """A tiny LeNet-5 run on synthetic data, kept filters for 3 epochs, with C1 kernel 0 set to Sobel x."""
    root = tmp_path_factory.mktemp("filters")
    data_dir = write_idx_folder(root / "data", n_train=50, n_test=10)
    config = TrainConfig.from_preset("seed", epochs=3, data_dir=str(data_dir), keep_filters=True)
    run = root / "run"
    train_run(config, run, progress=False, log=None)
    model, payload = load_checkpoint(run)
    with torch.no_grad():
        model.feature_extractor.C1.conv.weight[0, 0] = torch.tensor(-0.2 * classic_filters(5)["sobel_x"])
    save_checkpoint(run / "best.pt", model, payload["model"], payload["class_names"])
    return run


def test_explore_filters_reports_the_planted_sobel(planted_run, tmp_path):
    result = explore_filters(planted_run, tmp_path)
    saved = json.loads((tmp_path / "filters.json").read_text())
    assert saved["C1"][0]["best"] == "sobel_x" and saved["C1"][0]["similarity"] == pytest.approx(1.0)
    assert saved["C1"][0]["sign"] == -1
    assert len(saved["C1"]) == 6 and saved["C3_shape"] == [16, 6, 5, 5]
    # three epochs kept: all are shown, and the last one is identical to itself
    assert [e["epoch"] for e in saved["epochs"]] == [1, 2, 3]
    assert saved["epochs"][-1]["similarity_to_last"] == pytest.approx([1.0] * 6)
    for name in ("filters_c1.png", "filters_c3.png", "filters_epochs.png"):
        assert (tmp_path / name).stat().st_size > 5_000
    assert result["mean_best_similarity"] == pytest.approx(np.mean([m["similarity"] for m in saved["C1"]]), abs=1e-6)


def test_cli_filters_default_output_is_run_explore_and_epochs_can_be_chosen(planted_run, capsys):
    assert main(["explore", "filters", str(planted_run), "--epochs", "1,3"]) == 0
    out = capsys.readouterr().out
    assert "C1 kernel 0: closest sobel_x" in out and "|cos| 1.000" in out
    saved = json.loads((planted_run / "explore" / "filters.json").read_text())
    assert [e["epoch"] for e in saved["epochs"]] == [1, 3]


def test_cli_filters_errors(planted_run, tmp_path, capsys, monkeypatch):
    assert main(["explore", "filters", str(planted_run), "--epochs", "9", "--out", str(tmp_path / "o")]) == 2
    assert "no filters for epoch(s) [9]; choose among [1, 2, 3]" in capsys.readouterr().err
    data_dir = write_idx_folder(tmp_path / "data", n_train=30, n_test=10)
    mlp = tmp_path / "mlp"
    monkeypatch.setattr("lenetlab.runs.write_figures", lambda *args, **kwargs: None)  # not under test here
    train_run(TrainConfig.from_preset("seed", epochs=1, model="mlp", data_dir=str(data_dir)), mlp, progress=False, log=None)
    assert main(["explore", "filters", str(mlp)]) == 2
    assert "no convolutional layer C1" in capsys.readouterr().err
    assert not (mlp / "explore" / "filters.json").exists()
