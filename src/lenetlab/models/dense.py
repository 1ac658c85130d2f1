"""The fully connected networks: the notebook's MLP, the paper's linear classifier and FC networks."""

from __future__ import annotations

from collections import OrderedDict

import torch  # noqa: F401 - the doctests below use it
from torch import nn

from .base import StagedModel, check_positive, dense, make_activation

# A fully connected network as deep as LeNet-5 (the course's comparison: explore compare, the page that trains):
# each layer outputs as many numbers as the LeNet-5 stage it stands for, S2 6x14x14 = 1176, S4 16x5x5 = 400,
# C5 120, F6 84. Same depth (5 weight layers), no weight sharing.
FC_EQUAL_DEPTH_HIDDEN = (1176, 400, 120, 84)


def parse_hidden(value: str | int | list[int] | tuple[int, ...]) -> list[int]:
    """Hidden-layer widths from ``"300,100"`` (``--arch hidden=300,100``), an int or a sequence.

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


class _Dense(StagedModel):
    """Flatten the image, then the named stages of ``layers``."""

    stage_containers = ("layers",)

    def _build(self, n_inputs: int, widths: list[int], n_classes: int, act: str) -> None:
        stages: list[tuple[str, nn.Module]] = [("flatten", nn.Flatten())]
        for i, width in enumerate(widths, 1):
            stages.append((f"H{i}", dense(n_inputs, width, act)))
            n_inputs = width
        stages.append(("output", nn.Linear(n_inputs, n_classes)))
        self.layers = nn.Sequential(OrderedDict(stages))


class MLP(_Dense):
    """The notebook's multi-layer perceptron, completed: 784 -> 120 -> 84 -> 10 with ReLU, 105,214 parameters.

    Examples
    --------
    >>> count = sum(p.numel() for p in MLP().parameters())
    >>> count, MLP()(torch.zeros(2, 1, 28, 28)).shape
    (105214, torch.Size([2, 10]))
    """

    def __init__(self, hidden_1: int = 120, hidden_2: int = 84, n_classes: int = 10, *, input_size: int = 28,
                 in_channels: int = 1, activation: str = "relu") -> None:
        super().__init__()
        check_positive(hidden_1=hidden_1, hidden_2=hidden_2, n_classes=n_classes, input_size=input_size,
                       in_channels=in_channels)
        make_activation(activation)
        self._build(in_channels * input_size * input_size, [hidden_1, hidden_2], n_classes, activation)


class LinearClassifier(_Dense):
    """The paper's linear classifier: every pixel feeds each of the 10 outputs, 7,850 parameters.

    Examples
    --------
    >>> sum(p.numel() for p in LinearClassifier().parameters())
    7850
    """

    def __init__(self, n_classes: int = 10, *, input_size: int = 28, in_channels: int = 1) -> None:
        super().__init__()
        check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        self._build(in_channels * input_size**2, [], n_classes, "tanh")


class FCNet(_Dense):
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

    def __init__(self, hidden: str | int | list[int] | tuple[int, ...] = (300, 100), n_classes: int = 10, *,
                 input_size: int = 28, in_channels: int = 1, activation: str = "tanh") -> None:
        widths = parse_hidden(hidden)
        super().__init__()
        self.config = {"hidden": widths}  # a list, not a tuple, so config.json and the checkpoint agree
        check_positive(n_classes=n_classes, input_size=input_size, in_channels=in_channels)
        for i, width in enumerate(widths, 1):
            check_positive(**{f"hidden width {i}": width})
        make_activation(activation)
        self._build(in_channels * input_size * input_size, widths, n_classes, activation)
