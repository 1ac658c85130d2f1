"""trainer.js (the page's training engine) under node, against PyTorch: ``node --test tests/js/trainer.test.js`` on
fixtures written here (a temporary JSON file, nothing committed).

From the same weights and the same batch of real MNIST digits: the loss, and every parameter's gradient within
1e-5 of PyTorch's (relative to that tensor's largest gradient), for LeNet-5, the course's MLP and a LeNet-5 with
stride, padding, ReLU and max pooling. Then a short run from the same start, in the same order, with the
default recipe's optimizer (SGD, Nesterov momentum, weight decay, label smoothing, one-cycle) and no
augmentation: every step's loss and the final weights within float32 noise of PyTorch's. Skipped without node,
unless LENETLAB_REQUIRE_BROWSER=1 (CI), where a missing node fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from lenetlab.models import build_model
from trainer_cases import RUN, SMOOTHING, VARIANT, gradient_case, run_case

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")


def test_trainer_js_computes_the_gradients_pytorch_computes(tmp_path, mnist):
    if NODE is None:
        if os.environ.get("LENETLAB_REQUIRE_BROWSER") == "1":
            pytest.fail("LENETLAB_REQUIRE_BROWSER=1 but there is no node to run tests/js (apt-get install -y nodejs)")
        pytest.skip("no node to run trainer.js's tests (tests/js)")
    images = mnist.test.images[:RUN["n_images"]].unsqueeze(1).float().div(255)
    labels = mnist.test.labels[:RUN["n_images"]]
    cases = []
    for label, name, arguments in (("lenet5", "lenet5", {}), ("mlp", "mlp", {}),
                                   ("lenet5 stride, padding, relu, max", "lenet5", VARIANT)):
        torch.manual_seed(0)
        cases.append(gradient_case(label, build_model(name, **arguments), name, images[:16], labels[:16]))
    torch.manual_seed(0)
    fixtures = {"gradients": cases, "run": run_case(build_model("lenet5"), images, labels),
                "smoothing": SMOOTHING, "gradient_rtol": 1e-5}
    path = tmp_path / "fixtures.json"
    path.write_text(json.dumps(fixtures), encoding="utf-8")
    report = tmp_path / "report.json"
    run = subprocess.run([NODE, "--test", str(ROOT / "tests" / "js" / "trainer.test.js")], capture_output=True,
                         text=True, timeout=300, cwd=ROOT,
                         env={**os.environ, "LENETLAB_TRAINER_FIXTURES": str(path), "LENETLAB_JS_REPORT": str(report)})
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    assert re.search(r"^# fail 0$", run.stdout, re.M) and re.search(r"^# skipped 0$", run.stdout, re.M), run.stdout
    measured = json.loads(report.read_text(encoding="utf-8"))
    assert set(measured["gradients"]) == {c["label"] for c in cases}  # every network was checked
    assert all(err <= 1e-5 for err in measured["gradients"].values()), measured
    print(json.dumps(measured, indent=1))
