"""The page that trains, measured in headless Chromium (software rendering, no GPU): seconds per epoch of
12,000 images for LeNet-5 and for the MLP, each trained alone, the test accuracy on the page's 2,000 test
images after each epoch, the longest task of the page's main thread while training (the UI frozen for that
long), and the page's size. Writes docs/measurements/lab.json.

    python scripts/lab_bench.py            # LeNet-5 and the MLP, 3 epochs each (about 1.5 min on 2 cores)
    python scripts/lab_bench.py --engine webgpu --epochs 1 --out docs/measurements/lab_webgpu.json

``--engine`` is the page's "computed on" choice. ``webgpu`` starts Chromium with WebGPU (``--enable-unsafe-webgpu``,
the GPU process left on): on a machine without a graphics card that is SwiftShader's software adapter, on the CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS, WEBGPU_ARGS  # noqa: E402
from lenetlab.lab import write_lab  # noqa: E402
from lenetlab.machine import cpu_name, machine_load  # noqa: E402

# Long tasks of the main thread (over 50 ms, as Chromium reports them): while loading, and from the click on
# Train (window.__from) to the end of training.
LONG_TASKS = """
window.__tasks = []; window.__from = Infinity;
new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__tasks.push([e.startTime, e.duration]); })
  .observe({ type: "longtask", buffered: true });
"""
SPLIT = """() => { const before = window.__tasks.filter(([s]) => s < window.__from).map(([, d]) => d);
  const during = window.__tasks.filter(([s]) => s >= window.__from).map(([, d]) => d);
  return [Math.max(0, ...before), Math.max(0, ...during), during.filter((d) => d > 100).length]; }"""


def train(browser, path: Path, model: str, epochs: int, engine: str) -> dict:
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    page.goto(f"{path.resolve().as_uri()}?engine={engine}")
    page.wait_for_selector("body[data-ready]")
    page.evaluate(LONG_TASKS)
    page.select_option("#lab-net-A .lab-model", model)
    page.select_option("#lab-net-B .lab-model", "none")
    page.fill("#lab-epochs", str(epochs))
    started = time.perf_counter()
    page.evaluate("() => { window.__from = performance.now(); }")
    page.click("#lab-start")
    page.wait_for_function("() => LabPage.state.nets.A && LabPage.state.nets.A.done", timeout=900_000, polling=500)
    wall = time.perf_counter() - started
    history, used = page.evaluate("() => [LabPage.state.nets.A.history, LabPage.state.nets.A.engine]")
    loading, longest, long_tasks = page.evaluate(SPLIT)
    page.close()
    return {"model": model, "epochs": epochs, "engine": used, "wall_seconds": round(wall, 2),
            "seconds_per_epoch": [round(h["seconds"], 2) for h in history],
            "test_accuracy": [h["test_accuracy"] for h in history],
            "longest_task_while_loading_ms": round(loading, 1), "longest_task_while_training_ms": round(longest, 1),
            "tasks_over_100_ms_while_training": long_tasks}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", choices=("auto", "cpu", "webgpu"), default="auto")
    parser.add_argument("--epochs", type=int, default=int(os.environ.get("LAB_EPOCHS", "3")))
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "measurements" / "lab.json")
    args = parser.parse_args()
    epochs, engine = args.epochs, args.engine
    flags = WEBGPU_ARGS if engine == "webgpu" else CHROMIUM_ARGS
    with tempfile.TemporaryDirectory() as folder:
        path = write_lab(Path(folder) / "lab.html", "en")
        size = path.stat().st_size
        load_before = machine_load()
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=flags)
            version = browser.version
            runs = [train(browser, path, "lenet5", epochs, engine), train(browser, path, "mlp", epochs, engine)]
            browser.close()
    command = " ".join(["python scripts/lab_bench.py", *sys.argv[1:]])
    result = {"command": command, "engine": engine, "date": time.strftime("%Y-%m-%d"),
              "machine": f"{cpu_name()}, {os.cpu_count()} cores", "chromium": version,
              "load_before": load_before, "page_bytes": size, "runs": runs}
    out = args.out
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
