"""The course notebooks (issue #21): one source, four built notebooks (French / English, énoncé / corrigé).

Fast tests: the built notebooks match the source and are stripped, the énoncé holds no solution and every
exercise leaves a runnable skeleton, every question is answered in the corrigé and printed in the worksheet.
Slow tests execute the four notebooks with nbclient at ``SEANCE = "test"``: the énoncé, unchanged, runs to the
end with every check failing in its language, the corrigé passes every check, and each « Lecture » agrees
with the numbers it reads.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from english import english_words

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "notebooks" / "td_lenet5.src.py"
BUILT = ROOT / "src" / "lenetlab" / "td" / "notebooks"
LANGS = ("fr", "en")
TURN = {"fr": "À vous de compléter", "en": "Your turn"}
# the checks the notebook calls, in order (names as lenetlab.td logs them)
CHECKS = ["check_parameter_count", "check_mlp", "check_train_one_epoch", "check_evaluate", "check_train",
          "check_per_class_accuracy", "check_conv_output_size", "check_lenet5", "check_parameter_count"]
EXERCISES = 11  # solution blocks: 2 parameter counts, MLP and LeNet5 (2 methods each), 5 functions
LECTURES = {"loss_gap", "per_class_mlp", "per_class_lenet", "mlp_vs_lenet", "filters", "embeddings", "conv_vs_fc",
            "grid", "paper"}
FRENCH_WORDS = re.compile(r"\b(votre|vos|le|la|les|pas|est|une?|des)\b|[éèàùç]", re.I)


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Names the French notebook prints as they are: the networks' and layers' names, PyTorch's printout of a model.
NOTEBOOK_NAMES = ("stride", "padding", "kernel", "features", "in", "out", "linear", "sequential", "conv2d",
                  "avgpool2d", "maxpool2d", "tanh", "relu", "flatten", "dropout", "mlp", "lenet", "bias", "true",
                  "false", "size", "silhouette")


def notebook(lang: str, version: str) -> Path:
    return BUILT / f"td_lenet5_{version}_{lang}.ipynb"


def cells(lang: str, version: str) -> list[dict]:
    return json.loads(notebook(lang, version).read_text(encoding="utf-8"))["cells"]


def text(cell: dict) -> str:
    source = cell.get("source", "")
    return source if isinstance(source, str) else "".join(source)


def tags(cell: dict) -> list[str]:
    return cell.get("metadata", {}).get("tags", [])


both = pytest.mark.parametrize("lang", LANGS)


# ---------------------------------------------------------------- build


def test_built_notebooks_match_the_source(capsys):
    pytest.importorskip("jupytext")
    sync = _load_script("sync_notebooks")
    assert sync.problems() == []
    assert sync.main(["--check"]) == 0
    assert "4 notebook(s) match notebooks/td_lenet5.src.py" in capsys.readouterr().out
    assert not list((ROOT / "notebooks").glob("*.ipynb")), "the old notebooks/*.ipynb are replaced by the built ones"


def test_build_is_deterministic_and_check_finds_differences(tmp_path, capsys):
    pytest.importorskip("jupytext")
    sync = _load_script("sync_notebooks")
    out = tmp_path / "built"
    assert sync.main(["--out", str(out)]) == 0
    for lang in LANGS:
        for version in ("enonce", "corrige"):
            assert (out / notebook(lang, version).name).read_bytes() == notebook(lang, version).read_bytes()
    assert sync.main(["--check", "--out", str(out)]) == 0
    edited = out / "td_lenet5_enonce_fr.ipynb"
    nb = json.loads(edited.read_text(encoding="utf-8"))
    nb["cells"][3]["source"] = "edited in Jupyter"
    edited.write_text(json.dumps(nb), encoding="utf-8")
    (out / "td_lenet5_enonce_fr.ipynb").with_name("stray.ipynb").write_text("{}", encoding="utf-8")
    (out / "td_lenet5_corrige_en.ipynb").unlink()
    capsys.readouterr()
    assert sync.main(["--check", "--out", str(out)]) == 1
    printed = capsys.readouterr().out
    assert "td_lenet5_enonce_fr.ipynb: differs from what the source builds" in printed
    assert "td_lenet5_corrige_en.ipynb: missing" in printed and "stray.ipynb: not built from" in printed
    broken = tmp_path / "broken.src.py"
    broken.write_text("# %%\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n", encoding="utf-8")
    assert sync.main(["--source", str(broken), "--out", str(out)]) == 2
    assert "without '### END SOLUTION'" in capsys.readouterr().err


def test_solution_blocks_become_skeletons():
    sync = _load_script("sync_notebooks")
    cell = ("def f(x):\n    # fr: la somme\n    # en: the sum\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n"
            "    ### END SOLUTION\n\n### BEGIN SOLUTION\n### STUB answer = None\nanswer = 42\n### END SOLUTION\n"
            'LANG = "fr"')
    assert sync.code_for(cell, "fr", "enonce") == (
        "def f(x):\n    # la somme\n    raise NotImplementedError  # À vous de compléter\n\n"
        'answer = None  # À vous de compléter\nLANG = "fr"')
    assert sync.code_for(cell, "en", "corrige") == (
        'def f(x):\n    # the sum\n    y = x + 1\n    return y\n\nanswer = 42\nLANG = "en"')


def test_committed_notebooks_are_stripped(tmp_path):
    check = _load_script("check_notebooks")
    assert check.main([]) == 0
    nb = json.loads(notebook("fr", "corrige").read_text(encoding="utf-8"))
    next(c for c in nb["cells"] if c["cell_type"] == "code")["execution_count"] = 3
    (tmp_path / "dirty.ipynb").write_text(json.dumps(nb), encoding="utf-8")
    assert check.main([str(tmp_path)]) == 1


def test_sources_are_ruff_clean():
    if importlib.util.find_spec("ruff") is not None:
        command = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        command = [shutil.which("ruff")]
    else:
        pytest.skip("ruff is not installed")
    paths = ["notebooks", "scripts/sync_notebooks.py", "scripts/check_notebooks.py", "src/lenetlab/td/worksheet.py",
             "src/lenetlab/td/notebooks", "tests/test_td_notebooks.py"]
    out = subprocess.run([*command, "check", "--no-cache", *paths], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


# ---------------------------------------------------------------- content


@both
def test_enonce_has_skeletons_and_no_solution(lang):
    enonce, corrige = cells(lang, "enonce"), cells(lang, "corrige")
    assert [c["cell_type"] for c in enonce] == [c["cell_type"] for c in corrige]
    code = "\n".join(text(c) for c in enonce if c["cell_type"] == "code")
    assert "BEGIN SOLUTION" not in code and "STUB" not in code
    assert code.count(f"# {TURN[lang]}") == EXERCISES
    assert code.count(f"raise NotImplementedError  # {TURN[lang]}") == EXERCISES - 2
    assert not [c for c in enonce if "solution" in tags(c)]
    solved = "\n".join(text(c) for c in corrige if c["cell_type"] == "code")
    assert "NotImplementedError" not in solved and "BEGIN SOLUTION" not in solved
    assert 'valid_loss_min = float("inf")' in solved
    other = "en" if lang == "fr" else "fr"
    assert f'LANG = "{lang}"' in code and f'LANG = "{other}"' not in code
    assert all(c["id"] == f"cell-{i:02d}" for i, c in enumerate(enonce))
    for c in enonce:
        if c["cell_type"] == "code":
            compile(text(c), "<cell>", "exec")


@both
def test_every_question_is_answered_in_the_corrige(lang):
    corrige = cells(lang, "corrige")
    questions = [i for i, c in enumerate(corrige) if "question" in tags(c)]
    assert len(questions) >= 10
    for i in questions:
        assert "solution" in tags(corrige[i + 1]), text(corrige[i])
    markdown = "\n".join(text(c) for c in corrige if c["cell_type"] == "markdown")
    fix = "Correction" if lang == "fr" else "Fix"
    for n in range(1, 6):
        assert f"{fix} {n} " in markdown
    for concept in ("stride", "padding", "nn.Flatten", "nn.AvgPool2d", "⌊(28 + 4 − 5)/1⌋ + 1 = 28", "32×32",
                    "tanh", "TensorFlow", "feature_extractor", "classifier"):
        assert concept in markdown, concept
    enonce = cells(lang, "enonce")
    assert [text(c) for c in enonce if "question" in tags(c)] == [text(corrige[i]) for i in questions]
    assert all(text(c) in ("*Votre réponse :*", "*Your answer:*") for c in enonce if "answer" in tags(c))


@both
def test_worksheet_holds_every_question(lang):
    from lenetlab.td.worksheet import build_worksheet

    page = build_worksheet(lang)
    assert page.startswith("<!DOCTYPE html>") and "@page { size: A4" in page and "<script" not in page
    assert "http" not in page  # self-contained
    plain = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", page))
    questions = [text(c) for c in cells(lang, "enonce") if "question" in tags(c)]
    assert page.count('<div class="answer">') == len(questions)
    for n, question in enumerate(questions, 1):
        body = re.sub(r"\s+", " ", re.sub(r"[*`]", "", question)).replace("&", "&amp;")
        body = re.sub(r"^Question \d+ ?(\(.*?\))?\. ?", "", body)
        assert f"Question {n}" in plain
        assert body.replace("&amp;", "&") in plain.replace("&amp;", "&"), question
    with pytest.raises(ValueError):
        build_worksheet("de")


@both
def test_parameters_cell(lang):
    code = [c for c in cells(lang, "enonce") if c["cell_type"] == "code"]
    params = [c for c in code if "parameters" in tags(c)]
    assert len(params) == 1
    namespace: dict = {}
    exec(text(params[0]), namespace)
    assert namespace["LANG"] == lang and namespace["SEANCE"] == "2h" and namespace["RESULTS_PATH"]
    setup = text(code[1])
    assert all(f'"{s}": {{' in setup for s in ("test", "2h", "complet"))


# ---------------------------------------------------------------- execution (slow)

_executed: dict[tuple[str, str], dict] = {}

# Injected around the notebook when it runs: every figure the notebook shows is saved through
# Figure.savefig (its `show`), so recording there gives every text drawn (titles, ticks, legends).
RECORD_FIGURE_TEXTS = """
import matplotlib.figure as _mpl_figure
from matplotlib.text import Text as _Text

_figure_texts, _savefig = [], _mpl_figure.Figure.savefig

def _recording_savefig(self, *args, **kwargs):
    done = _savefig(self, *args, **kwargs)  # drawn now: the tick labels exist
    _figure_texts.extend(t.get_text() for t in self.findobj(_Text) if t.get_visible() and t.get_text())
    return done

_mpl_figure.Figure.savefig = _recording_savefig
"""
SAVE_FIGURE_TEXTS = """
import json as _json
from pathlib import Path as _Path
_Path("figure_texts.json").write_text(_json.dumps(_figure_texts, ensure_ascii=False), encoding="utf-8")
"""


def execute(lang: str, version: str, tmp_path_factory) -> dict:
    """Run a built notebook unchanged but for SEANCE = "test"; its outputs, check log and results (cached)."""
    if (lang, version) in _executed:
        return _executed[(lang, version)]
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(notebook(lang, version), as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell('SEANCE = "test"', metadata={"tags": ["injected-parameters"]}))
    nb.cells.insert(i + 2, nbformat.v4.new_code_cell(RECORD_FIGURE_TEXTS, metadata={"tags": ["injected-recorder"]}))
    nb.cells.append(nbformat.v4.new_code_cell(SAVE_FIGURE_TEXTS, metadata={"tags": ["injected-recorder"]}))
    cwd = tmp_path_factory.mktemp(f"td_{version}_{lang}")
    log = cwd / "checks.jsonl"
    # one thread per kernel: on a shared 2-core machine, two threads fighting other jobs are much slower
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "LENETLAB_TD_LOG": str(log)}
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute(env=env)
    outputs = [o for c in nb.cells for o in c.get("outputs", [])]
    stdout = "".join(o["text"] for o in outputs if o["output_type"] == "stream" and o["name"] == "stdout")
    run = {"outputs": outputs, "stdout": stdout,
           "log": [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()],
           "results": json.loads((cwd / "td_resultats.json").read_text(encoding="utf-8")),
           "figure_texts": json.loads((cwd / "figure_texts.json").read_text(encoding="utf-8"))}
    _executed[(lang, version)] = run
    return run


def _no_errors(run: dict) -> None:
    for out in run["outputs"]:
        assert out["output_type"] != "error", out.get("evalue")
        shown = out.get("text", "") + json.dumps(out.get("data", {}).get("text/plain", ""))
        assert "Traceback" not in shown, shown


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@pytest.mark.slow
@both
def test_enonce_runs_unchanged_and_every_check_fails(lang, tmp_path_factory):
    run = execute(lang, "enonce", tmp_path_factory)
    _no_errors(run)
    assert [entry["check"] for entry in run["log"]] == CHECKS
    assert not any(entry["passed"] for entry in run["log"])
    messages = [entry["message"] for entry in run["log"]]
    assert all(m.startswith("❌") and m in run["stdout"] for m in messages)
    if lang == "fr":
        assert all(FRENCH_WORDS.search(m) for m in messages), messages
    else:
        assert not any(re.search(r"[éèàç]|\b(votre|vous)\b", m) for m in messages), messages
    assert set(run["results"]["lectures"]) == LECTURES  # the long runs use lenetlab's networks


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@pytest.mark.slow
@both
def test_corrige_passes_every_check(lang, tmp_path_factory):
    run = execute(lang, "corrige", tmp_path_factory)
    _no_errors(run)
    assert [entry["check"] for entry in run["log"]] == CHECKS
    assert all(entry["passed"] for entry in run["log"]), [e["message"] for e in run["log"] if not e["passed"]]
    assert "{" not in "".join(line for line in run["stdout"].splitlines() if line.startswith(("BILAN", "SUMMARY")))
    assert run["results"]["parameters"] == {"MLP": 105214, "LeNet-5": 61706}


@pytest.mark.long  # runs the notebook (over 20 s); in the long tier it shares the runs above
@pytest.mark.slow
@pytest.mark.parametrize("version", ["enonce", "corrige"])
def test_the_french_notebook_prints_and_draws_no_english(version, tmp_path_factory):
    """What the French notebook prints and every figure it draws, read for English words (tests/english.py)."""
    run = execute("fr", version, tmp_path_factory)
    printed = [line for line in run["stdout"].splitlines() if not line.startswith("lenetlab ")]  # versions
    assert len(run["figure_texts"]) > 100  # the recorder saw the figures
    for texts in (printed, run["figure_texts"]):
        found = english_words(texts, allowed=NOTEBOOK_NAMES)
        assert found == [], (found, sorted({t for t in texts if english_words([t], allowed=NOTEBOOK_NAMES)}))
    ticks = [text for text in run["figure_texts"] if re.fullmatch(r"[−-]?[\d.,\u202f]+", text)]
    assert ticks and not [t for t in ticks if re.search(r"\d\.\d", t)], [t for t in ticks if "." in t]  # 0,5


@pytest.mark.long  # runs the notebook (over 20 s); in the long tier it shares the runs above
@pytest.mark.slow
@both
def test_readings_agree_with_their_numbers(lang, tmp_path_factory):
    run = execute(lang, "corrige", tmp_path_factory)
    r, lectures = run["results"], run["results"]["lectures"]
    assert set(lectures) == LECTURES
    assert run["stdout"].count("Lecture. " if lang == "fr" else "Reading. ") == len(LECTURES)
    last = r["history"]["MLP"][-1]
    assert lectures["loss_gap"]["train_loss"] == last["train_loss"]
    assert lectures["loss_gap"]["valid_loss"] == last["valid_loss"]
    assert lectures["loss_gap"]["verdict"] == ("train_above" if last["train_loss"] > last["valid_loss"] else "train_below")
    too_short = "trop court" if lang == "fr" else "too short"
    assert (too_short in run["stdout"]) == (len(r["history"]["MLP"]) < 3 or any(
        lectures[k]["verdict"] in ("not_yet", "not_distinguishable", "fc_better") for k in lectures))
    for network, key in (("MLP", "per_class_mlp"), ("LeNet-5", "per_class_lenet")):
        acc = r["per_class"][network]
        assert lectures[key]["per_class"] == acc
        assert lectures[key]["verdict"] == str(acc.index(min(acc)))
        assert lectures[key]["best"] == str(acc.index(max(acc)))
    comparison = r["comparison"]
    assert lectures["mlp_vs_lenet"]["errors_mlp"] == comparison["MLP"]["errors"]
    assert lectures["mlp_vs_lenet"]["errors_lenet"] == comparison["LeNet-5"]["errors"]
    assert lectures["mlp_vs_lenet"]["verdict"] == (
        "lenet_better" if comparison["LeNet-5"]["errors"] < comparison["MLP"]["errors"] else "not_yet")
    f = r["filters"]
    assert {k: lectures["filters"][k] for k in ("learned", "chance", "spread")} == f
    assert lectures["filters"]["verdict"] == (
        "closer_than_random" if f["learned"] > f["chance"] + 2 * f["spread"] else "not_distinguishable")
    s = r["silhouette"]
    assert lectures["embeddings"]["silhouettes"] == s
    assert lectures["embeddings"]["verdict"] == ("f6_better" if s["LeNet F6"] > s["pixels"] else "not_yet")
    depth = r["depth_study"]
    lenet, fc = depth["LeNet-5"], next(v for k, v in depth.items() if v["parameters"] == 1453094)
    assert lectures["conv_vs_fc"]["lenet"] == lenet["validation"] and lectures["conv_vs_fc"]["fc"] == fc["validation"]
    assert lectures["conv_vs_fc"]["verdict"] == (
        "lenet_not_worse" if lenet["validation"] >= fc["validation"] else "fc_better")
    grid = r["grid_study"]
    assert len(grid) == 8 and lectures["grid"]["best"] == max(grid, key=lambda k: grid[k]["validation"])
    word = "pas" if lang == "fr" else "stride"
    mean = {n: sum(v["validation"] for k, v in grid.items() if k.startswith(f"{word} {n},")) / 4 for n in (1, 2)}
    assert lectures["grid"]["stride1"] == pytest.approx(mean[1]) and lectures["grid"]["stride2"] == pytest.approx(mean[2])
    assert lectures["grid"]["verdict"] == ("stride1_better" if mean[1] > mean[2] else "stride2_not_worse")
    # LeNet-5 is trained once for the exploration: the same numbers in 6.5, 6.6 and 6.7
    lab = next(v for v in r["paper_study"].values() if v["parameters"] == 61706)
    paper = next(v for v in r["paper_study"].values() if v["parameters"] == 60000)
    default = next(v for k, v in grid.items() if k.startswith(f"{word} 1,") and v["parameters"] == 61706)
    assert lab == lenet == default
    assert lectures["paper"]["verdict"] == ("lab_not_worse" if lab["validation"] >= paper["validation"]
                                            else "paper_better")
    # every sentence printed for a verdict carries the numbers it reads
    for key in ("mlp_vs_lenet",):
        assert f"{lectures[key]['errors_lenet']} " in run["stdout"]
