import json

import numpy as np
import pytest
import torch

from conftest import write_idx_folder
from lenetlab import MLP, LeNet5, TrainConfig, train_run
from lenetlab.cli import main
from lenetlab.explore.embeddings import project, representations, separation_scores

pytest.importorskip("sklearn", reason="explore embeddings needs scikit-learn (the 'explore' extra)")


@pytest.fixture(autouse=True)
def _no_run_figures(monkeypatch):
    """The runs' own five figures are not under test here; skipping them keeps these tests quick."""
    monkeypatch.setattr("lenetlab.runs.write_figures", lambda *args, **kwargs: None)


def test_well_separated_clusters_score_one():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 20, (4, 16))
    labels = np.repeat(np.arange(4), 30)
    x = centres[labels] + rng.normal(0, 0.1, (120, 16))
    scores = separation_scores(x, labels)
    assert scores["knn_accuracy"] == 1.0 and scores["knn_accuracy_std"] == 0.0
    assert scores["silhouette"] > 0.95 and scores["dimensions"] == 16


def test_random_labels_score_near_chance():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 8))
    labels = np.repeat(np.arange(4), 50)
    scores = separation_scores(x, labels)
    assert scores["knn_accuracy"] < 0.45 and abs(scores["silhouette"]) < 0.1


def test_projections_are_two_dimensional_and_pca_is_exact():
    rng = np.random.default_rng(2)
    x = np.concatenate([rng.normal(size=(40, 1)) * 10, rng.normal(size=(40, 5)) * 0.01], axis=1)
    xy = project(x, "pca")
    assert xy.shape == (40, 2)
    # the first component is the wide axis: PCA recovers it up to sign and centring
    assert abs(np.corrcoef(xy[:, 0], x[:, 0])[0, 1]) > 0.999
    assert project(x, "tsne").shape == (40, 2)


def test_representations_take_mlp_h1_and_lenet_c5_f6():
    reps = representations(LeNet5().eval(), MLP().eval(), torch.rand(7, 1, 28, 28))
    assert {k: v.shape for k, v in reps.items()} == {"pixels": (7, 784), "MLP H1": (7, 120), "LeNet C5": (7, 120),
                                                     "LeNet F6": (7, 84)}
    assert (reps["MLP H1"] >= 0).all()  # ReLU


def test_cli_embeddings_on_tiny_runs(tmp_path, capsys):
    data_dir = write_idx_folder(tmp_path / "data", n_train=40, n_test=60)
    lenet, mlp = tmp_path / "lenet", tmp_path / "mlp"
    for run, model in ((lenet, "lenet5"), (mlp, "mlp")):
        train_run(TrainConfig.from_preset("seed", epochs=1, model=model, data_dir=str(data_dir)), run,
                  progress=False, log=None)
    assert main(["explore", "embeddings", str(lenet), str(mlp), "--data-dir", str(data_dir), "--n", "60",
                 "--method", "both"]) == 0
    saved = json.loads((lenet / "explore" / "embeddings.json").read_text())
    assert set(saved["scores"]) == {"pixels", "MLP H1", "LeNet C5", "LeNet F6"}
    assert saved["scores"]["pixels"]["dimensions"] == 784 and saved["n"] == 60
    # synthetic images are noise: nothing separates the classes better than chance allows
    assert all(0 <= s["knn_accuracy"] <= 0.5 for s in saved["scores"].values())
    assert (lenet / "explore" / "embeddings_pca.png").is_file() and (lenet / "explore" / "embeddings_tsne.png").is_file()
    assert "5-NN accuracy" in capsys.readouterr().out


def test_cli_embeddings_errors(tmp_path, capsys):
    assert main(["explore", "embeddings", str(tmp_path / "a"), str(tmp_path / "b"), "--n", "5"]) == 2
    assert "--n 5 is too few images" in capsys.readouterr().err
    assert main(["explore", "embeddings", "a", "b", "--method", "umap"]) == 2
    assert "unknown method 'umap'; choose one of: pca, tsne, both" in capsys.readouterr().err
