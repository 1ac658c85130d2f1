"""The command line in French (--lang fr): what train, evaluate, predict and report print, and the errors.

Read for English words by tests/english.py (a vocabulary, not a list of known strings); numbers the French
way (decimal comma, narrow no-break spaces). Tiny synthetic data: seconds.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

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


# --- the errors a student meets, the bench and speedrun summaries, the interrupt line -------------------------

def _french_error(capsys, argv):
    """The one line ``argv`` + ``--lang fr`` writes on stderr, and the English one without ``--lang``."""
    assert main([*argv, "--lang", "fr"]) == 2
    french = capsys.readouterr().err.strip()
    assert main(argv) == 2  # the tests run under an English locale (conftest)
    english = capsys.readouterr().err.strip()
    return french, english


def _words_left(text, *allowed):
    """English words in ``text``, paths, flags, quoted values and `commands` aside."""
    text = re.sub(r"\S*/\S+|\S*-idx\S*|`[^`]*`|'[^']*'|--[\w-]+", " ", text)  # file names are names
    return english_words([text], allowed=(*NAMES, *allowed))


@pytest.fixture(scope="module")
def tiny_run(fr_run):
    """An MLP trained one epoch on the tiny synthetic data: a checkpoint for predict's errors."""
    from lenetlab import TrainConfig, train_run

    root, data = fr_run
    run = root / "mlp"
    train_run(TrainConfig.from_preset("default", model="mlp", epochs=1, data_dir=str(data)), run, progress=False,
              log=None, figures=False)
    return run


def _error_cases(root, data, run):
    (root / "a file.txt").write_text("a file where a folder is expected")
    (root / "notes.png").write_text("not an image")
    Image.new("L", (40, 40), 255).save(root / "blank.png")
    existing = root / "existing"
    existing.mkdir(exist_ok=True)
    (existing / "config.json").write_text("{}")
    (root / "empty").mkdir(exist_ok=True)
    return {
        "no checkpoint": ["evaluate", str(root / "nowhere")],
        "not a checkpoint": ["evaluate", str(root / "a file.txt")],
        "run exists": ["train", "--data-dir", str(data), "--out", str(existing)],
        "unknown model": ["train", "--model", "resnet"],
        "unknown preset": ["train", "--preset", "turbo"],
        "arch not KEY=VALUE": ["train", "--arch", "kernel_size"],
        "arch given twice": ["train", "--arch", "kernel_size=3", "--arch", "kernel_size=5"],
        "arch unknown key": ["train", "--arch", "kernels=3"],
        "arch not a number": ["train", "--arch", "kernel_size=x"],
        "arch from the data": ["train", "--arch", "n_classes=3"],
        "image unreadable": ["predict", str(run), str(root / "notes.png")],
        "no image": ["predict", str(run), str(root / "missing.png")],
        "no digit": ["predict", str(run), str(root / "blank.png")],
        "epochs": ["train", "--epochs", "0"],
        "lr": ["train", "--lr", "-1"],
        "batch size": ["train", "--batch-size", "0"],
        "momentum": ["train", "--momentum", "1.5"],
        "epochs not a number": ["train", "--epochs", "abc"],
        "flag without its value": ["train", "--out"],
        "required argument": ["evaluate"],
        "unknown flag": ["train", "--bogus"],
        "data folder missing": ["train", "--data-dir", str(root / "nowhere")],
        "data folder without MNIST": ["train", "--data-dir", str(root / "empty")],
        "device": ["evaluate", "--device", "gpu", str(run)],
        "resume with settings": ["train", "--resume", str(run), "--epochs", "3"],
        "nothing to resume": ["train", "--resume", str(root / "empty")],
        "speedrun seeds": ["speedrun", "--seeds", "0", "--device", "cpu"],
        "speedrun out": ["speedrun", "--out", str(root / "numbers.txt")],
        "lab images out of range": ["lab", "--train-images", "0", "--out", str(root / "lab.html")],
        "lab images not whole": ["lab", "--test-images", "2.5", "--out", str(root / "lab.html")],
        "threads out of range": ["train", "--threads", "9999"],
    }


def test_the_errors_a_student_meets_most_are_french(fr_run, tiny_run, capsys):
    root, data = fr_run
    for name, argv in _error_cases(root, data, tiny_run).items():
        french, english = _french_error(capsys, argv)
        assert french.startswith("lenetlab : erreur : ") and "\n" not in french, (name, french)
        assert english.startswith("lenetlab: error: ") and "\n" not in english, (name, english)
        assert french.removeprefix("lenetlab : erreur : ") != english.removeprefix("lenetlab: error: "), name
        # the names a student types (models, presets, keys, choices) are code, as they are in English
        assert _words_left(french, "resnet", "kernels", "modern", "linear", "default", "seed", "paper", "turbo",
                           "pooling", "x") == [], (name, french)


def test_the_english_errors_keep_their_words(fr_run, tiny_run, capsys):
    """str(exc) is English as before: the messages the other tests and the docs pin."""
    root, data = fr_run
    cases = _error_cases(root, data, tiny_run)
    expected = {
        "run exists": "already holds a run; choose another --out, pass --force to overwrite it, or --resume ",
        "epochs": "--epochs must be at least 1 (got 0)",
        "lr": "--lr must be a positive number, at most 1000 (got -1.0)",
        "arch not KEY=VALUE": "--arch 'kernel_size' is not KEY=VALUE; write it like --arch kernel_size=3; see "
                              "`lenetlab train --help`",
        "arch not a number": "lenet5: --arch kernel_size must be a whole number, got 'x'",
        "epochs not a number": "argument --epochs: invalid int value: 'abc'; see `lenetlab train --help`",
        "required argument": "the following arguments are required: RUN_DIR_OR_CHECKPOINT; see `lenetlab evaluate --help`",
        "data folder without MNIST": "has no train-images-idx3-ubyte[.gz]; --data-dir must be a folder holding the four",
        "no digit": "blank.png: the image holds no visible digit (no ink against its background); give an image "
                    "with a dark digit on light paper or the reverse",
        "speedrun out": "speedrun writes JSON; give a name ending in .json, such as numbers.json",
        "lab images out of range": "--train-images: 0 is not between 100 and 48000; see `lenetlab lab --help`",
        "lab images not whole": "--test-images: '2.5' is not a whole number; see `lenetlab lab --help`",
    }
    for name, fragment in expected.items():
        assert main(cases[name]) == 2
        assert fragment in capsys.readouterr().err, name


def test_the_refusals_of_files_lenetlab_did_not_write_are_french(tmp_path, capsys):
    """_fs.py's one-line refusals (check_replaceable, ensure_folder) in French once they carry their keys."""
    from lenetlab import _fs

    if "error.not_ours" not in Path(_fs.__file__).read_text(encoding="utf-8"):
        pytest.skip("_fs.py does not word its refusals from the catalogue yet")
    (tmp_path / "speedrun.json").write_text("{}")  # the user's file, not lenetlab's
    (tmp_path / "a file").write_text("")
    for argv in (["speedrun", "--out", str(tmp_path / "speedrun.json")],
                 ["train", "--out", str(tmp_path / "a file" / "run"), "--data-dir", str(tmp_path)]):
        french, english = _french_error(capsys, argv)
        assert french.startswith("lenetlab : erreur : ") and _words_left(french) == [], french
        assert english.startswith("lenetlab: error: ") and french[20:] != english[17:], english


def test_errors_keep_their_key_through_pickling_and_wrapping():
    import pickle

    from lenetlab.errors import DivergedError, LenetlabError, Number, TrainingInterrupted, Words

    diverged = DivergedError.of("error.diverged", loss=Number(1234.5, ".4g"),
                                where=Words("error.diverged_at_step", epoch=2, step=7))
    wrapped = pickle.loads(pickle.dumps(LenetlabError.of("error.diverged_reuse", message=diverged, path="runs/x")))
    assert str(wrapped) == ("training diverged: the loss is 1234 at epoch 2, step 7; lower --lr (for example by 10x) "
                            "and start again (add --force to reuse runs/x)")
    assert wrapped.localized("fr").startswith("l'entraînement a divergé : la perte vaut 1234 à l'époque 2")
    stopped = TrainingInterrupted.of("error.interrupted", 143, path="runs/x",
                                     saved=Words("error.interrupted_saved", last="runs/x/last.pt", done=2, epochs=5))
    assert stopped.exit_code == 143 and isinstance(stopped, KeyboardInterrupt)
    assert str(stopped) == ("interrupted; runs/x/last.pt holds epoch 2 of 5. Continue with: lenetlab train --resume "
                            "runs/x")
    assert _words_left(stopped.localized("fr")) == [], stopped.localized("fr")


def test_the_interrupt_line_speaks_the_commands_language(monkeypatch, capsys):
    from lenetlab import cli

    def pressed(argv=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "main", pressed)
    monkeypatch.setattr("sys.argv", ["lenetlab", "train", "--lang", "fr"])
    assert cli.entry() == 130 and capsys.readouterr().err.strip() == "lenetlab : interrompu"
    monkeypatch.setattr("sys.argv", ["lenetlab", "train"])
    assert cli.entry() == 130 and capsys.readouterr().err.strip() == "lenetlab: interrupted"


def _bench_result(threads):
    return {
        "machine": {"cpu": "Intel Xeon", "cores": threads, "cpu_capability": "AVX512", "gpu": None, "device": "cpu",
                    "load": {"load_1min": 0.5, "cores": 1, "torch_threads": threads}},
        "versions": {"torch": "2.5.1", "python": "3.11.7"},
        "settings": {"model": "lenet5", "batch_size": 256, "epochs": 1, "channels_last": True, "precision": "fp32",
                     "compile": False, "train_images": 48000, "valid_images": 12000},
        "macs_per_image": 416520, "gflop_per_epoch": 129.13, "matmul_peak": {"fp32_gflops": 150.2},
        "in_memory_plain": {"epoch_seconds": 3.5, "train_seconds": 3.0, "valid_seconds": 0.5},
        "lenetlab": {"epoch_seconds": 2.75, "train_seconds": 2.5, "valid_seconds": 0.25, "train_images_per_s": 19200,
                     "inference_images_per_s": 61000, "achieved_gflops": 47.0, "share_of_fp32_peak": 0.313},
        "fast_path": {"epoch_seconds": 1.25, "train_seconds": 1.0, "valid_seconds": 0.25, "train_images_per_s": 48000,
                      "cuda_graph": False, "speedup_vs_lenetlab": 2.2},
        "notebook": {"epoch_seconds": 6.0, "train_seconds": 5.0, "valid_seconds": 1.0}, "speedup_vs_notebook": 3.0,
        "memory": {"peak_rss_mb": 812.5},
    }


def _speedrun_result(threads):
    return {
        "model": "lenet5", "parameters": 61706, "target_valid_accuracy": 0.99,
        "config": {"lr": 0.3, "epochs": 10, "augment": "shift"},
        "fast_path": {"cuda_graph": False, "batch_size": 256, "capture_seconds": 0.0, "setup_seconds": 1.5},
        "summary": {"seeds": 1, "reached": 1, "seconds_mean": 28.4, "seconds_std": 0.0, "epochs_mean": 4.0,
                    "test_accuracy_mean": 0.9912, "test_accuracy_std": 0.0, "plain_epoch_seconds": 6.25,
                    "plain_epochs_ratio": 4.54},
        "machine": {"cpu": "Intel Xeon", "gpu": None, "load_before": {"load_1min": 0.5, "cores": 1, "torch_threads": threads},
                    "load_after": {"load_1min": 1.25, "cores": 1}},
    }


def test_bench_and_speedrun_summaries_in_french_with_plurals():
    from lenetlab.bench import busy_line, format_report
    from lenetlab.speedrun import format_table

    names = ("intel", "xeon", "matmul", "fp32", "bf16", "gflop", "nchw", "avx512", "shift", "speedrun", "notebook",
             "channels_last", "precision", "compile", "true", "false", "cuda")
    for threads in (1, 4):
        bench_fr, bench_en = format_report(_bench_result(threads), "fr"), format_report(_bench_result(threads))
        table_fr, table_en = format_table(_speedrun_result(threads), "fr"), format_table(_speedrun_result(threads))
        assert _words_left(bench_fr, *names) == [] and _words_left(table_fr, *names) == [], bench_fr + table_fr
        assert "48\u202f000 images d'entraînement" in bench_fr and "2,75\u202fs par époque" in bench_fr
        assert "812,5\u202fMo" in bench_fr and "sur 1 cœur" in bench_fr and "99,00\u202f% d'exactitude" in table_fr
        assert "3.0x faster" in bench_en and "GFLOP/s achieved" in bench_en and "812.5 MB" in bench_en
        assert "reached      1 of 1 seeds" in table_en and "plain eager PyTorch epoch" in table_en
        assert "on 1 core" in bench_en and "on 1 cores" not in table_en
    assert "Intel Xeon, 1 fil d'exécution," in format_report(_bench_result(1), "fr")
    assert "Intel Xeon, 4 fils d'exécution" in format_table(_speedrun_result(4), "fr")
    assert "Intel Xeon, 1 thread," in format_report(_bench_result(1)) and "1 threads" not in format_table(_speedrun_result(1))
    assert "4 époques en moyenne" in format_table(_speedrun_result(1), "fr")
    assert busy_line({"load_1min": 0.3, "cores": 2, "torch_threads": 2}, "fr") is None
    assert "load 2.7 on 2 cores" in busy_line({"load_1min": 2.7, "cores": 2, "torch_threads": 2})
    warning = busy_line({"load_1min": 2.7, "cores": 2, "torch_threads": 2}, "fr")
    assert "charge 2,7 sur 2 cœurs" in warning and _words_left(warning, "omp_num_threads") == [], warning


def test_every_number_setting_has_one_rule_that_words_itself_in_both_languages():
    """A setting's rule is one constraint object: the check and its words (no second copy to drift)."""
    from lenetlab import checkpoint
    from lenetlab.config import FIELD_TYPES, FIELDS
    from lenetlab.constraints import Constraint
    from lenetlab.i18n import messages

    for name, field in FIELDS.items():
        if FIELD_TYPES[name] in (int, float):
            assert isinstance(field.metadata["rule"], Constraint), name
            english, french = field.metadata["rule"].text("en"), field.metadata["rule"].text("fr")
            assert english.startswith("be ") and french.startswith("être "), (name, english, french)
    rules = {name: FIELDS[name].metadata["rule"] for name in ("lr", "momentum", "seed", "valid_fraction")}
    assert [rule.text("fr") for rule in rules.values()] == [
        "être un nombre positif, au plus 1000", "être dans [0 ; 1[", "être un nombre entier de 0 à 4\u202f294\u202f967\u202f295",
        "être dans ]0 ; 1[, par exemple 0,2"]
    assert messages("en")["error.checkpoint_hint"] == checkpoint._HINT
