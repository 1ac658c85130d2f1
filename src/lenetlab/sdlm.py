"""Stochastic diagonal Levenberg-Marquardt, the optimiser of LeCun et al. 1998 (appendix C).

Each parameter w_k gets its own step size eta_k = epsilon / (mu + h_kk), where h_kk estimates the
second derivative of the loss with respect to w_k. The estimate is the Gauss-Newton one of the paper:
second derivatives are propagated backwards like gradients, with the squares of the weights and of
the activation function's derivative, and the squares of the inputs where the gradient uses the
inputs (Becker and LeCun, 1988):

    d2E/da_i2  = f'(a_i)^2 d2E/dx_i2           (a unit's total input a_i, its output x_i = f(a_i))
    d2E/dx_j2  = sum_i w_ij^2 d2E/da_i2
    d2E/dw_ij2 = x_j^2 d2E/da_i2

mu = 0.02, as in the paper.

Where we deviate, named, with what we measured (16-image steps on the training split, accuracy on
1,000 validation images after 1,000 steps, seed 0; chance is 10 %):

- the paper updates after every image; here a batch of B = 16 images makes one step of
  epsilon * (sum of the 16 per-image gradients) / (mu + h): 16 of the paper's steps from one point;
- the paper estimates h on 500 images before every pass and keeps it for the pass. Here h is
  estimated on every step's own batch. At the start the activations are small, so h is small and
  every step is near epsilon / mu; within the first few hundred steps the activations grow tenfold,
  and an h kept from before lets the steps run far too large. Renewed every 50 steps on 500 images:
  epsilon 0.0001 and 0.0005 stay at chance, 0.00002 reaches 44 %; a running average over about 500
  images: 0.0001 and 0.0002 stay at chance; renewed at every step on the step's batch: 0.0001
  reaches 95 % (0.0005 stays at chance);
- epsilon: the paper's schedule shape (x1, 0.4, 0.2, 0.1, 0.02 of the first value) starting at 0.0001,
  not the paper's 0.0005.

The paper's own way, one step per image with h from 500 images per pass, is ``lenetlab/paper_sdlm.py``
(``lenetlab paper --published``): with the weights started as the paper means its rule
(``init="root-fan-in"``) it reaches the paper's error (docs/paper.md). It trains outside a run
directory, so ``--preset paper`` (a run directory, resumable, reported) still trains this variant.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.grad import conv2d_input, conv2d_weight

from .errors import LenetlabError
from .models.lenet1998 import PaperField, RBFOutput, ScaledTanh, SparseConv2d, Subsampling

MU = 0.02


def _leaves(model: nn.Module) -> list[nn.Module]:
    """The model's operations in the order its forward pass applies them."""
    stages = model.stages() if hasattr(model, "stages") else list(model.named_children())
    leaves: list[nn.Module] = []
    for _, stage in stages:
        leaves.extend(stage.children() if isinstance(stage, nn.Sequential) else [stage])
    flat: list[nn.Module] = []
    for leaf in leaves:  # nested Sequentials (a subsampling stage: pool then squashing)
        flat.extend(leaf.children() if isinstance(leaf, nn.Sequential) else [leaf])
    return flat


def _spread(h: torch.Tensor, size: int, like: torch.Tensor) -> torch.Tensor:
    """Copy each pooled value back onto the size x size window it came from (zero where pooling dropped pixels)."""
    spread = F.interpolate(h, scale_factor=size, mode="nearest")
    return F.pad(spread, (0, like.shape[-1] - spread.shape[-1], 0, like.shape[-2] - spread.shape[-2]))


def _add(curvature: dict[nn.Parameter, torch.Tensor], param: nn.Parameter, value: torch.Tensor) -> None:
    curvature[param] = curvature.get(param, 0) + value


def _backward(leaf: nn.Module, x: torch.Tensor, h_out: torch.Tensor,
              curvature: dict[nn.Parameter, torch.Tensor]) -> torch.Tensor | None:
    """Second derivatives with respect to ``leaf``'s input, from those of its output; adds its parameters'."""
    if isinstance(leaf, ScaledTanh):
        return h_out * ScaledTanh.derivative(x) ** 2
    if isinstance(leaf, nn.Tanh):
        return h_out * (1 - torch.tanh(x) ** 2) ** 2
    if isinstance(leaf, nn.ReLU):
        return h_out * (x > 0)
    if isinstance(leaf, nn.Flatten):
        return h_out.reshape(x.shape)
    if isinstance(leaf, nn.Linear):
        _add(curvature, leaf.weight, h_out.T @ x ** 2)
        _add(curvature, leaf.bias, h_out.sum(0))
        return h_out @ leaf.weight ** 2
    if isinstance(leaf, nn.Conv2d | SparseConv2d):
        weight = leaf.dense_weight() if isinstance(leaf, SparseConv2d) else leaf.weight
        stride, padding = getattr(leaf, "stride", 1), getattr(leaf, "padding", 0)
        h_weight = conv2d_weight(x ** 2, weight.shape, h_out, stride, padding)
        if isinstance(leaf, SparseConv2d):  # only the connected kernels are parameters
            h_weight = h_weight.flatten(0, 1)[leaf.connection_index]
        _add(curvature, leaf.weight, h_weight)
        if leaf.bias is not None:
            _add(curvature, leaf.bias, h_out.sum((0, 2, 3)))
        return conv2d_input(x.shape, weight ** 2, h_out, stride, padding)
    if isinstance(leaf, Subsampling):
        _add(curvature, leaf.weight, (h_out * leaf.window_sums(x) ** 2).sum((0, 2, 3)))
        _add(curvature, leaf.bias, h_out.sum((0, 2, 3)))
        return _spread(h_out * leaf.weight[:, None, None] ** 2, 2, x)
    if isinstance(leaf, nn.AvgPool2d) and leaf.kernel_size == leaf.stride and not leaf.padding:
        size = leaf.kernel_size if isinstance(leaf.kernel_size, int) else leaf.kernel_size[0]
        return _spread(h_out / size ** 4, size, x)  # each input counts 1/size^2 in its window's mean
    if isinstance(leaf, PaperField):
        return None  # the input: nothing trainable before it
    raise LenetlabError(f"--optimizer sdlm cannot estimate the curvature through a {type(leaf).__name__} layer; "
                        "it handles the 1998 layers, convolutions, linear layers, tanh, ReLU and average pooling; "
                        "use --optimizer sgd")


@torch.no_grad()
def diagonal_hessian(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> dict[nn.Parameter, torch.Tensor]:
    """The Gauss-Newton estimate of d2E/dw2 for every trainable parameter, averaged over the images.

    Examples
    --------
    >>> from lenetlab.models import build_model
    >>> model = build_model("lenet5-1998")
    >>> h = diagonal_hessian(model, torch.randn(8, 1, 28, 28), torch.arange(8))
    >>> len(h) == len(list(model.parameters())), all(bool((v >= 0).all()) for v in h.values())
    (True, True)
    """
    leaves = _leaves(model)
    seen = []
    x = inputs
    for leaf in leaves:
        seen.append(x)
        x = leaf(x)
    output = leaves[-1]
    if isinstance(output, RBFOutput):
        h = torch.full_like(seen[-1], 2.0)  # d2/dx_j2 of y_D = sum_j (x_j - w_Dj)^2
        leaves, seen = leaves[:-1], seen[:-1]
    else:
        p = x.float().softmax(1)
        h = p * (1 - p)  # the diagonal of cross-entropy's Hessian in the logits
    curvature: dict[nn.Parameter, torch.Tensor] = {}
    for leaf, leaf_input in zip(reversed(leaves), reversed(seen)):
        h = _backward(leaf, leaf_input, h, curvature)
        if h is None:
            break
    n = max(len(labels), 1)
    return {p: value / n for p, value in curvature.items()}


class SDLM(torch.optim.Optimizer):
    """w_k <- w_k - lr / (mu + h_kk) * (sum of the batch's per-image gradients).

    Call :meth:`estimate` before every step (``fit`` does, on the step's batch). The training loss is the batch *mean*, so the
    step multiplies the gradient by ``batch_size`` to make it the per-image sum of the paper.
    """

    def __init__(self, params: object, lr: float, *, mu: float = MU, batch_size: int = 1) -> None:
        super().__init__(params, {"lr": lr, "mu": mu})
        self.batch_size = batch_size

    def estimate(self, model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        """h_kk from these images (the Gauss-Newton diagonal, averaged over them)."""
        curvature = diagonal_hessian(model, inputs, labels)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p]["h"] = curvature.get(p, torch.zeros_like(p)).detach().to(p.dtype)

    @torch.no_grad()
    def step(self, closure: object = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if "h" not in self.state[p]:
                    raise RuntimeError("SDLM.step before SDLM.estimate: estimate the curvature first")
                p.addcdiv_(p.grad, self.state[p]["h"] + group["mu"], value=-group["lr"] * self.batch_size)
