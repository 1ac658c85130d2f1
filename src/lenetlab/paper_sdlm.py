"""The 1998 paper's training as published: SDLM with one update per image (appendix C, section III.C).

Before every pass, the Gauss-Newton diagonal h_kk is estimated on 500 training images and kept for the
pass; then every image of the pass, in a fresh random order, makes one step

    w_k <- w_k - eta / (mu + h_kk) * dE/dw_k        (E: that image's MAP loss)

with mu = 0.02 and eta 5e-4 for 2 passes, 2e-4 for 3, 1e-4 for 3, 5e-5 for 4, then 1e-5 (20 passes).
The training error is counted on the fly, each image judged just before its own step, as the paper's
Figure 5 does.

Why the paper's settings diverged in lenetlab before (``lenetlab/sdlm.py`` kept a batch-16 variant):
the printed initialisation, ±2.4 / F_in, leaves every weighted sum near 1.4 / sqrt(F_in) of its inputs'
size, so the network starts almost linear with small activations and h is 1e-5 to 1e-2: every step of
the first pass is then close to eta / mu. The activations grow tenfold within the first thousand
images, and those steps overshoot until every unit saturates (measured, seed 0: 10 % test accuracy
after 2,000 images, the MAP loss at 193). Started as the paper says the rule is meant
(``LeNet5_1998(init="root-fan-in")``: weighted sums the size of their inputs), the same steps learn.

Speed: one image is a few hundred thousand multiply-adds, so an eager step is all framework overhead
(2.4 ms on one core). The step below is one function of the parameters (``torch.func.grad``) that
``torch.compile`` turns into one call: 1.35 ms, so 20 passes of 60,000 images take about 30 minutes on
one core. Where compilation fails (no C++ compiler), the same function runs eagerly.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import torch
from torch import nn
from torch.func import functional_call, grad

from .augment import paper_distortions
from .data import ImageSet
from .schedule import PAPER_STEPS
from .sdlm import MU, diagonal_hessian
from .step import check_loss, diverged_loss

PAPER_ETA = 5e-4  # the first two passes' eta; PAPER_STEPS scales it down pass by pass
ESTIMATE_IMAGES = 500  # images the diagonal is estimated on before each pass
CHECK_EVERY = 1000  # images between two divergence checks (each one reads the loss on the host)


@dataclass(frozen=True)
class PassRecord:
    """One pass: its eta, the training error counted on the fly, the test error after it, and its seconds."""

    epoch: int
    eta: float
    train_error: float
    test_error: float
    seconds: float


@dataclass
class PerSampleHistory:
    passes: list[PassRecord] = field(default_factory=list)
    compiled: bool = False

    def as_dict(self) -> dict:
        return {"compiled": self.compiled, "passes": [asdict(p) for p in self.passes]}


def paper_eta(epoch: int, passes: int = 20, eta: float = PAPER_ETA) -> float:
    """Pass ``epoch``'s (1-based) eta on the paper's schedule, stretched over ``passes``.

    Examples
    --------
    >>> [paper_eta(e) for e in (1, 2, 3, 6, 9, 13, 20)]
    [0.0005, 0.0005, 0.0002, 0.0001, 5e-05, 1e-05, 1e-05]
    """
    return eta * PAPER_STEPS[min((epoch - 1) * 20 // max(passes, 1), 19)]


def _step_function(model: nn.Module) -> Callable:
    """new parameters, loss, correct? = step(parameters, step sizes, one image, its label)."""

    def loss_and_logits(params: dict, image: torch.Tensor, label: torch.Tensor):
        logits = functional_call(model, params, (image,))
        return model.criterion(logits, label), logits

    gradient = grad(loss_and_logits, has_aux=True)

    def step(params: dict, sizes: dict, image: torch.Tensor, label: torch.Tensor):
        grads, logits = gradient(params, image, label)
        with torch.no_grad():
            loss = model.criterion(logits, label)
            correct = logits.argmax(1) == label
        return {k: params[k] - sizes[k] * grads[k] for k in params}, loss, correct

    return step


def per_sample_sdlm(
    model: nn.Module,
    train: ImageSet,
    test: ImageSet,
    *,
    passes: int = 20,
    eta: float = PAPER_ETA,
    mu: float = MU,
    distort: bool = False,
    seed: int = 0,
    compile: bool = True,
    on_pass: Callable[[PassRecord], None] | None = None,
    on_images: Callable[[int], None] | None = None,
) -> PerSampleHistory:
    """Train ``model`` (lenet5-1998) the paper's way, one SDLM step per image; returns the per-pass record.

    ``distort``: each pass draws the paper's distortions afresh (``augment.paper_distortions``: one image in
    ten as it is, the others translated, scaled, squeezed and sheared).
    ``on_images(n)`` is told every time n more images were trained on (a progress bar's update).
    """
    generator = torch.Generator().manual_seed(seed)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    step = _step_function(model)
    history = PerSampleHistory(compiled=compile)
    if compile:
        try:
            compiled_step = torch.compile(step, fullgraph=True)
            compiled_step(params, {n: torch.zeros_like(p) for n, p in params.items()},
                          train.as_float(0, 1), train.labels[:1])  # compile now, on a step that changes nothing
            step = compiled_step
        except Exception:  # noqa: BLE001 - no C++ compiler or an op inductor lacks: the same function, eagerly
            history.compiled = False
    limit = diverged_loss(model)
    for epoch in range(1, passes + 1):
        start = time.perf_counter()
        images = train.as_float()
        if distort:
            images = paper_distortions(images, generator)
        _load(model, params)
        estimate = torch.randperm(len(train), generator=generator)[:ESTIMATE_IMAGES]
        curvature = diagonal_hessian(model, images[estimate], train.labels[estimate])
        by_name = dict(model.named_parameters())
        pass_eta = paper_eta(epoch, passes, eta)
        sizes = {n: pass_eta / (mu + curvature[by_name[n]]) for n in names}
        order = torch.randperm(len(train), generator=generator)
        wrong = torch.zeros((), dtype=torch.long)
        loss_sum = torch.zeros(())
        for i, k in enumerate(order.tolist(), 1):
            params, loss, correct = step(params, sizes, images[k:k + 1], train.labels[k:k + 1])
            wrong += ~correct[0]
            loss_sum += loss
            if i % CHECK_EVERY == 0 or i == len(order):
                done = i - (i - 1) // CHECK_EVERY * CHECK_EVERY  # images since the last check
                check_loss(loss_sum / done, limit, epoch, i)
                loss_sum.zero_()
                if on_images is not None:
                    on_images(done)
        _load(model, params)
        record = PassRecord(epoch, pass_eta, float(wrong) / len(train), _error(model, test),
                            time.perf_counter() - start)
        history.passes.append(record)
        if on_pass is not None:
            on_pass(record)
    return history


@torch.no_grad()
def _load(model: nn.Module, params: dict[str, torch.Tensor]) -> None:
    for name, p in model.named_parameters():
        if name in params:
            p.copy_(params[name])


@torch.no_grad()
def _error(model: nn.Module, images: ImageSet, batch_size: int = 1000) -> float:
    wrong = 0
    for start in range(0, len(images), batch_size):
        logits = model(images.as_float(start, start + batch_size))
        wrong += int((logits.argmax(1) != images.labels[start:start + batch_size]).sum())
    return wrong / max(len(images), 1)
