"""`lenetlab td`: the class pack a teacher copies to a USB stick (issue: the TD itself)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import written
from lenetlab.cli import main


def _notebook(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells)


def test_the_students_pack_is_the_french_enonce_by_default(tmp_path, capsys):
    out = tmp_path / "classe"
    assert main(["td", "--out", str(out)]) == 0
    assert [p.name for p in written(out)] == ["LISEZMOI.txt", "td_lenet5_enonce.ipynb"]
    text = _notebook(out / "td_lenet5_enonce.ipynb")
    assert "À vous de compléter" in text and "td.check_lenet5(LeNet5)" in text
    assert "BEGIN SOLUTION" not in text and "nn.Conv2d(1, 6" not in text  # the answers are not in it
    assert "jupyter notebook td_lenet5_enonce.ipynb" in (out / "LISEZMOI.txt").read_text(encoding="utf-8")


def test_the_teachers_pack_has_the_corrige_worksheet_guide_and_page(trained_run, tmp_path, capsys):
    out = tmp_path / "prof"
    assert main(["td", "--out", str(out), "--teacher", "--run", str(trained_run), "--lang", "en"]) == 0
    names = {p.name for p in written(out)}
    assert names == {"README.txt", "td_lenet5_exercises.ipynb", "td_lenet5_answers.ipynb", "worksheet.html",
                     "guide_enseignant.md", "lenet5_page.html"}
    assert "nn.Conv2d(1, 6" in _notebook(out / "td_lenet5_answers.ipynb")
    assert "window.LENETLAB_EMBEDDED" in (out / "lenet5_page.html").read_text(encoding="utf-8")
    assert "@media print" in (out / "worksheet.html").read_text(encoding="utf-8")


def test_a_students_edited_notebook_is_never_replaced(tmp_path, capsys):
    out = tmp_path / "classe"
    assert main(["td", "--out", str(out)]) == 0
    assert main(["td", "--out", str(out)]) == 0  # untouched: written again, nothing lost
    notebook = out / "td_lenet5_enonce.ipynb"
    answers = notebook.read_text(encoding="utf-8").replace("À vous de compléter", "my answer")
    notebook.write_text(answers, encoding="utf-8")  # what Jupyter does when a student saves
    capsys.readouterr()
    assert main(["td", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "has changed since lenetlab wrote it" in err
    assert notebook.read_text(encoding="utf-8") == answers


@pytest.mark.parametrize("argv, fragment", [(["--run", "x"], "add --teacher"), (["--lang", "de"], "unknown lang")])
def test_mistakes_are_one_line(tmp_path, capsys, argv, fragment):
    assert main(["td", "--out", str(tmp_path / "p"), *argv]) == 2
    assert fragment in capsys.readouterr().err
    assert not (tmp_path / "p").exists()
