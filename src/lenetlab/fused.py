"""LeNet-5's first stage in two GPU kernels: shift, C1, tanh and S2 forward in one, C1's gradients in one.

The fast path's step on a GPU is bound by the running time of ~74 tiny kernels, not by launching them
(docs/speed.md, "Where the epoch goes"). About a quarter of that time is the first stage: gathering
the batch, the ±2 px shift, the uint8-to-float conversion, C1's convolution, its bias and tanh, the
average pooling, and their gradients, each a kernel of its own. C1's input needs no gradient, so
the whole stage fits in two Triton kernels, one program per image:

- forward: for each pooled output of each of the 6 maps, the 4 convolutions under it (25 taps each,
  read straight from the uint8 training images at the batch's indices and shifts), tanh, the mean;
- backward: the same convolutions again (recomputing costs less than storing the 6x28x28 maps), the
  gradient through the pooling and tanh, and each image's share of C1's weight and bias gradients,
  summed over the batch by one reduction.

The arithmetic is ``training_batch`` + ``C1`` + ``S2``'s (same shift semantics, same /255 scaling),
in float32; tanh is computed as ``1 - 2 / (exp(2z) + 1)``, so results differ from PyTorch's in the
last bits only. Only the notebook's first stage fits (1 input channel, at most 8 maps of 5x5 with
padding 2 and stride 1 on 28x28 images, tanh, 2x2 average pooling): :func:`fusable` says whether a
model has it. Triton compiles for CUDA; ``TRITON_INTERPRET=1`` runs the same kernels on the CPU (tests).
"""

from __future__ import annotations

import os

import torch
from torch import nn

from .errors import LenetlabError

try:  # a CUDA build of PyTorch brings Triton; the CPU build does not
    import triton
    import triton.language as tl
except ImportError:  # pragma: no cover - depends on the installed PyTorch
    triton = None

SIDE, KERNEL, PADDING, MAPS, POOLED = 28, 5, 2, 8, 14  # MAPS: the channel block (C1's maps padded to 8)
# Warps per program (one image each); the backward holds four (8, 16, 16) gradients at once.
WARPS = {"forward": 4, "backward": 4}


def available() -> bool:
    """Whether Triton is installed (a CUDA build of PyTorch, or triton for the interpreter)."""
    return triton is not None


def fusable(model: nn.Module) -> bool:
    """Whether ``model``'s first stage is the one the kernels compute (LeNet-5's as the notebook has it)."""
    first = model.stages()[:2] if hasattr(model, "stages") else []
    if [name for name, _ in first] != ["C1", "S2"]:
        return False
    (_, c1), (_, s2) = first
    conv = getattr(c1, "conv", None)
    return (isinstance(conv, nn.Conv2d) and conv.in_channels == 1 and conv.out_channels <= MAPS
            and conv.kernel_size == (KERNEL, KERNEL) and conv.stride == (1, 1) and conv.padding == (PADDING, PADDING)
            and conv.dilation == (1, 1) and conv.groups == 1 and conv.bias is not None
            and len(c1) == 2 and isinstance(c1.act, nn.Tanh)
            and isinstance(s2, nn.AvgPool2d) and s2.kernel_size == 2 and s2.stride == 2 and s2.padding == 0)


def check(model: nn.Module, images: torch.Tensor, device: torch.device, augment: str, precision: str) -> None:
    """Refuse in one line a ``--fuse`` the kernels cannot compute as asked, instead of running something else."""
    if triton is None or (device.type != "cuda" and not _interpreted()):
        raise LenetlabError.of("error.fuse_needs_cuda", device=device.type)
    if not fusable(model) or tuple(images.shape[1:]) != (SIDE, SIDE):
        raise LenetlabError.of("error.fuse_needs_model")
    if augment not in ("shift", "none") or precision != "fp32":
        raise LenetlabError.of("error.fuse_needs_recipe", augment=augment, precision=precision)


def _interpreted() -> bool:
    """Triton's interpreter runs the kernels on the CPU (``TRITON_INTERPRET=1``, read when Triton is imported)."""
    return os.environ.get("TRITON_INTERPRET") == "1"


if triton is not None:

    @triton.jit
    def _tile(image, dy, dx, p, q, row: tl.constexpr, col: tl.constexpr):
        """C1's input under the pooled outputs (p, q) at tap offset (row, col): the shifted, padded image / 255."""
        r = 2 * p + row - 2  # in the shifted image, before C1's zero padding of 2
        c = 2 * q + col - 2
        ir = r + dy  # in the stored image, before the shift's zero fill
        ic = c + dx
        inside = (r >= 0) & (r < 28) & (c >= 0) & (c < 28) & (ir >= 0) & (ir < 28) & (ic >= 0) & (ic < 28)
        return tl.load(image + ir * 28 + ic, mask=inside, other=0).to(tl.float32) / 255.0

    @triton.jit
    def _pre_activation(image, dy, dx, p, q, weight, bias, maps, di: tl.constexpr, dj: tl.constexpr):
        """C1's output before tanh at the (di, dj) corner of each pooling window: (8, 16, 16)."""
        z = tl.load(bias + maps, mask=maps < 6, other=0.0) + tl.zeros((8, 16, 16), tl.float32)
        for kh in tl.static_range(5):
            for kw in tl.static_range(5):
                w = tl.load(weight + maps * 25 + kh * 5 + kw, mask=maps < 6, other=0.0)
                z += w * _tile(image, dy, dx, p, q, di + kh, dj + kw)
        return z

    @triton.jit
    def _this_image(images, index, shifts, batch, n):
        """Program ``n``'s image (a pointer into the training images) and its shift (rows, columns) in -2..2."""
        image = images + tl.load(index + n).to(tl.int64) * 784
        return image, tl.load(shifts + n).to(tl.int32) - 2, tl.load(shifts + batch + n).to(tl.int32) - 2

    @triton.jit
    def _tanh(z):
        return 1.0 - 2.0 / (tl.exp(2.0 * z) + 1.0)

    @triton.jit
    def _stage_forward(images, index, shifts, weight, bias, out, batch, n_maps):
        n = tl.program_id(0)
        image, dy, dx = _this_image(images, index, shifts, batch, n)
        maps = tl.arange(0, 8)[:, None, None]
        p, q = tl.arange(0, 16)[None, :, None], tl.arange(0, 16)[None, None, :]
        pooled = _tanh(_pre_activation(image, dy, dx, p, q, weight, bias, maps, 0, 0))
        pooled += _tanh(_pre_activation(image, dy, dx, p, q, weight, bias, maps, 0, 1))
        pooled += _tanh(_pre_activation(image, dy, dx, p, q, weight, bias, maps, 1, 0))
        pooled += _tanh(_pre_activation(image, dy, dx, p, q, weight, bias, maps, 1, 1))
        keep = (maps < n_maps) & (p < 14) & (q < 14)
        tl.store(out + n * n_maps * 196 + maps * 196 + p * 14 + q, pooled * 0.25, mask=keep)

    @triton.jit
    def _corner_gradient(image, dy, dx, p, q, weight, bias, maps, g, di: tl.constexpr, dj: tl.constexpr):
        t = _tanh(_pre_activation(image, dy, dx, p, q, weight, bias, maps, di, dj))
        return g * (1.0 - t * t)

    @triton.jit
    def _stage_backward(images, index, shifts, weight, bias, grad_out, partial, batch, n_maps):
        """Each image's share of C1's gradients: partial[n, tap, map] for the 25 taps, then the bias at tap 25."""
        n = tl.program_id(0)
        image, dy, dx = _this_image(images, index, shifts, batch, n)
        maps = tl.arange(0, 8)[:, None, None]
        p, q = tl.arange(0, 16)[None, :, None], tl.arange(0, 16)[None, None, :]
        keep = (maps < n_maps) & (p < 14) & (q < 14)
        g = tl.load(grad_out + n * n_maps * 196 + maps * 196 + p * 14 + q, mask=keep, other=0.0) * 0.25
        g00 = _corner_gradient(image, dy, dx, p, q, weight, bias, maps, g, 0, 0)
        g01 = _corner_gradient(image, dy, dx, p, q, weight, bias, maps, g, 0, 1)
        g10 = _corner_gradient(image, dy, dx, p, q, weight, bias, maps, g, 1, 0)
        g11 = _corner_gradient(image, dy, dx, p, q, weight, bias, maps, g, 1, 1)
        out = partial + n * 26 * 8 + tl.arange(0, 8)
        for kh in tl.static_range(5):
            for kw in tl.static_range(5):
                s = (g00 * _tile(image, dy, dx, p, q, kh, kw) + g01 * _tile(image, dy, dx, p, q, kh, kw + 1)
                     + g10 * _tile(image, dy, dx, p, q, kh + 1, kw) + g11 * _tile(image, dy, dx, p, q, kh + 1, kw + 1))
                tl.store(out + (kh * 5 + kw) * 8, tl.sum(tl.sum(s, axis=2), axis=1))
        tl.store(out + 25 * 8, tl.sum(tl.sum(g00 + g01 + g10 + g11, axis=2), axis=1))


class _FirstStage(torch.autograd.Function):
    @staticmethod
    def forward(ctx, images, index, shifts, weight, bias):  # noqa: ANN001, ANN205 - autograd's signature
        batch, n_maps = index.numel(), weight.shape[0]
        out = torch.empty(batch, n_maps, POOLED, POOLED, device=images.device, dtype=torch.float32)
        _stage_forward[(batch,)](images, index, shifts, weight, bias, out, batch, n_maps, num_warps=WARPS["forward"])
        ctx.save_for_backward(images, index, shifts, weight, bias)
        return out

    @staticmethod
    def backward(ctx, grad_out):  # noqa: ANN001, ANN205
        images, index, shifts, weight, bias = ctx.saved_tensors
        batch, n_maps = index.numel(), weight.shape[0]
        partial = torch.empty(batch, 26, MAPS, device=images.device, dtype=torch.float32)
        _stage_backward[(batch,)](images, index, shifts, weight, bias, grad_out.contiguous(), partial, batch, n_maps,
                                  num_warps=WARPS["backward"])
        total = partial.sum(0)
        grad_weight = total[:25, :n_maps].t().reshape(weight.shape)
        return None, None, None, grad_weight, total[25, :n_maps].contiguous()


def first_stage(images: torch.Tensor, index: torch.Tensor, shifts: torch.Tensor, c1: nn.Conv2d) -> torch.Tensor:
    """S2's output for the training images ``images[index]`` (uint8, (N, 28, 28)) shifted by ``shifts``.

    ``shifts`` is (2, B), rows then columns, each in 0..4 as :func:`~lenetlab.augment.random_shift`
    draws them (2 means no shift). Differentiable in C1's weight and bias.
    """
    if triton is None:
        raise RuntimeError("the fused first stage needs Triton (a CUDA build of PyTorch)")
    return _FirstStage.apply(images.contiguous(), index.contiguous(), shifts.contiguous(),
                             c1.weight.contiguous(), c1.bias)
