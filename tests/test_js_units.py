"""lenet.js under node, against PyTorch: ``node --test tests/js/lenet.test.js`` on fixtures written here; and the page's
scripts are the ones page.py inlines.

The fixtures (a temporary JSON file, nothing committed): every registered model's graph and, for two inputs,
what PyTorch computes at every stage (before and after each stage's activation) and its probabilities; LeNet-5
with each activation the page implements; units of each layer to explain; drawings and photos with what
``mnist_preprocess`` makes of them. tests/js/lenet.test.js reads them from $LENETLAB_JS_FIXTURES.
Skipped without node, unless LENETLAB_REQUIRE_BROWSER=1 (CI), where a missing node fails.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw
from torch import nn

from lenetlab.errors import NoDigitError
from lenetlab.graph import model_graph
from lenetlab.lab import LAB_SCRIPTS, WORKER_SCRIPTS, render_lab
from lenetlab.models import MODELS, build_model
from lenetlab.models.base import ACTIVATIONS
from lenetlab.models.lenet1998 import ScaledTanh
from lenetlab.page import SCRIPTS, STATIC, render_page
from lenetlab.preprocess import mnist_preprocess

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
ACTIVATION_MODULES = (*ACTIVATIONS.values(), ScaledTanh)


def _leaves(stage: nn.Module) -> list[nn.Module]:
    """A stage's modules in order, nested Sequentials (a 1998 subsampling stage) opened."""
    if not isinstance(stage, nn.Sequential):
        return [stage]
    return [leaf for child in stage.children() for leaf in _leaves(child)]


def _kind(ops: list[dict]) -> str:
    """What LeNet.explain says a stage computes, from its first operations."""
    first = ops[0]["op"]
    if first in ("conv", "pool", "linear"):
        return first
    return "linear" if first == "flatten" and len(ops) > 1 and ops[1]["op"] == "linear" else "other"


def _units(shape: list[int]) -> list[list[int]]:
    """Units to explain, as the page names them: [c, y, x] in maps, [i] in a vector (C5's 1x1 maps too)."""
    if len(shape) == 3 and shape[1] * shape[2] > 1:
        c, h, w = shape
        return [[c - 1, h // 2, w // 2], [0, 0, 0], [c // 2, h - 1, w - 1]]
    n = int(np.prod(shape))
    return [[n // 2], [0], [n - 1]]


def _model_fixture(label: str, model: nn.Module, name: str, inputs: list[np.ndarray]) -> dict:
    """The graph, and for each input every stage's output and pre-activation as PyTorch computes them."""
    model = model.eval()
    graph = model_graph(model, name)
    cases = []
    for pixels in inputs:
        x = torch.from_numpy(pixels.reshape(1, 1, 28, 28))
        stages, explain = {}, []
        with torch.no_grad():
            for (stage_name, stage), stage_graph in zip(model.stages(), graph["stages"], strict=True):
                pre = None
                for leaf in _leaves(stage):
                    if isinstance(leaf, ACTIVATION_MODULES):
                        pre = x
                    x = leaf(x)
                pre = x if pre is None else pre
                out = x[0]
                stages[stage_name] = {"shape": list(out.shape), "data": out.flatten().double().tolist()}
                kind = _kind(stage_graph["ops"])
                for unit in _units(list(out.shape)):
                    flat = int(np.ravel_multi_index(unit, out.shape)) if len(unit) == 3 else unit[0]
                    explain.append({"stage": stage_name, "unit": unit, "kind": kind,
                                    "value": float(out.flatten()[flat]), "pre": float(pre[0].flatten()[flat])})
            probabilities = x.softmax(1)[0].double()
        for item in explain:
            if item["stage"] == graph["stages"][-1]["name"] and item["kind"] == "linear":
                item["probability"] = float(probabilities[item["unit"][0]])
        cases.append({"pixels": pixels.astype(np.float64).tolist(), "stages": stages,
                      "logits": x[0].double().tolist(), "probabilities": probabilities.tolist(), "explain": explain})
    return {"label": label, "graph": graph, "cases": cases}


def _inputs() -> list[np.ndarray]:
    """A digit-like 28x28 input (a 7 drawn and blurred) and uniform noise, float32 in [0, 1]."""
    image = Image.new("L", (28, 28), 0)
    ImageDraw.Draw(image).line([(7, 6), (21, 6), (12, 23)], fill=255, width=3)
    digit = np.asarray(image, dtype=np.float32) / 255
    noise = np.random.default_rng(0).random((28, 28), dtype=np.float32)
    return [digit.flatten(), noise.flatten()]


def _models() -> list[tuple[str, nn.Module, str]]:
    """Every registered model, and LeNet-5 with each activation the page implements; seeded weights."""
    out = []
    for name in sorted(MODELS):
        torch.manual_seed(0)
        model = build_model(name)
        with torch.no_grad():  # batch norm's running statistics as after training, not the identity
            for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
                bn.running_mean.uniform_(-1, 1)
                bn.running_var.uniform_(0.5, 2)
                bn.weight.uniform_(0.5, 1.5)
                bn.bias.uniform_(-0.5, 0.5)
        out.append((name, model, name))
    for activation in sorted(set(ACTIVATIONS) - {"tanh", "relu"}):
        torch.manual_seed(1)
        out.append((f"lenet5 activation={activation}", build_model("lenet5", activation=activation), "lenet5"))
    return out


def _rgba(image: Image.Image) -> dict:
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    try:
        expected = mnist_preprocess(Image.fromarray(rgba, "RGBA")).astype(np.float64).flatten().tolist()
    except NoDigitError:
        expected = None
    return {"width": image.width, "height": image.height, "rgba": base64.b64encode(rgba.tobytes()).decode(),
            "expected": expected}


def _preprocess_fixtures() -> dict[str, dict]:
    """Drawings on the page's 280x280 pad, small images and photo-like ones, with mnist_preprocess's answer."""
    def pad(points, width=18, size=(280, 280), paper="white", ink="black"):
        image = Image.new("RGB", size, paper)
        ImageDraw.Draw(image).line(points, fill=ink, width=width, joint="curve")
        return image

    rng = np.random.default_rng(1)
    photo = pad([(40, 30), (150, 40), (90, 170)], width=14, size=(200, 190), paper=(205, 200, 190), ink=(60, 50, 70))
    noisy = np.clip(np.asarray(photo, dtype=np.float64) + rng.normal(0, 12, (190, 200, 3)), 0, 255).astype(np.uint8)
    return {
        "one": _rgba(pad([(140, 40), (140, 240)])),
        "seven": _rgba(pad([(60, 50), (220, 50), (120, 250)])),
        "small": _rgba(pad([(120, 120), (150, 130), (140, 160)])),
        "wide": _rgba(pad([(20, 140), (260, 150)], width=10)),
        "light ink on dark paper": _rgba(pad([(100, 60), (180, 220)], paper="black", ink="white")),
        "coloured ink": _rgba(pad([(80, 60), (200, 60), (140, 230)], ink=(200, 30, 90))),
        "small image": _rgba(pad([(10, 5), (30, 35)], width=4, size=(40, 40))),
        "noisy photo": _rgba(Image.fromarray(noisy)),
        "blank": _rgba(Image.new("RGB", (280, 280), "white")),
    }


def test_lenet_js_computes_what_pytorch_computes(tmp_path):
    if NODE is None:
        if os.environ.get("LENETLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("LENETLAB_REQUIRE_BROWSER=1 but there is no node to run tests/js (apt-get install -y nodejs)")
        pytest.skip("no node to run lenet.js's tests (tests/js)")
    inputs = _inputs()
    fixtures = {"rtol": 1e-4, "atol": 1e-5,  # float32 (PyTorch) against float64 (lenet.js, float32 weights)
                "models": [_model_fixture(label, model, name, inputs) for label, model, name in _models()],
                "preprocess": _preprocess_fixtures()}
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(fixtures), encoding="utf-8")
    report = tmp_path / "report.json"
    run = subprocess.run([NODE, "--test", str(ROOT / "tests" / "js" / "lenet.test.js")], capture_output=True, text=True, timeout=300,
                         cwd=ROOT, env={**os.environ, "LENETLAB_JS_FIXTURES": str(path),
                                        "LENETLAB_JS_REPORT": str(report)})
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"^# fail 0$", run.stdout, re.M) and re.search(r"^# skipped 0$", run.stdout, re.M), run.stdout
    passed = int(re.search(r"^# pass (\d+)$", run.stdout, re.M).group(1))
    measured = json.loads(report.read_text(encoding="utf-8"))
    # Every model and every preprocessing case was checked, not skipped over.
    assert passed >= len(fixtures["models"]) * 2 + len(fixtures["preprocess"])
    assert set(measured["forward"]) == {m["label"] for m in fixtures["models"]}
    assert set(measured["preprocess"]) == set(fixtures["preprocess"])
    print(json.dumps(measured, indent=1))


def test_the_pages_load_the_scripts_page_py_and_lab_py_name():
    """The served page names page.py's SCRIPTS as /static/ files, in their order, after its settings; the exported
    page and the page that trains inline each of theirs, in order; the HTML files name none themselves, so the two
    lists are the only ones. Every script of static/ is one of them or one of the lab's worker."""
    served = render_page("fr")
    assert tuple(re.findall(r'<script src="/static/([\w.]+)"></script>', served)) == SCRIPTS
    assert served.index("window.LENETLAB_MESSAGES") < served.index('<script src="/static/lenet.js">')
    for page in ("index.html", "lab.html"):
        assert "<script" not in (STATIC / page).read_text(encoding="utf-8")
    exported = render_page("en", embedded={"stand-in": True})
    lab = render_lab("en", {"stand-in": True})
    for html, scripts in ((exported, SCRIPTS), (lab, LAB_SCRIPTS)):
        assert "/static/" not in html and "<style>" in html
        # one head, one body, every comment whole (a cut one shows its tail as text at the top of the page)
        assert html.count("<head>") == html.count("<body") == 1 and html.count("<!--") == html.count("-->")
        where = [html.index((STATIC / name).read_text(encoding="utf-8")[:200].replace("</script", "<\\/script"))
                 for name in scripts]
        assert where == sorted(where), scripts
    assert sorted(p.name for p in STATIC.glob("*.js")) == sorted({*SCRIPTS, *LAB_SCRIPTS, *WORKER_SCRIPTS})
