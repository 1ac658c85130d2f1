"""The five studies in French: attack, attribution, sweep, compare and the 1998 paper.

Every figure is read through its text artists and every printed line and Markdown table for English
words (tests/english.py: a vocabulary, not a list of known strings), and for numbers written the English
way. The figure functions get synthetic inputs; the commands run on tiny synthetic data and a run trained
for one epoch on it, with every figure they save intercepted.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from conftest import write_idx_folder
from english import english_words, figure_texts
from lenetlab.cli import main
from lenetlab.explore.attack import format_table
from lenetlab.explore.figures import bars_figure, prototypes_figure, sweep_figure
from lenetlab.explore.paper import ABLATION, PAPER_MODELS, format_markdown
from lenetlab.explore.robustness_figures import attribution_figure, curves_figure, examples_figure
from lenetlab.explore.sweep import format_rows
from lenetlab.i18n import t

# Names kept as they are in French: methods, models, layers, authors.
NAMES = ("FGSM", "PGD", "Grad", "CAM", "LeCun", "al", "MLP", "FC", "LeNet", "lenet5-1998", "linear", "mlp", "SDLM",
         "RBF", "MAP", "Nesterov", "Levenberg", "Marquardt", "HU", "logit", "seed", "cpu", "ok")
ENGLISH_DECIMAL = re.compile(r"(?<![\w.])\d+\.\d+(?![\w.])")  # 0.5, 98.12: a French text writes 0,5


def _assert_french(texts: list[str]) -> None:
    texts = [re.sub(r"/\S+", " ", text) for text in texts]  # paths are the user's names
    assert english_words(texts, allowed=NAMES) == [], texts
    assert [m for text in texts for m in ENGLISH_DECIMAL.findall(text)] == [], texts


def _attack_result() -> dict:
    curve = {"0": 0.98, "0.1": 0.5, "0.3": 0.02}
    row = {"name": "lenet5", "model": "lenet5", "accuracy": {"fgsm": curve, "pgd": {k: v / 2 for k, v in curve.items()}}}
    return {"runs": [row, {**row, "name": "mlp-1", "model": "mlp"}], "eps": [0.0, 0.1, 0.3], "n": 10000, "seed": 0,
            "steps": 40, "step_size": "2.5 * eps / steps", "method": "both"}


def _sweep_rows() -> list[dict]:
    return [{"name": f"k{k}", "status": "ok", "parameters": 60000 + 1000 * k, "macs": 300000 + 5000 * k,
             "best_valid_accuracy": 0.97 + k / 1000, "test_accuracy": 0.968 + k / 1000, "seconds": 30.5 + k}
            for k in (3, 5, 7)]


def test_every_study_figure_in_french():
    rng = np.random.default_rng(0)
    x = rng.random((2, 28, 28))
    example = {"name": "lenet5", "model": "lenet5", "x": x, "x_adv": np.clip(x + 0.1, 0, 1), "before": [3, 5],
               "after": [8, 5], "labels": [3, 5], "class_names": [str(d) for d in range(10)]}
    records = [{"source": "test image 0", "index": 0, "label": 3, "prediction": 8, "probability": 0.734, "target": 3},
               {"source": "/tmp/mon_chiffre.png", "index": None, "label": None, "prediction": 5, "probability": 0.5,
                "target": 5}]
    maps = {"saliency": rng.normal(size=(2, 28, 28)), "gradient_times_input": rng.normal(size=(2, 28, 28)),
            "gradcam": None, "occlusion": rng.normal(size=(2, 28, 28))}
    paper_rows = [{"name": n, "label": t("fr", f"study.paper.model.{n}"), "test_error": 0.0123, "parameters": 61706,
                   "seconds": 42.0} for n in ("linear", "lenet5")]
    figures = {
        "attack curves": curves_figure(_attack_result(), "fr"),
        "attack examples": examples_figure([example], 0.1, "pgd", "fr"),
        "attribution": attribution_figure(x, records, maps, [str(d) for d in range(10)],
                                          t("fr", "study.attribution.title", model="mlp", rho="0,12"), lang="fr"),
        "sweep parameters": sweep_figure(_sweep_rows(), "parameters", "fr"),
        "sweep time": sweep_figure(_sweep_rows(), "seconds", "fr"),
        "paper": bars_figure(paper_rows, t("fr", "study.paper.title", epochs=5), {"linear": 12.0, "lenet5": 0.95}, "fr"),
        "prototypes": prototypes_figure("fr"),
    }
    for name, fig in figures.items():
        assert english_words(figure_texts(fig), allowed=NAMES) == [], name
        _assert_french(figure_texts(fig))
    attribution = " ".join(figure_texts(figures["attribution"]))
    assert "dit 8 (73,4\u202f%)" in attribution and "sans objet pour" in attribution
    assert "image de test 0" in attribution and "mon_chiffre.png" in attribution
    assert "61\u202f706 paramètres" in " ".join(figure_texts(figures["paper"]))


def test_study_tables_in_french():
    attack = format_table(_attack_result(), "fr")
    assert "| réseau | méthode | ε = 0 | ε = 0,1 | ε = 0,3 |" in attack and "| 49,00\u202f% |" in attack
    rows = _sweep_rows() + [{"name": "cassé", "status": "invalid", "message": "C5 : taille négative",
                             "best_valid_accuracy": None, "test_accuracy": None}]
    sweep = format_rows(rows, "fr")
    assert sweep.splitlines()[1].startswith("k7") and "67\u202f000" in sweep.splitlines()[1]
    assert "invalide : C5" in sweep
    paper = format_markdown({"rows": [{"label": t("fr", "study.paper.model.lenet5"), "status": "ok", "paper_error": 0.95,
                                       "parameters": 61706, "test_error": 0.0088, "epochs": 5, "seconds": 95.0}],
                             "differences": t("fr", "study.paper.differences", epochs=5, seed=0)}, "fr")
    assert "| LeNet-5 | 61\u202f706 | 0,95\u202f% | 0,88\u202f% | 5 | 95 |" in paper
    for text in (attack, sweep, paper):
        _assert_french([text])


def test_the_english_labels_are_the_tables_own():
    """The catalogue's English labels are the ones PAPER_MODELS and ABLATION name (one wording, not two)."""
    for name, (label, *_) in PAPER_MODELS.items():
        assert t("en", f"study.paper.model.{name}") == label
    for name, (label, *_) in ABLATION.items():
        assert t("en", f"study.ablation.{name}") == label


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Tiny synthetic data and a LeNet-5 trained one epoch on it."""
    root = tmp_path_factory.mktemp("studies")
    data = write_idx_folder(root / "data", n_train=60, n_test=40)
    assert main(["train", "--data-dir", str(data), "--epochs", "1", "--out", str(root / "run"), "--no-progress",
                 "--threads", "1", "--lang", "en"]) == 0
    return root, data


@pytest.fixture
def drawn(monkeypatch):
    """The texts of every figure lenetlab saves while the test runs."""
    from lenetlab import plots

    texts: list[str] = []
    original = plots.save
    monkeypatch.setattr(plots, "save", lambda fig, *a, **k: (texts.extend(figure_texts(fig)), original(fig, *a, **k))[1])
    return texts


def test_attack_and_attribution_commands_speak_french(tiny, drawn, capsys, tmp_path):
    root, _ = tiny
    run = str(root / "run")
    assert main(["explore", "attack", run, "--n", "20", "--steps", "3", "--eps", "0,0.1", "--out", str(tmp_path),
                 "--lang", "fr"]) == 0
    assert main(["explore", "attribution", run, "--index", "0", "1", "--out", str(tmp_path), "--lang", "fr"]) == 0
    printed = capsys.readouterr()
    assert "| réseau | méthode | ε = 0 | ε = 0,1 |" in printed.out and "contrôle : corrélation des rangs" in printed.out
    assert "fichiers écrits : " in printed.out
    assert len(drawn) > 20  # attack_curves, attack_examples, attribution
    _assert_french([printed.out, printed.err, *drawn])


def test_sweep_compare_and_paper_commands_speak_french(tiny, drawn, capsys, tmp_path, monkeypatch):
    monkeypatch.setattr("lenetlab.runs.write_figures", lambda *args, **kwargs: None)  # the runs' own, tested elsewhere
    _, data = tiny
    common = ["--epochs", "1", "--data-dir", str(data), "--lang", "fr", "--threads", "1"]
    assert main(["explore", "sweep", "--vary", "kernel_size=3,5", "--variant", "trop:kernel_size=40",
                 "--out", str(tmp_path / "sweep"), *common]) == 0
    assert main(["explore", "compare", "--preset", "seed", "--out", str(tmp_path / "compare"), *common]) == 0
    assert main(["paper", "--models", "linear,lenet5-1998", "--ablation", "--out", str(tmp_path / "paper"),
                 *common]) == 0
    printed = capsys.readouterr()
    assert "classées par exactitude en validation" in printed.out and "trop ignorée : " in printed.out
    assert "| réseau | paramètres | mult.-add. par image |" in printed.out
    assert "| classifieur linéaire | 7\u202f850 | 12,00\u202f% |" in printed.out
    assert "| C3 relié à toutes les cartes de S2 | 60\u202f900 |" in printed.out
    assert "Notre entraînement diffère de celui de l'article" in printed.out
    assert len(drawn) > 40  # two sweep plots, compare, paper, ablation, prototypes
    folders = re.compile("|".join(sorted(ABLATION, key=len, reverse=True) + ["mlp-same-params", "fc-same-depth"]))
    _assert_french([folders.sub(" ", text) for text in (printed.out, printed.err, *drawn)])  # run folders: names
