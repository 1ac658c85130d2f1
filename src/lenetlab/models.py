"""LeNet-5 and the multi-layer perceptron of the course notebook, and a name -> class registry.

Each model's constructor arguments are its whole configuration: checkpoints store the model's
registry name and ``model.config`` so that ``evaluate``, ``predict`` and ``explore`` rebuild it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from .errors import LenetlabError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}
POOLINGS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _out_size(size: int, kernel: int, stride: int, padding: int, layer: str) -> int:
    out = (size + 2 * padding - kernel) // stride + 1
    if size + 2 * padding < kernel or out < 1:
        raise ValueError(
            f"{layer}: a {size}x{size} input with kernel {kernel}, stride {stride}, padding {padding} "
            f"leaves no output (below 1x1); use a smaller kernel or stride, more padding, or a larger input"
        )
    return out


class LeNet5(nn.Module):
    """LeNet-5 as the course notebook specifies it (LeCun et al., 1998), 61,706 parameters.

    ``feature_extractor``: C1 Conv(1->6, 5x5, stride 1, padding 2) + tanh, S2 AvgPool(2x2, stride 2),
    C3 Conv(6->16, 5x5) + tanh, S4 AvgPool(2x2, stride 2), C5 Conv(16->120, 5x5) + tanh, Flatten.
    ``classifier``: F6 Linear(120->84) + tanh, output Linear(84->n_classes).

    The notebook writes "padding de 2" for S2; a 2x2 pooling cannot take padding 2 (PyTorch
    refuses padding above half the kernel), so it means stride 2, which is what LeNet-5 uses.

    Every choice the notebook invites exploring is an argument, its default the notebook's value.
    An architecture whose feature maps would shrink below 1x1 raises ``ValueError`` naming the layer.

    Examples
    --------
    >>> model = LeNet5()
    >>> sum(p.numel() for p in model.parameters())
    61706
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> list(model.activations(torch.zeros(1, 1, 28, 28)))
    ['C1', 'S2', 'C3', 'S4', 'C5', 'F6', 'output']
    """

    def __init__(
        self,
        n_classes: int = 10,
        *,
        in_channels: int = 1,
        input_size: int = 28,
        c1_channels: int = 6,
        c3_channels: int = 16,
        c5_channels: int = 120,
        f6_units: int = 84,
        kernel_size: int = 5,
        stride: int = 1,
        padding: int = 2,
        pooling: str = "avg",
        pool_size: int = 2,
        activation: str = "tanh",
        batch_norm: bool = False,
    ) -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.config: dict[str, Any] = config
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose 'avg' or 'max'")
        for name, value in (("n_classes", n_classes), ("c1_channels", c1_channels), ("c3_channels", c3_channels),
                            ("c5_channels", c5_channels), ("f6_units", f6_units), ("kernel_size", kernel_size),
                            ("stride", stride), ("pool_size", pool_size), ("in_channels", in_channels),
                            ("input_size", input_size)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        _activation(activation)  # validate the name before building anything

        size = _out_size(input_size, kernel_size, stride, padding, "C1")
        size = _out_size(size, pool_size, pool_size, 0, "S2")
        size = _out_size(size, kernel_size, 1, 0, "C3")
        size = _out_size(size, pool_size, pool_size, 0, "S4")
        size = _out_size(size, kernel_size, 1, 0, "C5")
        self.c5_size = size

        def conv_block(cin: int, cout: int, k: int, s: int, p: int) -> list[tuple[str, nn.Module]]:
            layers: list[tuple[str, nn.Module]] = [("conv", nn.Conv2d(cin, cout, k, stride=s, padding=p, bias=not batch_norm))]
            if batch_norm:
                layers.append(("bn", nn.BatchNorm2d(cout)))
            layers.append(("act", _activation(activation)))
            return layers

        pool = POOLINGS[pooling]
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", nn.Sequential(OrderedDict(conv_block(in_channels, c1_channels, kernel_size, stride, padding)))),
            ("S2", pool(pool_size, stride=pool_size)),
            ("C3", nn.Sequential(OrderedDict(conv_block(c1_channels, c3_channels, kernel_size, 1, 0)))),
            ("S4", pool(pool_size, stride=pool_size)),
            ("C5", nn.Sequential(OrderedDict(conv_block(c3_channels, c5_channels, kernel_size, 1, 0)))),
            ("flatten", nn.Flatten()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("F6", nn.Sequential(OrderedDict([("linear", nn.Linear(c5_channels * size * size, f6_units)),
                                              ("act", _activation(activation))]))),
            ("output", nn.Linear(f6_units, n_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feature_extractor(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named layer (C1, S2, C3, S4, C5, F6, output) for a batch ``x``."""
        out: dict[str, torch.Tensor] = {}
        for name, layer in self.feature_extractor.named_children():
            x = layer(x)
            if name != "flatten":
                out[name] = x
        for name, layer in self.classifier.named_children():
            x = layer(x)
            out[name] = x
        return out


class MLP(nn.Module):
    """The notebook's multi-layer perceptron, completed: 784 -> 120 -> 84 -> 10 with ReLU, 105,214 parameters.

    Examples
    --------
    >>> model = MLP()
    >>> sum(p.numel() for p in model.parameters())
    105214
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    """

    def __init__(
        self,
        hidden_1: int = 120,
        hidden_2: int = 84,
        n_classes: int = 10,
        *,
        input_size: int = 28,
        in_channels: int = 1,
        activation: str = "relu",
    ) -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.config: dict[str, Any] = config
        for name, value in (("hidden_1", hidden_1), ("hidden_2", hidden_2), ("n_classes", n_classes),
                            ("input_size", input_size), ("in_channels", in_channels)):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, got {value}")
        n_inputs = in_channels * input_size * input_size
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(OrderedDict([
            ("H1", nn.Sequential(OrderedDict([("linear", nn.Linear(n_inputs, hidden_1)), ("act", _activation(activation))]))),
            ("H2", nn.Sequential(OrderedDict([("linear", nn.Linear(hidden_1, hidden_2)), ("act", _activation(activation))]))),
            ("output", nn.Linear(hidden_2, n_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.flatten(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named layer (H1, H2, output) for a batch ``x``."""
        out: dict[str, torch.Tensor] = {}
        x = self.flatten(x)
        for name, layer in self.layers.named_children():
            x = layer(x)
            out[name] = x
        return out


def _check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")


def parse_hidden(value: str | int | list[int] | tuple[int, ...]) -> list[int]:
    """Hidden-layer widths from ``"300,100"`` (the ``--hidden`` flag), an int or a sequence.

    Examples
    --------
    >>> parse_hidden("300,100")
    [300, 100]
    >>> parse_hidden("")
    []
    """
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return [int(p) for p in parts]
        except ValueError:
            raise ValueError(f"hidden widths must be integers separated by commas, like 300,100; got {value!r}") from None
    return [int(v) for v in value]


def _stage_activations(model: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Outputs of the named children of ``feature_extractor`` then ``classifier`` (flatten skipped)."""
    out: dict[str, torch.Tensor] = {}
    for part in ("feature_extractor", "classifier"):
        for name, layer in getattr(model, part).named_children():
            x = layer(x)
            if name != "flatten":
                out[name] = x
    return out


class LinearClassifier(nn.Module):
    """The paper's linear classifier: every pixel feeds each of the 10 outputs, 7,850 parameters.

    Examples
    --------
    >>> sum(p.numel() for p in LinearClassifier().parameters())
    7850
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1) -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.config: dict[str, Any] = config
        _check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        self.flatten = nn.Flatten()
        self.layers = nn.Sequential(OrderedDict([("output", nn.Linear(in_channels * input_size**2, n_classes))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.flatten(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output layer's scores, under the name ``output``."""
        return {"output": self.forward(x)}


class FCNet(nn.Module):
    """A fully connected network of any widths: ``FCNet(hidden=(300, 100))`` is the paper's 784-300-100-10.

    Hidden layers are named H1, H2, ...; ``activations`` returns each and ``output``. tanh by
    default, as the 1998 networks (the notebook's ``MLP`` uses ReLU).

    Examples
    --------
    >>> model = FCNet(hidden=(300, 100))
    >>> sum(p.numel() for p in model.parameters())
    266610
    >>> list(model.activations(torch.zeros(1, 1, 28, 28)))
    ['H1', 'H2', 'output']
    """

    def __init__(
        self,
        hidden: str | int | list[int] | tuple[int, ...] = (300, 100),
        n_classes: int = 10,
        *,
        input_size: int = 28,
        in_channels: int = 1,
        activation: str = "tanh",
    ) -> None:
        widths = parse_hidden(hidden)
        super().__init__()
        # a list, not a tuple, so config.json and the checkpoint hold the same value
        self.config: dict[str, Any] = {"hidden": widths, "n_classes": n_classes, "input_size": input_size,
                                       "in_channels": in_channels, "activation": activation}
        _check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        for i, width in enumerate(widths, 1):
            _check_positive(**{f"hidden width {i}": width})
        _activation(activation)
        self.flatten = nn.Flatten()
        layers: list[tuple[str, nn.Module]] = []
        n_in = in_channels * input_size * input_size
        for i, width in enumerate(widths, 1):
            layers.append((f"H{i}", nn.Sequential(OrderedDict([("linear", nn.Linear(n_in, width)),
                                                                ("act", _activation(activation))]))))
            n_in = width
        layers.append(("output", nn.Linear(n_in, n_classes)))
        self.layers = nn.Sequential(OrderedDict(layers))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.flatten(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named layer (H1, H2, ..., output) for a batch ``x``."""
        out: dict[str, torch.Tensor] = {}
        x = self.flatten(x)
        for name, layer in self.layers.named_children():
            x = layer(x)
            out[name] = x
        return out


def _conv_stage(cin: int, cout: int, kernel: int, padding: int, activation: str) -> nn.Sequential:
    return nn.Sequential(OrderedDict([("conv", nn.Conv2d(cin, cout, kernel, padding=padding)),
                                      ("act", _activation(activation))]))


class LeNet1(nn.Module):
    """LeNet-1 (LeCun et al. 1998, Fig. 9: 1.7 % test error), 3,246 parameters.

    C1: 4 maps 5x5 on the 28x28 image (24x24), S2: 2x2 average pooling (12x12), C3: 12 maps 5x5
    (8x8), S4 (4x4), then straight to the 10 outputs. The original connected C3 to only some of the
    S2 maps (about 2,600 parameters); here C3 sees all four, as is usual today.

    Examples
    --------
    >>> model = LeNet1()
    >>> sum(p.numel() for p in model.parameters())
    3246
    >>> list(model.activations(torch.zeros(1, 1, 28, 28)))
    ['C1', 'S2', 'C3', 'S4', 'output']
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1,
                 activation: str = "tanh") -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.config: dict[str, Any] = config
        _check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        _activation(activation)
        size = _out_size(input_size, 5, 1, 0, "C1")
        size = _out_size(size, 2, 2, 0, "S2")
        size = _out_size(size, 5, 1, 0, "C3")
        size = _out_size(size, 2, 2, 0, "S4")
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", _conv_stage(in_channels, 4, 5, 0, activation)),
            ("S2", nn.AvgPool2d(2, stride=2)),
            ("C3", _conv_stage(4, 12, 5, 0, activation)),
            ("S4", nn.AvgPool2d(2, stride=2)),
            ("flatten", nn.Flatten()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([("output", nn.Linear(12 * size * size, n_classes))]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feature_extractor(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named layer (C1, S2, C3, S4, output) for a batch ``x``."""
        return _stage_activations(self, x)


class LeNet4(nn.Module):
    """LeNet-4 (LeCun et al. 1998, Fig. 9: 1.1 % test error), 51,050 parameters.

    LeNet-5 without F6 and with 4 maps in C1: C1 4 maps 5x5 (padding 2, as the paper's 32x32
    input), S2, C3 16 maps 5x5, S4, F5 120 units fully connected to S4, output. The original
    connected C3 sparsely (about 17,000 parameters); here every connection is kept.

    Examples
    --------
    >>> model = LeNet4()
    >>> sum(p.numel() for p in model.parameters())
    51050
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1,
                 activation: str = "tanh") -> None:
        config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__()
        self.config: dict[str, Any] = config
        _check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        _activation(activation)
        size = _out_size(input_size, 5, 1, 2, "C1")
        size = _out_size(size, 2, 2, 0, "S2")
        size = _out_size(size, 5, 1, 0, "C3")
        size = _out_size(size, 2, 2, 0, "S4")
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", _conv_stage(in_channels, 4, 5, 2, activation)),
            ("S2", nn.AvgPool2d(2, stride=2)),
            ("C3", _conv_stage(4, 16, 5, 0, activation)),
            ("S4", nn.AvgPool2d(2, stride=2)),
            ("flatten", nn.Flatten()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("F5", nn.Sequential(OrderedDict([("linear", nn.Linear(16 * size * size, 120)),
                                              ("act", _activation(activation))]))),
            ("output", nn.Linear(120, n_classes)),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.feature_extractor(x))

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named layer (C1, S2, C3, S4, F5, output) for a batch ``x``."""
        return _stage_activations(self, x)


def _lenet5_modern(**kwargs: Any) -> LeNet5:
    """LeNet-5's widths with today's habits: ReLU, max pooling, batch norm."""
    defaults = {"activation": "relu", "pooling": "max", "batch_norm": True}
    return LeNet5(**{**defaults, **kwargs})


# Registry: name -> (constructor, one-line description). Checkpoints store the name and model.config.
MODELS: dict[str, tuple[Any, str]] = {
    "lenet5": (LeNet5, "LeNet-5 exactly as the notebook (tanh, average pooling), 61,706 parameters"),
    "lenet5-modern": (_lenet5_modern, "LeNet-5 widths with ReLU, max pooling and batch norm"),
    "mlp": (MLP, "the notebook's MLP 784-120-84-10 with ReLU, 105,214 parameters"),
    "linear": (LinearClassifier, "a linear classifier, pixels to the 10 outputs (1998: 12.0 % error), 7,850 parameters"),
    "fcnet": (FCNet, "a fully connected network of any widths (--hidden 300,100), tanh"),
    "lenet1": (LeNet1, "LeNet-1: 4 and 12 maps of 5x5, average pooling, 3,246 parameters"),
    "lenet4": (LeNet4, "LeNet-4: 4 and 16 maps, 120 fully connected units, 51,050 parameters"),
}


def build_model(name: str, **kwargs: Any) -> nn.Module:
    """Build a registered model by name; unknown names and invalid architectures raise :class:`LenetlabError`.

    Examples
    --------
    >>> build_model("lenet5", activation="relu").config["activation"]
    'relu'
    >>> sorted(MODELS)[:3]
    ['fcnet', 'lenet1', 'lenet4']
    """
    if name not in MODELS:
        raise LenetlabError(f"unknown model {name!r}; choose one of: {', '.join(MODELS)}")
    constructor = MODELS[name][0]
    try:
        return constructor(**kwargs)
    except TypeError as exc:
        raise LenetlabError(f"model {name!r} does not take those arguments ({exc}); see `lenetlab train --help`") from None
    except ValueError as exc:
        raise LenetlabError(f"invalid {name} architecture: {exc}") from None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Examples
    --------
    >>> count_parameters(LeNet5()), count_parameters(MLP())
    (61706, 105214)
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
