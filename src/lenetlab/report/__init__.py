"""``RUN/report.html``: one self-contained page that shows what a run learned.

Everything is inside the file (images as base64 ``data:`` URIs, CSS inline, no script, no network),
so it can be mailed, archived with the run, opened offline, and printed. Sections: the summary
numbers, the settings, the loss and accuracy curves, the per-class accuracy table, the confusion
matrix, sample predictions, the most confidently wrong test images, and the exploration figures
(``RUN/explore/*.png``) when present. The page is ``template.html`` and ``style.css`` beside this
file, rendered by Jinja2 (which escapes every value); this module only gathers what they show, and
``wording.py`` words it (model names, headings, settings and their values) in the reader's language.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import io
import json
from pathlib import Path
from typing import Any

import numpy as np

from .. import plots
from .._fs import write_text
from ..data import MNISTData
from ..errors import LenetlabError
from ..evaluation import confidently_wrong, evaluate_best
from ..i18n import check_lang, number, percent, seconds, t
from ..run_figures import run_figures, train_loss_label
from ..rundir import RunDir
from ..training import EvalResult
from .wording import explore_heading, heading_from_filename, model_name, setting_rows, short_number

__all__ = ["MAX_INLINE_JSON", "N_WRONG", "RUN_FIGURES", "finish_run", "render_report", "write_report",
           "explore_heading", "heading_from_filename", "model_name", "short_number"]  # wording.py's

_HERE = Path(__file__).parent
N_WRONG = 12  # the confidently wrong test images shown
# The figures train_run writes, with the catalogue key of each one's heading (its alt text).
RUN_FIGURES = (
    ("loss_curves.png", "report.curves"),
    ("per_class_accuracy.png", "report.per_class"),
    ("confusion_matrix.png", "report.confusion"),
    ("samples.png", "fig.training_samples"),
    ("predictions.png", "fig.test_predictions"),
)
# Small JSON files of RUN/explore/ are shown folded at the end of the report; big ones are only named.
MAX_INLINE_JSON = 4_000


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_of_digit(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _figure(path: Path, alt: str, caption: str = "", png: bytes | None = None) -> dict[str, str]:
    """A figure of the report: ``png`` drawn for it, else the file ``path`` (missing: no ``uri``)."""
    uri = _data_uri(png) if png is not None else _data_uri(path.read_bytes()) if path.is_file() else ""
    return {"name": path.name, "uri": uri, "alt": alt, "caption": caption}


def _run_figures(run: RunDir, evaluation: tuple[Any, Any], lang: str) -> dict[str, bytes]:
    """The run's five figures drawn again in the report's language (the PNG files keep training's)."""
    data, result = evaluation
    history = [dataclasses.asdict(e) for e in run.metrics.epochs]
    figures = run_figures(data, history, result, train_loss_label(run.config.train, lang), lang,
                          "page" if run.config.trained_in_page else "valid")
    return {name: plots.png_bytes(fig) for name, fig in figures.items()}


def _wrong_section(run: RunDir, class_names: list[str], evaluation: tuple[Any, Any], lang: str) -> dict[str, Any]:
    """The test images best.pt got wrong with the most confidence."""
    data, result = evaluation
    wrong = confidently_wrong(result.probabilities, data.test.labels, N_WRONG)
    maps = _attribution_maps(run)
    digits = [{"uri": _data_uri(_png_of_digit(data.test.images[w.index].numpy())), "index": w.index,
               "predicted": class_names[w.predicted], "true": class_names[w.true],
               "confidence": percent(w.confidence, lang, 1),
               "map_uri": _data_uri(_png_of_map(maps[w.index])) if w.index in maps else None} for w in wrong]
    return {"error": None, "digits": digits, "n_wrong": number(int((result.predictions != data.test.labels).sum()), lang),
            "n_test": number(len(data.test), lang)}


def _attribution_maps(run: RunDir) -> dict[int, np.ndarray]:
    """Test index -> the occlusion (else saliency) map of RUN/explore/attribution.json, when it exists.

    A missing or damaged file only means no maps: the report does not depend on it.
    """
    path = run.explore_dir / "attribution.json"
    try:
        images = json.loads(path.read_text())["images"]
        found = {}
        for entry in images:
            chosen = entry["maps"].get("occlusion") or entry["maps"].get("saliency")
            if isinstance(entry.get("index"), int) and chosen is not None:
                heat = np.asarray(chosen, dtype=np.float64)
                if heat.shape == (28, 28) and np.isfinite(heat).all():
                    found[entry["index"]] = heat
        return found
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return {}


def _png_of_map(heat: np.ndarray) -> bytes:
    """A 28x28 attribution map as a PNG in the explore figures' colours (RdBu_r, centred on zero)."""
    from matplotlib import colormaps
    from PIL import Image

    limit = float(np.abs(heat).max()) or 1.0
    rgba = colormaps["RdBu_r"]((heat / limit + 1) / 2, bytes=True)
    buffer = io.BytesIO()
    Image.fromarray(rgba, mode="RGBA").save(buffer, format="PNG")
    return buffer.getvalue()


def _robustness_section(run: RunDir, lang: str) -> dict[str, Any] | None:
    """The table of RUN/explore/attack.json (accuracy under attack against epsilon), when it exists."""
    try:
        result = json.loads((run.explore_dir / "attack.json").read_text())
        eps = [f"{float(e):g}" for e in result["eps"]]
        rows = []
        for entry in result["runs"]:
            for method, curve in entry["accuracy"].items():
                rows.append([entry["name"], method.upper()] + [number(100 * float(curve[e]), lang, 2) for e in eps])
        header = [t(lang, "report.col_run"), t(lang, "report.col_attack")]
        return {"header": header + [f"ε = {short_number(float(e), lang)}" for e in eps],
                "rows": rows, "n": number(int(result["n"]), lang), "seed": result["seed"]}
    except (OSError, ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None


def _explore_section(run: RunDir, lang: str) -> dict[str, Any] | None:
    folder = run.explore_dir
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not pngs:
        return None
    numbers = []
    for path in sorted(folder.glob("*.json")):
        size = path.stat().st_size
        text = path.read_text(errors="replace") if size <= MAX_INLINE_JSON else None
        numbers.append({"name": path.name, "size": number(size, lang), "text": text})
    return {"figures": [_figure(png, explore_heading(png.name, lang), f"explore/{png.name}") for png in pngs],
            "numbers": numbers}


def _class_rows(test: Any, class_names: list[str], lang: str) -> list[dict[str, Any]]:
    """Per class: accuracy, correct / total and the most frequent confusion, from the confusion matrix."""
    matrix = np.asarray(test.confusion_matrix, dtype=np.int64)
    rows = []
    for i, acc in enumerate(test.per_class_accuracy):
        row = matrix[i].copy()
        total, correct = int(row.sum()), int(row[i])
        row[i] = -1
        j = int(row.argmax()) if len(row) > 1 else i
        confused = f"{class_names[j]} ({int(matrix[i, j])})" if j != i and matrix[i, j] > 0 else "—"
        rows.append({"name": class_names[i], "accuracy": number(100 * acc, lang, 2), "correct": number(correct, lang),
                     "total": number(total, lang), "confused": confused, "bad": acc < test.accuracy - 0.01})
    return rows


def render_report(run_dir: str | Path | RunDir, evaluation: tuple[Any, Any] | None = None,
                  lang: str | None = None) -> str:
    """The report of a run directory as an HTML string in ``lang`` (see :func:`write_report`).

    Examples
    --------
    >>> html_text = render_report("runs/lenet5-20261126-101500")
    >>> html_text.startswith("<!DOCTYPE html>")
    True
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    if not run.path.is_dir():
        hint = (f"give its folder {run.path.parent}" if run.path.is_file()
                else "give the folder `lenetlab train` wrote (runs/...)")
        raise LenetlabError(f"no run directory at {run.path}; {hint}")
    config, metrics = run.config, run.metrics
    if not run.best_path.is_file():
        raise LenetlabError(f"{run.path} holds no best.pt; give a finished run directory (train one with `lenetlab train`)")
    test = metrics.test
    class_names = run.class_names
    class_names += [str(i) for i in range(len(class_names), len(test.per_class_accuracy))]
    lang = check_lang(lang)
    pngs: dict[str, bytes] = {}
    try:  # train_run has just evaluated best.pt (evaluation); otherwise evaluate it here
        evaluation = evaluation or evaluate_best(run)
        wrong = _wrong_section(run, class_names, evaluation, lang)
        pngs = _run_figures(run, evaluation, lang)
    except LenetlabError as exc:  # the rest of the report is still worth having; say what is missing and why
        wrong = {"error": str(exc), "digits": []}
    page = run.path / "model.html"

    def num(value: float, digits: int = 0) -> str:
        return number(value, lang, digits)

    context = {
        "lang": lang,
        "t": lambda key, **values: t(lang, key, **values),
        # the model's name and the run's folder as a student typed it (runs/lenet5), wherever it lies
        "title": t(lang, "report.title", model=model_name(metrics.model, lang),
                   path="/".join(run.path.resolve().parts[-2:])),
        "css": (_HERE / "style.css").read_text(encoding="utf-8"),
        "run_path": str(run.path),
        "data_source": t(lang, "report.bundled_mnist") if config.data.source == "bundled MNIST" else config.data.source,
        "test_images": num(config.data.test),
        "device": (t(lang, "report.device_browser") if config.trained_in_page else
                   t(lang, "report.device_gpu", device=config.device) if str(config.device).startswith("cuda")
                   else t(lang, "report.device_cpu")),
        "epoch_images": "page" if config.trained_in_page else "valid",
        "model_name": model_name(metrics.model, lang),
        "cards": [
            (t(lang, "report.card_test_accuracy"), percent(test.accuracy, lang)),
            (t(lang, "report.card_test_loss"), num(test.loss, 4)),
            (t(lang, "report.card_best_epoch"), f"{metrics.best_epoch} / {len(metrics.epochs)}"),
            (t(lang, "report.card_parameters"), num(metrics.parameters)),
            (t(lang, "report.card_training_time"), seconds(metrics.train_seconds, lang)),
        ],
        # Settings: the recipe, the architecture and the library versions, as recorded.
        "recipe": setting_rows({k: v for k, v in config.train.to_dict().items() if k != "model_args"}, lang),
        "architecture": setting_rows(config.model_args, lang),
        "versions": setting_rows({k: str(v) for k, v in config.versions.items()}, lang, "version"),
        "epochs": [(e.epoch, num(e.train_loss, 4), num(e.valid_loss, 4), num(100 * e.valid_accuracy, 2),
                    num(e.train_seconds, 1), short_number(float(f"{e.lr:.4g}"), lang))
                   for e in metrics.epochs],
        "figures": {name: _figure(run.path / name, t(lang, key), png=pngs.get(name)) for name, key in RUN_FIGURES},
        "classes": _class_rows(test, class_names, lang),
        "wrong": wrong,
        "explore": _explore_section(run, lang),
        "robustness": _robustness_section(run, lang),
        "page": {"exists": page.is_file(), "href": page.name, "path": str(run.path)},
    }
    return _template().render(**context)


@functools.cache
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(_HERE), autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    return env.get_template("template.html")


def write_report(run_dir: str | Path | RunDir, evaluation: tuple[Any, Any] | None = None,
                 lang: str | None = None) -> Path:
    """Write ``RUN/report.html`` in ``lang`` (default: the system's language), one self-contained page
    (no network needed), and return its path.

    Evaluates ``best.pt`` on the test set (a second or two on a CPU) for the most confidently wrong
    images; embeds every figure of the run and every ``RUN/explore/*.png``. Rewrites an earlier report.

    Examples
    --------
    >>> path = write_report("runs/lenet5-20261126-101500")
    >>> path.name
    'report.html'
    """
    run = run_dir if isinstance(run_dir, RunDir) else RunDir(run_dir)
    return write_text(run.report_path, render_report(run, evaluation, lang))


def finish_run(run: RunDir, data: MNISTData, test: EvalResult, lang: str) -> None:
    """``train_run``'s ``finish``: the report of a run just trained, from the test result it already has.

    Examples
    --------
    >>> from lenetlab import TrainConfig, train_run
    >>> _ = train_run(TrainConfig.from_preset("default", model="mlp", epochs=1, data_dir="mnist_small"),
    ...               "runs/reported", progress=False, log=None, finish=finish_run)
    >>> RunDir("runs/reported").report_path.is_file()
    True
    """
    write_report(run, evaluation=(data, test), lang=lang)
