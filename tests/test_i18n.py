"""French and English: the locale rule, French number formats, and a French report and figures with no English."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from lenetlab.cli import main
from lenetlab.errors import LenetlabError
from lenetlab.i18n import check_lang, default_lang, messages, number, percent


def test_the_system_locale_picks_the_language(monkeypatch):
    for variable in ("LC_ALL", "LC_MESSAGES", "LANG"):
        monkeypatch.delenv(variable, raising=False)
    assert default_lang() == "en"
    monkeypatch.setenv("LANG", "fr_FR.UTF-8")
    assert default_lang() == "fr" and check_lang(None) == "fr"
    monkeypatch.setenv("LC_ALL", "en_GB.UTF-8")  # LC_ALL wins over LANG, as in C
    assert default_lang() == "en"
    with pytest.raises(LenetlabError, match="use fr or en"):
        check_lang("de")


def test_french_numbers_use_a_comma_and_narrow_spaces():
    assert number(61706, "fr") == "61\u202f706" and number(61706, "en") == "61,706"
    assert percent(0.9934, "fr") == "99,34\u202f%" and percent(0.9934, "en") == "99.34 %"
    assert number(0.28497, "fr", 4) == "0,2850"


def _english_only(keys_prefix: tuple[str, ...]) -> list[str]:
    en, fr = messages("en"), messages("fr")
    pieces = []
    for key, text in en.items():
        if key.startswith(keys_prefix) and text != fr[key]:
            pieces += [p.strip(" .,:;()") for p in re.split(r"\{\w+\}", text) if len(p.strip(" .,:;()")) >= 6]
    return [p for p in pieces if p not in " ".join(fr.values())]


def test_the_french_report_has_no_english_and_french_numbers(trained_run, tmp_path):
    from lenetlab.report import write_report

    run = tmp_path / "run"
    shutil.copytree(trained_run, run)
    (run / "model.html").write_text("<html></html>")  # an exported page: the report links it
    text = write_report(run, lang="fr").read_text(encoding="utf-8")
    assert '<html lang="fr">' in text
    visible = re.sub(r"<[^>]+>", " ", re.sub(r'src="data:[^"]+"', "", text))
    leftovers = [p for p in _english_only(("report.", "fig.")) if p in visible]
    assert leftovers == []
    assert "61\u202f706" in text and re.search(r"\d\d,\d\d\u202f%", text)
    assert '<a href="model.html">model.html</a>' in text


def test_the_figures_of_a_run_speak_its_language(mnist):
    import torch

    from lenetlab.runs import run_figures
    from lenetlab.training import EvalResult

    test = EvalResult(0.3, 0.95, [0.95] * 10, [[100 if i == j else 0 for j in range(10)] for i in range(10)],
                      torch.zeros(10000, dtype=torch.long), torch.zeros(10000, 10))
    history = [{"epoch": 1, "train_loss": 1.0, "valid_loss": 0.5, "valid_accuracy": 0.9}]
    figures = run_figures(mnist, history, test, lang="fr")
    assert figures["loss_curves.png"].axes[0].get_title() == "Perte"
    assert figures["loss_curves.png"].axes[1].get_ylabel() == "exactitude (%)"
    assert figures["confusion_matrix.png"].axes[0].get_xlabel() == "prédite"
    assert figures["per_class_accuracy.png"].axes[0].get_legend().get_texts()[0].get_text() == "moyenne 95,00\u202f%"


def test_an_unknown_language_is_refused_in_one_line(trained_run, capsys):
    assert main(["report", str(trained_run), "--lang", "de"]) == 2
    assert "unknown lang 'de'; choose one of: fr, en" in capsys.readouterr().err


# ------------------------------------------------------------------ the course's French (issue #22)
def test_the_french_catalogue_speaks_the_course_words():
    import lenetlab.i18n

    fr = json.loads((Path(lenetlab.i18n.__file__).parent / "fr.json").read_text(encoding="utf-8"))
    for word in ("certitude", "rembourrage", "2-d", "dossier de run", "plus sûr", "précision"):
        assert [key for key, text in fr.items() if word in text.lower()] == [], word
    assert "confiance" in fr["page.sure"] and "confiance décroissante" in fr["conf.note"]
    assert fr["page.layer.output"] == "sortie" and "remplissage (padding)" in fr["calc.padding"]


def _french_run_figures(mnist):
    import torch
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from lenetlab import TrainConfig
    from lenetlab.runs import run_figures, train_loss_label
    from lenetlab.training import EvalResult

    rng = torch.Generator().manual_seed(0)
    probabilities = torch.rand(10000, 10, generator=rng).softmax(1)
    matrix = [[9000 + i if i == j else 3 * (i + j) for j in range(10)] for i in range(10)]
    test = EvalResult(0.3, 0.951, [0.91 + 0.008 * i for i in range(10)], matrix, probabilities.argmax(1), probabilities)
    history = [{"epoch": e, "train_loss": 1.3 / e, "valid_loss": 0.4 / e, "valid_accuracy": 0.93 + 0.004 * e}
               for e in range(1, 13)]
    config = TrainConfig.from_preset("default", label_smoothing=0.1, augment="shift")
    figures = run_figures(mnist, history, test, train_loss_label(config, "fr"), "fr")
    for fig in figures.values():
        FigureCanvasAgg(fig)  # a canvas that draws: tick labels exist only once drawn
        fig.canvas.draw()
    return figures


def test_every_figure_of_a_run_in_french_has_no_english_and_comma_ticks(mnist):
    from english import english_words, figure_texts

    figures = _french_run_figures(mnist)
    assert set(figures) == {"samples.png", "predictions.png", "loss_curves.png", "confusion_matrix.png",
                            "per_class_accuracy.png"}
    for name, fig in figures.items():
        texts = figure_texts(fig)
        assert english_words(texts) == [], name
        assert [text for text in texts if re.search(r"\d\.\d|-\d", text)] == [], name  # 0,2 and −1, not 0.2 and -1
    loss_ticks = [label.get_text() for ax in figures["loss_curves.png"].axes for label in ax.get_yticklabels()]
    assert any(re.fullmatch(r"\d+,\d+", text) for text in loss_ticks), loss_ticks
    legend = " ".join(figure_texts(figures["loss_curves.png"]))
    assert "décalages aléatoires" in legend and "lissage des étiquettes" in legend and "shift" not in legend


def test_the_loss_legend_covers_neither_the_axis_labels_nor_the_ticks(mnist):
    fig = _french_run_figures(mnist)["loss_curves.png"]
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    legend = ax.get_legend().get_window_extent(renderer)
    others = [ax.yaxis.label, ax.xaxis.label, ax.title, *ax.get_yticklabels(), *ax.get_xticklabels()]
    for text in others:
        if text.get_text():
            assert not legend.overlaps(text.get_window_extent(renderer)), text.get_text()
    assert fig.bbox.contains(legend.x0, legend.y0) and fig.bbox.contains(legend.x1, legend.y1)  # not cut off
    assert not ax.get_window_extent(renderer).overlaps(legend)  # nor the curves: it is outside the axes
