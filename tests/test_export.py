"""`lenetlab export`: the model graph, the offline page in a real Chromium (no request leaves it), its
forward pass and explanations against PyTorch, its preprocessing against Python's, and its French."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, draw
from lenetlab import TrainConfig, train_run
from lenetlab.cli import main
from lenetlab.errors import LenetlabError
from lenetlab.export import export_run
from lenetlab.graph import model_graph
from lenetlab.i18n import messages
from lenetlab.models import MODELS, build_model
from lenetlab.preprocess import mnist_preprocess


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_registered_model_has_a_graph(name):
    graph = model_graph(build_model(name), name)
    assert graph["stages"][-1]["name"] == "output"
    ops = {op["op"] for stage in graph["stages"] for op in stage["ops"]}
    assert ops <= {"conv", "linear", "act", "pool", "flatten"} | ({"rbf"} if name == "lenet5-1998" else set())


def test_batch_norm_is_folded_into_the_convolution():
    torch.manual_seed(0)
    model = build_model("lenet5-modern")
    with torch.no_grad():  # running statistics as after training, not the identity
        for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
            bn.running_mean.uniform_(-1, 1)
            bn.running_var.uniform_(0.5, 2)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.5, 0.5)
    model.eval()
    conv_op = model_graph(model, "lenet5-modern")["stages"][0]["ops"][0]
    assert conv_op["batch_norm_folded"] is True
    import base64

    def decode(t):
        return torch.from_numpy(np.frombuffer(base64.b64decode(t["data"]), "<f4").reshape(t["shape"]).copy())

    x = torch.rand(3, 1, 28, 28)
    c1 = model.stage("C1")
    folded = nn.functional.conv2d(x, decode(conv_op["weight"]), decode(conv_op["bias"]), padding=conv_op["padding"])
    with torch.no_grad():
        assert torch.allclose(folded, c1.bn(c1.conv(x)), atol=1e-5)


def test_a_layer_the_page_cannot_compute_is_refused_in_one_line():
    class Odd(nn.Module):
        def stages(self):
            return [("D1", nn.Dropout(0.5)), ("output", nn.Linear(784, 10))]

    with pytest.raises(LenetlabError, match=r"cannot export odd: its stage D1 uses a Dropout layer"):
        model_graph(Odd(), "odd")


def test_export_command_writes_a_page_under_one_megabyte(trained_run, tmp_path, capsys):
    out = tmp_path / "lenet5.html"
    assert main(["export", str(trained_run), "--out", str(out), "--lang", "en"]) == 0
    assert "page written to" in capsys.readouterr().out
    assert 300_000 < out.stat().st_size < 1_000_000  # 61,706 float32 weights in base64 are 330 kB
    text = out.read_text()
    assert "<script src=" not in text and 'rel="stylesheet"' not in text and "http" not in text.split("<body")[1]
    assert main(["export", str(trained_run), "--out", str(tmp_path)]) == 2  # a folder: refused, nothing written
    assert "is a folder" in capsys.readouterr().err


def test_export_refuses_a_run_that_is_not_there(tmp_path, capsys):
    assert main(["export", str(tmp_path / "nothing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetlab: error:") and "Traceback" not in err


# ----- in a real Chromium -----------------------------------------------------------------------------
browser = pytest.mark.browser
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def runs(trained_run, tmp_path_factory):
    """One real epoch of each family the page must compute: LeNet-5 (shared), the MLP, LeNet-5-modern."""
    out = {"lenet5": trained_run}
    for name in ("mlp", "lenet5-modern"):
        run = tmp_path_factory.mktemp("runs") / name
        train_run(TrainConfig.from_preset("default", model=name, epochs=1), run, progress=False, log=None,
                  figures=False)
        out[name] = run
    return out


@pytest.fixture(scope="module")
def chromium():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def open_offline(chromium, path: Path):
    """The file in a new page, every request but the file itself aborted and recorded."""
    page = chromium.new_page(viewport={"width": 1280, "height": 1000})
    page.left = []
    page.problems = []
    page.on("pageerror", lambda e: page.problems.append(str(e)))
    page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))

    def guard(route):
        if route.request.url == path.resolve().as_uri():
            route.continue_()
        else:
            page.left.append(route.request.url)
            route.abort()

    page.route("**/*", guard)
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready]")
    return page


@browser
@needs_chromium
@pytest.mark.parametrize("name", ["lenet5", "mlp", "lenet5-modern"])
def test_the_exported_page_computes_what_pytorch_computes(name, runs, chromium, mnist, tmp_path):
    from lenetlab.predict import Predictor

    path = export_run(runs[name], tmp_path / f"{name}.html", lang="en")
    page = open_offline(chromium, path)
    draw(page, [(140, 40), (140, 240)])
    page.wait_for_selector("body[data-predicted]")
    assert page.text_content("#pred-label") in [str(d) for d in range(10)]

    model = Predictor.load(runs[name]).model
    x = mnist.test.images[:200].float().div(255)
    with torch.no_grad():
        expected = model(x.unsqueeze(1)).softmax(1).numpy()
    got = np.array(page.evaluate("(xs) => xs.map((x) => window.lenetlab.predict(x))", x.reshape(200, 784).tolist()))
    assert (got.argmax(1) == expected.argmax(1)).all()
    assert np.abs(got - expected).max() <= 1e-4
    assert page.left == [] and page.problems == []
    page.close()


def _click_unit(page, layer: str, unit: list[int], shape: list[int]) -> None:
    """Click the canvas pixel of ``unit`` in ``layer``'s view, as a student would."""
    canvases = page.locator(f"#layers [data-layer='{layer}'] canvas")
    canvas = canvases.nth(unit[0]) if len(unit) == 3 else canvases.first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()  # the border box, in the viewport's coordinates, as the page measures it
    if len(unit) == 3:
        x, y = (unit[2] + 0.5) * box["width"] / shape[2], (unit[1] + 0.5) * box["height"] / shape[1]
    else:
        x, y = (unit[0] + 0.5) * box["width"] / shape[0], box["height"] / 2
    page.mouse.click(box["x"] + x, box["y"] + y)
    page.wait_for_selector(f"#explain[data-stage='{layer}'][data-unit='{','.join(map(str, unit))}']")


@browser
@needs_chromium
def test_explaining_one_unit_of_each_layer_shows_pytorchs_numbers(runs, chromium, mnist, tmp_path):
    from lenetlab.predict import Predictor

    model = Predictor.load(runs["lenet5"]).model
    path = export_run(runs["lenet5"], tmp_path / "lenet5.html", lang="en")
    page = open_offline(chromium, path)
    page.click("#samples canvas >> nth=0")  # an embedded test digit
    index = int(page.get_attribute("#true-label", "data-index"))
    x = mnist.test.images[index].float().div(255)[None, None]
    with torch.no_grad():
        acts = model.activations(x)
        pre = {"C1": model.stage("C1").conv(x), "C3": model.stage("C3").conv(acts["S2"]),
               "C5": model.stage("C5").conv(acts["S4"]), "F6": model.stage("F6").linear(acts["C5"].flatten(1)),
               "output": acts["output"]}
    units = {"C1": [2, 10, 13], "S2": [1, 7, 6], "C3": [5, 4, 3], "S4": [9, 2, 2], "C5": [17], "F6": [40], "output": [7]}
    for layer, unit in units.items():
        out = acts[layer][0]
        shape = list(out.shape) if layer not in ("C5",) else [out.numel()]
        _click_unit(page, layer, unit, shape)
        shown = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#explain-body [data-key]')]
            .map((b) => [b.dataset.key, Number(b.dataset.value)]))""")
        value = float(out.flatten()[unit[0]] if len(unit) == 1 else out[tuple(unit)])
        assert shown["value"] == pytest.approx(value, abs=1e-4), layer
        if layer in pre:  # a weighted sum: the sum of the products plus the bias is PyTorch's pre-activation
            p = pre[layer][0]
            expected = float(p.flatten()[unit[0]] if len(unit) == 1 else p[tuple(unit)])
            assert shown["sum"] + shown["bias"] == pytest.approx(expected, abs=1e-4), layer
            assert shown["pre"] == pytest.approx(expected, abs=1e-4), layer
    probability = float(page.get_attribute("#explain-body [data-probability]", "data-probability"))
    assert probability == pytest.approx(float(acts["output"].softmax(1)[0, 7]), abs=1e-5)
    page.click("#explain-close")
    assert not page.is_visible("#explain")
    assert page.left == [] and page.problems == []
    page.close()


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@browser
@needs_chromium
def test_the_page_preprocesses_a_drawing_as_predict_does(runs, chromium, tmp_path):
    path = export_run(runs["lenet5"], tmp_path / "lenet5.html", lang="en")
    page = open_offline(chromium, path)
    strokes = {"one": [(140, 40), (140, 240)], "seven": [(60, 50), (220, 50), (120, 250)],
               "small": [(120, 120), (150, 130), (140, 160)]}
    for name, points in strokes.items():
        page.click("#clear")
        draw(page, points)
        page.wait_for_selector("body[data-predicted]")
        rgba = np.array(page.evaluate("() => Array.from(document.querySelector('#pad').getContext('2d')"
                                      ".getImageData(0, 0, 280, 280).data)"), dtype=np.uint8).reshape(280, 280, 4)
        ours = np.array(page.evaluate("(d) => window.lenetlab.preprocess(d, 280, 280)", rgba.flatten().tolist()))
        from PIL import Image

        reference = mnist_preprocess(Image.fromarray(rgba, "RGBA")).flatten()
        assert np.abs(ours - reference).max() <= 1.01 / 255, name  # Pillow's arithmetic, to a grey level
    page.close()


def _english_fragments() -> set[str]:
    """Literal pieces of the English messages that a French page must not show (placeholders removed)."""
    en, fr = messages("en"), messages("fr")
    pieces = set()
    for key, text in en.items():
        if text == fr[key]:
            continue
        for piece in re.split(r"\{\w+\}", text):
            piece = piece.strip(" .,:;()·")
            if len(piece) >= 6 and piece not in " ".join(fr.values()):
                pieces.add(piece)
    return pieces


@browser
@needs_chromium
def test_the_french_page_speaks_french(runs, chromium, tmp_path):
    path = export_run(runs["lenet5"], tmp_path / "lenet5-fr.html", lang="fr")
    page = open_offline(chromium, path)
    assert page.get_attribute("html", "lang") == "fr"
    page.click("#samples canvas >> nth=1")
    _click_unit(page, "C1", [0, 14, 14], [6, 28, 28])
    shown = page.evaluate("""() => [document.title, document.body.innerText,
        ...[...document.querySelectorAll('[aria-label]')].map((e) => e.getAttribute('aria-label')),
        ...[...document.querySelectorAll('[title]')].map((e) => e.title)].join('\\n')""")
    english = sorted(p for p in _english_fragments() if p in shown)
    assert english == []
    info = page.text_content("#model-info")
    assert "61\u202f706 paramètres" in info and re.search(r"exactitude sur le test \d+,\d\d\u202f%", info)
    assert page.left == [] and page.problems == []
    page.close()


def test_the_two_catalogues_have_the_same_keys_and_placeholders():
    en, fr = messages("en"), messages("fr")
    assert set(en) == set(fr)
    for key in en:
        # a translation may leave a value out, never need one the English message is not given
        assert set(re.findall(r"\{\w+", fr[key])) <= set(re.findall(r"\{\w+", en[key])), key
    assert not any("précision" in text for text in fr.values())  # accuracy is « exactitude »


def test_the_french_page_embeds_the_course_words():
    from lenetlab.page import render_page

    page = render_page("fr")
    embedded = json.loads(re.search(r"window\.LENETLAB_MESSAGES = (\{.*?\});", page).group(1))
    assert embedded["page.sure"] == "confiance {p}" and embedded["page.layer.output"] == "sortie"
    assert "par confiance décroissante" in embedded["conf.note"]
    assert not [key for key, text in embedded.items() if "certitude" in text or "rembourrage" in text]


STATIC = Path(__file__).resolve().parent.parent / "src" / "lenetlab" / "web" / "static"


@pytest.mark.skipif(shutil.which("node") is None, reason="no node to run lenet.js outside a browser")
def test_one_formatter_writes_every_number_of_the_page_the_french_way():
    script = (f"const L = require({json.dumps(str(STATIC / 'lenet.js'))});"
              "console.log(JSON.stringify([[-0.7354, 'fr', 3], [-6, 'fr', 0], [61706, 'fr', 0], [1234567.891, 'fr', 2],"
              "[-0.0001, 'fr', 3], [61706, 'en', 0], [-0.7354, 'en', 3]].map((a) => L.formatNumber(...a))));")
    shown = json.loads(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True,
                                      timeout=60).stdout)
    assert shown == ["\u22120,735", "\u22126", "61\u202f706", "1\u202f234\u202f567,89", "0,000", "61,706", "-0.735"]
    # The page's own helpers go through it: no other number formatting for what a student reads.
    from lenetlab.page import SCRIPTS

    for name in SCRIPTS:
        code = (STATIC / name).read_text(encoding="utf-8")
        assert "Intl.NumberFormat" not in code and "toLocaleString" not in code, name
    assert "LeNet.formatNumber(v, LANG" in (STATIC / "app.js").read_text(encoding="utf-8")


def test_the_served_page_is_the_same_front_end_in_its_language(trained_run):
    from fastapi.testclient import TestClient

    from lenetlab.web.app import create_app

    client = TestClient(create_app(trained_run, lang="fr"), base_url="http://127.0.0.1:8000")
    page = client.get("/").text
    assert '<html lang="fr">' in page and '"page.heading":"Dessinez un chiffre"' in page
    assert '<script src="/static/lenet.js"></script>' in page  # served files, not inlined
    graph = client.get("/api/graph").json()
    assert graph["format"] == "lenetlab-graph-1" and [s["name"] for s in graph["stages"]][0] == "C1"
    assert json.loads(json.dumps(graph)) == graph


@browser
@needs_chromium
def test_the_shape_calculator_follows_the_models_rules(runs, chromium, tmp_path, capsys):
    from lenetlab.explore.params import layer_table
    from lenetlab.models import LeNet5

    page = open_offline(chromium, export_run(runs["lenet5"], tmp_path / "lenet5.html", lang="en"))
    defaults = {"c1_channels": 6, "c3_channels": 16, "c5_channels": 120, "f6_units": 84, "kernel_size": 5,
                "stride": 1, "padding": 2, "pool_size": 2}

    def set_arguments(args):
        for name, value in {**defaults, **args}.items():
            page.fill(f"#calc-form input[name={name}]", str(value))

    def shown_rows():
        return page.evaluate("() => [...document.querySelectorAll('#calc-table tr')].slice(1, -1)"
                             ".map((r) => [...r.cells].map((c) => c.textContent))")

    # stride 2, padding 0: C1 12x12, S2 6, C3 2, S4 1, so C5, which follows, takes a 1x1 kernel (an error
    # before C5 followed); kernel_size 7: S4 3x3, so C5's kernel is 3.
    for args in ({}, {"kernel_size": 3, "c1_channels": 12}, {"stride": 2, "padding": 4, "kernel_size": 3},
                 {"pool_size": 1, "f6_units": 50, "c5_channels": 30}, {"stride": 2, "padding": 0}, {"kernel_size": 7}):
        set_arguments(args)
        expected = layer_table(build_model("lenet5", **args))
        rows = shown_rows()
        assert [(r[0], r[1]) for r in rows] == [(e["layer"], "×".join(map(str, e["output_shape"])))
                                               for e in expected["layers"]], args
        assert [int(r[2].replace(",", "")) for r in rows] == [e["parameters"] for e in expected["layers"]], args
        assert [int(r[3].replace(",", "")) for r in rows] == [e["macs"] for e in expected["layers"]], args
        assert int(page.get_attribute("#calc-table table", "data-parameters")) == expected["total_parameters"]
    set_arguments({"stride": 2, "padding": 0})
    assert shown_rows()[4][:3] == ["C5", "120×1×1", "2,040"]  # 120 * 16 * 1 * 1 weights + 120 biases
    # C3's own settings and a fixed C5 kernel: no inputs for them, a run's arguments carry them (the graph sends
    # every argument, defaults applied: lenet.js declares none of them).
    for args in ({"c3_kernel": 3, "c3_stride": 2, "c3_padding": 1}, {"kernel_size": 3, "c5_kernel": 3}):
        shapes = page.evaluate("(args) => LeNet.lenet5Shapes(args)", {**LeNet5().config, **args})
        expected = layer_table(build_model("lenet5", **args))
        assert shapes["layers"] == [{k: e[k] for k in ("layer", "output_shape", "parameters", "macs")}
                                    for e in expected["layers"]], args
        assert shapes["total_parameters"] == expected["total_parameters"]
    problem = page.evaluate("(args) => { try { LeNet.lenet5Shapes(args); } catch (p) { return p; } }",
                            {**LeNet5().config, "c3_padding": -1})
    with pytest.raises(ValueError) as python:
        LeNet5(c3_padding=-1)
    assert messages("en")[problem["key"]].format(**problem["values"]) == str(python.value) \
        == "c3_padding must be >= 0, got -1"
    # An invalid combination: the page gives the reason `lenetlab train` gives, word for word.
    for args in ({"stride": 4}, {"kernel_size": 0}, {"padding": -1}):
        set_arguments(args)
        shown = page.text_content("#calc-error")
        argv = ["train", "--epochs", "1", "--out", str(tmp_path / "never")]
        for key, value in args.items():
            argv += ["--arch", f"{key}={value}"]
        assert main(argv) == 2
        assert capsys.readouterr().err.strip() == f"lenetlab: error: {shown}"
        assert not (tmp_path / "never").exists()
    page.close()


@browser
@needs_chromium
def test_every_registered_model_runs_in_the_page(chromium, mnist, tmp_path):
    """The page's operations cover every registered model (untrained weights; the trained ones are above)."""
    from lenetlab.page import render_page

    x = mnist.test.images[:50].float().div(255)
    for name in sorted(MODELS):
        torch.manual_seed(0)
        model = build_model(name).eval()
        embedded = {"model": {"name": name, "arguments": model.config, "parameters": 0, "class_names": list("0123456789"),
                              "test_accuracy": None, "checkpoint": "-"},
                    "graph": model_graph(model, name), "samples": []}
        path = tmp_path / f"{name}.html"
        path.write_text(render_page("en", embedded=embedded), encoding="utf-8")
        page = open_offline(chromium, path)
        got = np.array(page.evaluate("(xs) => xs.map((x) => window.lenetlab.predict(x))", x.reshape(50, 784).tolist()))
        with torch.no_grad():
            expected = model(x.unsqueeze(1)).softmax(1).numpy()
        assert np.abs(got - expected).max() <= 1e-4, name
        assert page.left == [] and page.problems == []
        page.close()


@browser
@needs_chromium
def test_the_exported_page_works_on_a_phone_sized_touch_screen(runs, chromium, tmp_path):
    path = export_run(runs["lenet5"], tmp_path / "phone.html", lang="fr")
    context = chromium.new_context(viewport={"width": 390, "height": 844}, has_touch=True, is_mobile=True)
    page = context.new_page()
    page.goto(path.resolve().as_uri())
    page.wait_for_selector("body[data-ready]")
    box = page.locator("#pad").bounding_box()
    assert box["width"] <= 390  # the pad fits the phone's width
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.wait_for_selector("body[data-predicted]")
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 390 + 1  # no sideways scrolling
    context.close()
