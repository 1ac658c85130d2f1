"""How the report words what it shows, in the reader's language: model names, the exploration figures'
headings, and each setting with its value (``oui``, « décalages aléatoires », ``1 × 10⁻⁵``).
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from ..i18n import NARROW_NBSP, localize_number_text, messages, number, t

_WORDS = {"tsne": "t-SNE", "pca": "PCA", "mlp": "MLP", "lenet5": "LeNet-5", "fc": "FC", "vs": "vs"}


# Each exploration figure's heading, by the start of its file name (longest first); others get their file name.
_EXPLORE_HEADINGS = ("sweep_accuracy_vs_parameters", "sweep_accuracy_vs_time", "filters_epochs", "filters_c1",
                     "filters_c3", "embeddings_pca", "embeddings_tsne", "attack_curves", "attack_examples",
                     "feature_maps", "attribution", "prototypes", "ablation", "params", "compare", "sweep", "paper")


def model_name(name: str, lang: str) -> str:
    """A registered model's name as the course writes it: ``lenet5`` -> ``LeNet-5``, ``lenet5-modern`` ->
    ``LeNet-5 (moderne)`` in French (``modern`` in English); an unknown one as it is.

    Examples
    --------
    >>> model_name("lenet5", "fr"), model_name("lenet5-modern", "en"), model_name("mine", "fr")
    ('LeNet-5', 'LeNet-5 (modern)', 'mine')
    """
    key = f"model.{name}"
    return t(lang, key) if key in messages(lang) else name


def explore_heading(name: str, lang: str) -> str:
    """The heading of an exploration figure in ``lang``: ``"filters_c1.png"`` -> « Noyaux de C1 ».

    What follows the known start of a name is shown in brackets: a test image's index in words
    (``feature_maps_7.png``), else as written (the stem of a user's own image).

    Examples
    --------
    >>> explore_heading("embeddings_pca.png", "fr"), explore_heading("feature_maps_7.png", "fr")
    ('Représentations (ACP)', 'Cartes de caractéristiques (image de test n° 7)')
    >>> explore_heading("feature_maps_chiffre.png", "fr"), explore_heading("mine.png", "fr")
    ('Cartes de caractéristiques (chiffre)', 'Mine')
    """
    stem = Path(name).stem
    for key in _EXPLORE_HEADINGS:
        if stem.lower().startswith(key):
            rest = stem[len(key):].strip("_- ")
            if rest.isdigit():
                rest = t(lang, "report.test_image_number", index=int(rest))
            return t(lang, f"report.explore.{key}") + (f" ({rest})" if rest else "")
    return heading_from_filename(name)


def setting_rows(settings: dict[str, Any], lang: str, prefix: str = "setting") -> list[dict[str, str]]:
    """Each setting as the report shows it: its label in ``lang`` with its code name (the flag, ``--nesterov``)
    beside it in ``<code>``, and its value in words (``oui``, « décalages aléatoires ») with the code value too.

    Examples
    --------
    >>> [(r["label"], r["code"], r["value"], r["value_code"]) for r in setting_rows({"split": "holdout"}, "fr")]
    [('découpage', 'split', 'part mise de côté pour la validation', 'holdout')]
    >>> setting_rows({"nesterov": True, "weight_decay": 5e-4}, "fr")[1]["value"]
    '0,0005'
    """
    known = messages(lang)
    rows = []
    for key, value in settings.items():
        label = known.get(f"{prefix}.{key}", key)
        shown, code = format_value(value, lang, key)
        rows.append({"label": label, "code": key if label != key else "", "value": shown,
                     "value_code": code if code != shown else ""})
    return rows


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


_SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")


def short_number(value: float, lang: str) -> str:
    """A setting's number as short as it was typed (``0.0005``, ``1e-05``), written the ``lang`` way.

    Examples
    --------
    >>> short_number(0.0005, "fr"), short_number(-0.25, "fr"), short_number(1e-05, "fr"), short_number(1e-05, "en")
    ('0,0005', '\u22120,25', '1\u202f×\u202f10⁻⁵', '1 × 10⁻⁵')
    """
    text = f"{value:g}"
    if "e" in text and "inf" not in text:
        mantissa, exponent = text.split("e")
        space = NARROW_NBSP if lang == "fr" else " "
        text = f"{mantissa}{space}×{space}10{str(int(exponent)).translate(_SUPERSCRIPTS)}"
    return localize_number_text(text, lang)


def format_value(value: Any, lang: str, key: str = "") -> tuple[str, str]:
    """A setting's value as a reader wants it, and its code value: yes/no, words for the recipe's choices
    (``value.KEY.VALUE``, else ``value.VALUE`` of the catalogue), French numbers."""
    known = messages(lang)
    if isinstance(value, bool):  # the flag (--nesterov) says it: no code value
        return t(lang, "report.yes" if value else "report.no"), ""
    if value is None:  # what an unset setting means, where the catalogue says it (c3_kernel: as kernel_size)
        return known.get(f"value.{key}.null", "—"), ""
    if isinstance(value, float):
        return short_number(value, lang), ""
    if isinstance(value, int):
        return (str(value) if key == "seed" else number(value, lang)), ""
    if isinstance(value, str):
        if key == "model":
            return model_name(value, lang), value
        if key == "device" and value.startswith("cuda"):
            return t(lang, "value.cuda"), value
        for name in (f"value.{key}.{value}", f"value.{value}"):
            if name in known:
                return known[name], value
        return value, value
    if isinstance(value, list) and all(isinstance(v, int | float | str) and not isinstance(v, bool) for v in value):
        items = [format_value(v, lang, key)[0] for v in value]
        separator = " ; " if lang == "fr" and any("," in item for item in items) else ", "
        return separator.join(items), json.dumps(value, ensure_ascii=False)
    if isinstance(value, dict | list):
        text = json.dumps(value, ensure_ascii=False)
        return text, text
    return str(value), str(value)
