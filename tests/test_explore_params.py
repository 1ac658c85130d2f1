import json

import pytest

from lenetlab.cli import main
from lenetlab.explore.params import FC_EQUAL_DEPTH_HIDDEN, format_table, layer_table, params_report
from lenetlab.models import FCNet, build_model


def _by_layer(table):
    return {r["layer"]: (r["parameters"], r["macs"], tuple(r["output_shape"])) for r in table["layers"]}


def test_lenet5_parameters_and_macs_by_hand():
    rows = _by_layer(layer_table(build_model("lenet5")))
    assert rows == {
        # C1: 6 maps 28x28, each output sums 1x5x5 products
        "C1": (6 * (25 + 1), 6 * 28 * 28 * 25, (6, 28, 28)),
        "S2": (0, 0, (6, 14, 14)),
        "C3": (16 * (6 * 25 + 1), 16 * 10 * 10 * 6 * 25, (16, 10, 10)),
        "S4": (0, 0, (16, 5, 5)),
        "C5": (120 * (16 * 25 + 1), 120 * 16 * 25, (120, 1, 1)),
        "F6": (84 * 121, 120 * 84, (84,)),
        "output": (10 * 85, 84 * 10, (10,)),
    }
    table = layer_table(build_model("lenet5"))
    assert table["total_parameters"] == 61706
    assert table["total_macs"] == 117600 + 240000 + 48000 + 10080 + 840 == 416520


def test_lenet5_variant_macs_follow_the_architecture():
    # kernel 3, padding 2: C1 30x30, S2 15x15, C3 13x13, S4 6x6, C5 (which follows: kernel 6) 1x1
    rows = _by_layer(layer_table(build_model("lenet5", kernel_size=3, c1_channels=4)))
    assert rows["C1"][1:] == (4 * 30 * 30 * 9, (4, 30, 30))
    assert rows["C3"][1:] == (16 * 13 * 13 * 4 * 9, (16, 13, 13))
    assert rows["C5"] == (120 * 16 * 36 + 120, 120 * 16 * 36, (120, 1, 1))
    assert rows["F6"][:2] == (84 * (120 + 1), 120 * 84)
    # C5's kernel fixed at 3: a 4x4 C5, so F6 sees 120*4*4 inputs
    rows = _by_layer(layer_table(build_model("lenet5", kernel_size=3, c1_channels=4, c5_kernel=3)))
    assert rows["C5"][1:] == (120 * 4 * 4 * 16 * 9, (120, 4, 4))
    assert rows["F6"][:2] == (84 * (120 * 16 + 1), 120 * 16 * 84)


def test_mlp_and_fc_of_equal_depth_by_hand():
    report = params_report()
    assert _by_layer(report["MLP (notebook)"]) == {"H1": (784 * 120 + 120, 784 * 120, (120,)),
                                                   "H2": (120 * 84 + 84, 120 * 84, (84,)),
                                                   "output": (84 * 10 + 10, 840, (10,))}
    fc = report["FC, LeNet-5's depth"]
    # one fully connected layer per LeNet-5 weight layer, as wide as that stage's output
    assert FC_EQUAL_DEPTH_HIDDEN == (6 * 14 * 14, 16 * 5 * 5, 120, 84)
    assert len(fc["layers"]) == 5
    assert fc["total_macs"] == 784 * 1176 + 1176 * 400 + 400 * 120 + 120 * 84 + 84 * 10 == 1451304
    assert fc["total_parameters"] == fc["total_macs"] + 1176 + 400 + 120 + 84 + 10


def test_lenet1_macs_by_hand():
    table = layer_table(build_model("lenet1"))
    assert table["total_macs"] == 4 * 24 * 24 * 25 + 12 * 8 * 8 * 4 * 25 + 192 * 10 == 136320


def test_format_table_shows_every_layer_and_the_total():
    text = format_table("LeNet-5", layer_table(build_model("lenet5")))
    assert "61,706" in text and "416,520" in text and "16x5x5" in text
    assert [line.split()[0] for line in text.splitlines()[3:10]] == ["C1", "S2", "C3", "S4", "C5", "F6", "output"]


def test_cli_params_json_and_files(tmp_path, capsys):
    assert main(["explore", "params", "--json", "--out", str(tmp_path)]) == 0
    printed = json.loads(capsys.readouterr().out.split("\nwrote ")[0])
    assert printed["LeNet-5"]["total_macs"] == 416520
    saved = json.loads((tmp_path / "params.json").read_text())
    assert saved == printed
    assert (tmp_path / "params.png").stat().st_size > 10_000


def test_cli_params_of_named_models(capsys):
    assert main(["explore", "params", "--model", "lenet4", "--model", "linear"]) == 0
    out = capsys.readouterr().out
    assert "51,050" in out and "7,850" in out


def test_cli_params_unknown_model_is_a_one_line_error(capsys):
    assert main(["explore", "params", "--model", "lenet9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetlab: error: unknown model 'lenet9'") and err.count("\n") == 1


@pytest.mark.parametrize("command", ["params", "filters", "feature-maps", "embeddings", "sweep", "sweep-merge", "compare"])
def test_every_explore_command_has_examples(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["explore", command, "--help"])
    assert exc.value.code == 0
    assert "examples:\n  lenetlab " in capsys.readouterr().out


def test_paper_help_has_examples(capsys):
    with pytest.raises(SystemExit):
        main(["paper", "--help"])
    assert "lenetlab paper --models lenet5-1998 --epochs 20 --ablation" in capsys.readouterr().out


def test_fcnet_equal_depth_is_the_fcnet_of_those_widths():
    assert layer_table(FCNet(hidden=FC_EQUAL_DEPTH_HIDDEN))["total_parameters"] == 1453094
