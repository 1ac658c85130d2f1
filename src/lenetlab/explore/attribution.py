"""Attribution maps: which pixels made the network give its answer?

Four methods, each a few lines of PyTorch autograd (no Captum), for a batch of 1-channel 28x28
inputs, computed in eval mode (the model's mode is restored afterwards):

* **saliency** (Simonyan et al. 2014): the gradient of the target class's logit (before softmax)
  with respect to each pixel; **gradient x input** (Shrikumar et al. 2016) multiplies it by the
  pixel, so a black pixel (0) gets exactly 0.
* **Grad-CAM** (Selvaraju et al. 2017): the maps of a convolutional stage (C3 by default, its output
  before pooling) weighted by the spatial mean of their gradient, summed, ReLU, then upsampled
  bilinearly to 28x28, stretched over the whole image as Grad-CAM usually is (LeNet-5's C3 cells
  are in fact centred on input pixels 4.5 to 22.5, so the map is slightly spread towards the edges).
* **occlusion** (Zeiler & Fergus 2014): a patch of ``baseline`` slides over the image; each pixel
  gets the mean, over the patches covering it, of p(target) on the image minus p(target) occluded.

Signs: red (> 0) speaks for the class, blue (< 0) against it. The sanity check follows Adebayo et
al. 2018 ("Sanity checks for saliency maps"): the same architecture with fresh random weights
should give different maps; :func:`rank_correlation` is Spearman's, written with numpy (average
ranks for ties, then Pearson's correlation of the ranks; it equals ``scipy.stats.spearmanr``).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .. import plots
from .._fs import write_json
from ..data import load_mnist
from ..errors import LenetlabError
from ..evaluation import confidently_wrong, recorded_data_dir
from ..i18n import check_lang, number, t
from ..models import build_model
from ..predict import Predictor
from ..registry import MODELS
from ..rundir import RunDir
from ._common import output_dir
from .robustness_figures import attribution_figure

SIZE = 28
METHODS = ("saliency", "gradcam", "occlusion", "all")
MAX_IMAGES = 32
N_WRONG = 6
Target = int | Sequence[int] | np.ndarray | torch.Tensor
DESCRIPTIONS = {
    "saliency": "Gradient of the target class's logit (before softmax) with respect to each pixel: how much a small "
                "brightening of that pixel would raise (red) or lower (blue) the class score.",
    "gradient_times_input": "The saliency gradient multiplied by the pixel value: zero on the black background, "
                            "the signed contribution of each inked pixel to the class score, to first order.",
    "gradcam": "Grad-CAM: the maps of a convolutional layer weighted by the mean gradient of the class logit over "
               "each map, summed, kept where positive (ReLU) and stretched bilinearly to 28x28.",
    "occlusion": "How much the probability of the class drops when a square patch is set to the baseline, averaged "
                 "over the patches covering each pixel (red: hiding it hurts the class, blue: hiding it helps).",
}


@contextmanager
def _eval(model: nn.Module) -> Iterator[nn.Module]:
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def _batch(model: nn.Module, x: Any) -> torch.Tensor:
    """(28, 28), (N, 28, 28) or (N, 1, 28, 28), array or tensor -> float (N, 1, 28, 28) on the model's device."""
    t = (x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x, np.float32))).detach().float()
    t = t.reshape(1, 1, *t.shape) if t.ndim == 2 else t[:, None] if t.ndim == 3 else t
    if t.ndim != 4 or tuple(t.shape[1:]) != (1, SIZE, SIZE):
        raise LenetlabError(f"attribution needs 1-channel 28x28 images, got shape {tuple(t.shape)}")
    return t.to(next(model.parameters()).device)


def _targets(target: Target, n: int, device: torch.device) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(target if not isinstance(target, torch.Tensor) else target.cpu(), np.int64))
    return t.reshape(-1).expand(n).to(device) if t.numel() == 1 else t.reshape(n).to(device)


def _input_gradient(model: nn.Module, x: Any, target: Target) -> tuple[torch.Tensor, torch.Tensor]:
    inputs = _batch(model, x).requires_grad_(True)
    t = _targets(target, len(inputs), inputs.device)
    with _eval(model), torch.enable_grad():
        logits = model(inputs)
        (grad,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), inputs)
    return grad.detach(), inputs.detach()


def saliency(model: nn.Module, x: Any, target: Target) -> np.ndarray:
    """The gradient of the target logit with respect to the input, as an (N, 28, 28) float32 array.

    ``x`` is (N, 28, 28) or (N, 1, 28, 28) in [0, 1]; ``target`` one class or one per image.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> _ = torch.manual_seed(0)
    >>> saliency(LeNet5(), torch.rand(3, 28, 28), target=7).shape
    (3, 28, 28)
    """
    grad, _ = _input_gradient(model, x, target)
    return grad[:, 0].cpu().numpy()


def gradient_times_input(model: nn.Module, x: Any, target: Target) -> np.ndarray:
    """Saliency times the input, signed (N, 28, 28): exactly 0 wherever the pixel is 0.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> image = torch.zeros(1, 28, 28)
    >>> image[0, 8:20, 13:15] = 1.0  # a "1"
    >>> maps = gradient_times_input(LeNet5(), image, target=1)
    >>> bool((maps[0][image[0] == 0] == 0).all())
    True
    """
    grad, inputs = _input_gradient(model, x, target)
    return (grad * inputs)[:, 0].cpu().numpy()


def conv_layers(model: nn.Module) -> list[str]:
    """The names of the model's convolutional stages (``[]`` for mlp, fcnet, linear).

    Examples
    --------
    >>> from lenetlab import LeNet5, MLP
    >>> conv_layers(LeNet5()), conv_layers(MLP())
    (['C1', 'C3', 'C5'], [])
    """
    stages = model.stages() if hasattr(model, "stages") else []
    return [name for name, stage in stages if isinstance(getattr(stage, "conv", None), nn.Conv2d)]


def _require_conv(model: nn.Module) -> list[str]:
    layers = conv_layers(model)
    if not layers:
        raise LenetlabError(f"Grad-CAM needs a convolutional layer and this {type(model).__name__} has none; "
                            "use saliency or occlusion instead")
    return layers


def grad_cam(model: nn.Module, x: Any, target: Target, layer: str = "C3") -> np.ndarray:
    """Grad-CAM on a convolutional stage (default C3, before pooling), upsampled to (N, 28, 28), >= 0.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> _ = torch.manual_seed(0)
    >>> cam = grad_cam(LeNet5(), torch.rand(2, 28, 28), target=[3, 5])
    >>> cam.shape, bool((cam >= 0).all())
    ((2, 28, 28), True)
    """
    layers = _require_conv(model)
    if layer not in layers:
        raise LenetlabError(f"{layer} is not a convolutional layer of this {type(model).__name__}; "
                            f"choose one of {', '.join(layers)}")
    inputs = _batch(model, x).requires_grad_(True)
    t = _targets(target, len(inputs), inputs.device)
    captured: list[torch.Tensor] = []
    handle = model.stage(layer).register_forward_hook(lambda _m, _i, out: captured.append(out))
    try:
        with _eval(model), torch.enable_grad():
            logits = model(inputs)
            (grads,) = torch.autograd.grad(logits.gather(1, t[:, None]).sum(), captured[0])
    finally:
        handle.remove()
    weights = grads.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * captured[0].detach()).sum(1, keepdim=True))
    return F.interpolate(cam, size=(SIZE, SIZE), mode="bilinear", align_corners=False)[:, 0].cpu().numpy()


def _check_patch(patch: int, stride: int) -> None:
    if not 1 <= patch <= SIZE:
        raise LenetlabError(f"--patch {patch} is not a patch size; choose 1 to {SIZE} pixels (the image is 28x28)")
    if not 1 <= stride <= patch:
        raise LenetlabError(f"--stride {stride} must be between 1 and the patch size {patch}, so that every pixel "
                            "is covered")


def occlusion(model: nn.Module, x: Any, target: Target, patch: int = 4, stride: int = 2, baseline: float = 0.0,
              batch_size: int = 4096) -> np.ndarray:
    """The drop of p(target) when a ``patch`` x ``patch`` square of ``baseline`` hides each pixel, (N, 28, 28).

    Patches start every ``stride`` pixels (plus one flush with the right and bottom edges, so every
    pixel is covered); all occluded copies go through the network in batches of ``batch_size``. A
    patch that changes no pixel (it lies where the image already equals ``baseline``) changes nothing
    and is not run: its drop is exactly 0.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> heat = occlusion(LeNet5(), torch.zeros(1, 28, 28), target=0)   # nothing to hide
    >>> heat.shape, float(abs(heat).max())
    ((1, 28, 28), 0.0)
    """
    _check_patch(patch, stride)
    inputs = _batch(model, x)
    t = _targets(target, len(inputs), inputs.device)
    starts = list(range(0, SIZE - patch + 1, stride))
    starts += [SIZE - patch] if starts[-1] != SIZE - patch else []
    masks = torch.zeros(len(starts) ** 2, SIZE, SIZE, dtype=torch.bool, device=inputs.device)
    for k, (r, c) in enumerate(itertools.product(starts, starts)):
        masks[k, r:r + patch, c:c + patch] = True
    changed = (masks[None] & (inputs != baseline)).flatten(2).any(2)  # (N, P)
    rows = torch.where(masks[None], torch.tensor(baseline, device=inputs.device), inputs)[changed]
    with _eval(model), torch.no_grad():
        p0 = model(inputs).softmax(1).gather(1, t[:, None])  # (N, 1)
        occluded = [model(chunk[:, None]).softmax(1) for chunk in rows.split(batch_size)]
    drops = torch.zeros(changed.shape, device=inputs.device)
    if occluded:
        row_targets = t[:, None].expand_as(changed)[changed]
        drops[changed] = p0.expand_as(drops)[changed] - torch.cat(occluded).gather(1, row_targets[:, None])[:, 0]
    masks_f = masks.float()
    heat = torch.einsum("np,phw->nhw", drops, masks_f) / masks_f.sum(0)
    return heat.cpu().numpy()


def rank_correlation(a: Any, b: Any) -> float:
    """Spearman's rank correlation of two arrays (flattened), ties given their average rank; 0 if one is constant.

    Examples
    --------
    >>> rank_correlation([1.0, 2.0, 3.0], [10.0, 200.0, 3000.0]), rank_correlation([1, 2, 3, 4], [4, 3, 2, 1])
    (1.0, -1.0)
    """
    ra, rb = _ranks(np.asarray(a, np.float64).ravel()), _ranks(np.asarray(b, np.float64).ravel())
    ra, rb = ra - ra.mean(), rb - rb.mean()
    norm = float(np.sqrt((ra @ ra) * (rb @ rb)))
    return round(float(ra @ rb) / norm, 12) if norm > 0 else 0.0


def _ranks(values: np.ndarray) -> np.ndarray:
    _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
    first = np.cumsum(counts) - counts
    return (first + (counts - 1) / 2.0)[inverse.reshape(-1)]


def randomized_model(model: nn.Module, seed: int = 0) -> nn.Module:
    """The same registered architecture, freshly initialised under ``torch.manual_seed(seed)`` (global RNG untouched)."""
    name = next((n for n, spec in MODELS.items() if spec.constructor is type(model)), None)
    if name is None or not hasattr(model, "config"):
        raise LenetlabError(f"{type(model).__name__} is not a registered lenetlab model; the sanity check rebuilds "
                            "the architecture by name with fresh weights")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = build_model(name, **model.config)
    return fresh.to(next(model.parameters()).device).eval()


def randomized_weights_correlation(model: nn.Module, x: Any, target: Target, seed: int = 0) -> float:
    """Adebayo et al.'s check: Spearman correlation of |saliency|, trained vs fresh weights, mean over images.

    Near 1 would mean the map shows the input's shape whatever the network learned; low values
    mean the map depends on the trained weights, as an explanation should.

    Examples
    --------
    >>> from lenetlab.explore.attribution import randomized_weights_correlation
    >>> rho = randomized_weights_correlation(trained_model, images, labels)   # about 0.1 for a trained LeNet-5
    >>> -1 <= rho < 0.5   # far from 1: the maps depend on what the network learned
    True
    """
    return _mean_correlation(saliency(model, x, target), saliency(randomized_model(model, seed), x, target))


def _mean_correlation(trained: np.ndarray, random: np.ndarray) -> float:
    return float(np.mean([rank_correlation(np.abs(a), np.abs(b)) for a, b in zip(trained, random)]))


def _select(run: str | Path, predictor: Any, index: list[int] | None, image: list[str | Path] | None,
            data_dir: str | None) -> list[dict[str, Any]]:
    """The images to explain: {source, index, label, image}; every index is checked before anything is written."""
    if image:
        return [{"source": str(p), "index": None, "label": None, "image": predictor.preprocess(p)} for p in image]
    test = load_mnist(data_dir if data_dir is not None else recorded_data_dir(run)).test
    if index:
        bad = [i for i in index if not 0 <= i < len(test)]
        if bad:
            raise LenetlabError(f"--index {bad[0]} is outside the test set; choose 0 to {len(test) - 1}")
        chosen = list(index)
    else:
        probabilities = np.concatenate([predictor.probabilities(test.as_float(s, s + 1000)[:, 0].numpy())
                                        for s in range(0, len(test), 1000)])
        labels = test.labels.numpy()
        right = np.nonzero(probabilities.argmax(1) == labels)[0]
        chosen = [w.index for w in confidently_wrong(probabilities, labels, N_WRONG)]
        chosen += [int(right[labels[right] == c][0]) for c in range(probabilities.shape[1]) if (labels[right] == c).any()]
    return [{"source": f"test image {i}", "index": i, "label": int(test.labels[i]),
             "image": test.images[i].numpy().astype(np.float32) / 255.0} for i in chosen]


def explore_attribution(run: str | Path, out: str | Path | None = None, *, index: int | list[int] | None = None,
                        image: str | Path | list[str | Path] | None = None, method: str = "all", patch: int = 4,
                        stride: int = 2, data_dir: str | None = None, seed: int = 1,
                        layer: str = "C3", lang: str = "en") -> dict[str, Any]:
    """Attribution maps of best.pt for test images (``index``) or your own (``image``); writes PNG and JSON.

    By default: the 6 test images the model got wrong most confidently, then the first correctly
    classified image of each class. The maps explain the true class of a test image, the predicted
    class of your own image. ``method`` is saliency (with gradient x input), gradcam, occlusion or
    all (Grad-CAM shows "n/a" for a model without convolutional layer). Writes ``attribution.png``
    and ``attribution.json`` (every map as 28x28 numbers, and the randomised-weights sanity check)
    into ``out`` (default ``RUN/explore``). ``lang``: the figure's language (the JSON stays in English).

    Examples
    --------
    >>> result = explore_attribution("runs/lenet5", index=[0, 7], method="saliency")
    >>> [r["label"] for r in result["images"]]   # the test images 0 and 7; r["prediction"], the network's answer
    [7, 9]
    >>> result["sanity_check"]["rank_correlation_trained_vs_random"] < 0.5   # 0.12 after 40 epochs
    True
    """
    lang = check_lang(lang)
    index = [index] if isinstance(index, int) else index
    image = [image] if isinstance(image, (str, Path)) else image
    if index and image:
        raise LenetlabError("give --index or --image, not both")
    if method not in METHODS:
        raise LenetlabError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
    if len(index or image or []) > MAX_IMAGES:
        raise LenetlabError(f"{len(index or image or [])} images is too many for one figure; give at most {MAX_IMAGES}")
    _check_patch(patch, stride)
    predictor = Predictor.load(run)
    predictor.require_digit_input()
    model = predictor.model
    has_conv = bool(conv_layers(model))
    if method == "gradcam" or (method == "all" and has_conv):
        _require_conv(model)
        grad_cam(model, torch.zeros(1, SIZE, SIZE), 0, layer)  # a wrong --layer fails here, before any file
    items = _select(run, predictor, index, image, data_dir)
    x = np.stack([item["image"] for item in items])
    probabilities = predictor.probabilities(x)
    predictions = probabilities.argmax(1)
    targets = [item["label"] if item["label"] is not None else int(p) for item, p in zip(items, predictions)]

    trained = saliency(model, x, targets)
    maps: dict[str, np.ndarray | None] = {}
    if method in ("saliency", "all"):
        maps["saliency"] = trained
        maps["gradient_times_input"] = gradient_times_input(model, x, targets)
    if method in ("gradcam", "all"):
        maps["gradcam"] = grad_cam(model, x, targets, layer) if has_conv else None
    if method in ("occlusion", "all"):
        maps["occlusion"] = occlusion(model, x, targets, patch, stride)
    rho = _mean_correlation(trained, saliency(randomized_model(model, seed), x, targets))
    settings = RunDir.containing(run).config_or_none()
    if settings is not None and settings.train.seed == seed:  # training drew its initial weights with this seed
        own_start = (f"; seed {seed} is also the run's training seed, so the random weights are the run's own initial "
                     "weights and the check measures how far training moved the maps (pass another seed for an "
                     "independent draw)")
    else:
        own_start = ""

    names = predictor.class_names
    records = []
    for i, item in enumerate(items):
        records.append({
            "source": item["source"], "index": item["index"], "label": item["label"],
            "prediction": int(predictions[i]), "probability": round(float(probabilities[i, predictions[i]]), 6),
            "target": targets[i], "target_probability": round(float(probabilities[i, targets[i]]), 6),
            "maps": {k: None if v is None else np.round(v[i].astype(np.float64), 5).tolist() for k, v in maps.items()},
        })
    result: dict[str, Any] = {
        "model": predictor.name, "class_names": names,
        "settings": {"method": method, "gradcam_layer": layer if has_conv else None, "occlusion_patch": patch,
                     "occlusion_stride": stride, "occlusion_baseline": 0.0},
        "methods": {k: DESCRIPTIONS[k] for k in maps},
        "sanity_check": {
            "method": "model parameter randomisation test (Adebayo et al. 2018): Spearman rank correlation between "
                      "|saliency| of the trained model and of the same architecture with fresh random weights "
                      f"(torch seed {seed}), per image, averaged over the {len(items)} images",
            "rank_correlation_trained_vs_random": round(rho, 6),
            "note": "near 1 would mean the saliency map shows the digit's shape whatever the network learned; "
                    "a low value means it depends on the trained weights, as an explanation should" + own_start,
        },
        "images": records,
    }
    title = t(lang, "study.attribution.title", model=predictor.name, rho=number(rho, lang, 2))
    folder = output_dir(run, out)
    figure = attribution_figure(x, records, maps, names, title, patch, stride, layer,
                                {"mlp": "MLP"}.get(predictor.name, predictor.name), lang)
    png = plots.save(figure, folder / "attribution.png")
    files = [str(png), str(write_json(folder / "attribution.json", result))]
    return {**result, "files": files}
