"""French and English: the locale rule, French number formats, and a French report and figures with no English."""

from __future__ import annotations

import re
import shutil

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
