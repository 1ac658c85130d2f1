"""Augmentation, per batch on the device (the paper's "distortions", cheaply).

Both functions take an explicit ``torch.Generator`` so that a resumed run draws exactly the
numbers the uninterrupted run would have drawn.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Shift each uint8 image (N, H, W) by up to ``max_shift`` pixels in x and y, filling with 0.

    With a ``generator`` (on the CPU) the offsets are drawn there, as ``fit`` does for exact resuming;
    without one they are drawn on the images' device, which a captured CUDA graph needs.
    """
    n, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    if generator is None:
        shifts = torch.randint(0, 2 * max_shift + 1, (2, n), device=images.device)
    else:
        shifts = torch.randint(0, 2 * max_shift + 1, (2, n), generator=generator).to(images.device)
    rows = torch.arange(h, device=images.device)[None, :] + shifts[0][:, None]
    cols = torch.arange(w, device=images.device)[None, :] + shifts[1][:, None]
    batch = torch.arange(n, device=images.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def random_affine(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Small random rotation (±10°), scale (0.9-1.1) and shift (±2 px) of float inputs (N, 1, H, W)."""
    n, _, h, _ = inputs.shape
    r = torch.rand(4, n, generator=generator).to(inputs.device)
    angle = (r[0] * 2 - 1) * math.radians(10)
    scale = 0.9 + 0.2 * r[1]
    tx, ty = (r[2] * 2 - 1) * (4.0 / h), (r[3] * 2 - 1) * (4.0 / h)  # 2 px in [-1, 1] coordinates
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(inputs.shape), align_corners=False)
    return F.grid_sample(inputs, grid, align_corners=False, padding_mode="zeros")
