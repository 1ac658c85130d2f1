"""LeNet-5 against fully connected networks, same data, same recipe, same number of epochs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import plots
from .._fs import write_json, write_text
from ..config import STUDY_EPOCHS
from ..i18n import check_lang, number, percent, t
from ..models import FC_EQUAL_DEPTH_HIDDEN, build_model, count_parameters
from .figures import bars_figure
from .variants import Variant, train_variants

DEFAULT_EPOCHS = STUDY_EPOCHS["compare"]


def matching_mlp_hidden(target: int, n_inputs: int = 784, n_classes: int = 10, ratio: float = 84 / 120) -> list[int]:
    """Two hidden widths in the notebook MLP's proportion (120:84) whose parameter count is closest to ``target``.

    Examples
    --------
    >>> matching_mlp_hidden(61706)
    [73, 51]
    """
    def count(h: int) -> int:
        h2 = max(1, round(h * ratio))
        return (n_inputs + 1) * h + (h + 1) * h2 + (h2 + 1) * n_classes

    best = min(range(1, 5000), key=lambda h: abs(count(h) - target))
    return [best, max(1, round(best * ratio))]


def compare_variants(lenet_args: dict[str, Any] | None = None, lang: str = "en") -> list[tuple[Variant, str]]:
    """LeNet-5 (with ``lenet_args``), the MLP of about its parameter count, the FC net of its depth; labels in ``lang``."""
    lenet_args = dict(lenet_args or {})
    target = count_parameters(build_model("lenet5", **lenet_args))
    hidden = matching_mlp_hidden(target)
    return [
        (Variant("lenet5", "lenet5", lenet_args), "LeNet-5"),
        (Variant("mlp-same-params", "fcnet", {"hidden": hidden, "activation": "relu"}),
         t(lang, "study.compare.mlp", sizes=f"784-{hidden[0]}-{hidden[1]}-10")),
        (Variant("fc-same-depth", "fcnet", {"hidden": list(FC_EQUAL_DEPTH_HIDDEN), "activation": "tanh"}),
         t(lang, "study.compare.fc", sizes="-".join(str(h) for h in FC_EQUAL_DEPTH_HIDDEN))),
    ]


def explore_compare(out: str | Path = "runs/compare", epochs: int = DEFAULT_EPOCHS, *, preset: str = "default",
                    lang: str = "en", **training: Any) -> dict[str, Any]:
    """Train the three networks with one recipe (resumably, in ``OUT/NAME/``); write compare.json/.md/.png.

    ``lang``: the language of the table, the figure and the log (compare.json's numbers do not change).

    ``training``: ``seed``, ``data_dir``, ``jobs``, ``threads``, ``log``, as :func:`train_variants` takes them.

    Examples
    --------
    >>> result = explore_compare("runs/compare", epochs=1, data_dir="mnist_small", log=None)
    >>> [(r["name"], r["parameters"]) for r in result["rows"]]
    [('lenet5', 61706), ('mlp-same-params', 61599), ('fc-same-depth', 1453094)]
    """
    lang = check_lang(lang)
    out = Path(out)
    pairs = compare_variants(lang=lang)
    rows = train_variants([v for v, _ in pairs], out, epochs, preset=preset, lang=lang, **training)
    seed = training.get("seed", 0)
    for row, (_, label) in zip(rows, pairs):
        row["label"] = label
    result = {"preset": preset, "epochs": epochs, "seed": seed, "rows": rows,
              "note": t(lang, "study.compare.note", preset=preset, epochs=epochs)}
    write_json(out / "compare.json", result)
    # Three networks in a fixed order, not a ranking. Validation accuracy comes first because a choice
    # between them must rest on it; the test accuracy only reports the chosen one.
    columns = ("network", "parameters", "macs", "valid", "test", "seconds")
    lines = ["| " + " | ".join(t(lang, f"study.compare.col_{c}") for c in columns) + " |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        if r["status"] == "ok":
            lines.append(f"| {r['label']} | {number(r['parameters'], lang)} | {number(r['macs'], lang)} | "
                         f"{percent(r['best_valid_accuracy'], lang)} | {percent(r['test_accuracy'], lang)} | "
                         f"{number(r['seconds'], lang)} |")
        else:
            status = t(lang, "study.status_line", status=t(lang, f"study.status.{r['status']}"), message=r["message"])
            lines.append(f"| {r['label']} | {status} | | | | |")
    write_text(out / "compare.md", "\n".join(lines) + f"\n\n{result['note']}\n")
    plots.save(bars_figure(rows, t(lang, "study.compare.title", preset=preset, epochs=epochs), lang=lang),
               out / "compare.png")
    return result


__all__ = ["compare_variants", "explore_compare", "matching_mlp_hidden"]
