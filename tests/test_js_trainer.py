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
import torch.nn.functional as F
from torch import nn

from lenetlab.graph import model_graph
from lenetlab.models import build_model
from lenetlab.schedule import lr_factor

ROOT = Path(__file__).resolve().parent.parent
NODE = shutil.which("node")
SMOOTHING = 0.1
# The variant: every convolution and pooling option the page's engine implements, in one network.
VARIANT = dict(kernel_size=3, stride=2, padding=2, c3_padding=1, activation="relu", pooling="max")
RUN = dict(n_images=192, batch=32, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="onecycle")


def _weighted(model: nn.Module) -> list[nn.Module]:
    """The convolutions and linear layers in the order the graph lists their operations."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def _gradient_case(label: str, model: nn.Module, name: str, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """The graph, a batch, and PyTorch's loss and gradients for them, computed in float64 from float32 weights."""
    graph = model_graph(model, name)
    exact = model.double().train()
    loss = F.cross_entropy(exact(images.double()), labels, label_smoothing=SMOOTHING)
    loss.backward()
    grads = [[m.weight.grad.flatten().tolist(), m.bias.grad.flatten().tolist()] for m in _weighted(exact)]
    return {"label": label, "graph": graph, "images": images.flatten().tolist(), "labels": labels.tolist(),
            "loss": loss.item(), "grads": grads}


def _run_case(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """A few steps of the default recipe's optimizer in float32, in order, with every step's loss."""
    graph = model_graph(model, "lenet5")
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=RUN["lr"], momentum=RUN["momentum"], nesterov=True,
                                weight_decay=RUN["weight_decay"])
    steps = RUN["n_images"] // RUN["batch"]
    losses = []
    for step in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = RUN["lr"] * lr_factor(RUN["schedule"], step, steps)
        x = images[step * RUN["batch"]:(step + 1) * RUN["batch"]]
        y = labels[step * RUN["batch"]:(step + 1) * RUN["batch"]]
        optimizer.zero_grad()
        loss = F.cross_entropy(model(x), y, label_smoothing=SMOOTHING)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    final = [[m.weight.detach().flatten().tolist(), m.bias.detach().flatten().tolist()] for m in _weighted(model)]
    return {"graph": graph, "images": images.flatten().tolist(), "labels": labels.tolist(), **RUN,
            "losses": losses, "final": final,
            "factors": [lr_factor(RUN["schedule"], s, steps) for s in range(steps + 1)]}


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
        cases.append(_gradient_case(label, build_model(name, **arguments), name, images[:16], labels[:16]))
    torch.manual_seed(0)
    fixtures = {"gradients": cases, "run": _run_case(build_model("lenet5"), images, labels),
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
