"""What each layer of a convolutional network makes of one image."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from .._fs import write_json
from ..data import load_mnist
from ..errors import LenetlabError
from ..evaluation import recorded_data_dir
from ..i18n import percent, t
from ..predict import (
    Predictor,
    layer_activations,  # noqa: F401 - re-exported: the notebook uses it from here
)
from ._common import output_dir
from .figures import feature_maps_figure


def explore_feature_maps(
    run: str | Path,
    out: str | Path | None = None,
    *,
    index: int | None = None,
    image_path: str | Path | None = None,
    data_dir: str | None = None,
    lang: str = "en",
) -> dict[str, Any]:
    """Draw the activations of every layer (C1, S2, C3, S4, C5, F6) for one test image or your own.

    ``index`` picks a test image (default 0); ``image_path`` takes a PNG/JPEG through the same
    preprocessing as ``predict``. Writes ``feature_maps.png`` (``feature_maps_IMAGE.png`` for a file)
    and a JSON beside it with the prediction and each layer's shape and statistics.

    Examples
    --------
    >>> result = explore_feature_maps("runs/lenet5", index=7)
    >>> result["label"], result["prediction"] in range(10)   # test image 7 is a 9 (the prediction: 9, trained well)
    (9, True)
    """
    if index is not None and image_path is not None:
        raise LenetlabError("give --index or --image, not both")
    predictor = Predictor.load(run)
    if predictor.model.stage("C1") is None:
        raise LenetlabError(f"a {predictor.name} has no feature maps; pass a convolutional run "
                            "(lenet5, lenet5-modern, lenet1, lenet4)")
    names = predictor.class_names
    label = None
    if image_path is not None:
        image = predictor.preprocess(image_path)
        source, stem = str(image_path), f"feature_maps_{_safe_stem(Path(image_path).stem)}"
    else:
        test = load_mnist(data_dir if data_dir is not None else recorded_data_dir(run)).test
        index = 0 if index is None else index
        if not 0 <= index < len(test):
            raise LenetlabError(f"--index {index} is outside the test set; choose 0 to {len(test) - 1}")
        image = test.images[index].numpy().astype(np.float32) / 255.0
        label = int(test.labels[index])
        source, stem = f"test image {index}", "feature_maps" if index == 0 else f"feature_maps_{index}"
    prediction = predictor.predict_array(image, activations=True)
    maps = dict(prediction.activations or {})
    maps.pop("output")
    probabilities = prediction.probabilities
    shown_source = t(lang, "explore.test_image", index=index) if image_path is None else Path(image_path).name
    caption = (t(lang, "explore.fm_caption", model=predictor.name, source=shown_source,
                 predicted=names[prediction.label], probability=percent(prediction.probability, lang, 1))
               + (t(lang, "explore.fm_label", label=names[label]) if label is not None else ""))
    folder = output_dir(run, out)
    png = plots.save(feature_maps_figure(image, maps, caption, lang=lang), folder / f"{stem}.png")
    result = {
        "model": predictor.name, "source": source, "index": index, "label": label, "prediction": prediction.label,
        "probabilities": [round(float(p), 6) for p in probabilities],
        "layers": {name: {"shape": list(v.shape), "mean": round(float(v.mean()), 6), "min": round(float(v.min()), 6),
                          "max": round(float(v.max()), 6), "fraction_active": round(float((np.abs(v) > 0.1).mean()), 6)}
                   for name, v in maps.items()},
    }
    write_json(folder / f"{stem}.json", result)
    result["files"] = [str(png), str(folder / f"{stem}.json")]
    return result


def _safe_stem(stem: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:60] or "image"
