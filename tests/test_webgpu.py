"""gpu.js (the page's WebGPU engine) in a real Chromium, against PyTorch.

Chromium here has no graphics card, but it has WebGPU on SwiftShader's software adapter when started with
``--enable-unsafe-webgpu`` and without ``--disable-gpu``: the same WGSL kernels a card runs, computed on the CPU.
From the same weights and the same batch of real MNIST digits, the loss and every parameter's gradient within
1e-5 of PyTorch's (relative to that tensor's largest gradient) for LeNet-5, the course's MLP and two variants that
between them take every convolution, pooling and activation path of the engine, then for networks at the edges of
the kernels' index arithmetic (strides larger than the kernel, overlapping and gapped pooling windows, a short
last batch after a full one, more workgroups than one dispatch row holds); then a short run of the default
recipe's optimizer, step by step. Then the page itself: asked for the graphics card it trains on it, left to
choose it keeps to the CPU on a software adapter, and a browser without WebGPU says so in one line. Skipped
without Chromium or WebGPU, unless LENETLAB_REQUIRE_BROWSER=1 (CI), where either missing fails. The speed of a
real card is not measured here.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
from torch import nn

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, WEBGPU_ARGS, train_small_mlp_in_lab
from lenetlab.graph import model_from_graph
from lenetlab.lab import write_lab
from lenetlab.models import build_model
from trainer_cases import RUN, SMOOTHING, VARIANT, gradient_case, run_case

pytestmark = [pytest.mark.browser, pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")]

STATIC = Path(__file__).resolve().parent.parent / "src" / "lenetlab" / "web" / "static"
# A second convolution with stride 2 (its input's gradient skips pixels) and sigmoid: what VARIANT leaves out.
STRIDED = dict(c3_stride=2, c3_padding=2, activation="sigmoid")
TRAIN, TEST = 1600, 500  # 50 steps an epoch in batches of 32: the page trains two epochs


def _no_webgpu(reason: str) -> None:
    if os.environ.get("LENETLAB_REQUIRE_BROWSER") == "1":
        pytest.fail(f"LENETLAB_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def playwright():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:  # one per module: a second inside the first is refused
        yield p


@pytest.fixture(scope="module")
def browser(playwright):
    chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=WEBGPU_ARGS)
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def engine_page(browser, tmp_path_factory):
    """A page holding the engine's scripts and nothing else, on a WebGPU adapter (the software one here)."""
    html = "<!doctype html><html><body>" + "".join(
        f"<script>{(STATIC / name).read_text(encoding='utf-8')}</script>"
        for name in ("lenet.js", "layers.js", "trainer.js", "gpu_kernels.js", "gpu.js")) + "</body></html>"
    path = tmp_path_factory.mktemp("webgpu") / "engine.html"
    path.write_text(html, encoding="utf-8")
    page = browser.new_page()
    problems = []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.goto(path.as_uri())
    adapter = page.evaluate("async () => { const a = await GpuEngine.adapter({ allowFallback: true });"
                            " return a && { name: a.name, fallback: a.fallback }; }")
    if adapter is None:
        _no_webgpu("this Chromium offers no WebGPU adapter, not even SwiftShader's")
    yield page
    assert problems == []
    page.close()


def test_gpu_js_computes_the_gradients_pytorch_computes(engine_page, mnist):
    images = mnist.test.images[:16].unsqueeze(1).float().div(255)
    labels = mnist.test.labels[:16]
    for label, name, arguments in (("lenet5", "lenet5", {}), ("mlp", "mlp", {}),
                                   ("lenet5 stride, padding, relu, max", "lenet5", VARIANT),
                                   ("lenet5 C3 stride 2, sigmoid", "lenet5", STRIDED)):
        torch.manual_seed(0)
        case = gradient_case(label, build_model(name, **arguments), name, images, labels)
        got = engine_page.evaluate("""async ([c, smoothing]) => {
            const net = Trainer.build(LeNet.load(c.graph));
            const images = Uint8Array.from(c.images, (v) => Math.round(v * 255));
            const gpu = await GpuEngine.open(net, images, { batchSize: c.labels.length, smoothing, allowFallback: true });
            gpu.step({ indices: Int32Array.from(c.labels, (_, i) => i), labels: Int32Array.from(c.labels) });
            const totals = await gpu.totals();
            await gpu.readGradients();
            gpu.destroy();
            return { loss: totals.last, grads: net.params.map((p) => [p.name, Array.from(p.grad)]) };
        }""", [case, SMOOTHING])
        assert abs(got["loss"] - case["loss"]) <= 1e-6 * case["loss"], (label, got["loss"], case["loss"])
        expected = [g for pair in case["grads"] for g in pair]
        assert len(got["grads"]) == len(expected)
        for (param, grad), want in zip(got["grads"], expected):
            want = torch.tensor(want, dtype=torch.float64)
            error = (torch.tensor(grad, dtype=torch.float64) - want).abs().max() / want.abs().max()
            assert error <= 1e-5, f"{label}, {param}: relative error {error:.2e}"


class Stages(nn.Module):
    """A network of named stages, as lenetlab's models are, for shapes no model of the registry has."""

    def __init__(self, *stages: tuple[str, nn.Module]) -> None:
        super().__init__()
        self.names = [name for name, _ in stages]
        self.body = nn.ModuleList([module for _, module in stages])

    def stages(self) -> list[tuple[str, nn.Module]]:
        return list(zip(self.names, self.body))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for module in self.body:
            x = module(x)
        return x


def _odd_networks() -> dict[str, nn.Module]:
    """Shapes at the edges of the kernels' index arithmetic (found by an independent review)."""
    torch.manual_seed(1)
    strides = Stages(("C1", nn.Sequential(nn.Conv2d(1, 4, 3, stride=3, padding=1), nn.ELU(0.7))),  # 28 -> 10
                     ("S2", nn.MaxPool2d(3, stride=2)),  # windows overlap: 10 -> 4
                     ("C3", nn.Sequential(nn.Conv2d(4, 5, 2, stride=2, padding=1), nn.LeakyReLU(0.05))),  # 4 -> 3
                     ("C4", nn.Sequential(nn.Conv2d(5, 6, 1, stride=2, padding=1), nn.Tanh())),  # kernel < stride
                     ("S4", nn.AvgPool2d(2, stride=1)),  # 3 -> 2
                     ("flatten", nn.Flatten()), ("out", nn.Linear(24, 10)))
    torch.manual_seed(2)
    gaps = Stages(("C1", nn.Sequential(nn.Conv2d(1, 3, 5, stride=3), nn.Sigmoid())),  # 28 -> 8
                  ("S2", nn.AvgPool2d(2, stride=3)),  # stride > window: 8 -> 3
                  ("C3", nn.Sequential(nn.Conv2d(3, 4, 5, stride=3, padding=3), nn.ReLU())),  # taps skipped: 3 -> 2
                  ("flatten", nn.Flatten()), ("out", nn.Linear(16, 10)))
    torch.manual_seed(3)
    wide = Stages(("C1", nn.Sequential(nn.Conv2d(1, 96, 3, padding=1), nn.ReLU())),  # 2.4 M outputs: 2-D dispatch
                  ("S2", nn.MaxPool2d(2)),
                  ("C3", nn.Sequential(nn.Conv2d(96, 40, 3, stride=2, padding=1), nn.ReLU())),  # 34,600 workgroups
                  ("flatten", nn.Flatten()), ("out", nn.Linear(40 * 49, 10)))
    return {"strides": strides, "gaps": gaps, "wide": wide}


def test_gpu_js_is_right_on_odd_shapes_a_short_last_batch_and_a_two_dimensional_dispatch(engine_page, mnist):
    images = mnist.test.images[:32].unsqueeze(1).float().div(255)
    labels = mnist.test.labels[:32]
    for label, model in _odd_networks().items():
        for n, batch in ((32, 32), (13, 32)) if label != "wide" else ((32, 32),):
            case = gradient_case(label, model, label, images[:n], labels[:n])
            got = engine_page.evaluate("""async ([c, batch, smoothing]) => {
                const net = Trainer.build(LeNet.load(c.graph));
                const images = Uint8Array.from(c.images, (v) => Math.round(v * 255)), n = c.labels.length;
                const gpu = await GpuEngine.open(net, images, { batchSize: batch, smoothing, allowFallback: true });
                if (n < batch) {  // a full batch first: the short one must not read what it left in the buffers
                  const full = Int32Array.from({ length: batch }, (_, i) => i % n);
                  gpu.step({ indices: full, labels: Int32Array.from(full, (i) => c.labels[i]) });
                }
                gpu.step({ indices: Int32Array.from(c.labels, (_, i) => i), labels: Int32Array.from(c.labels) });
                const totals = await gpu.totals();
                await gpu.readGradients();
                gpu.destroy();
                return { loss: totals.last, grads: net.params.map((p) => Array.from(p.grad)) };
            }""", [case, batch, SMOOTHING])
            assert abs(got["loss"] - case["loss"]) <= 1e-6 * case["loss"], (label, n)
            for grad, want in zip(got["grads"], [g for pair in case["grads"] for g in pair], strict=True):
                want = torch.tensor(want, dtype=torch.float64)
                error = (torch.tensor(grad, dtype=torch.float64) - want).abs().max() / want.abs().max()
                assert error <= 1e-5, f"{label}, {n} images in a batch of {batch}: relative error {error:.2e}"


def test_gpu_js_takes_the_default_recipes_steps_as_pytorch(engine_page, mnist):
    images = mnist.test.images[:RUN["n_images"]].unsqueeze(1).float().div(255)
    torch.manual_seed(0)
    run = run_case(build_model("lenet5"), images, mnist.test.labels[:RUN["n_images"]])
    got = engine_page.evaluate("""async ([r, smoothing]) => {
        const net = Trainer.build(LeNet.load(r.graph));
        const images = Uint8Array.from(r.images, (v) => Math.round(v * 255));
        const gpu = await GpuEngine.open(net, images, { batchSize: r.batch, momentum: r.momentum, nesterov: true,
                                                       weightDecay: r.weight_decay, smoothing, allowFallback: true });
        const losses = [];
        for (let s = 0; s < r.losses.length; s++) {
          const indices = Int32Array.from({ length: r.batch }, (_, i) => s * r.batch + i);
          gpu.step({ indices, labels: Int32Array.from(indices, (i) => r.labels[i]), lr: r.lr * r.factors[s] });
          losses.push((await gpu.totals()).last);
        }
        await gpu.readWeights();
        gpu.destroy();
        return { losses, weights: net.params.map((p) => Array.from(p.value)) };
    }""", [run, SMOOTHING])
    assert len(got["losses"]) == len(run["losses"]) == RUN["n_images"] // RUN["batch"]
    assert max(abs(a - b) for a, b in zip(got["losses"], run["losses"])) < 1e-5
    expected = [w for pair in run["final"] for w in pair]
    for weights, want in zip(got["weights"], expected, strict=True):
        want = torch.tensor(want, dtype=torch.float64)
        assert (torch.tensor(weights, dtype=torch.float64) - want).abs().max() / want.abs().max() < 1e-5


def _train_in_the_page(browser, path: Path, query: str) -> dict:
    page = browser.new_page()
    problems, left = [], []
    page.on("pageerror", lambda e: problems.append(str(e)))
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith(path.as_uri())
               else (left.append(route.request.url), route.abort()))
    page.goto(f"{path.as_uri()}?{query}")
    page.wait_for_selector("body[data-ready]")
    train_small_mlp_in_lab(page, epochs=2)
    net = page.evaluate("() => { const n = LabPage.state.nets.B; return { engine: n.engine, losses: n.losses,"
                        " history: n.history, graph: n.graph, predictions: Array.from(n.predictions) }; }")
    net["table"] = page.inner_text("#lab-results")
    page.close()
    assert problems == [] and left == []
    return net


def test_the_page_trains_on_the_graphics_card_when_asked_and_not_on_a_software_one_by_itself(browser, engine_page,
                                                                                           tmp_path, mnist):
    path = write_lab(tmp_path / "lab.html", "fr", train_images=TRAIN, test_images=TEST).resolve()
    net = _train_in_the_page(browser, path, "engine=webgpu")
    assert net["engine"]["engine"] == "webgpu" and "carte graphique (WebGPU : " in net["table"]
    losses = [loss for _, loss in net["losses"]]
    assert len(losses) >= 2 and losses[-1] < losses[0]
    assert net["history"][1]["train_loss"] < net["history"][0]["train_loss"]
    assert net["history"][-1]["test_accuracy"] > 0.7  # far above chance (0.1) after 100 steps
    model, _ = model_from_graph(net["graph"])  # the weights read back from the card are those it predicted with
    with torch.no_grad():
        logits = model(mnist.test.images[:TEST].unsqueeze(1).float() / 255)
    top2 = logits.topk(2, dim=1).values
    differ = [i for i, (a, b) in enumerate(zip(logits.argmax(1).tolist(), net["predictions"])) if a != b]
    assert all(float(top2[i, 0] - top2[i, 1]) < 1e-4 for i in differ), differ

    chosen = _train_in_the_page(browser, path, "engine=auto")  # a software adapter is not even tried
    assert chosen["engine"] == {"engine": "wasm", "adapter": None, "trial": None}
    assert "processeur (WebAssembly SIMD)" in chosen["table"]
    # Allowed to try it (as a real card is tried), "auto" times a few steps on each engine and keeps the faster.
    timed = _train_in_the_page(browser, path, "engine=auto&software=1")
    trial = timed["engine"]["trial"]
    assert trial["card"] > 0 and trial["cpu"] > 0
    assert timed["engine"]["engine"] == ("webgpu" if trial["card"] < trial["cpu"] else "wasm")
    assert "un pas : " in timed["table"] and " ms sur la carte graphique)" in timed["table"]
    if timed["engine"]["engine"] == "wasm":  # the trial changed nothing: the same run as without it
        unclocked = [[{k: v for k, v in h.items() if k != "seconds"} for h in n["history"]] for n in (timed, chosen)]
        assert unclocked[0] == unclocked[1]
    # The same seed, the same batches and shifts: the two engines end within float32's noise of each other.
    for gpu, cpu in zip(net["history"], chosen["history"], strict=True):
        assert abs(gpu["train_loss"] - cpu["train_loss"]) < 1e-4 and abs(gpu["test_loss"] - cpu["test_loss"]) < 1e-4
        assert abs(gpu["test_accuracy"] - cpu["test_accuracy"]) <= 0.01


def test_asked_for_a_graphics_card_a_browser_without_webgpu_says_so_in_one_line(playwright, tmp_path):
    path = write_lab(tmp_path / "lab.html", "fr", train_images=320, test_images=100).resolve()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)  # --disable-gpu: none
    page = browser.new_page()
    page.goto(f"{path.as_uri()}?engine=webgpu")
    page.wait_for_selector("body[data-ready]")
    page.select_option("#lab-net-A .lab-model", "none")
    page.click("#lab-start")
    page.wait_for_function("() => LabPage.state.nets.B && LabPage.state.nets.B.done", timeout=60_000)
    status = page.inner_text("#lab-net-B .lab-status")
    free = page.is_enabled("#lab-start") and page.is_enabled("#lab-engine")
    browser.close()
    assert status == ("ce navigateur n'offre pas de carte graphique WebGPU ; choisissez « le processeur » dans "
                      "« calcul sur », ou ouvrez la page dans un Chrome ou un Edge récent")
    assert free  # the page can train again, on the processor
