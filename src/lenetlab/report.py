"""``RUN/report.html``: one self-contained page that shows what a run learned.

Everything is inside the file (images as base64 ``data:`` URIs, CSS inline, no script, no network),
so it can be mailed, archived with the run, opened offline, and printed. Sections: the summary
numbers, the settings, the loss and accuracy curves, the per-class accuracy table, the confusion
matrix, sample predictions, the most confidently wrong test images, and the exploration figures
(``RUN/explore/*.png``) when present.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import LenetlabError

REPORT_NAME = "report.html"
N_WRONG = 12
# The figures train_run writes, in the order the report shows them, with the heading of each.
RUN_FIGURES = (
    ("loss_curves.png", "Loss and accuracy curves"),
    ("per_class_accuracy.png", "Per-class test accuracy"),
    ("confusion_matrix.png", "Confusion matrix"),
    ("samples.png", "Training samples"),
    ("predictions.png", "Sample test predictions"),
)
# Small JSON files of RUN/explore/ are shown folded at the end of the report; big ones are only named.
MAX_INLINE_JSON = 4_000

EXAMPLES = """examples:
  lenetlab report runs/lenet5-20261126-101500          # writes runs/lenet5-20261126-101500/report.html
  lenetlab report runs/lenet5-20261126-101500 --open   # ... and opens it in the web browser"""


@dataclass(frozen=True)
class WrongPrediction:
    """A misclassified test image: its index in the test set, the prediction, the truth, the confidence."""

    index: int
    predicted: int
    true: int
    confidence: float


def confidently_wrong(probabilities: Any, labels: Any, k: int = N_WRONG) -> list[WrongPrediction]:
    """The ``k`` misclassified images the model was most sure about, most confident first.

    ``probabilities`` is (N, n_classes), ``labels`` is (N,) (tensors or arrays). Ties keep test-set order.

    Examples
    --------
    >>> probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.3, 0.7]])
    >>> [(w.index, w.predicted, w.true) for w in confidently_wrong(probs, np.array([1, 1, 0, 0]), k=2)]
    [(0, 0, 1), (3, 1, 0)]
    """
    probs = np.asarray(probabilities, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64)
    predicted = probs.argmax(1)
    confidence = probs.max(1)
    wrong = np.nonzero(predicted != labels)[0]
    order = wrong[np.argsort(-confidence[wrong], kind="stable")][:k]
    return [WrongPrediction(int(i), int(predicted[i]), int(labels[i]), float(confidence[i])) for i in order]


_WORDS = {"tsne": "t-SNE", "pca": "PCA", "mlp": "MLP", "lenet5": "LeNet-5", "fc": "FC", "vs": "vs"}


def heading_from_filename(name: str) -> str:
    """``"filters_c1.png"`` -> ``"Filters C1"``: the heading of an exploration figure.

    Layer names (C1, S2, ..., F6, H1, H2) and a few acronyms are written the way the course writes them.

    Examples
    --------
    >>> heading_from_filename("embeddings_tsne-c5.png")
    'Embeddings t-SNE C5'
    """
    words = Path(name).stem.replace("_", " ").replace("-", " ").split()
    words = [w.upper() if re.fullmatch(r"[cshfCSHF]\d", w) else _WORDS.get(w.lower(), w) for w in words]
    if words and words[0] not in _WORDS.values():  # "t-SNE" keeps its small t
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words) or Path(name).stem


def _data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png_of_digit(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise LenetlabError(f"{path.parent} holds no {path.name}; give a finished run directory "
                            f"(train one with `lenetlab train`)") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise LenetlabError(f"{path} is not valid JSON ({exc.__class__.__name__}); the {what} is damaged, "
                            f"train the run again") from None


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    if value is None:
        return "—"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _table(rows: list[tuple[Any, ...]], header: tuple[str, ...] | None = None, css: str = "") -> str:
    head = "<thead><tr>" + "".join(f"<th>{_esc(h)}</th>" for h in header) + "</tr></thead>" if header else ""
    body = "".join("<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="{css}">{head}<tbody>{body}</tbody></table>'


def _figure(png: bytes, alt: str, caption: str = "") -> str:
    cap = f"<figcaption>{_esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{_data_uri(png)}" alt="{_esc(alt)}">{cap}</figure>'


def _wrong_section(run_dir: Path, config: dict[str, Any], class_names: list[str],
                   evaluation: tuple[Any, Any] | None = None) -> str:
    """Show the test images best.pt got wrong with the most confidence (evaluating it unless given)."""
    from .data import load_mnist
    from .training import evaluate, load_checkpoint

    if evaluation is not None:  # train_run has just evaluated best.pt: no need to do it twice
        data, result = evaluation
    else:
        model, _ = load_checkpoint(run_dir / "best.pt")
        data = load_mnist(config.get("train", {}).get("data_dir"))
        result = evaluate(model, data.test, n_classes=len(class_names))
    wrong = confidently_wrong(result.probabilities, data.test.labels, N_WRONG)
    n_wrong = int((result.predictions != data.test.labels).sum())
    if not wrong:
        return "<p>Every test image is classified correctly.</p>"
    cells = []
    for w in wrong:
        uri = _data_uri(_png_of_digit(data.test.images[w.index].numpy()))
        cells.append(
            f'<figure class="digit"><img src="{uri}" alt="test image {w.index}">'
            f"<figcaption><b>{_esc(class_names[w.predicted])}</b> ({_esc(class_names[w.true])}) "
            f"{100 * w.confidence:.1f}%<br><span class=\"muted\">#{w.index}</span></figcaption></figure>"
        )
    return (f"<p>{n_wrong:,} of {len(data.test):,} test images are misclassified by <code>best.pt</code>; "
            f"here are the {len(wrong)} it was most sure about: <b>predicted</b> (true) confidence, "
            f"and the image's index in the test set.</p>"
            f'<div class="digits">{"".join(cells)}</div>')


def _explore_section(run_dir: Path) -> str:
    folder = run_dir / "explore"
    pngs = sorted(folder.glob("*.png")) if folder.is_dir() else []
    if not pngs:
        return ""
    parts = ['<section id="explore"><h2>Exploration</h2>']
    for png in pngs:
        title = heading_from_filename(png.name)
        parts.append(f"<h3>{_esc(title)}</h3>" + _figure(png.read_bytes(), title, f"explore/{png.name}"))
    numbers = sorted(folder.glob("*.json"))
    if numbers:
        parts.append("<h3>The numbers behind these figures</h3>")
    for path in numbers:
        size = path.stat().st_size
        if size <= MAX_INLINE_JSON:
            parts.append(f"<details><summary>explore/{_esc(path.name)}</summary>"
                         f"<pre>{_esc(path.read_text(errors='replace'))}</pre></details>")
        else:
            parts.append(f'<p class="muted">explore/{_esc(path.name)} ({size:,} bytes)</p>')
    parts.append("</section>")
    return "".join(parts)


_CSS = """
:root { --fg: #1f2328; --muted: #656d76; --line: #d0d7de; --bg: #fff; --accent: #0969da; --wrong: #cf222e; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg);
       background: var(--bg); margin: 0 auto; max-width: 1100px; padding: 1.5rem 2rem 3rem; }
h1 { font-size: 1.6rem; margin: 0 0 .25rem; }
h2 { font-size: 1.25rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; margin-top: 2rem; }
h3 { font-size: 1.05rem; margin: 1.25rem 0 .25rem; }
nav { font-size: .9rem; margin: .5rem 0 1rem; }
nav a { color: var(--accent); margin-right: .9rem; text-decoration: none; }
.muted { color: var(--muted); }
.cards { display: flex; flex-wrap: wrap; gap: .75rem; margin: 1rem 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .9rem; min-width: 9rem; }
.card b { display: block; font-size: 1.35rem; }
table { border-collapse: collapse; font-size: .88rem; margin: .5rem 0; }
th, td { border: 1px solid var(--line); padding: .2rem .55rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.num, table.numbers td { text-align: right; font-variant-numeric: tabular-nums; }
.columns { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
figure { margin: .5rem 0 1rem; }
figure img { max-width: 100%; height: auto; }
figcaption { font-size: .8rem; color: var(--muted); }
.digits { display: grid; grid-template-columns: repeat(auto-fill, minmax(96px, 1fr)); gap: .6rem; }
figure.digit { margin: 0; text-align: center; }
figure.digit img { width: 84px; height: 84px; image-rendering: pixelated; border: 1px solid var(--line); }
figure.digit figcaption { color: var(--fg); }
figure.digit b { color: var(--wrong); }
pre { font-size: .8rem; background: #f6f8fa; padding: .5rem; overflow-x: auto; }
td.bad { color: var(--wrong); font-weight: 600; }
@media (max-width: 700px) { body { padding: 1rem; } }
@media print {
  body { max-width: none; padding: 0; font-size: 11pt; }
  nav { display: none; }
  h2 { break-after: avoid; }
  figure, table, .digits, .cards { break-inside: avoid; }
  section { break-inside: auto; }
  a { color: inherit; text-decoration: none; }
  details { display: block; }
  details > summary { list-style: none; }
}
"""


def render_report(run_dir: str | Path, evaluation: tuple[Any, Any] | None = None) -> str:
    """The report of a run directory as an HTML string (see :func:`write_report`).

    Examples
    --------
    >>> html_text = render_report("runs/lenet5-20261126-101500")  # doctest: +SKIP
    >>> html_text.startswith("<!DOCTYPE html>")                    # doctest: +SKIP
    True
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        hint = f"give its folder {run_dir.parent}" if run_dir.is_file() else "give the folder `lenetlab train` wrote (runs/...)"
        raise LenetlabError(f"no run directory at {run_dir}; {hint}")
    config = _read_json(run_dir / "config.json", "run's settings file")
    metrics = _read_json(run_dir / "metrics.json", "run's metrics file")
    if not (run_dir / "best.pt").is_file():
        raise LenetlabError(f"{run_dir} holds no best.pt; give a finished run directory (train one with `lenetlab train`)")
    test = metrics.get("test") or {}
    class_names = list(config.get("data", {}).get("class_names") or [str(i) for i in range(len(test.get("per_class_accuracy", [])) or 10)])
    train = config.get("train", {})
    model_name = metrics.get("model", train.get("model", "?"))
    title = f"{model_name} — {run_dir.name}"

    cards = [
        ("test accuracy", f"{100 * test['accuracy']:.2f} %" if "accuracy" in test else "—"),
        ("test loss", f"{test['loss']:.4f}" if "loss" in test else "—"),
        ("best epoch", f"{metrics.get('best_epoch', '—')} / {len(metrics.get('epochs', []))}"),
        ("parameters", f"{metrics.get('parameters', config.get('parameters', 0)):,}"),
        ("training time", f"{metrics.get('train_seconds', 0):.1f} s" if "train_seconds" in metrics else "—"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<header><h1>{_esc(title)}</h1>",
        f'<p class="muted">lenetlab report of <code>{_esc(run_dir)}</code>; data: '
        f"{_esc(config.get('data', {}).get('source', '?'))}, {config.get('data', {}).get('test', '?')} test images; "
        f"device {_esc(config.get('device', '?'))}.</p></header>",
        '<nav><a href="#settings">Settings</a><a href="#curves">Curves</a><a href="#classes">Per class</a>'
        '<a href="#confusion">Confusion</a><a href="#samples">Samples</a><a href="#wrong">Confidently wrong</a>'
        + ('<a href="#explore">Exploration</a>' if (run_dir / "explore").is_dir() else "") + "</nav>",
        '<div class="cards">' + "".join(f'<div class="card"><span class="muted">{_esc(k)}</span><b>{_esc(v)}</b></div>'
                                        for k, v in cards) + "</div>",
    ]

    # Settings: the recipe, the architecture, the data and the library versions, as recorded.
    recipe = [(k, _format_value(v)) for k, v in train.items() if k != "model_args"]
    architecture = [(k, _format_value(v)) for k, v in config.get("model_args", {}).items()]
    versions = [(k, v) for k, v in config.get("versions", {}).items()]
    parts.append('<section id="settings"><h2>Settings</h2><div class="columns">'
                 f"<div><h3>Recipe</h3>{_table(recipe, ('setting', 'value'))}</div>"
                 f"<div><h3>Architecture ({_esc(model_name)})</h3>{_table(architecture, ('argument', 'value'))}</div>"
                 f"<div><h3>Versions</h3>{_table(versions, ('library', 'version'))}</div></div></section>")

    figures = {name: run_dir / name for name, _ in RUN_FIGURES}
    heading = dict(RUN_FIGURES)

    def run_figure(name: str) -> str:
        path = figures[name]
        return _figure(path.read_bytes(), heading[name]) if path.is_file() else f'<p class="muted">({name} is missing)</p>'

    # Curves, with the epoch table folded under them.
    epochs = metrics.get("epochs", [])
    epoch_rows = [(e["epoch"], f"{e['train_loss']:.4f}", f"{e['valid_loss']:.4f}", f"{100 * e['valid_accuracy']:.2f}",
                   f"{e['train_seconds']:.1f}", f"{e.get('lr', 0):.4g}") for e in epochs]
    parts.append('<section id="curves"><h2>Loss and accuracy curves</h2>' + run_figure("loss_curves.png")
                 + "<details open><summary>Every epoch</summary>"
                 + _table(epoch_rows, ("epoch", "train loss", "valid loss", "valid acc. %", "train s", "last lr"), "numbers")
                 + "</details></section>")

    # Per-class table: accuracy, correct / total and the most frequent confusion, from the confusion matrix.
    matrix = np.asarray(test.get("confusion_matrix", []), dtype=np.int64)
    rows_html = []
    if matrix.ndim == 2 and matrix.size:
        for i, acc in enumerate(test.get("per_class_accuracy", [])):
            row = matrix[i].copy()
            total, correct = int(row.sum()), int(row[i])
            row[i] = -1
            j = int(row.argmax())
            confused = f"{class_names[j]} ({int(matrix[i, j])})" if matrix[i, j] > 0 else "—"
            bad = ' class="num bad"' if acc < test.get("accuracy", 0) - 0.01 else ' class="num"'
            rows_html.append(f"<tr><td>{_esc(class_names[i])}</td><td{bad}>{100 * acc:.2f}</td>"
                             f'<td class="num">{correct:,}</td><td class="num">{total:,}</td><td>{_esc(confused)}</td></tr>')
    table = ("<table><thead><tr><th>class</th><th>accuracy %</th><th>correct</th><th>images</th>"
             "<th>most often taken for</th></tr></thead><tbody>" + "".join(rows_html) + "</tbody></table>")
    parts.append(f'<section id="classes"><h2>Per-class accuracy</h2><div class="columns"><div>{table}</div>'
                 f"<div>{run_figure('per_class_accuracy.png')}</div></div></section>")
    parts.append(f'<section id="confusion"><h2>Confusion matrix</h2>{run_figure("confusion_matrix.png")}</section>')
    parts.append(f'<section id="samples"><h2>Samples and predictions</h2><div class="columns">'
                 f"<div>{run_figure('samples.png')}</div><div>{run_figure('predictions.png')}</div></div></section>")
    try:
        wrong_html = _wrong_section(run_dir, config, class_names, evaluation)
    except LenetlabError as exc:  # the rest of the report is still worth having; say what is missing and why
        wrong_html = f'<p class="muted">Not shown: {_esc(exc)}</p>'
    parts.append(f'<section id="wrong"><h2>Most confidently wrong test images</h2>{wrong_html}</section>')
    parts.append(_explore_section(run_dir))
    parts.append("</body></html>\n")
    return "\n".join(p for p in parts if p)


def write_report(run_dir: str | Path, evaluation: tuple[Any, Any] | None = None) -> Path:
    """Write ``RUN/report.html``, one self-contained page (no network needed), and return its path.

    Evaluates ``best.pt`` on the test set (a second or two on a CPU) for the most confidently wrong
    images; embeds every figure of the run and every ``RUN/explore/*.png``. Rewrites an earlier report.

    Examples
    --------
    >>> path = write_report("runs/lenet5-20261126-101500")  # doctest: +SKIP
    >>> path.name                                            # doctest: +SKIP
    'report.html'
    """
    run_dir = Path(run_dir)
    text = render_report(run_dir, evaluation)
    path = run_dir / REPORT_NAME
    tmp = path.with_name(f".{path.name}.tmp")  # atomic: a reader never sees half a report
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def register(subparsers: Any) -> None:
    """Add ``lenetlab report RUN [--open]`` to the command line (``cli.build_parser`` calls it).

    Examples
    --------
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> register(sub)
    """
    p = subparsers.add_parser(
        "report", help="write RUN/report.html, a self-contained page of a run", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Write RUN/report.html: settings, curves, per-class table, confusion matrix, sample predictions, "
                    "the most confidently wrong test images and the exploration figures, in one file that needs "
                    "no network and prints.")
    p.add_argument("run_dir", metavar="RUN", type=Path, help="a run directory written by `lenetlab train`")
    p.add_argument("--open", action="store_true", help="open the report in the web browser")
    p.set_defaults(handler=_report)


def _report(args: argparse.Namespace) -> int:
    path = write_report(args.run_dir)
    print(f"report written to {path} ({path.stat().st_size / 1e6:.1f} MB)")
    if args.open:
        import webbrowser

        if not webbrowser.open(path.resolve().as_uri()):
            print(f"lenetlab: could not start a web browser; open {path.resolve().as_uri()} yourself")
    return 0
