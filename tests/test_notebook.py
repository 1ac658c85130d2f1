"""The course notebook (French) and its English twin: built from their jupytext sources (.py, ruff-clean),
committed stripped, every cell compiles, and each runs top to bottom on real MNIST with small parameters
(in a kernel, and as a plain script)."""

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

from lenetlab.i18n import number

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
FRENCH, ENGLISH = NOTEBOOKS / "td_lenet5.ipynb", NOTEBOOKS / "td_lenet5_en.ipynb"
SOURCES = {FRENCH: FRENCH.with_suffix(".py"), ENGLISH: ENGLISH.with_suffix(".py")}  # jupytext percent format
SECTIONS = {
    FRENCH: ["Données", "Réseau multi-couche", "Entraînement", "Évaluation", "Réseau convolutif LeNet-5",
             "Exploration"],
    ENGLISH: ["Data", "Multi-layer network", "Training", "Evaluation", "Convolutional network LeNet-5",
              "Exploration"],
}
FIX_HEADING = {FRENCH: "Correction {n} ", ENGLISH: "Fix {n} "}
# What each language prints, for the checks of the executed notebook.
OUTPUT = {
    FRENCH: {"mlp": "MLP : 105\u202f214 paramètres", "lenet": "LeNet-5 : 61\u202f706 paramètres",
             "layer": r"^\s*{layer} : \s*{count} paramètres", "nine": r"Exactitude du chiffre 9 : .*\(\s*\d+/1009\)",
             "summary": "BILAN", "params": "parametres", "accuracy": "exactitude_test", "epochs": "epoques",
             "loss": ("perte_validation_epoque_manuelle", "corrigee", "lenetlab", "du_td"),
             "filters": ("filtres_c1_cosinus", "hasard")},
    ENGLISH: {"mlp": "MLP: 105,214 parameters", "lenet": "LeNet-5: 61,706 parameters",
              "layer": r"^\s*{layer}: \s*{count} parameters", "nine": r"Test accuracy of digit 9: .*\(\s*\d+/1009\)",
              "summary": "SUMMARY", "params": "parameters", "accuracy": "test_accuracy", "epochs": "epochs",
              "loss": ("validation_loss_hand_written_epoch", "fixed", "lenetlab", "lab"),
              "filters": ("c1_filters_cosine", "random")},
}
# Small values so a whole notebook runs in well under a minute: the numbers it must still get right
# (parameter counts, the validation-loss fix) do not depend on them, and 1 epoch is far above chance.
SMALL = "EPOCHS_MLP = 1\nEPOCHS_LENET = 1\nEMBED_POINTS = 500\nTSNE_POINTS = 200\nEPOCHS_EXPLORE = 1\nEXPLORE_IMAGES = 1000\n"
both = pytest.mark.parametrize("notebook", [FRENCH, ENGLISH], ids=["fr", "en"])


def _load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cells(notebook: Path) -> list[dict]:
    return json.loads(notebook.read_text(encoding="utf-8"))["cells"]


def _parameters_cell(cells: list[dict]) -> int:
    tagged = [i for i, c in enumerate(cells) if "parameters" in c.get("metadata", {}).get("tags", [])]
    assert len(tagged) == 1, "exactly one cell must carry the 'parameters' tag"
    return tagged[0]


def test_committed_notebooks_are_stripped():
    check = _load_script("check_notebooks")
    assert check.problems(FRENCH) == [] and check.problems(ENGLISH) == []
    assert check.main([str(NOTEBOOKS)]) == 0


def test_strip_check_fails_on_outputs_and_counts(tmp_path, capsys):
    check = _load_script("check_notebooks")
    nb = json.loads(FRENCH.read_text(encoding="utf-8"))
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    code[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "7\n"}]
    code[1]["execution_count"] = 3
    dirty = tmp_path / "dirty.ipynb"
    dirty.write_text(json.dumps(nb), encoding="utf-8")
    found = check.problems(dirty)
    assert len(found) == 2
    assert "1 output(s)" in found[0] and "execution count 3" in found[1]
    assert all("--clear-output" in m for m in found)
    assert check.main([str(tmp_path)]) == 1
    assert check.main([str(tmp_path / "missing")]) == 2
    (tmp_path / "broken.ipynb").write_text("{not json", encoding="utf-8")
    assert check.main([str(tmp_path / "broken.ipynb")]) == 2
    assert "not a notebook" in capsys.readouterr().err


def test_notebooks_match_their_sources(capsys):
    pytest.importorskip("jupytext")
    sync = _load_script("sync_notebooks")
    for notebook, source in SOURCES.items():
        assert source.is_file(), f"{source} is the source of {notebook.name}"
        assert sync.problems(source) == []
    assert sync.main(["--check"]) == 0
    assert "2 notebook(s) match" in capsys.readouterr().out


def test_sources_check_finds_differences_and_rebuilds(tmp_path, capsys):
    pytest.importorskip("jupytext")
    sync = _load_script("sync_notebooks")
    source = tmp_path / "td.py"
    shutil.copy(SOURCES[FRENCH], source)
    notebook = source.with_suffix(".ipynb")
    assert sync.problems(source) == [
        f"{notebook}: missing; build it from td.py with `python3 scripts/sync_notebooks.py`"]
    nb = json.loads(FRENCH.read_text(encoding="utf-8"))
    nb["cells"][0]["source"] = ["# edited in Jupyter\n"]
    nb["cells"][2]["metadata"]["tags"] = []  # the parameters tag lost
    nb["cells"][3]["cell_type"] = "markdown"
    nb["cells"][5]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": "7\n"}]  # not this check's job
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    found = sync.problems(source)
    assert [m.split(": ", 1)[1].split(";")[0] for m in found] == [
        "cell 0 (markdown) source differs from td.py",
        "cell 2 tags [] differ from ['parameters'] in td.py",
        "cell 3 is markdown, code in td.py",
    ]
    assert all(f"`jupytext --sync {notebook}`" in m and "scripts/sync_notebooks.py" in m for m in found)
    assert sync.main(["--check", str(tmp_path)]) == 1
    # the .ipynb is newer than its source: an edit in Jupyter is not overwritten without --force
    os.utime(source, (0, 0))
    assert sync.main([str(tmp_path)]) == 1
    assert "jupytext --sync" in capsys.readouterr().out
    assert sync.main([str(source), "--force"]) == 0
    assert notebook.read_text(encoding="utf-8") == FRENCH.read_text(encoding="utf-8")
    assert sync.main(["--check", str(notebook)]) == 0  # a notebook named stands for its source
    nb["cells"].pop()
    notebook.write_text(json.dumps(nb), encoding="utf-8")
    n = len(nb["cells"])
    assert sync.problems(source)[-1].endswith(f"{n} cells, td.py has {n + 1}; " + sync._fix(notebook))
    assert sync.main(["--check", str(tmp_path / "missing")]) == 2
    orphan = tmp_path / "orphan.ipynb"
    shutil.copy(FRENCH, orphan)
    assert sync.problems(orphan.with_suffix(".py")) == [
        f"{orphan}: no source orphan.py beside it; create it with `jupytext --set-formats ipynb,py:percent {orphan}`"]
    assert sync.main(["--check", str(orphan)]) == 1


def test_sources_are_ruff_clean():
    """The .py sources (and the built notebooks) pass the repository's ruff configuration."""
    if importlib.util.find_spec("ruff") is not None:
        command = [sys.executable, "-m", "ruff"]
    elif shutil.which("ruff"):
        command = [shutil.which("ruff")]
    else:
        pytest.skip("ruff is not installed")
    out = subprocess.run([*command, "check", "--no-cache", "notebooks"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr


@both
def test_every_code_cell_compiles(notebook):
    code = [c for c in _cells(notebook) if c["cell_type"] == "code"]
    assert len(code) >= 20
    for i, cell in enumerate(code):
        source = "".join(cell["source"])
        assert not re.search(r"^\s*[%!]", source, re.M), f"code cell {i} uses IPython syntax; keep cells plain Python"
        compile(source, f"<code cell {i}>", "exec")


@both
def test_parameters_cell_and_sections(notebook):
    cells = _cells(notebook)
    params = "".join(cells[_parameters_cell(cells)]["source"])
    namespace: dict = {}
    exec(params, namespace)  # plain assignments only
    assert {"EPOCHS_MLP", "EPOCHS_LENET", "EMBED_POINTS", "TSNE_POINTS", "SEED", "EPOCHS_EXPLORE",
            "EXPLORE_IMAGES"} <= set(namespace)
    assert namespace["EPOCHS_LENET"] >= 10 and namespace.get("RECETTE", namespace.get("RECIPE")) == "default"
    headings = [line for c in cells if c["cell_type"] == "markdown" for line in "".join(c["source"]).splitlines()
                if line.startswith("## ")]
    for section in SECTIONS[notebook]:
        assert any(section in h for h in headings), f"missing section {section!r} in {headings}"
    text = "".join("".join(c["source"]) for c in cells if c["cell_type"] == "markdown")
    for n in range(1, 6):
        assert FIX_HEADING[notebook].format(n=n) in text
    assert "next(iter(loader))" in text and "dataiter.next()" in text


def test_twins_have_the_same_code_structure():
    fr, en = _cells(FRENCH), _cells(ENGLISH)
    assert [c["cell_type"] for c in fr] == [c["cell_type"] for c in en]
    assert _parameters_cell(fr) == _parameters_cell(en)


def _execute(notebook: Path, cwd: Path) -> tuple[str, int]:
    """Run a notebook with SMALL parameters injected after the parameters cell; (stdout, PNG count)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(notebook, as_version=4)
    i = next(k for k, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    nb.cells.insert(i + 1, nbformat.v4.new_code_cell(SMALL, metadata={"tags": ["injected-parameters"]}))
    # One thread per kernel: on a shared CI runner, two OpenMP threads fighting other jobs for two
    # cores run several times slower than one (measured 9x for LeNet-5 on a loaded 2-core machine).
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(cwd)}}).execute(env=env)
    stdout, pngs = [], 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error"
            if out["output_type"] == "stream":
                assert out["name"] == "stdout" or "Warning" not in out["text"], out["text"]  # no warning noise
                stdout.append(out["text"])
            pngs += "image/png" in out.get("data", {})
    return "".join(stdout), pngs


@pytest.mark.slow
# The twins share their code structure (test above), so one runs from notebooks/, the other from the root.
@pytest.mark.parametrize(("notebook", "cwd"), [(FRENCH, NOTEBOOKS), (ENGLISH, ROOT)],
                         ids=["fr-from-notebooks", "en-from-repo-root"])
def test_notebook_runs_top_to_bottom(notebook, cwd):
    stdout, pngs = _execute(notebook, cwd)
    words = OUTPUT[notebook]
    assert words["mlp"] in stdout
    assert words["lenet"] in stdout
    for layer, count in (("C1", 156), ("C3", 2416), ("C5", 48120), ("F6", 10164), ("output", 850)):
        written = number(count, "fr" if notebook == FRENCH else "en")  # 48 120 in French, 48,120 in English
        assert re.search(words["layer"].format(layer=layer, count=written), stdout, re.M), layer
    assert re.search(words["nine"], stdout)  # the per-class table, on the test set
    summary = json.loads(re.search(rf"^{words['summary']} (.*)$", stdout, re.M).group(1))
    assert summary[words["params"]] == {"MLP": 105214, "LeNet-5": 61706}
    assert summary[words["epochs"]] == {"MLP": 1, "LeNet-5": 1}
    # one epoch of the default recipe: far above chance (10 %), measured 92.8 % and 95.2 %
    assert summary[words["accuracy"]]["MLP"] > 0.85
    assert summary[words["accuracy"]]["LeNet-5"] > 0.90
    # the validation-loss fix: the hand-written loop agrees with lenetlab; the course's version keeps
    # the last of 24 batches (12,000 images in batches of 500), so it comes out about 20 times smaller
    key, fixed, library, course = words["loss"]
    loss = summary[key]
    assert loss[fixed] == pytest.approx(loss[library], abs=1e-4)
    assert 10 < loss[fixed] / loss[course] < 60
    # trained representations separate the classes better than raw pixels
    assert summary["silhouette"]["LeNet F6"] > summary["silhouette"]["pixels"]
    assert set(summary["knn"]) == {"pixels", "MLP H1", "LeNet C5", "LeNet F6"}
    filters_key, random_key = words["filters"]
    assert 0.0 < summary[filters_key][random_key] <= 1.0
    # the exploration trains: conv vs fully connected of the same depth, the 8 stride x padding x kernel
    # variants (all valid now that C5 follows), the 1998 LeNet-5 beside the lab's
    explored = {name: r[words["params"]] for name, r in summary["exploration"].items()}
    assert len(explored) == 3 + 8 + 2
    assert sorted(explored.values()).count(60000) == 1 and 1453094 in explored.values()
    assert {15626, 19754, 61706, 81194} <= set(explored.values())  # stride 2 k5, stride 2 k3, default, k3 pad 2
    assert all(0.0 <= r["validation"] <= 1.0 and 0.0 <= r["test"] <= 1.0 for r in summary["exploration"].values())
    assert pngs >= 17


@pytest.mark.slow
def test_source_runs_as_a_plain_script(tmp_path):
    """`python td_lenet5.py`, outside Jupyter: it runs through, and saves its figures as PNG files."""
    jupytext = pytest.importorskip("jupytext")
    nbformat = pytest.importorskip("nbformat")
    nb = jupytext.read(SOURCES[FRENCH], fmt="py:percent")
    nb.cells.insert(_parameters_cell(nb.cells) + 1, nbformat.v4.new_code_cell(SMALL))
    script = tmp_path / "td_lenet5.py"
    jupytext.write(nb, script, fmt="py:percent")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TMPDIR": str(tmp_path)}
    out = subprocess.run([sys.executable, str(script)], cwd=ROOT, env=env, capture_output=True, text=True,
                         timeout=900)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert OUTPUT[FRENCH]["mlp"] in out.stdout and OUTPUT[FRENCH]["lenet"] in out.stdout
    summary = json.loads(re.search(r"^BILAN (.*)$", out.stdout, re.M).group(1))
    assert summary["parametres"] == {"MLP": 105214, "LeNet-5": 61706}
    saved = [Path(p) for p in re.findall(r"^\[figure enregistrée : (.*)\]$", out.stdout, re.M)]
    assert len(saved) >= 15 and len({p.parent for p in saved}) == 1
    assert all(p.is_file() and p.read_bytes().startswith(b"\x89PNG") and tmp_path in p.parents for p in saved)


@pytest.mark.parametrize("cwd", [NOTEBOOKS, ROOT], ids=["from-notebooks", "from-repo-root"])
def test_setup_cell_finds_src_when_lenetlab_is_not_installed(cwd):
    """Without `pip install`, the setup cell takes lenetlab from src/ of the checkout."""
    cells = [c for c in _cells(FRENCH) if c["cell_type"] == "code"]
    setup = "".join(cells[1]["source"])
    assert "import lenetlab" in setup
    # Hide the installed (editable) lenetlab: drop src/ from sys.path and any editable-install finder.
    script = (
        "import sys\n"
        "sys.path[:] = [p for p in sys.path if not p.rstrip('/').endswith('src')]\n"
        "sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f).lower()]\n"
        "try:\n    import lenetlab\nexcept ImportError:\n    pass\nelse:\n    raise SystemExit(3)\n"
        + "".join(cells[0]["source"]) + "\n" + setup + "\nprint('FOUND', lenetlab.__file__)\n"
    )
    out = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=120)
    if out.returncode == 3:
        pytest.skip("lenetlab is installed in site-packages (not editable): it cannot be hidden")
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"FOUND {ROOT / 'src' / 'lenetlab' / '__init__.py'}" in out.stdout
