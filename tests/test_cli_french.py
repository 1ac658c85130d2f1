"""The command line in French (--lang fr): what train, evaluate, predict and report print, and the errors.

Read for English words by tests/english.py (a vocabulary, not a list of known strings); numbers the French
way (decimal comma, narrow no-break spaces). Tiny synthetic data: seconds.
"""

from __future__ import annotations

import json
import re

import pytest
from PIL import Image

from conftest import write_idx_folder
from english import english_words
from lenetlab.cli import main
from lenetlab.i18n import catalogue_files

NAMES = ("cpu", "best.pt", "run", "data")  # a device and file names, printed as they are


@pytest.fixture(scope="module")
def fr_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fr")
    data = write_idx_folder(root / "data", n_train=300, n_test=50)
    return root, data


def test_train_evaluate_predict_and_report_speak_french(fr_run, capsys, tmp_path, monkeypatch):
    from english import figure_texts
    from lenetlab import plots

    drawn = []  # every figure lenetlab writes goes through plots.save (files) or plots.png_bytes (the report)
    for name in ("save", "png_bytes"):
        original = getattr(plots, name)
        monkeypatch.setattr(plots, name, lambda fig, *a, _original=original, **k: (
            drawn.append(figure_texts(fig)), _original(fig, *a, **k))[1])
    root, data = fr_run
    run = tmp_path / "run"
    assert main(["train", "--data-dir", str(data), "--epochs", "2", "--out", str(run), "--no-progress",
                 "--lang", "fr", "--threads", "1"]) == 0
    trained = capsys.readouterr()
    assert "époque   1/2  perte entr. " in trained.out and "*meilleure" in trained.out
    assert re.search(r"exactitude valid\. +\d+,\d\d\u202f%", trained.out)
    assert main(["evaluate", str(run), "--lang", "fr"]) == 0
    evaluated = capsys.readouterr()
    assert "Exactitude sur le test (globale) : " in evaluated.out and "61\u202f706" not in evaluated.out
    stroke = Image.new("L", (28, 28), 255)  # a dark vertical stroke on white: a "1"
    stroke.paste(0, (12, 4, 16, 24))
    stroke.save(tmp_path / "trait.png")
    assert main(["predict", str(run), str(tmp_path / "trait.png"), "--lang", "fr"]) == 0
    predicted = capsys.readouterr()
    assert re.search(r"trait\.png : \S+ \(\d+,\d\u202f%\)", predicted.out), predicted.out
    assert main(["report", str(run), "--lang", "fr"]) == 0
    reported = capsys.readouterr()
    assert reported.out.startswith("rapport écrit dans ") and "\u202fMo)" in reported.out
    printed = [re.sub(r"/\S+", " ", text)  # paths (/tmp/pytest-of-root/...) are the user's names
               for text in (trained.out, trained.err, evaluated.out, evaluated.err, predicted.out, reported.out)]
    assert english_words(printed, allowed=NAMES) == []
    assert len(drawn) >= 10  # five run figures by train, five again by report
    assert english_words([text for texts in drawn for text in texts], allowed=NAMES) == []


def test_the_english_lines_are_unchanged(fr_run, capsys, tmp_path):
    root, data = fr_run
    assert main(["train", "--data-dir", str(data), "--epochs", "1", "--out", str(tmp_path / "r"), "--no-progress",
                 "--lang", "en", "--threads", "1"]) == 0
    err = capsys.readouterr().out
    assert re.search(r"epoch   1/1  train_loss \d\.\d{4}  valid_loss \d\.\d{4}  valid_acc +\d+\.\d\d%  +\d+\.\ds  \*best",
                     err), err


@pytest.mark.parametrize("argv", [
    ["evaluate", "nowhere"],                                     # no checkpoint
    ["predict", "nowhere", "x.png"],
    ["train", "--model", "lenet6"],                              # unknown model
    ["train", "--arch", "kernels=3"],                            # an argument the model does not take
])
def test_errors_a_student_meets_are_french(argv, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main([*argv, "--lang", "fr"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("lenetlab : erreur : ") and "\n" not in err, err
    names = (*NAMES, "nowhere", "lenet6", "kernels", "kernel", "size", "stride", "pooling", "model", "modern",
             "linear", "padding", "channels", "units", "activation", "batch", "norm", "pool")  # flags and keys
    assert english_words([err], allowed=names) == [], err


def test_every_command_takes_lang(capsys):
    for argv in (["bench", "--help"], ["speedrun", "--help"], ["explore", "params", "--help"], ["predict", "--help"]):
        with pytest.raises(SystemExit):
            main(argv)
        assert "--lang {fr,en}" in capsys.readouterr().out, argv


def test_the_area_catalogues_have_the_same_keys_and_placeholders():
    files = {path.name: json.loads(path.read_text(encoding="utf-8")) for path in catalogue_files("fr")}
    for name, french in files.items():
        english = json.loads(next(p for p in catalogue_files("en") if p.name == "en" + name[2:]).read_text(
            encoding="utf-8"))
        assert set(french) == set(english), name
        for key in french:
            # a translation may leave a value out, never need one the English message is not given
            assert set(re.findall(r"\{(\w+)", french[key])) <= set(re.findall(r"\{(\w+)", english[key])), key
