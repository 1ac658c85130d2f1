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


# LeCun et al. 1998, section III.C: 540,000 distorted copies beside the 60,000 originals, "combinations of the
# following planar affine transformations: horizontal and vertical translations, scaling, squeezing
# (simultaneous horizontal compression and vertical elongation, or the reverse), and horizontal shearing".
# The paper gives no ranges; these are ours. No rotation: the paper lists none.
PAPER_ORIGINALS = 60_000 / 600_000  # the share of undistorted images in the paper's training set
PAPER_RANGES = {"shift_px": 2.0, "scale": 0.1, "squeeze": 0.1, "shear": 0.2}


def paper_distortions(inputs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """The 1998 paper's distortions of float inputs (N, 1, H, W): one image in ten left as it is, the others
    translated (±2 px), scaled (×0.9–1.1), squeezed (x by q, y by 1/q, q in 0.9–1.1) and sheared
    horizontally (x += k·y, k in ±0.2), each amount drawn uniformly per image."""
    theta = paper_distortion_maps(len(inputs), inputs.shape[-2], generator).to(inputs.device)
    grid = F.affine_grid(theta, list(inputs.shape), align_corners=False)
    return F.grid_sample(inputs, grid, align_corners=False, padding_mode="zeros")


def paper_distortion_maps(n: int, size: int, generator: torch.Generator) -> torch.Tensor:
    """``paper_distortions``' n maps as ``affine_grid`` takes them (n, 2, 3): output to input coordinates."""
    r = torch.rand(5, n, generator=generator) * 2 - 1  # each in [-1, 1]
    kept = torch.rand(n, generator=generator) < PAPER_ORIGINALS
    scale = 1 + PAPER_RANGES["scale"] * r[0]
    squeeze = 1 + PAPER_RANGES["squeeze"] * r[1]
    shear = PAPER_RANGES["shear"] * r[2]
    # The image's own map, (x, y) -> scale * (squeeze * (x + shear * y), y / squeeze); affine_grid wants its inverse.
    forward = torch.zeros(n, 2, 2)
    forward[:, 0, 0], forward[:, 0, 1] = scale * squeeze, scale * squeeze * shear
    forward[:, 1, 1] = scale / squeeze
    shift = r[3:5].T * (PAPER_RANGES["shift_px"] * 2 / size)  # pixels in affine_grid's [-1, 1] coordinates
    theta = torch.cat([torch.linalg.inv(forward), shift[:, :, None]], 2)
    theta[kept] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return theta
