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
    Each convolution has its own settings: ``kernel_size``, ``stride`` and ``padding`` are C1's
    (``kernel_size`` is C3's kernel too unless ``c3_kernel`` is given); ``c3_kernel``, ``c3_stride``,
    ``c3_padding`` are C3's. C5's kernel *follows* by default (``c5_kernel=None``): it is the side of
    what reaches C5, so C5 stays fully connected to S4's maps and its output is 1x1, as in the 1998
    paper, whatever C1 and C3 do. A given ``c5_kernel`` fixes it (stride 1, no padding) and F6 then
    takes ``c5_channels * side * side`` inputs.
    An architecture whose feature maps would shrink below 1x1 raises ``ValueError`` naming the layer
    (an :class:`~lenetlab.errors.ArchitectureError`, which the command line words in French too).

    Examples
    --------
    >>> model = LeNet5()
    >>> sum(p.numel() for p in model.parameters())
    61706
    >>> model(torch.zeros(2, 1, 28, 28)).shape
    torch.Size([2, 10])
    >>> list(model.activations(torch.zeros(1, 1, 28, 28)))
    ['C1', 'S2', 'C3', 'S4', 'C5', 'F6', 'output']
    >>> strided = LeNet5(stride=2, padding=0)  # C1 12x12, S2 6x6, C3 2x2, S4 1x1: C5's kernel becomes 1
    >>> strided.feature_extractor.C5.conv.kernel_size, strided.c5_size
    ((1, 1), 1)
    >>> LeNet5(stride=2, padding=0, c5_kernel=5)
    Traceback (most recent call last):
    ...
    lenetlab.errors.ArchitectureError: C5: a 1x1 input with kernel 5, stride 1, padding 0 leaves no output (below 1x1); use a smaller kernel or stride, more padding, or a larger input
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
        c3_kernel: int | None = None,
        c3_stride: int = 1,
        c3_padding: int = 0,
        c5_kernel: int | None = None,
        pooling: str = "avg",
        pool_size: int = 2,
        activation: str = "tanh",
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"unknown pooling {pooling!r}; choose 'avg' or 'max'")
        # The registry type-checks only plain types, so the two "int or None" arguments are checked here.
        for name, value, meaning in (("c3_kernel", c3_kernel, "kernel_size"), ("c5_kernel", c5_kernel, "follows")):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                raise ValueError(f"{name} must be a whole number (leave it out for '{meaning}'), got {value!r}")
        check_positive(n_classes=n_classes, c1_channels=c1_channels, c3_channels=c3_channels, c5_channels=c5_channels,
                       f6_units=f6_units, kernel_size=kernel_size, stride=stride, c3_stride=c3_stride,
                       pool_size=pool_size, in_channels=in_channels, input_size=input_size)
        check_positive(**{k: v for k, v in (("c3_kernel", c3_kernel), ("c5_kernel", c5_kernel)) if v is not None})
        for name, value in (("padding", padding), ("c3_padding", c3_padding)):
            if value < 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        act = activation
        make_activation(act)  # validates the name before anything is built

        c3_kernel = kernel_size if c3_kernel is None else c3_kernel
        size = out_size(input_size, kernel_size, stride, padding, "C1")
        size = out_size(size, pool_size, pool_size, 0, "S2")
        size = out_size(size, c3_kernel, c3_stride, c3_padding, "C3")
        size = out_size(size, pool_size, pool_size, 0, "S4")
        # C5 "follows": its kernel covers all of S4's map, so a change to C1 or C3 cannot empty it.
        c5_kernel = size if c5_kernel is None else c5_kernel
        size = out_size(size, c5_kernel, 1, 0, "C5")
        self.c5_size = size

        pool = POOLINGS[pooling]
        self.feature_extractor = nn.Sequential(OrderedDict([
            ("C1", _conv(in_channels, c1_channels, kernel_size, act, stride=stride, padding=padding,
                         batch_norm=batch_norm)),
            ("S2", pool(pool_size, stride=pool_size)),
            ("C3", _conv(c1_channels, c3_channels, c3_kernel, act, stride=c3_stride, padding=c3_padding,
                         batch_norm=batch_norm)),
            ("S4", pool(pool_size, stride=pool_size)),
            ("C5", _conv(c3_channels, c5_channels, c5_kernel, act, batch_norm=batch_norm)),
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
