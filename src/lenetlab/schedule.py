"""The learning-rate schedules, one definition for both training paths (``fit`` and the fast path).

A schedule is a pure function of the step, so a resumed run sets exactly the rates it would have set,
and the fast path can hold the whole run's rates in one device table (:func:`lr_table`).
"""

from __future__ import annotations

import math

SCHEDULES = ("onecycle", "cosine", "constant", "paper")

# LeCun et al. 1998, section III.C: epsilon 0.0005 for 2 passes, 0.0002 for 3, 0.0001 for 3, 0.00005 for 4,
# then 0.00001, as factors of the first (out of 20 passes).
PAPER_STEPS = (1.0,) * 2 + (0.4,) * 3 + (0.2,) * 3 + (0.1,) * 4 + (0.02,) * 8


def lr_factor(schedule: str, step: int, total_steps: int) -> float:
    """Multiplier of the base learning rate at ``step`` of ``total_steps``.

    One-cycle warms up linearly over the first 20 % from 0.1× to 1×, then decays linearly to 0.

    Examples
    --------
    >>> [round(lr_factor("onecycle", s, 10), 3) for s in (0, 1, 2, 6, 10)]
    [0.1, 0.55, 1.0, 0.5, 0.0]
    >>> lr_factor("cosine", 5, 10), lr_factor("constant", 7, 10), lr_factor("paper", 19, 20)
    (0.5, 1.0, 0.02)
    """
    if schedule == "constant":
        return 1.0
    progress = min(step / max(total_steps, 1), 1.0)
    if schedule == "cosine":
        return 0.5 * (1 + math.cos(math.pi * progress))
    if schedule == "paper":
        return PAPER_STEPS[min(int(progress * 20), 19)]
    warm = 0.2
    if progress < warm:
        return 0.1 + 0.9 * progress / warm
    return max(0.0, (1 - progress) / (1 - warm))


def lr_table(lr: float, schedule: str, steps_per_epoch: int, epochs: int, device=None):
    """The learning rate of every step of a run as a float32 tensor (the fast path reads it on the device).

    One spare entry at the end: a step counter reaches ``total`` after the last step and must still index it.

    Examples
    --------
    >>> lr_table(0.1, "constant", 2, 1).tolist()
    [0.10000000149011612, 0.10000000149011612, 0.10000000149011612]
    """
    import torch

    total = steps_per_epoch * epochs
    return torch.tensor([lr * lr_factor(schedule, s, total) for s in range(total + 1)], dtype=torch.float32,
                        device=device)
