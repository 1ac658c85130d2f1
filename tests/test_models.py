import pytest
import torch

from lenetlab import MLP, LeNet5, LenetlabError, build_model, count_parameters
from lenetlab.models import MODELS


def test_lenet5_matches_the_notebook():
    model = LeNet5()
    # conv: 6*(25+1) + 16*(6*25+1) + 120*(16*25+1); linear: 84*(120+1) + 10*(84+1)
    assert count_parameters(model) == 156 + 2416 + 48120 + 10164 + 850 == 61706
    c1, c3, c5 = model.feature_extractor.C1.conv, model.feature_extractor.C3.conv, model.feature_extractor.C5.conv
    assert (c1.in_channels, c1.out_channels, c1.kernel_size, c1.stride, c1.padding) == (1, 6, (5, 5), (1, 1), (2, 2))
    assert (c3.out_channels, c3.padding, c5.out_channels) == (16, (0, 0), 120)
    assert isinstance(model.feature_extractor.S2, torch.nn.AvgPool2d) and model.feature_extractor.S2.stride == 2
    assert isinstance(model.feature_extractor.C1.act, torch.nn.Tanh)
    shapes = {k: tuple(v.shape) for k, v in model.activations(torch.zeros(3, 1, 28, 28)).items()}
    assert shapes == {"C1": (3, 6, 28, 28), "S2": (3, 6, 14, 14), "C3": (3, 16, 10, 10), "S4": (3, 16, 5, 5),
                      "C5": (3, 120, 1, 1), "F6": (3, 84), "output": (3, 10)}
    x = torch.randn(3, 1, 28, 28)
    assert torch.allclose(model(x), model.activations(x)["output"])


def test_mlp_matches_the_notebook():
    model = MLP()
    assert count_parameters(model) == (784 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10) == 105214
    assert model(torch.zeros(4, 1, 28, 28)).shape == (4, 10)
    assert [type(m).__name__ for m in model.modules() if isinstance(m, torch.nn.ReLU)] == ["ReLU", "ReLU"]


def test_lenet5_arguments_change_the_architecture():
    model = LeNet5(c1_channels=12, kernel_size=3, pooling="max", activation="relu", n_classes=26)
    assert model.feature_extractor.C1.conv.out_channels == 12
    assert isinstance(model.feature_extractor.S4, torch.nn.MaxPool2d)
    # 28 -C1(k3,p2)-> 30 -S2-> 15 -C3(k3)-> 13 -S4-> 6 -C5 follows (k6)-> 1: the classifier sees 120
    assert model.feature_extractor.C5.conv.kernel_size == (6, 6)
    assert model.c5_size == 1 and model.classifier.F6.linear.in_features == 120
    assert model(torch.zeros(1, 1, 28, 28)).shape == (1, 26)
    # C5's kernel fixed at 3 (what earlier releases did): 6 -C5(k3)-> 4, the classifier sees 120*4*4
    fixed = LeNet5(kernel_size=3, c5_kernel=3)
    assert fixed.c5_size == 4 and fixed.classifier.F6.linear.in_features == 1920
    assert LeNet5(input_size=32, padding=0)(torch.zeros(1, 1, 32, 32)).shape == (1, 10)  # the 1998 input size


def test_each_convolution_has_its_own_settings():
    model = LeNet5(kernel_size=3, stride=2, padding=1, c3_kernel=2, c3_stride=1, c3_padding=1)
    convs = {name: model.stage(name).conv for name in ("C1", "C3", "C5")}
    conv = {name: (c.kernel_size[0], c.stride[0], c.padding[0]) for name, c in convs.items()}
    # 28 -C1(k3,s2,p1)-> 14 -S2-> 7 -C3(k2,s1,p1)-> 8 -S4-> 4 -C5 follows (k4)-> 1
    assert conv == {"C1": (3, 2, 1), "C3": (2, 1, 1), "C5": (4, 1, 0)}
    shapes = {k: tuple(v.shape[1:]) for k, v in model.activations(torch.zeros(1, 1, 28, 28)).items()}
    assert shapes["C3"] == (16, 8, 8) and shapes["C5"] == (120, 1, 1)
    # The defaults are the notebook's LeNet-5: same parameter names and shapes, so old checkpoints load.
    assert {k: v.shape for k, v in LeNet5(c3_kernel=5, c5_kernel=5).state_dict().items()} == \
        {k: v.shape for k, v in LeNet5().state_dict().items()}
    assert LeNet5().config["c5_kernel"] is None and LeNet5().config["c3_kernel"] is None  # "follows", not 5


@pytest.mark.parametrize("kwargs, layer", [
    ({"kernel_size": 7, "c5_kernel": 7}, "C5"),
    ({"stride": 2, "padding": 0, "c5_kernel": 5}, "C5"),
    ({"c3_kernel": 15}, "C3"),
    ({"stride": 4}, "C3"),
    ({"input_size": 8, "padding": 0}, "C3"),
    ({"pool_size": 5, "kernel_size": 3}, "S4"),
    ({"kernel_size": 40}, "C1"),
])
def test_invalid_architecture_names_the_layer(kwargs, layer):
    with pytest.raises(ValueError, match=f"^{layer}:"):
        LeNet5(**kwargs)


def test_bad_arguments_are_value_errors():
    with pytest.raises(ValueError, match="activation"):
        LeNet5(activation="swishy")
    with pytest.raises(ValueError, match="pooling"):
        LeNet5(pooling="median")
    with pytest.raises(ValueError, match="c1_channels"):
        LeNet5(c1_channels=0)
    with pytest.raises(ValueError, match="^c5_kernel must be at least 1, got 0$"):
        LeNet5(c5_kernel=0)
    with pytest.raises(ValueError, match="^c3_padding must be >= 0, got -1$"):
        LeNet5(c3_padding=-1)
    with pytest.raises(ValueError, match="c3_kernel must be a whole number"):
        LeNet5(c3_kernel="3")  # type: ignore[arg-type]


def test_registry():
    assert {"lenet5", "lenet5-modern", "mlp"} <= set(MODELS)
    modern = build_model("lenet5-modern")
    assert modern.config["batch_norm"] and modern.config["activation"] == "relu"
    rebuilt = build_model("lenet5-modern", **modern.config)
    assert count_parameters(rebuilt) == count_parameters(modern)
    with pytest.raises(LenetlabError, match="unknown model 'resnet'"):
        build_model("resnet")
    with pytest.raises(LenetlabError, match="takes no argument hidden_1"):
        build_model("lenet5", hidden_1=10)
    with pytest.raises(LenetlabError, match="C5"):
        build_model("lenet5", kernel_size=7, c5_kernel=7)
    assert build_model("lenet5", kernel_size=7).c5_size == 1  # C5 follows: 3x3 reaches it, kernel 3
