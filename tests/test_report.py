"""RUN/report.html: self-contained, complete, with the numbers of the run."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image

from lenetlab import LenetlabError, evaluate, load_checkpoint
from lenetlab.cli import main
from lenetlab.evaluation import confidently_wrong
from lenetlab.report import heading_from_filename, write_report


class _Collect(HTMLParser):
    """Every src/href attribute, every heading text, every <img>'s decoded bytes."""

    def __init__(self) -> None:
        super().__init__()
        self.links: list[str] = []
        self.images: list[bytes] = []
        self.headings: list[str] = []
        self._in_heading = False
        self.tags: set[str] = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        for key in ("src", "href"):
            if key in attrs:
                self.links.append(attrs[key])
        if tag == "img":
            self.images.append(base64.b64decode(attrs["src"].split(",", 1)[1]))
        self._in_heading = tag in ("h1", "h2", "h3")
        if self._in_heading:
            self.headings.append("")

    def handle_endtag(self, tag):
        if tag in ("h1", "h2", "h3"):
            self._in_heading = False

    def handle_data(self, data):
        if self._in_heading:
            self.headings[-1] += data


@pytest.fixture
def run_copy(trained_run, tmp_path):
    """The shared run, copied: the report is written into the copy, never into the shared fixture."""
    copy = tmp_path / "run"
    shutil.copytree(trained_run, copy, ignore=shutil.ignore_patterns("last.pt", "report.html"))
    return copy


def _png(color: int, size=(60, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", size, color).save(buffer, format="PNG")
    return buffer.getvalue()


def test_confidently_wrong_picks_the_most_confident_mistakes():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.ones(10), size=500)
    labels = rng.integers(0, 10, 500)
    wrong = confidently_wrong(probs, labels, k=12)
    assert len(wrong) == 12
    conf = [w.confidence for w in wrong]
    assert conf == sorted(conf, reverse=True)
    mistakes = probs.argmax(1) != labels
    assert all(mistakes[w.index] and w.predicted == probs[w.index].argmax() and w.true == labels[w.index] for w in wrong)
    chosen = {w.index for w in wrong}
    others = [probs[i].max() for i in np.nonzero(mistakes)[0] if i not in chosen]
    assert min(conf) >= max(others)
    assert confidently_wrong(np.eye(3), np.arange(3)) == []  # nothing wrong, nothing shown


@pytest.mark.parametrize("name, heading", [("filters_c1.png", "Filters C1"), ("tsne-embedding.png", "t-SNE embedding"),
                                           ("sweep.png", "Sweep"), ("feature_maps_7.png", "Feature maps 7"),
                                           ("compare_mlp_vs_lenet5.png", "Compare MLP vs LeNet-5")])
def test_heading_from_filename(name, heading):
    assert heading_from_filename(name) == heading


def test_report_is_self_contained_and_holds_the_runs_numbers(run_copy, mnist):
    explore = run_copy / "explore"
    explore.mkdir()
    (explore / "feature_maps.png").write_bytes(_png(10))
    (explore / "tsne_embedding.png").write_bytes(_png(200))
    (explore / "tsne_embedding.json").write_text(json.dumps({"perplexity": 30, "n_points": 2000}))
    path = write_report(run_copy)
    assert path == run_copy / "report.html"
    text = path.read_text(encoding="utf-8")
    page = _Collect()
    page.feed(text)

    # Self-contained: every image inline, only in-page links, no script, no external stylesheet.
    assert page.links and all(link.startswith(("data:image/png;base64,", "#")) for link in page.links)
    assert "script" not in page.tags and "link" not in page.tags
    assert not re.search(r"https?://", text)
    assert "@media print" in text

    # Every figure of the run and of explore/ is embedded byte for byte.
    for name in ("loss_curves.png", "per_class_accuracy.png", "confusion_matrix.png", "samples.png", "predictions.png"):
        assert (run_copy / name).read_bytes() in page.images, name
    assert (explore / "feature_maps.png").read_bytes() in page.images
    assert (explore / "tsne_embedding.png").read_bytes() in page.images
    assert {"Settings", "Per-class accuracy", "Confusion matrix", "Most confidently wrong test images",
            "Exploration", "Feature maps", "t-SNE embedding"} <= set(page.headings)
    assert "\"perplexity\": 30" in html.unescape(text)

    # The numbers are the run's.
    metrics = json.loads((run_copy / "metrics.json").read_text())
    assert f"{100 * metrics['test']['accuracy']:.2f} %" in text
    assert "61,706" in text
    for i, acc in enumerate(metrics["test"]["per_class_accuracy"]):
        assert re.search(rf"<td>{i}</td><td class=\"num( bad)?\">{100 * acc:.2f}</td>", text), i

    # The confidently wrong images are best.pt's, in order, each with its test image.
    model, _ = load_checkpoint(run_copy)
    result = evaluate(model, mnist.test)
    expected = confidently_wrong(result.probabilities, mnist.test.labels, 12)
    shown = [(int(i), int(p), int(t), float(c)) for i, p, t, c in
             re.findall(r'alt="test image (\d+)"><figcaption><b>(\d)</b> \((\d)\) ([\d.]+) %', text)]
    assert [(w.index, w.predicted, w.true) for w in expected] == [s[:3] for s in shown]
    assert all(abs(100 * w.confidence - s[3]) < 0.051 for w, s in zip(expected, shown))
    n_wrong = int((result.predictions != mnist.test.labels).sum())
    assert f"{n_wrong:,} of 10,000 test images are misclassified" in text
    digit = Image.open(io.BytesIO(page.images[-3]))  # last digit before the two explore figures
    assert digit.size == (28, 28)
    assert np.array_equal(np.asarray(digit), mnist.test.images[expected[-1].index].numpy())


def test_report_without_explore_has_no_exploration_section(run_copy):
    text = write_report(run_copy).read_text()
    assert "Exploration" not in text
    assert "Most confidently wrong test images" in text


def test_report_without_its_test_data_still_shows_the_rest(run_copy, tmp_path):
    config = json.loads((run_copy / "config.json").read_text())
    config["train"]["data_dir"] = str(tmp_path / "moved-away")
    (run_copy / "config.json").write_text(json.dumps(config))
    text = write_report(run_copy).read_text()
    assert "Not shown: " in text and "moved-away" in text
    assert "Confusion matrix" in text and (run_copy / "loss_curves.png").read_bytes() in _images(text)


def _images(text: str) -> list[bytes]:
    page = _Collect()
    page.feed(text)
    return page.images


def test_report_command_and_open(run_copy, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr("webbrowser.open", lambda url: opened.append(url) or True)
    assert main(["report", str(run_copy), "--open"]) == 0
    assert opened == [(run_copy / "report.html").resolve().as_uri()]
    assert str(run_copy / "report.html") in capsys.readouterr().out


@pytest.mark.parametrize("remove, message", [("metrics.json", "holds no metrics.json"), ("best.pt", "holds no best.pt"),
                                             ("config.json", "holds no config.json")])
def test_incomplete_run_is_a_one_line_error_and_writes_nothing(run_copy, capsys, remove, message):
    (run_copy / remove).unlink()
    before = sorted(p.name for p in run_copy.iterdir())
    assert main(["report", str(run_copy)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetlab: error: ") and message in err and "lenetlab train" in err and err.count("\n") == 1
    assert sorted(p.name for p in run_copy.iterdir()) == before


def test_damaged_metrics_and_missing_folder_are_errors(run_copy, tmp_path):
    (run_copy / "metrics.json").write_text("{not json")
    with pytest.raises(LenetlabError, match="not valid JSON"):
        write_report(run_copy)
    with pytest.raises(LenetlabError, match="no run directory"):
        write_report(tmp_path / "nowhere")


def test_report_shows_attribution_maps_and_the_robustness_table_when_explored(run_copy):
    from lenetlab.explore.attack import explore_attack
    from lenetlab.explore.attribution import explore_attribution

    attribution = explore_attribution(run_copy, method="occlusion")
    attack = explore_attack([run_copy], method="fgsm", eps=(0, 0.1), n=200, log=None)
    text = write_report(run_copy).read_text()
    maps = re.findall(r'alt="attribution map of test image (\d+)"', text)
    explained = {entry["index"] for entry in attribution["images"]}
    shown = [int(i) for i in re.findall(r'alt="test image (\d+)"', text)]
    assert maps and [int(i) for i in maps] == [i for i in shown if i in explained]
    assert "Robustness to adversarial examples" in text
    row = attack["runs"][0]
    assert f"<td>{row['name']}</td><td>FGSM</td><td>{100 * row['accuracy']['fgsm']['0']:.2f}</td>" in text
    (run_copy / "explore" / "attack.json").write_text("[not what attack writes]")
    assert "Robustness to adversarial examples" not in write_report(run_copy).read_text()  # damaged: left out


# ------------------------------------------------------------------ the report in French (issue #22)
# Names a French report keeps as they are: libraries and their versions, the platform string, file names.
REPORT_NAMES = ("pillow", "platform", "linux", "with", "glibc", "dirty", "explore", "report")


def _visible_text(text: str) -> str:
    """What a reader sees of the report: no style, no images, no tags, entities decoded."""
    text = re.sub(r"<style>.*?</style>", " ", text, flags=re.S)
    text = re.sub(r'src="data:[^"]+"', "", text)
    return html.unescape(re.sub(r"<[^>]+>", " ", text))


def test_the_french_report_reads_as_a_teacher_would_write_it(run_copy):
    from english import english_words

    explore = run_copy / "explore"
    explore.mkdir()
    for name in ("embeddings_pca.png", "feature_maps_7.png", "filters_c1.png", "filters_epochs.png", "params.png",
                 "attack_curves.png", "sweep_accuracy_vs_time.png", "compare.png", "attribution.png"):
        (explore / name).write_bytes(_png(90))
    text = write_report(run_copy, lang="fr").read_text(encoding="utf-8")
    visible = _visible_text(text)
    without_code = _visible_text(re.sub(r"<code>[^<]*</code>", " ", text)).replace(str(run_copy), "RUN")
    without_code = re.sub(r"\b[0-9a-f]{12,}\b", " ", without_code)  # the source's and git's hashes
    assert english_words([without_code], allowed=REPORT_NAMES) == []

    page = _Collect()
    page.feed(text)
    assert re.fullmatch(r"Rapport d'entraînement : LeNet-5 \([^()]+/run\)", html.unescape(page.headings[0]))
    assert "matériel : processeur (CPU)" in visible
    assert {"Les erreurs commises avec le plus de confiance", "Représentations (ACP)", "Noyaux de C1",
            "C1 au fil des époques", "Paramètres et calcul", "Cartes de caractéristiques (image de test n° 7)",
            "Attaques adverses : exactitude selon ε"} <= set(page.headings)
    assert re.search(r"Le modèle retenu \(best\.pt\) se trompe sur \d+ des 10\u202f000 images de test ; voici les 12 "
                     r"erreurs les plus confiantes : classe prédite \(vraie classe\), confiance", visible)
    for word in ("certitude", "rembourrage", "sûr", "précision", "2-d", "dossier de run"):
        assert word not in visible.lower(), word
    assert "confiance" in visible

    # Every setting has its French label, its code name in a smaller <code>, and its value in words.
    assert "moment de Nesterov <code>nesterov</code></td><td>oui</td>" in text
    assert "<code>split</code></td><td>part mise de côté pour la validation <code>holdout</code></td>" in text
    assert "décalages aléatoires <code>shift</code>" in text and "remplissage <code>padding</code>" in text
    assert "True" not in visible and "holdout" in visible  # the code value stays visible, in <code>
    # French numbers outside the versions table (where 3.11.7 is a version, not a number).
    numbers = _visible_text(re.sub(r"<h3>Versions</h3>.*?</table>", "", text, flags=re.S))
    assert not re.search(r"\d\.\d", numbers.replace(str(run_copy), ""))
    assert "0,0005" in numbers and "61\u202f706" in numbers


@pytest.mark.parametrize("name, heading", [
    ("embeddings_pca.png", "Représentations (ACP)"), ("embeddings_tsne.png", "Représentations (t-SNE)"),
    ("feature_maps.png", "Cartes de caractéristiques"), ("feature_maps_12.png", "Cartes de caractéristiques (image de test n° 12)"),
    ("filters_c1.png", "Noyaux de C1"), ("filters_c3.png", "Noyaux de C3"), ("filters_epochs.png", "C1 au fil des époques"),
    ("params.png", "Paramètres et calcul"), ("attack_examples.png", "Exemples adverses"),
    ("sweep_accuracy_vs_parameters.png", "Balayage : exactitude selon le nombre de paramètres"),
    ("prototypes.png", "Prototypes des sorties RBF de 1998"), ("ablation.png", "Ablation : ce que vaut chaque choix de 1998")])
def test_every_exploration_figure_has_a_french_heading(name, heading):
    from english import english_words
    from lenetlab.report import explore_heading

    assert explore_heading(name, "fr") == heading
    assert english_words([explore_heading(name, "fr")]) == []


def test_settings_are_shown_in_words_with_their_code():
    from lenetlab.report.wording import setting_rows

    rows = {r["code"] or r["label"]: r for r in setting_rows(
        {"nesterov": False, "split": "all", "schedule": "paper", "preset": "paper", "lr": 1e-5, "momentum": -0.5,
         "device": "cuda:1", "hidden": [300, 100], "c3_kernel": None, "activation": "tanh", "seed": 12345}, "fr")}
    assert rows["nesterov"]["label"] == "moment de Nesterov" and rows["nesterov"]["value"] == "non"
    assert (rows["split"]["value"], rows["split"]["value_code"]) == ("toutes les images (comme l'article)", "all")
    assert rows["schedule"]["value"] == "paliers de l'article" and rows["preset"]["value"] == "recette de l'article de 1998"
    assert rows["lr"]["value"] == "1\u202f×\u202f10⁻⁵" and rows["momentum"]["value"] == "\u22120,5"
    assert rows["device"]["value"] == "carte graphique (GPU)" and rows["device"]["value_code"] == "cuda:1"
    assert rows["hidden"]["value"] == "300, 100" and rows["c3_kernel"]["value"] == "comme kernel_size"
    assert rows["activation"]["value"] == "tanh" and rows["activation"]["value_code"] == ""
    assert rows["seed"]["value"] == "12345"
