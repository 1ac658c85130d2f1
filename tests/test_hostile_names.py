"""Class names from a user's classes.txt reach HTML, script JSON and matplotlib: each is escaped for its context.

The attack round found a class named ``<!--<script>`` killing the exported page (the HTML parser swallowed
every later script) and ``$\\sqrt{x$`` ending a finished training with a traceback while drawing the figures
(matplotlib read it as mathtext). Here they go through the normal path: train -> figures, report -> export ->
the page in a real Chromium.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from browser_helpers import CHROMIUM, CHROMIUM_ARGS
from conftest import write_idx_folder
from lenetlab.cli import main

HOSTILE = ["<!--<script>", "$\\sqrt{x$", "a$b%c$d", "</script><script>window.owned=1</script>", "&amp; & <b>b</b>",
           "\u00e9t\u00e9 \u2029", "{{ 7*7 }}", "${alert(1)}", "`x`", "9"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    folder = write_idx_folder(tmp_path_factory.mktemp("hostile-data"), n_train=100, n_test=30)
    (folder / "classes.txt").write_text("\n".join(HOSTILE) + "\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("runs") / "run"
    assert main(["train", "--data-dir", str(folder), "--epochs", "1", "--out", str(out), "--no-progress"]) == 0
    return out


def test_training_draws_its_figures_and_report_with_hostile_names(run):
    for name in ("confusion_matrix.png", "per_class_accuracy.png", "predictions.png", "samples.png"):
        assert (run / name).stat().st_size > 1000, name
    report = (run / "report.html").read_text(encoding="utf-8")
    for name in HOSTILE[:5]:
        if "<" in name or "&" in name:
            assert name not in report, name  # written as text (escaped), never as markup
    assert "window.owned" not in report.replace("window.owned=1&lt;", "")


def test_the_exported_page_holds_no_markup_from_a_class_name(run, tmp_path):
    from lenetlab.export import export_run

    page = export_run(run, tmp_path / "page.html", lang="fr").read_text(encoding="utf-8")
    embedded = page[page.index("window.LENETLAB_EMBEDDED"):]
    embedded = embedded[:embedded.index("</script>")]
    assert "<" not in embedded and "\u2029" not in embedded


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_exported_page_runs_and_shows_the_names_as_written(run, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    from lenetlab.export import export_run

    path: Path = export_run(run, tmp_path / "page.html", lang="en")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        problems: list[str] = []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready]", timeout=30_000)
        names = page.evaluate("window.LENETLAB_EMBEDDED.model.class_names")
        owned = page.evaluate("window.owned === 1")
        browser.close()
    assert names == [n.strip() for n in HOSTILE] and not owned and problems == []
