import pytest
import torch

from conftest import write_idx_folder
from lenetlab import LenetlabError, TrainConfig, build_model, count_parameters, load_checkpoint, train_run
from lenetlab.models import MODELS, FCNet, LeNet1, LeNet4, LinearClassifier, parse_hidden


def test_linear_classifier_is_one_layer_of_pixels_to_classes():
    model = LinearClassifier()
    assert count_parameters(model) == 784 * 10 + 10 == 7850
    x = torch.randn(3, 1, 28, 28)
    layer = model.layers.output
    assert torch.allclose(model(x), x.reshape(3, -1) @ layer.weight.T + layer.bias)
    assert list(model.activations(x)) == ["output"]


@pytest.mark.parametrize("hidden, expected", [
    ([300], 784 * 300 + 300 + 300 * 10 + 10),                                    # 238,510
    ([1000], 784 * 1000 + 1000 + 1000 * 10 + 10),                                # 795,010
    ([300, 100], 784 * 300 + 300 + 300 * 100 + 100 + 100 * 10 + 10),             # 266,610
    ([500, 150], 784 * 500 + 500 + 500 * 150 + 150 + 150 * 10 + 10),             # 469,160
])
def test_fcnet_widths_give_the_papers_networks(hidden, expected):
    model = FCNet(hidden=hidden)
    assert count_parameters(model) == expected
    acts = model.activations(torch.zeros(2, 1, 28, 28))
    assert [k for k in acts] == [f"H{i}" for i in range(1, len(hidden) + 1)] + ["output"]
    assert [tuple(v.shape) for v in acts.values()] == [(2, h) for h in hidden] + [(2, 10)]
    assert isinstance(model.layers.H1.act, torch.nn.Tanh)


def test_fcnet_accepts_the_cli_string_and_stores_a_list():
    assert parse_hidden("300, 100") == [300, 100] and parse_hidden(1000) == [1000] and parse_hidden("") == []
    model = build_model("fcnet", hidden="500,150", activation="relu")
    assert model.config["hidden"] == [500, 150] and isinstance(model.layers.H2.act, torch.nn.ReLU)
    assert count_parameters(FCNet(hidden=[])) == 7850  # no hidden layer: the linear classifier


@pytest.mark.parametrize("kwargs, needle", [({"hidden": "300,abc"}, "integers"), ({"hidden": [300, 0]}, "hidden width 2"),
                                            ({"activation": "nope"}, "activation")])
def test_fcnet_bad_arguments_are_user_errors(kwargs, needle):
    with pytest.raises(LenetlabError, match=needle):
        build_model("fcnet", **kwargs)


def test_lenet1_layers_by_hand():
    model = LeNet1()
    # C1 4*(25+1), C3 12*(4*25+1), output 10*(12*4*4+1)
    assert count_parameters(model) == 104 + 1212 + 1930 == 3246
    shapes = {k: tuple(v.shape) for k, v in model.activations(torch.zeros(2, 1, 28, 28)).items()}
    assert shapes == {"C1": (2, 4, 24, 24), "S2": (2, 4, 12, 12), "C3": (2, 12, 8, 8), "S4": (2, 12, 4, 4), "output": (2, 10)}
    x = torch.randn(2, 1, 28, 28)
    assert torch.allclose(model(x), model.activations(x)["output"])


def test_lenet4_layers_by_hand():
    model = LeNet4()
    # C1 4*(25+1), C3 16*(4*25+1), F5 120*(16*5*5+1), output 10*(120+1)
    assert count_parameters(model) == 104 + 1616 + 48120 + 1210 == 51050
    shapes = {k: tuple(v.shape) for k, v in model.activations(torch.zeros(1, 1, 28, 28)).items()}
    assert shapes == {"C1": (1, 4, 28, 28), "S2": (1, 4, 14, 14), "C3": (1, 16, 10, 10), "S4": (1, 16, 5, 5),
                      "F5": (1, 120), "output": (1, 10)}


def test_lenet1_too_small_an_input_is_a_user_error():
    with pytest.raises(LenetlabError, match="C3"):
        build_model("lenet1", input_size=12)


def test_new_models_are_registered_and_the_old_ones_unchanged():
    assert {"lenet5", "lenet5-modern", "mlp", "linear", "fcnet", "lenet1", "lenet4"} <= set(MODELS)
    assert count_parameters(build_model("lenet5")) == 61706 and count_parameters(build_model("mlp")) == 105214


def test_fcnet_run_round_trips_through_a_checkpoint(tmp_path):
    data_dir = write_idx_folder(tmp_path / "data", n_train=40, n_test=10)
    config = TrainConfig.from_preset("seed", epochs=1, model="fcnet", model_args={"hidden": "20,10"},
                                     data_dir=str(data_dir), keep_filters=True)
    train_run(config, tmp_path / "run", progress=False, log=None)
    model, payload = load_checkpoint(tmp_path / "run")
    assert payload["model_args"]["hidden"] == [20, 10]
    assert count_parameters(model) == 784 * 20 + 20 + 20 * 10 + 10 + 10 * 10 + 10
    assert not (tmp_path / "run" / "filters").exists()  # no convolution, no filter snapshots


def test_lenet1_keeps_its_filters(tmp_path):
    data_dir = write_idx_folder(tmp_path / "data", n_train=40, n_test=10)
    config = TrainConfig.from_preset("seed", epochs=2, model="lenet1", data_dir=str(data_dir), keep_filters=True)
    train_run(config, tmp_path / "run", progress=False, log=None)
    snap = torch.load(tmp_path / "run" / "filters" / "epoch_002.pt", weights_only=True)
    model, _ = load_checkpoint(tmp_path / "run" / "last.pt")
    assert torch.equal(snap["C1"], model.feature_extractor.C1.conv.weight)
