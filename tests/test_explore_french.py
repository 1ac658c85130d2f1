"""The exploration in French: params, filters, feature maps and embeddings figures and summaries.

Figures are read through their text artists (titles, labels, tick labels) by tests/english.py; the
printed summaries likewise. Untrained tiny inputs: seconds.
"""

from __future__ import annotations

import numpy as np
import pytest

from english import english_words, figure_texts
from lenetlab.cli import main
from lenetlab.explore.figures import (
    embeddings_figure,
    feature_maps_figure,
    filter_name,
    filters_figure,
    filters_over_epochs_figure,
    params_figure,
)
from lenetlab.explore.filters import best_matches, classic_filters
from lenetlab.explore.params import format_table, params_report

LAYERS = ("C1", "S2", "C3", "S4", "C5", "F6", "MLP", "LeNet-5", "notebook", "FC", "H1", "H2", "cos", "relu", "tanh",
          "conv", "avgpool", "linear", "Gabor", "Sobel", "Prewitt", "x", "y", "silhouette", "pixels")


def _no_english(texts):
    assert english_words(texts, allowed=LAYERS) == [], texts


def test_every_explore_figure_in_french():
    rng = np.random.default_rng(0)
    report = params_report()
    bank = classic_filters(5)
    kernels = rng.normal(size=(6, 5, 5))
    maps = {"C1": rng.normal(size=(6, 28, 28)), "C5": rng.normal(size=(120, 1, 1))}
    points = {"pixels": rng.normal(size=(50, 2)), "C5": rng.normal(size=(50, 2))}
    scores = {k: {"knn_accuracy": 0.874, "silhouette": -0.05} for k in points}
    figures = [params_figure(report, "fr"), filters_figure(kernels, best_matches(kernels, bank), bank, "C1", "fr"),
               filters_over_epochs_figure([(1, rng.normal(size=(6, 1, 5, 5))), (2, rng.normal(size=(6, 1, 5, 5)))],
                                          "fr"),
               feature_maps_figure(rng.random((28, 28)), maps, "légende", lang="fr"),
               embeddings_figure(points, np.arange(50) % 10, scores, "pca", [str(d) for d in range(10)], "fr")]
    for fig in figures:
        texts = figure_texts(fig)
        _no_english(texts)
        assert not any(c.isdigit() and "." in text for text in texts for c in text[:1]), texts  # 0,5 not 0.5
    assert "exactitude des 5 plus proches voisins 87,4\u202f%" in " ".join(figure_texts(figures[-1]))


def test_params_table_and_filter_names_in_french():
    text = format_table("LeNet-5", params_report()["LeNet-5"], "fr")
    assert "61\u202f706" in text and "sortie" in text and "couche" in text
    _no_english([text])
    assert filter_name("gabor_45_even", "fr") == "Gabor 45° pair" and filter_name("laplacian", "fr") == "laplacien"


@pytest.mark.parametrize("lang, words", [("fr", "mult.-add. : multiplications-additions"), ("en", "MACs: multiply")])
def test_explore_params_prints_its_language(lang, words, capsys):
    assert main(["explore", "params", "--lang", lang]) == 0
    out = capsys.readouterr().out
    assert words in out
    if lang == "fr":
        _no_english([out])
