"""The explore commands on a real LeNet-5 run (one epoch on the full bundled MNIST): slow."""

import json

import pytest

from lenetlab import TrainConfig, train_run
from lenetlab.cli import main

pytestmark = pytest.mark.slow


def test_feature_maps_and_filters_of_a_real_run(trained_run, tmp_path, capsys):
    assert main(["explore", "feature-maps", str(trained_run), "--index", "0", "--out", str(tmp_path)]) == 0
    maps = json.loads((tmp_path / "feature_maps.json").read_text())
    assert maps["label"] == 7 and maps["prediction"] == 7  # MNIST's first test image, an easy 7
    assert maps["probabilities"][7] > 0.5
    assert main(["explore", "filters", str(trained_run), "--out", str(tmp_path)]) == 0
    filters = json.loads((tmp_path / "filters.json").read_text())
    assert len(filters["C1"]) == 6 and all(0 < m["similarity"] <= 1 for m in filters["C1"])


def test_lenet_features_separate_digits_better_than_pixels(trained_run, tmp_path):
    pytest.importorskip("sklearn")
    mlp = tmp_path / "mlp"
    train_run(TrainConfig.from_preset("default", epochs=1, model="mlp"), mlp, progress=False, log=None)
    assert main(["explore", "embeddings", str(trained_run), str(mlp), "--method", "pca", "--n", "1000",
                 "--out", str(tmp_path)]) == 0
    scores = json.loads((tmp_path / "embeddings.json").read_text())["scores"]
    assert scores["LeNet C5"]["knn_accuracy"] > scores["pixels"]["knn_accuracy"]
    assert scores["LeNet F6"]["silhouette"] > scores["pixels"]["silhouette"]
