import json

import pytest

from conftest import write_idx_folder
from lenetlab import build_model, count_parameters
from lenetlab.cli import main
from lenetlab.explore.compare import compare_variants, explore_compare, matching_mlp_hidden
from lenetlab.explore.paper import PAPER_MODELS, paper_variants


@pytest.fixture(autouse=True)
def _no_run_figures(monkeypatch):
    """The runs' own five figures are not under test here; skipping them keeps these tests quick."""
    monkeypatch.setattr("lenetlab.runs.write_figures", lambda *args, **kwargs: None)


def test_the_papers_table_and_models():
    errors = {name: entry[1] for name, entry in PAPER_MODELS.items()}
    assert errors == {"linear": 12.0, "nn-300": 4.7, "nn-1000": 4.5, "nn-300-100": 3.05, "nn-500-150": 2.95,
                      "lenet1": 1.7, "lenet4": 1.1, "lenet5": 0.95, "lenet5-distortions": 0.8,
                      "lenet5-1998": 0.95, "lenet5-1998-distortions": 0.8}
    params = {v.name: count_parameters(build_model(v.model, **v.model_args)) for v in paper_variants()}
    assert params == {"linear": 7850, "nn-300": 238510, "nn-1000": 795010, "nn-300-100": 266610,
                      "nn-500-150": 469160, "lenet1": 3246, "lenet4": 51050, "lenet5": 61706,
                      "lenet5-distortions": 61706, "lenet5-1998": 60000, "lenet5-1998-distortions": 60000}
    recipes = {v.name: v.recipe for v in paper_variants()}
    assert recipes["lenet5-distortions"] == {"augment": "affine"} and recipes["lenet5"] == {}
    # the 1998 rows train with the paper's recipe, on all 60,000 images
    assert recipes["lenet5-1998"]["optimizer"] == "sdlm" and recipes["lenet5-1998"]["split"] == "all"
    assert recipes["lenet5-1998-distortions"] == {**recipes["lenet5-1998"], "augment": "affine"}


def test_the_ablation_switches_one_1998_choice_at_a_time():
    from lenetlab.explore.paper import ABLATION, PAPER_RECIPE

    base_args = build_model("lenet5-1998").config
    for name, (_, model_args, recipe) in ABLATION.items():
        config = build_model("lenet5-1998", **model_args).config
        changed = {k for k in config if config[k] != base_args[k]} | {k for k in recipe if recipe[k] != PAPER_RECIPE[k]}
        if name == "lenet5-1998":
            assert changed == set()
        elif name == "ablation-sgd":  # the optimiser, and what an SGD run needs beside it
            assert changed == {"optimizer", "lr", "momentum", "nesterov", "schedule"}
        else:
            assert len(changed) == 1, name


def test_paper_ablation_on_tiny_data_writes_its_table(tmp_path, capsys):
    data_dir = write_idx_folder(tmp_path / "data", n_train=40, n_test=10)
    out = tmp_path / "paper"
    assert main(["paper", "--models", "lenet5-1998", "--ablation", "--epochs", "1", "--data-dir", str(data_dir),
                 "--out", str(out)]) == 0
    saved = json.loads((out / "ablation.json").read_text())
    assert [r["name"] for r in saved["rows"]] == ["lenet5-1998", "ablation-full-c3", "ablation-tanh",
                                                  "ablation-avg-pooling", "ablation-softmax", "ablation-sgd"]
    assert [r["parameters"] for r in saved["rows"]] == [60000, 60900, 60000, 59956, 60850, 60000]
    config = json.loads((out / "lenet5-1998" / "config.json").read_text())["train"]
    assert (config["optimizer"], config["split"], config["schedule"]) == ("sdlm", "all", "paper")
    md = (out / "ablation.md").read_text()
    assert "| C3 connected to all S2 maps | 60,900 |" in md and "points |" in md
    assert "| LeNet-5 as published (1998 recipe) | 60,000 | 0.95 % |" in capsys.readouterr().out
    assert (out / "ablation.png").stat().st_size > 10_000 and (out / "prototypes.png").stat().st_size > 5_000


def test_paper_on_tiny_data_writes_the_side_by_side(tmp_path, capsys):
    data_dir = write_idx_folder(tmp_path / "data", n_train=30, n_test=10)
    out = tmp_path / "paper"
    assert main(["paper", "--models", "linear,lenet1", "--epochs", "1", "--data-dir", str(data_dir),
                 "--out", str(out)]) == 0
    saved = json.loads((out / "paper.json").read_text())
    assert [r["name"] for r in saved["rows"]] == ["linear", "lenet1"]
    for row in saved["rows"]:
        metrics = json.loads((out / row["name"] / "metrics.json").read_text())
        assert row["test_error"] == pytest.approx(1 - metrics["test"]["accuracy"])
        assert row["paper_error"] == PAPER_MODELS[row["name"]][1] and row["epochs"] == 1
    config = json.loads((out / "linear" / "config.json").read_text())["train"]
    assert (config["augment"], config["epochs"], config["optimizer"]) == ("none", 1, "sgd")
    md = (out / "paper.md").read_text()
    assert "| linear classifier | 7,850 | 12.00 % |" in md and "| LeNet-1 | 3,246 | 1.70 % |" in md
    assert "48,000" in md and "differs from the paper" in md
    printed = capsys.readouterr().out
    assert "12.00 %" in printed and "differs from the paper" in printed
    assert (out / "paper.png").stat().st_size > 10_000


def test_paper_unknown_model_is_a_one_line_error(tmp_path, capsys):
    assert main(["paper", "--models", "lenet5,lenet7", "--out", str(tmp_path / "p")]) == 2
    assert "unknown paper model(s) lenet7" in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_matching_mlp_has_about_lenet5s_parameters():
    hidden = matching_mlp_hidden(61706)
    n = 785 * hidden[0] + (hidden[0] + 1) * hidden[1] + (hidden[1] + 1) * 10
    assert abs(n - 61706) / 61706 < 0.01 and hidden[1] == round(hidden[0] * 0.7)
    names = [v.name for v, _ in compare_variants()]
    assert names == ["lenet5", "mlp-same-params", "fc-same-depth"]


def test_compare_on_tiny_data(tmp_path):
    data_dir = write_idx_folder(tmp_path / "data", n_train=30, n_test=10)
    result = explore_compare(tmp_path / "cmp", epochs=1, preset="seed", data_dir=str(data_dir), log=None)
    params = {r["name"]: r["parameters"] for r in result["rows"]}
    assert params == {"lenet5": 61706, "mlp-same-params": 61599, "fc-same-depth": 1453094}
    macs = {r["name"]: r["macs"] for r in result["rows"]}
    assert macs["lenet5"] == 416520 and macs["fc-same-depth"] == 1451304
    assert "| LeNet-5 | 61,706 | 416,520 |" in (tmp_path / "cmp" / "compare.md").read_text()
    assert json.loads((tmp_path / "cmp" / "compare.json").read_text())["epochs"] == 1
