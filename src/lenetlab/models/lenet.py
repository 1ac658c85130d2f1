"""The convolutional networks: LeNet-5 as the course notebook specifies it, and the paper's LeNet-1 and LeNet-4."""

from __future__ import annotations

from collections import OrderedDict

import torch  # noqa: F401 - the doctests below use it
from torch import nn

from .base import POOLINGS, StagedModel, check_positive, dense, make_activation, out_size


def _conv(cin: int, cout: int, kernel: int, act: str, *, stride: int = 1, padding: int = 0,
          batch_norm: bool = False) -> nn.Sequential:
    """A convolution stage: ``conv`` (no bias before batch norm), optional ``bn``, then ``act``."""
    layers: list[tuple[str, nn.Module]] = [
        ("conv", nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=not batch_norm))]
    if batch_norm:
        layers.append(("bn", nn.BatchNorm2d(cout)))
    layers.append(("act", make_activation(act)))
    return nn.Sequential(OrderedDict(layers))


class LeNet5(StagedModel):
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
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose 'avg' or 'max'")
        check_positive(n_classes=n_classes, c1_channels=c1_channels, c3_channels=c3_channels, c5_channels=c5_channels,
                       f6_units=f6_units, kernel_size=kernel_size, stride=stride, pool_size=pool_size,
                       in_channels=in_channels, input_size=input_size)
        if padding < 0:
            raise ValueError(f"padding must be >= 0, got {padding}")
        act = activation
        make_activation(act)  # validates the name before anything is built

        size = out_size(input_size, kernel_size, stride, padding, "C1")
        size = out_size(size, pool_size, pool_size, 0, "S2")
        size = out_size(size, kernel_size, 1, 0, "C3")
        size = out_size(size, pool_size, pool_size, 0, "S4")
        size = out_size(size, kernel_size, 1, 0, "C5")
        self.c5_size = size

        pool = POOLINGS[pooling]
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", _conv(in_channels, c1_channels, kernel_size, act, stride=stride, padding=padding,
                         batch_norm=batch_norm)),
            ("S2", pool(pool_size, stride=pool_size)),
            ("C3", _conv(c1_channels, c3_channels, kernel_size, act, batch_norm=batch_norm)),
            ("S4", pool(pool_size, stride=pool_size)),
            ("C5", _conv(c3_channels, c5_channels, kernel_size, act, batch_norm=batch_norm)),
            ("flatten", nn.Flatten()),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("F6", dense(c5_channels * size * size, f6_units, act)),
            ("output", nn.Linear(f6_units, n_classes)),
        ]))


def _small_trunk(in_channels: int, c1_maps: int, c3_maps: int, c1_padding: int, act: str, *, n_classes: int,
                 input_size: int) -> tuple[nn.Sequential, int]:
    """C1 (5x5) - S2 - C3 (5x5) - S4 - flatten, the trunk LeNet-1 and LeNet-4 share, and S4's side."""
    check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
    make_activation(act)
    size = out_size(input_size, 5, 1, c1_padding, "C1")
    size = out_size(size, 2, 2, 0, "S2")
    size = out_size(size, 5, 1, 0, "C3")
    size = out_size(size, 2, 2, 0, "S4")
    return nn.Sequential(OrderedDict([
        ("C1", _conv(in_channels, c1_maps, 5, act, padding=c1_padding)),
        ("S2", nn.AvgPool2d(2, stride=2)),
        ("C3", _conv(c1_maps, c3_maps, 5, act)),
        ("S4", nn.AvgPool2d(2, stride=2)),
        ("flatten", nn.Flatten()),
    ])), size


class LeNet1(StagedModel):
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
        super().__init__()
        self.feature_extractor, size = _small_trunk(in_channels, 4, 12, 0, activation, n_classes=n_classes,
                                                    input_size=input_size)
        self.classifier = nn.Sequential(OrderedDict([("output", nn.Linear(12 * size * size, n_classes))]))


class LeNet4(StagedModel):
    """LeNet-4 (LeCun et al. 1998, Fig. 9: 1.1 % test error), 51,050 parameters.

    LeNet-5 without F6 and with 4 maps in C1: C1 4 maps 5x5 (padding 2, as the paper's 32x32
    input), S2, C3 16 maps 5x5, S4, F5 120 units fully connected to S4, output. The original
    connected C3 sparsely (about 17,000 parameters); here every connection is kept.

    Examples
    --------
    >>> [name for name, _ in LeNet4().stages()]
    ['C1', 'S2', 'C3', 'S4', 'flatten', 'F5', 'output']
    >>> sum(p.numel() for p in LeNet4().parameters())
    51050
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1,
                 activation: str = "tanh") -> None:
        super().__init__()
        self.feature_extractor, size = _small_trunk(in_channels, 4, 16, 2, activation, n_classes=n_classes,
                                                    input_size=input_size)
        self.classifier = nn.Sequential(OrderedDict([
            ("F5", dense(16 * size * size, 120, activation)),
            ("output", nn.Linear(120, n_classes)),
        ]))
