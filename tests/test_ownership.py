"""Nothing a user owns is ever lost: lenetlab replaces or deletes only the files it wrote (issue: data loss).

Each case is one the attack round found destroying a user's work: ``train --force`` on a folder holding
someone else's config.json, ``--force`` on a run with the user's own files in explore/ and filters/,
``export --out`` pointed at the checkpoint or the config, ``--resume`` on a foreign folder deleting hidden
temporary files, and a refused ``--out`` leaving a lock file behind.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import pytest

from conftest import write_idx_folder
from lenetlab import LenetlabError
from lenetlab._fs import MANIFEST, atomic_write, owned_names, remove_owned, write_text
from lenetlab.cli import main


def _snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` and the sha256 of its bytes."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_idx_folder(tmp_path_factory.mktemp("data"), n_train=120, n_test=40)


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data-dir", str(data), "--model", "linear", "--epochs", "1", "--out", str(out),
                 "--no-progress", *extra])


# --- the rule itself, on plain files ---------------------------------------------------------------

def test_atomic_write_replaces_only_what_lenetlab_wrote(tmp_path):
    mine = write_text(tmp_path / "figure.txt", "one")
    assert write_text(mine, "two").read_text() == "two"  # lenetlab's own file: replaced
    theirs = tmp_path / "notes.txt"
    theirs.write_text("the user's")
    with pytest.raises(LenetlabError, match="lenetlab did not write it"):
        atomic_write(theirs, lambda f: f.write(b"x"))
    assert theirs.read_text() == "the user's"
    assert owned_names(tmp_path) == {"figure.txt"}
    assert not list(tmp_path.glob(".*.tmp"))  # the refused write left no temporary file


def test_remove_owned_keeps_every_file_of_the_user(tmp_path):
    write_text(tmp_path / "a.json", "{}")
    write_text(tmp_path / "sub" / "b.png", "png")
    write_text(tmp_path / "gone" / "c.png", "png")
    (tmp_path / "sub" / "mine.ipynb").write_text("the user's notebook")
    (tmp_path / "user.txt").write_text("the user's")
    (tmp_path / ".b.png.ab12cd34.tmp").write_text("not a temporary file of a.json: the user's")
    (tmp_path / "sub" / ".b.png.ab12cd34.tmp").write_text("half of lenetlab's b.png")
    remove_owned(tmp_path)
    assert _snapshot(tmp_path) == {
        "user.txt": hashlib.sha256(b"the user's").hexdigest(),
        "sub/mine.ipynb": hashlib.sha256(b"the user's notebook").hexdigest(),
        ".b.png.ab12cd34.tmp": hashlib.sha256(b"not a temporary file of a.json: the user's").hexdigest(),
    }
    assert not (tmp_path / "gone").exists() and not (tmp_path / MANIFEST).exists()


# --- train --force -------------------------------------------------------------------------------

def test_force_refuses_a_folder_whose_config_json_lenetlab_did_not_write(data, tmp_path, capsys):
    folder = tmp_path / "project"
    (folder / "explore").mkdir(parents=True)
    (folder / "filters").mkdir()
    (folder / "config.json").write_text('{"my": "settings"}')
    (folder / "best.pt").write_bytes(b"my own model")
    (folder / "explore" / "analysis.ipynb").write_text("{}")
    (folder / "filters" / "my_filters.py").write_text("print('mine')")
    before = _snapshot(folder)
    assert _train(data, folder, "--force") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "lenetlab did not write" in err and "--force only replaces a run" in err, err
    assert _snapshot(folder) == before
    assert not (folder / ".lock").exists() and not (folder / MANIFEST).exists()


def test_force_replaces_a_run_and_keeps_the_users_files_in_it(data, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(data, run, "--model", "lenet5", "--keep-filters") == 0
    assert main(["explore", "filters", str(run)]) == 0
    ours = set(_snapshot(run))
    assert "config.json" in ours and "filters/epoch_001.pt" in ours and any(p.startswith("explore/") for p in ours)
    (run / "explore" / "analysis.ipynb").write_text("the user's analysis")
    (run / "filters" / "my_filters.py").write_text("print('mine')")
    (run / "notes.md").write_text("what I saw")
    (run / ".notes.draft.tmp").write_text("an editor's swap file")
    capsys.readouterr()
    assert _train(data, run, "--force") == 0
    after = _snapshot(run)
    for user_file in ("explore/analysis.ipynb", "filters/my_filters.py", "notes.md", ".notes.draft.tmp"):
        assert user_file in after, user_file
    assert (run / "explore" / "analysis.ipynb").read_text() == "the user's analysis"
    # the old model's explorations are gone (the new report cannot show them); the new run is complete
    assert not [p for p in after if p.startswith("explore/") and p != "explore/analysis.ipynb"]
    assert sorted(p for p in after if p.startswith("filters/")) == ["filters/my_filters.py"]  # none kept this time
    assert {"config.json", "metrics.json", "best.pt", "last.pt", "report.html"} <= set(after)


def test_a_refused_out_leaves_nothing_behind(data, tmp_path, capsys):
    other = tmp_path / "thesis"
    other.mkdir()
    (other / "chapter1.tex").write_text("mine")
    for extra in ([], ["--force"]):
        assert _train(data, other, *extra) == 2
        capsys.readouterr()
        assert sorted(p.name for p in other.iterdir()) == ["chapter1.tex"]  # no .lock, no list of files


@pytest.mark.skipif(sys.platform == "win32", reason="runs are locked with flock, which Windows lacks")
def test_a_folder_another_train_has_just_started_is_in_use_not_foreign(data, tmp_path, capsys):
    """The second of two trains started together once saw the first's half-written config and called the
    folder "not empty (and holds no run)": the lock says who owns it."""
    from lenetlab.rundir import RunDir

    out = tmp_path / "run"
    with RunDir(out).lock():  # the first train, between its lock and its config.json
        (out / ".config.json.abc123.tmp").write_text("{")
        for extra in ([], ["--force"]):
            assert _train(data, out, *extra) == 2
            assert "in use by another lenetlab train" in capsys.readouterr().err
    assert _train(data, out) == 2  # once the first has gone, the folder is what it is: not a run
    assert "is not empty (and holds no run)" in capsys.readouterr().err


# --- train --resume on a foreign folder ------------------------------------------------------------

def test_resume_of_a_foreign_folder_touches_nothing(tmp_path, capsys):
    folder = tmp_path / "someone"
    (folder / "filters").mkdir(parents=True)
    (folder / "config.json").write_text('{"not": "a lenetlab run"}')
    (folder / ".config.json.x1y2z3.tmp").write_text("an editor's backup")
    (folder / ".session.tmp").write_text("hidden work")
    (folder / "filters" / ".epoch_001.pt.abc123.tmp").write_text("someone's file")
    before = _snapshot(folder)
    assert main(["train", "--resume", str(folder)]) == 2
    assert "config.json is damaged" in capsys.readouterr().err
    assert _snapshot(folder) == before and not (folder / ".lock").exists()


# --- export --out ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small_run(data, tmp_path_factory):
    run = tmp_path_factory.mktemp("export") / "run"
    assert main(["train", "--data-dir", str(data), "--epochs", "1", "--out", str(run), "--no-progress"]) == 0
    return run


@pytest.mark.parametrize("target", ["best.pt", "config.json", "metrics.json", "last.pt"])
def test_export_never_writes_over_its_inputs_or_the_runs_files(small_run, target, capsys):
    before = _snapshot(small_run)
    assert main(["export", str(small_run), "--out", str(small_run / target)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("ending in .html" in err or "reads" in err), err
    assert _snapshot(small_run) == before


def test_export_refuses_an_html_file_it_did_not_write_and_replaces_its_own(small_run, tmp_path, capsys):
    theirs = tmp_path / "cours.html"
    theirs.write_text("<p>the teacher's page</p>")
    assert main(["export", str(small_run), "--out", str(theirs)]) == 2
    assert "lenetlab did not write it" in capsys.readouterr().err
    assert theirs.read_text() == "<p>the teacher's page</p>"
    page = tmp_path / "page.html"
    assert main(["export", str(small_run), "--out", str(page)]) == 0
    first = page.stat().st_mtime_ns
    assert main(["export", str(small_run), "--out", str(page)]) == 0  # its own page: replaced
    assert page.stat().st_mtime_ns >= first and "<html" in page.read_text()[:500].lower()
    # the report, read by nothing of export but written by train, is not a target either
    assert main(["export", str(small_run), "--out", str(small_run / "report.html")]) == 2
    assert "report.html" in capsys.readouterr().err


# --- progress.json is read like every other run file ------------------------------------------------

def _progress(**fields) -> dict:
    return {"state": "training", "epochs": 3, "steps_per_epoch": 10, "epoch": 2, "step": 4, "epoch_started": 1.0,
            "best_epoch": 1, "updated": 2.0, "history": [GOOD_RECORD], **fields}


GOOD_RECORD = {"epoch": 1, "train_loss": 0.5, "valid_loss": 0.4, "valid_accuracy": 0.9, "train_seconds": 1.0,
               "valid_seconds": 0.1, "lr": 0.01}


@pytest.mark.parametrize("damage", [
    {"history": [{**GOOD_RECORD, "train_loss": "0.5"}]},       # a string where a number belongs
    {"history": [{**GOOD_RECORD, "valid_loss": float("inf")}]},  # written as Infinity
    {"epoch": "two"}, {"updated": float("nan")}, {"state": "<b>done</b>"}, {"history": {"0": GOOD_RECORD}},
], ids=["string", "infinity", "epoch", "nan", "state", "mapping"])
def test_a_damaged_progress_file_is_treated_as_absent(tmp_path, damage):
    import json

    from lenetlab.rundir import RunDir

    run = RunDir(tmp_path)
    (tmp_path / "progress.json").write_text(json.dumps(_progress()))
    assert run.progress()["history"][0].train_loss == 0.5
    (tmp_path / "progress.json").write_text(json.dumps(_progress(**damage)))
    assert run.progress() is None


def test_a_huge_progress_history_is_not_read(tmp_path):
    import json

    from lenetlab.rundir import MAX_PROGRESS_BYTES, RunDir

    text = json.dumps(_progress(history=[GOOD_RECORD] * 40_000))
    assert len(text) > MAX_PROGRESS_BYTES
    (tmp_path / "progress.json").write_text(text)
    assert RunDir(tmp_path).progress() is None


def test_speedrun_checks_its_out_before_training(tmp_path, capsys):
    theirs = tmp_path / "results.json"
    theirs.write_text("{}")
    for out, fragment in ((theirs, "lenetlab did not write it"), (tmp_path / "best.pt", "ending in .json")):
        assert main(["speedrun", "--seeds", "1", "--device", "cpu", "--out", str(out)]) == 2
        assert fragment in capsys.readouterr().err
    assert theirs.read_text() == "{}"
