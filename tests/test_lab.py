"""The page that trains (``lenetlab lab``) and the way back (``lenetlab import``).

In a real Chromium, offline: a small network trains in the page for a few hundred steps (the loss falls, the test
accuracy is far above chance), its weights download, ``import_run`` turns them into a run directory, and PyTorch
then predicts exactly what the page predicted on every one of the page's test images. Around it, the command
line's refusals and what the page file holds.
"""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, train_small_mlp_in_lab
from lenetlab.cli import main
from lenetlab.errors import LenetlabError
from lenetlab.graph import model_from_graph, model_graph
from lenetlab.imported import import_run
from lenetlab.lab import lab_data, write_lab
from lenetlab.models import build_model
from lenetlab.report import finish_run
from lenetlab.rundir import RunDir

TRAIN, TEST = 3200, 500  # 100 steps an epoch in batches of 32: the browser test trains two epochs


def test_the_page_holds_its_images_the_models_defaults_and_the_worker(tmp_path):
    data = lab_data(TRAIN, TEST)
    images = np.frombuffer(__import__("gzip").decompress(base64.b64decode(data["train"]["images"])), np.uint8)
    assert images.size == TRAIN * 28 * 28 and images.max() == 255
    assert data["models"]["lenet5"] == dict(build_model("lenet5").config)  # Python's defaults, not the page's own
    assert data["models"]["fcnet"]["hidden"] == [1176, 400, 120, 84]
    assert "LabWorker" in data["worker"] and "productNT" in data["worker"]
    page = write_lab(tmp_path / "lab.html", "fr", train_images=TRAIN, test_images=TEST).read_text(encoding="utf-8")
    assert '<html lang="fr">' in page and "http://" not in page.split("window.LENETLAB_LAB")[0]


def test_lab_refuses_to_replace_a_file_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "notes.html"
    mine.write_text("my notes")
    assert main(["lab", "--out", str(mine), "--lang", "en"]) != 0
    assert mine.read_text() == "my notes"
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "notes.html" in err


def test_import_refuses_a_missing_file_a_folder_and_an_existing_run_but_reads_a_windows_bom(tmp_path):
    with pytest.raises(LenetlabError, match="does not exist"):
        import_run(tmp_path / "nothere.json", tmp_path / "run", log=None)
    with pytest.raises(LenetlabError, match="is a folder"):
        import_run(tmp_path, tmp_path / "run", log=None)
    saved = tmp_path / "weights.json"
    saved.write_text("\ufeff" + json.dumps(model_graph(build_model("mlp", hidden_1=8, hidden_2=8), "mlp")),
                     encoding="utf-8")  # as Notepad saves
    assert import_run(saved, tmp_path / "run", log=None)["model"] == "mlp"
    with pytest.raises(LenetlabError, match="already holds a run; choose another --out, or pass --force") as refused:
        import_run(saved, tmp_path / "run", log=None)
    assert "--resume" not in str(refused.value)
    assert import_run(saved, tmp_path / "run", log=None, force=True)["model"] == "mlp"


def test_import_of_a_graph_without_the_pages_record_says_it_does_not_know_how_it_was_trained(tmp_path):
    saved = tmp_path / "net.json"
    saved.write_text(json.dumps(model_graph(build_model("mlp", hidden_1=8, hidden_2=8), "mlp")), encoding="utf-8")
    said = []
    import_run(saved, tmp_path / "run", log=said.append, lang="fr")
    assert "le fichier ne dit pas comment il a été entraîné" in said[0] and " 0 images" not in said[0]
    assert "\u202f%" in said[0]  # 11,21 % the French way


@pytest.mark.parametrize("text, words", [
    ("not json", "is not a JSON file"),
    ('{"format": "something-else"}', "is not a network saved by lenetlab's page"),
    ('{"format": "lenetlab-graph-1", "name": "lenet5"}', "lacks the network's model name"),
])
def test_import_refuses_what_the_page_did_not_save(tmp_path, text, words):
    path = tmp_path / "weights.json"
    path.write_text(text)
    with pytest.raises(LenetlabError, match=words):
        import_run(path, tmp_path / "run", log=None)
    assert not (tmp_path / "run").exists()  # nothing written


def test_import_refuses_weights_of_the_wrong_shape_or_not_numbers(tmp_path):
    graph = model_graph(build_model("mlp"), "mlp")
    graph["arguments"]["hidden_1"] = 64  # the weights are still 120 wide
    with pytest.raises(LenetlabError, match="is not the 64x784 tensor"):
        model_from_graph(graph)
    graph = model_graph(build_model("mlp"), "mlp")
    nan = np.full(10, np.nan, dtype="<f4")
    graph["stages"][-1]["ops"][0]["bias"]["data"] = base64.b64encode(nan.tobytes()).decode()
    with pytest.raises(LenetlabError, match="not numbers"):
        model_from_graph(graph)


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_a_network_trained_in_the_page_predicts_the_same_in_pytorch(tmp_path, mnist):
    sync_api = pytest.importorskip("playwright.sync_api")
    path = write_lab(tmp_path / "lab.html", "en", train_images=TRAIN, test_images=TEST)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(accept_downloads=True)
        problems, left = [], []
        page.on("pageerror", lambda e: problems.append(str(e)))
        page.route("**/*", lambda route: route.continue_() if route.request.url == path.resolve().as_uri()
                   else (left.append(route.request.url), route.abort()))
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        train_small_mlp_in_lab(page, epochs=2, timeout_ms=120_000)  # one small network: the course's MLP, narrower
        net = page.evaluate("() => { const n = LabPage.state.nets.B; return { losses: n.losses, history: n.history,"
                            " predictions: Array.from(n.predictions) }; }")
        with page.expect_download() as download:
            page.click("#lab-net-B .lab-download")
        saved = tmp_path / download.value.suggested_filename
        download.value.save_as(saved)
        hint = page.inner_text("#lab-net-B .lab-hint")
        with page.expect_popup() as popup:  # the draw-a-digit page of `lenetlab export`, for this network
            page.click("#lab-net-B .lab-explore")
        explorer = popup.value
        explorer.wait_for_selector("body[data-ready]")
        pixels = (mnist.test.images[0].flatten().float() / 255).tolist()
        explorer_label = explorer.evaluate("(p) => { const q = window.lenetlab.predict(p); return q.indexOf(Math.max(...q)); }",
                                           pixels)
        explorer_model = explorer.get_attribute("body", "data-model")
        explorer_samples = explorer.locator("#samples canvas, #samples button, #samples > *").count()
        browser.close()
    assert problems == [] and left == []
    losses = [loss for _, loss in net["losses"]]  # about five a second, each of one batch
    assert len(losses) >= 2 and losses[-1] < losses[0]  # the loss fell (sampled by time: fewer points, faster engine)
    assert net["history"][1]["train_loss"] < net["history"][0]["train_loss"]
    accuracies = [h["test_accuracy"] for h in net["history"]]
    assert len(accuracies) == 2 and accuracies[-1] > 0.8  # far above chance (0.1) after 200 steps
    assert saved.name == "lenetlab-mlp-B.json" and saved.name in hint
    assert explorer_model == "mlp" and explorer_label == net["predictions"][0] and explorer_samples == 20

    metrics = import_run(saved, tmp_path / "run", log=None, finish=finish_run)
    run = RunDir(tmp_path / "run")
    assert metrics["model"] == "mlp" and run.config.model_args["hidden_1"] == 48 and run.is_finished()
    assert run.report_path.is_file() and (run.path / "loss_curves.png").is_file()
    assert [e["valid_accuracy"] for e in metrics["epochs"]] == accuracies
    report = run.report_path.read_text(encoding="utf-8")  # said as it was: trained in a browser, tested on its images
    assert "a web browser (lenetlab lab)" in report and "page test acc. %" in report and "valid acc. %" not in report
    assert run.config.train.label_smoothing == 0.1 and run.config.train.batch_size == 32
    model, _ = model_from_graph(json.loads(saved.read_text()))
    with torch.no_grad():
        logits = model(mnist.test.images[:TEST].unsqueeze(1).float() / 255)
    top2 = logits.topk(2, dim=1).values
    differ = [i for i, (a, b) in enumerate(zip(logits.argmax(1).tolist(), net["predictions"])) if a != b]
    # The page trains in float64 and saves float32: only a near tie (logits within 1e-4) may go the other way.
    assert all(float(top2[i, 0] - top2[i, 1]) < 1e-4 for i in differ), differ
    assert 0.8 < metrics["test"]["accuracy"] < 1  # on all 10,000 test images


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")
def test_the_pages_architectures_are_pythons_and_an_impossible_one_is_refused_in_its_words(tmp_path):
    """Any choice of the calculator's fields: the page's parameter count is PyTorch's for the same arguments,
    and a combination that leaves no output is refused before training with `lenetlab train`'s words."""
    sync_api = pytest.importorskip("playwright.sync_api")
    from lenetlab.models import count_parameters

    path = write_lab(tmp_path / "lab.html", "en", train_images=200, test_images=50)
    variant = {"c1_channels": 12, "kernel_size": 3, "stride": 2, "padding": 1, "c3_channels": 20, "c3_kernel": 2,
               "c3_padding": 1, "f6_units": 50}
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        for key, value in variant.items():
            page.fill(f"#lab-A-{key}", str(value))
        counted = page.inner_text("#lab-net-A .lab-info")
        page.fill("#lab-A-kernel_size", "2.5")
        whole = page.inner_text("#lab-net-A .lab-info")
        page.fill("#lab-A-kernel_size", "40")
        refused = page.inner_text("#lab-net-A .lab-info")
        browser.close()
    assert counted == f"{count_parameters(build_model('lenet5', **variant)):,} parameters"
    assert whole == "C1 kernel: give a whole number (got 2.5)"
    with pytest.raises(LenetlabError, match="invalid lenet5 architecture: ") as python:
        build_model("lenet5", **{**variant, "kernel_size": 40})
    assert refused == str(python.value).split("architecture: ", 1)[1]  # "C1: a 28x28 input with kernel 40, ..."
