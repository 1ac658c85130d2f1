import csv
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from conftest import write_idx_folder
from lenetlab import LenetlabError
from lenetlab.cli import main
from lenetlab.explore import variants as variants_module
from lenetlab.explore.sweep import (
    expand_grid,
    format_rows,
    merge_sweeps,
    parse_shard,
    parse_variant,
    parse_vary,
    select_shard,
    sweep,
)


@pytest.fixture(autouse=True)
def _no_run_figures(monkeypatch):
    """The runs' own five figures are not under test here; skipping them keeps these tests quick."""
    monkeypatch.setattr("lenetlab.runs.write_figures", lambda *args, **kwargs: None)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return write_idx_folder(tmp_path_factory.mktemp("sweepdata") / "data", n_train=30, n_test=10)


@pytest.fixture
def counted(monkeypatch):
    """Count (and, when asked, interrupt) the trainings a sweep starts; training itself stays real."""
    real = variants_module._train_one
    calls: list[str] = []
    state = {"stop_after": None}

    def train_one(config, run_dir):
        if state["stop_after"] is not None and len(calls) >= state["stop_after"]:
            raise KeyboardInterrupt  # as if the user pressed Ctrl-C during this variant
        calls.append(run_dir.name)
        real(config, run_dir)

    monkeypatch.setattr(variants_module, "_train_one", train_one)
    return calls, state


def test_parse_vary_and_variants():
    assert parse_vary(["kernel_size=3,5,7", "pooling=avg,max", "lr=0.1"]) == {
        "kernel_size": [3, 5, 7], "pooling": ["avg", "max"], "lr": [0.1]}
    assert parse_vary(["hidden=300,100;1000"]) == {"hidden": ["300,100", 1000]}
    v = parse_variant("wide:c1_channels=12,lr=0.02,batch-norm=true", "lenet5")
    assert (v.name, v.model, v.model_args, v.recipe) == ("wide", "lenet5", {"c1_channels": 12, "batch_norm": True},
                                                        {"lr": 0.02})
    for bad in (["kernel_size"], ["=3"], ["kernel_size=3", "kernel_size=5"], ["model=mlp"]):
        with pytest.raises(LenetlabError):
            parse_vary(bad)
    assert parse_variant("x:k=1,2", "lenet5").model_args == {"k": "1,2"}  # a piece without "=" continues the value
    for bad in ("nocolon", "bad name:k=1", "x:=1", "x:oops"):
        with pytest.raises(LenetlabError):
            parse_variant(bad, "lenet5")


def test_grid_order_and_names():
    grid = expand_grid("lenet5", {"kernel_size": [3, 5], "lr": [0.1, 0.2]})
    assert [(v.name, v.model_args, v.recipe) for v in grid] == [
        ("kernel_size-3_lr-0.1", {"kernel_size": 3}, {"lr": 0.1}),
        ("kernel_size-3_lr-0.2", {"kernel_size": 3}, {"lr": 0.2}),
        ("kernel_size-5_lr-0.1", {"kernel_size": 5}, {"lr": 0.1}),
        ("kernel_size-5_lr-0.2", {"kernel_size": 5}, {"lr": 0.2}),
    ]


@given(sizes=st.lists(st.integers(1, 4), min_size=1, max_size=3), count=st.integers(1, 7))
def test_shards_are_disjoint_and_cover_the_grid(sizes, count):
    grid = expand_grid("lenet5", {f"k{i}": list(range(n)) for i, n in enumerate(sizes)})
    shards = [[v.name for v in select_shard(grid, (i, count))] for i in range(1, count + 1)]
    names = [name for shard in shards for name in shard]
    assert sorted(names) == sorted(v.name for v in grid) and len(set(names)) == len(grid)
    assert max(map(len, shards)) - min(map(len, shards)) <= 1


def test_parse_shard():
    assert parse_shard("3/4") == (3, 4) and parse_shard(None) is None
    for bad in ("0/4", "5/4", "1-4", "a/b"):
        with pytest.raises(LenetlabError, match="--shard"):
            parse_shard(bad)


def test_interrupted_sweep_trains_only_what_is_missing(tmp_path, data_dir, counted):
    calls, state = counted
    vary = {"c1_channels": [2, 4], "kernel_size": [3, 5, 13]}  # kernel 13 leaves no C3 output: invalid
    base = {"preset": "seed", "epochs": 1, "data_dir": str(data_dir)}
    state["stop_after"] = 2
    with pytest.raises(KeyboardInterrupt):
        sweep("lenet5", vary, out=tmp_path, base=base, log=None)
    assert calls == ["c1_channels-2_kernel_size-3", "c1_channels-2_kernel_size-5"]
    assert not (tmp_path / "sweep.json").exists()

    calls.clear()
    state["stop_after"] = None
    result = sweep("lenet5", vary, out=tmp_path, base=base, log=None)
    assert calls == ["c1_channels-4_kernel_size-3", "c1_channels-4_kernel_size-5"]  # only the missing two
    statuses = {r["name"]: r["status"] for r in result["rows"]}
    assert statuses == {"c1_channels-2_kernel_size-3": "ok", "c1_channels-2_kernel_size-5": "ok",
                        "c1_channels-2_kernel_size-13": "invalid", "c1_channels-4_kernel_size-3": "ok",
                        "c1_channels-4_kernel_size-5": "ok", "c1_channels-4_kernel_size-13": "invalid"}
    invalid = next(r for r in result["rows"] if r["status"] == "invalid")
    assert "C3" in invalid["message"] and not (tmp_path / invalid["name"]).exists()

    # the numbers come from each variant's own run
    row = next(r for r in result["rows"] if r["name"] == "c1_channels-4_kernel_size-3")
    metrics = json.loads((tmp_path / row["name"] / "metrics.json").read_text())
    assert row["test_accuracy"] == metrics["test"]["accuracy"] and row["parameters"] == metrics["parameters"]
    # kernel 3, padding 2: C1 30x30, S2 15, C3 13, S4 6, C5 follows (kernel 6) 1x1 (hand-computed MACs)
    assert row["macs"] == 4 * 30 * 30 * 9 + 16 * 13 * 13 * 4 * 9 + 120 * 16 * 36 + 120 * 84 + 840
    # sweep.json keeps the grid's order; sweep.csv and the printed table rank by validation accuracy
    with open(tmp_path / "sweep.csv") as f:
        table = list(csv.DictReader(f))
    ok = [r for r in result["rows"] if r["status"] == "ok"]
    by_valid = sorted(ok, key=lambda r: -r["best_valid_accuracy"])
    assert [r["name"] for r in table] == [r["name"] for r in by_valid] + [
        r["name"] for r in result["rows"] if r["status"] != "ok"]
    assert [float(r["best_valid_accuracy"]) for r in table[:4]] == [r["best_valid_accuracy"] for r in by_valid]
    assert json.loads((tmp_path / "sweep.json").read_text())["grid"] == [r["name"] for r in result["rows"]]
    assert (tmp_path / "sweep_accuracy_vs_parameters.png").is_file()
    assert (tmp_path / "sweep_accuracy_vs_time.png").is_file()

    calls.clear()  # a third run has nothing left to train
    sweep("lenet5", vary, out=tmp_path, base=base, log=None)
    assert calls == []
    # the same folder with another recipe is refused, not silently reused
    with pytest.raises(LenetlabError, match="epochs 1 there, 2 now"):
        sweep("lenet5", vary, out=tmp_path, base={**base, "epochs": 2}, log=None)
    assert calls == []


def test_a_variant_without_metrics_is_trained_again(tmp_path, data_dir, counted):
    calls, _ = counted
    base = {"preset": "seed", "epochs": 1, "data_dir": str(data_dir)}
    sweep("lenet5", {"c1_channels": [2, 3]}, out=tmp_path, base=base, log=None)
    (tmp_path / "c1_channels-3" / "metrics.json").unlink()  # killed before it finished
    calls.clear()
    sweep("lenet5", {"c1_channels": [2, 3]}, out=tmp_path, base=base, log=None)
    assert calls == ["c1_channels-3"]


def test_shards_then_merge(tmp_path, data_dir, counted, capsys):
    calls, _ = counted
    args = ["explore", "sweep", "--vary", "c1_channels=2,3,4", "--variant", "mlp:model=mlp,hidden_1=8,hidden_2=4",
            "--preset", "seed", "--epochs", "1", "--data-dir", str(data_dir)]
    assert main(args + ["--shard", "1/2", "--out", str(tmp_path / "a")]) == 0
    assert calls == ["c1_channels-2", "c1_channels-4"]
    assert "sweep-merge" in capsys.readouterr().out
    # one shard alone: merged with a warning, the missing variants named
    assert main(["explore", "sweep-merge", str(tmp_path / "a"), "--out", str(tmp_path / "partial")]) == 0
    partial = json.loads((tmp_path / "partial" / "sweep.json").read_text())
    assert partial["missing_shards"] == [2] and partial["missing_variants"] == ["c1_channels-3", "mlp"]
    assert "warning: shard(s) [2]" in capsys.readouterr().out

    assert main(args + ["--shard", "2/2", "--out", str(tmp_path / "b")]) == 0
    assert calls == ["c1_channels-2", "c1_channels-4", "c1_channels-3", "mlp"]
    assert main(["explore", "sweep-merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "all")]) == 0
    merged = json.loads((tmp_path / "all" / "sweep.json").read_text())
    assert [r["name"] for r in merged["rows"]] == ["c1_channels-2", "c1_channels-3", "c1_channels-4", "mlp"]
    assert merged["missing_shards"] == [] and merged["merged_from"] == [1, 2]
    assert next(r for r in merged["rows"] if r["name"] == "mlp")["parameters"] == 784 * 8 + 8 + 8 * 4 + 4 + 4 * 10 + 10
    assert (tmp_path / "all" / "sweep.csv").is_file() and (tmp_path / "all" / "sweep_accuracy_vs_time.png").is_file()


def test_merge_errors(tmp_path, capsys):
    assert main(["explore", "sweep-merge", str(tmp_path)]) == 2
    assert "no sweep-shard-I-of-N.json" in capsys.readouterr().err
    for i, n in ((1, 2), (1, 3)):
        (tmp_path / f"sweep-shard-{i}-of-{n}.json").write_text(json.dumps({"shard": [i, n], "grid": ["x"], "rows": []}))
    with pytest.raises(LenetlabError, match="cut"):
        merge_sweeps([tmp_path])


def test_sweep_cli_errors_are_one_line(tmp_path, capsys):
    assert main(["explore", "sweep", "--out", str(tmp_path)]) == 2
    assert "nothing to sweep" in capsys.readouterr().err
    assert main(["explore", "sweep", "--vary", "kernel_size", "--out", str(tmp_path)]) == 2
    assert "--vary kernel_size=3,5,7" in capsys.readouterr().err
    assert main(["explore", "sweep", "--vary", "c1_channels=2", "--shard", "3/2", "--out", str(tmp_path)]) == 2
    assert main(["explore", "sweep", "--vary", "c1_channels=2", "--jobs", "0", "--out", str(tmp_path)]) == 2
    assert "--jobs and --threads must be at least 1" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_recipe_value_is_reported_not_crashed(tmp_path, data_dir, counted):
    calls, _ = counted
    result = sweep("lenet5", {"optimizer": ["sgd", "lbfgs"]}, out=tmp_path,
                   base={"preset": "seed", "epochs": 1, "data_dir": str(data_dir)}, log=None)
    assert [r["status"] for r in result["rows"]] == ["ok", "invalid"]
    assert "unknown optimizer 'lbfgs'" in result["rows"][1]["message"] and calls == ["optimizer-sgd"]


@pytest.mark.slow  # spawns two fresh Python processes that import torch: ~25 s on 2 busy cores
def test_parallel_jobs_train_in_separate_processes(tmp_path, data_dir):
    result = sweep("lenet5", {"c1_channels": [2, 3]}, out=tmp_path, jobs=2, threads=1,
                   base={"preset": "seed", "epochs": 1, "data_dir": str(data_dir)}, log=None)
    assert [r["status"] for r in result["rows"]] == ["ok", "ok"]
    assert all((tmp_path / r["name"] / "best.pt").is_file() for r in result["rows"])


def test_a_misspelt_key_is_refused_up_front():
    from lenetlab import LenetlabError
    from lenetlab.explore.sweep import check_keys

    with pytest.raises(LenetlabError, match="--vary kernal_size: not a setting of lenet5"):
        check_keys("lenet5", ["kernal_size"])
    check_keys("lenet5", ["kernel_size", "lr"])  # a model argument and a training setting: fine
    check_keys("mlp", ["hidden_1"])


def test_the_stride_padding_kernel_grid_is_all_valid_now_that_c5_follows():
    """C5 takes the side of what reaches it, so every combination keeps a 1x1 C5 (3 of 4 used to fail)."""
    import torch

    from lenetlab.models import build_model, count_parameters

    grid = expand_grid("lenet5", parse_vary(["stride=1,2", "padding=0,2", "kernel_size=3,5"]))
    assert len(grid) == 8
    counts = {}
    for variant in grid:
        model = build_model(variant.model, **variant.model_args)
        assert model.activations(torch.zeros(1, 1, 28, 28))["C5"].shape == (1, 120, 1, 1), variant.name
        counts[variant.name] = count_parameters(model)
    # stride 2, padding 0, kernel 5: C1 (28-5)//2+1 = 12, S2 6, C3 6-5+1 = 2, S4 1, so C5's kernel is 1x1.
    #   C1 6*(1*25)+6 = 156, C3 16*(6*25)+16 = 2,416, C5 120*(16*1)+120 = 2,040, F6 84*120+84 = 10,164,
    #   output 10*84+10 = 850: 15,626 (LeNet-5's 48,120 C5 parameters shrink to 2,040)
    assert counts["stride-2_padding-0_kernel_size-5"] == 156 + 2416 + 2040 + 10164 + 850 == 15626
    # stride 1, padding 2, kernel 3: C1 28+4-3+1 = 30, S2 15, C3 15-3+1 = 13, S4 6, so C5's kernel is 6x6.
    #   C1 6*9+6 = 60, C3 16*(6*9)+16 = 880, C5 120*(16*36)+120 = 69,240, F6 10,164, output 850: 81,194
    assert counts["stride-1_padding-2_kernel_size-3"] == 60 + 880 + 69240 + 10164 + 850 == 81194
    assert counts["stride-1_padding-2_kernel_size-5"] == 61706  # the notebook's LeNet-5


def test_tables_rank_by_validation_accuracy_not_test_accuracy():
    rows = [{"name": name, "status": "ok", "parameters": 1, "macs": 1, "best_valid_accuracy": valid,
             "test_accuracy": test, "seconds": 1.0}
            for name, valid, test in (("best-on-test", 0.97, 0.99), ("best-on-valid", 0.98, 0.96))]
    rows.append({"name": "broken", "status": "invalid", "message": "C5: ...", "best_valid_accuracy": None,
                 "test_accuracy": None})
    lines = format_rows(rows).splitlines()
    assert [line.split()[0] for line in lines[1:4]] == ["best-on-valid", "best-on-test", "broken"]
    assert "96.00 %" in lines[1] and "ranked by validation accuracy" in lines[-1]
