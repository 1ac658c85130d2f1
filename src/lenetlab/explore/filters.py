"""The learned kernels next to the classic filters of computer vision, and how they formed.

Similarity is the cosine of the two kernels seen as vectors, in absolute value: a learned kernel
and its negative detect the same edge (the next layer's weight can flip the sign), so the match is
sign-invariant. 1 means identical up to scale and sign, 0 means orthogonal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from .. import plots
from .._fs import write_json
from ..errors import LenetlabError
from ..i18n import t
from ..plots import localize
from ..rundir import RunDir
from ._common import load_run_model, output_dir
from .figures import filters_figure, filters_over_epochs_figure, kernel_grid_figure


def _binomial(n: int) -> np.ndarray:
    row = np.array([1.0])
    for _ in range(n - 1):
        row = np.convolve(row, [1.0, 1.0])
    return row


def classic_filters(size: int = 5) -> dict[str, np.ndarray]:
    """The usual hand-made filters at ``size x size`` (odd, >= 3), each a float64 array.

    Sobel x/y (binomial smoothing times a binomial derivative; the classic 5x5 Sobel at 5),
    Prewitt x/y (box smoothing times a ramp), Laplacian of Gaussian, Gaussian, and Gabor filters at
    8 orientations in two phases (even: bar, odd: edge). "x" filters respond to vertical edges.

    Examples
    --------
    >>> bank = classic_filters(3)
    >>> bank["sobel_x"].astype(int).tolist()
    [[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]
    >>> len(classic_filters(5))
    22
    """
    if size < 3 or size % 2 == 0:
        raise LenetlabError(f"classic filters need an odd kernel size of at least 3, got {size}; "
                            "the comparison only runs for such kernels")
    smooth = _binomial(size)
    derivative = np.convolve(_binomial(size - 2), [-1.0, 0.0, 1.0])
    ramp = np.arange(size) - size // 2
    r = size // 2
    y, x = np.mgrid[-r:r + 1, -r:r + 1].astype(float)
    sigma = size / 5.0
    gaussian = np.exp(-(x**2 + y**2) / (2 * sigma**2))
    log = (x**2 + y**2 - 2 * sigma**2) / sigma**4 * gaussian
    bank = {
        "sobel_x": np.outer(smooth, derivative),
        "sobel_y": np.outer(derivative, smooth),
        "prewitt_x": np.outer(np.ones(size), ramp),
        "prewitt_y": np.outer(ramp, np.ones(size)),
        "laplacian": log - log.mean(),  # zero-sum, like every Laplacian
        "gaussian": gaussian / gaussian.sum(),
    }
    wavelength, g_sigma = size / 2.0, size / 4.0
    for k in range(8):
        theta = np.pi * k / 8
        xr = x * np.cos(theta) + y * np.sin(theta)
        yr = -x * np.sin(theta) + y * np.cos(theta)
        envelope = np.exp(-(xr**2 + yr**2) / (2 * g_sigma**2))
        even = envelope * np.cos(2 * np.pi * xr / wavelength)
        bank[f"gabor_{int(round(np.degrees(theta)))}_even"] = even - even.mean()
        bank[f"gabor_{int(round(np.degrees(theta)))}_odd"] = envelope * np.sin(2 * np.pi * xr / wavelength)
    return bank


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """|cos| between two kernels seen as vectors: 1 when equal up to scale and sign.

    Examples
    --------
    >>> k = classic_filters(5)["sobel_x"]
    >>> round(cosine_similarity(-3 * k, k), 6)
    1.0
    """
    a, b = np.asarray(a, float).ravel(), np.asarray(b, float).ravel()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    return float(abs(a @ b) / norm) if norm > 0 else 0.0


def best_matches(kernels: np.ndarray, bank: dict[str, np.ndarray] | None = None) -> list[dict[str, Any]]:
    """For each (k, k) kernel, the most similar classic filter, its |cos| and the sign that aligns them.

    Examples
    --------
    >>> bank = classic_filters(5)
    >>> best_matches(np.stack([bank["sobel_y"] * -2.0]))[0]["best"]
    'sobel_y'
    """
    kernels = np.asarray(kernels, float)
    bank = classic_filters(kernels.shape[-1]) if bank is None else bank
    results = []
    for kernel in kernels:
        scores = {name: cosine_similarity(kernel, f) for name, f in bank.items()}
        best = max(scores, key=scores.__getitem__)
        sign = 1 if float(kernel.ravel() @ bank[best].ravel()) >= 0 else -1
        results.append({"best": best, "similarity": round(scores[best], 6), "sign": sign,
                        "all": {k: round(v, 6) for k, v in scores.items()}})
    return results


def conv_weights(model: torch.nn.Module, layer: str) -> np.ndarray:
    """The (out, in, k, k) weights of a convolutional stage (``C1``, ``C3``...) as a numpy array."""
    stage = model.stage(layer) if hasattr(model, "stage") else None
    conv = getattr(stage, "conv", None)
    if conv is None:
        raise LenetlabError(f"this model has no convolutional layer {layer}; explore filters needs a LeNet run "
                            "(lenet5, lenet5-modern, lenet1, lenet4)")
    return conv.weight.detach().cpu().numpy()


def filter_snapshots(run: str | Path, epochs: list[int] | None = None, max_rows: int = 6) -> list[tuple[int, np.ndarray]]:
    """C1's kernels saved by ``train --keep-filters``: the chosen epochs, or first, last and evenly between.

    Returns ``[]`` when the run kept none.
    """
    folder = RunDir.containing(run).filters_dir
    files = {int(p.stem.split("_")[1]): p for p in sorted(folder.glob("epoch_*.pt"))} if folder.is_dir() else {}
    if not files:
        if epochs:
            raise LenetlabError(f"{folder.parent} kept no filters, so --epochs has nothing to show; train with "
                                "--keep-filters to keep C1 after every epoch")
        return []
    available = sorted(files)
    if epochs:
        missing = [e for e in epochs if e not in files]
        if missing:
            raise LenetlabError(f"the run kept no filters for epoch(s) {missing}; choose among {available}")
        chosen = epochs
    else:
        picks = np.linspace(0, len(available) - 1, min(max_rows, len(available))).round().astype(int)
        chosen = [available[i] for i in sorted(set(picks.tolist()))]
    snapshots = []
    for epoch in chosen:
        payload = torch.load(files[epoch], map_location="cpu", weights_only=True)
        snapshots.append((epoch, payload["C1"].numpy()))
    return snapshots


def explore_filters(run: str | Path, out: str | Path | None = None, epochs: list[int] | None = None,
                    lang: str = "en") -> dict[str, Any]:
    """Draw C1 (with the closest classic filters), C3 as a grid, and C1 over epochs; write filters.json.

    Writes into ``out`` (default ``RUN/explore``): ``filters_c1.png``, ``filters_c3.png``,
    ``filters_epochs.png`` (when the run kept its filters) and ``filters.json``.

    Examples
    --------
    >>> result = explore_filters("runs/lenet5")   # C1's first kernel, after 40 epochs: gabor_90_odd, 0.83
    >>> len(result["C1"]), sorted(result["C1"][0])[:3]
    (6, ['all', 'best', 'kernel'])
    """
    model, checkpoint = load_run_model(run)
    snapshots = filter_snapshots(run, epochs)  # a wrong --epochs fails here, before any file is written
    c1 = conv_weights(model, "C1")
    size = c1.shape[-1]
    if c1.shape[1] != 1:
        raise LenetlabError(f"C1 reads {c1.shape[1]} channels; the comparison with classic filters needs grayscale input")
    bank = classic_filters(size)
    folder = output_dir(run, out)
    matches = best_matches(c1[:, 0], bank)
    title = t(lang, "explore.c1_title", model=checkpoint["model"], n=len(c1), size=size)
    files = [plots.save(filters_figure(c1[:, 0], matches, bank, title, lang), folder / "filters_c1.png")]
    result: dict[str, Any] = {"model": checkpoint["model"], "kernel_size": size,
                              "C1": [{"kernel": i, **{k: v for k, v in m.items()}} for i, m in enumerate(matches)],
                              "mean_best_similarity": round(float(np.mean([m["similarity"] for m in matches])), 6)}
    try:
        c3 = conv_weights(model, "C3")
    except LenetlabError:
        c3 = None
    if c3 is not None:
        title = t(lang, "explore.c3_title", maps=c3.shape[0], inputs=c3.shape[1], h=c3.shape[2], w=c3.shape[3])
        files.append(plots.save(localize(kernel_grid_figure(c3, title, "C3", "S2"), lang), folder / "filters_c3.png"))
        result["C3_shape"] = list(c3.shape)
    if snapshots:
        files.append(plots.save(filters_over_epochs_figure(snapshots, lang), folder / "filters_epochs.png"))
        last = snapshots[-1][1][:, 0]
        # how far each kernel still was from its final form: 1 - |cos| to the last snapshot
        result["epochs"] = [{"epoch": e, "similarity_to_last": [round(cosine_similarity(k[i, 0], last[i]), 6)
                                                                 for i in range(len(last))]} for e, k in snapshots]
    files.append(write_json(folder / "filters.json", result))
    result["files"] = [str(f) for f in files]
    return result
