"""The page's WebGPU engine (web/static/gpu.js) step by step, in headless Chromium: milliseconds per step of
LeNet-5 at the page's batch of 32 on WebGPU and on the processor's engine (WebAssembly SIMD), and each kernel of
the step timed alone. Without a graphics card Chromium's adapter is SwiftShader's, in software on the CPU: its
numbers say which kernels are heavy, not how fast a card is. Writes docs/measurements/lab_webgpu_profile.json.

    python scripts/lab_gpu_profile.py      # about 30 s on 2 cores
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

import torch
from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, WEBGPU_ARGS  # noqa: E402
from lenetlab.data import load_mnist  # noqa: E402
from lenetlab.graph import model_graph  # noqa: E402
from lenetlab.machine import cpu_name, machine_load  # noqa: E402
from lenetlab.models import build_model  # noqa: E402

STATIC = ROOT / "src" / "lenetlab" / "web" / "static"
SCRIPTS = ("lenet.js", "layers.js", "trainer.js", "gpu_kernels.js", "gpu.js")
BATCH, STEPS = 32, 5
MEASURE = """async ([graph, images, labels, batch, steps]) => {
  const net = Trainer.build(LeNet.load(graph)), pixels = Uint8Array.from(images);
  const gpu = await GpuEngine.open(net, pixels, { batchSize: batch, allowFallback: true });
  const indices = Int32Array.from({ length: batch }, (_, i) => i), y = Int32Array.from(labels.slice(0, batch));
  gpu.step({ indices, labels: y, lr: 0.01 });
  await gpu.totals();
  let started = performance.now();
  for (let s = 0; s < steps; s++) gpu.step({ indices, labels: y, lr: 0.01 });
  await gpu.totals();
  const webgpu = (performance.now() - started) / steps;
  const cpu = Trainer.build(LeNet.load(graph)), { x } = Trainer.batch(pixels, y, 28, indices, 0, batch);
  Trainer.gradients(cpu, x, y);
  started = performance.now();
  for (let s = 0; s < steps; s++) Trainer.gradients(cpu, x, y);
  return { adapter: gpu.name, fallback: gpu.fallback, webgpu_ms: webgpu, wasm_gradients_ms: (performance.now() - started) / steps,
           kernels_ms: await gpu.profile(3) };
}"""


def main() -> None:
    mnist = load_mnist()
    torch.manual_seed(0)
    graph = model_graph(build_model("lenet5"), "lenet5")
    images, labels = mnist.train.images[:BATCH].flatten().tolist(), mnist.train.labels[:BATCH].tolist()
    load_before = machine_load()
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        page_file = Path(folder) / "engine.html"
        page_file.write_text("<!doctype html><html><body>" + "".join(
            f"<script>{(STATIC / name).read_text(encoding='utf-8')}</script>" for name in SCRIPTS) + "</body></html>",
            encoding="utf-8")
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=WEBGPU_ARGS)
        page = browser.new_page()
        page.goto(page_file.as_uri())
        measured = page.evaluate(MEASURE, [graph, images, labels, BATCH, STEPS])
        version = browser.version
        browser.close()
    measured["kernels_ms"] = sorted(([label, round(ms, 2)] for label, ms in measured["kernels_ms"]), key=lambda k: -k[1])
    result = {"command": "python scripts/lab_gpu_profile.py", "date": time.strftime("%Y-%m-%d"),
              "machine": f"{cpu_name()}, {os.cpu_count()} cores", "chromium": version, "load_before": load_before,
              "model": "lenet5", "batch": BATCH, "webgpu_ms_per_step": round(measured.pop("webgpu_ms"), 1),
              "wasm_ms_per_step_gradients_only": round(measured.pop("wasm_gradients_ms"), 1), **measured}
    out = ROOT / "docs" / "measurements" / "lab_webgpu_profile.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
