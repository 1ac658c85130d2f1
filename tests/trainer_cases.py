"""The cases the page's engines are checked on against PyTorch (tests/test_js_trainer.py: trainer.js under node;
tests/test_webgpu.py: gpu.js in Chromium): a batch's loss and gradients, and a short run of the default recipe's
optimizer, both computed here by PyTorch from the weights the engines start from."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lenetlab.graph import model_graph
from lenetlab.schedule import lr_factor

SMOOTHING = 0.1
# The variant: every convolution and pooling option the page's engine implements, in one network.
VARIANT = dict(kernel_size=3, stride=2, padding=2, c3_padding=1, activation="relu", pooling="max")
RUN = dict(n_images=192, batch=32, lr=0.05, momentum=0.9, weight_decay=5e-4, schedule="onecycle")


def weighted(model: nn.Module) -> list[nn.Module]:
    """The convolutions and linear layers in the order the graph lists their operations."""
    return [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def gradient_case(label: str, model: nn.Module, name: str, images: torch.Tensor, labels: torch.Tensor) -> dict:
    """The graph, a batch, and PyTorch's loss and gradients for them, computed in float64 from float32 weights."""
    graph = model_graph(model, name)
    exact = model.double().train()
    exact.zero_grad(set_to_none=True)  # a model given twice must not add up its gradients
    loss = F.cross_entropy(exact(images.double()), labels, label_smoothing=SMOOTHING)
    loss.backward()
    grads = [[m.weight.grad.flatten().tolist(), m.bias.grad.flatten().tolist()] for m in weighted(exact)]
    return {"label": label, "graph": graph, "images": images.flatten().tolist(), "labels": labels.tolist(),
            "loss": loss.item(), "grads": grads}


def run_case(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict:
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
    final = [[m.weight.detach().flatten().tolist(), m.bias.detach().flatten().tolist()] for m in weighted(model)]
    return {"graph": graph, "images": images.flatten().tolist(), "labels": labels.tolist(), **RUN,
            "losses": losses, "final": final,
            "factors": [lr_factor(RUN["schedule"], s, steps) for s in range(steps + 1)]}
