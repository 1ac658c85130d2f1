"""What every lenetlab model shares: named stages, ``forward`` and ``activations`` defined once,
and ``model.config`` (every constructor argument) recorded without each class repeating it.

A model is a sequence of named stages (C1, S2, ... or H1, H2, ..., output) held in one or two
``nn.Sequential`` containers (``feature_extractor`` and ``classifier``, or ``layers``), so that
checkpoints keep the parameter names the course notebook's modules have. A stage named
``flatten`` runs but is not reported.
"""

from __future__ import annotations

import functools
import inspect
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from ..errors import ArchitectureError

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "sigmoid": nn.Sigmoid,
    "gelu": nn.GELU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
}
POOLINGS = {"avg": nn.AvgPool2d, "max": nn.MaxPool2d}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; choose one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def check_positive(**values: int) -> None:
    for name, value in values.items():
        if value < 1:
            raise ArchitectureError.of("error.size_at_least_one", name=name, value=value)


def out_size(size: int, kernel: int, stride: int, padding: int, layer: str) -> int:
    """Output side of a convolution or pooling; an empty output is a ValueError naming the layer."""
    out = (size + 2 * padding - kernel) // stride + 1
    if size + 2 * padding < kernel or out < 1:
        raise ArchitectureError.of("error.no_output", layer=layer, size=size, kernel=kernel, stride=stride,
                                   padding=padding)
    return out


def dense(n_in: int, n_out: int, act: str) -> nn.Sequential:
    """A fully connected stage: ``linear`` then ``act``."""
    return nn.Sequential(OrderedDict([("linear", nn.Linear(n_in, n_out)), ("act", make_activation(act))]))


class StagedModel(nn.Module):
    """Base of every registered model.

    Subclasses build their stages into the containers named by ``stage_containers``. Their
    constructor arguments, defaults applied, are recorded as ``self.config`` (a subclass may
    normalise some of them by setting ``self.config`` itself; its values win).
    """

    stage_containers: tuple[str, ...] = ("feature_extractor", "classifier")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def recording_init(self: StagedModel, *args: Any, **kw: Any) -> None:
            bound = signature.bind(self, *args, **kw)
            bound.apply_defaults()
            init(self, *args, **kw)
            arguments = {k: v for k, v in bound.arguments.items() if k != "self"}
            self.config = {**arguments, **getattr(self, "config", {})}

        cls.__init__ = recording_init  # type: ignore[method-assign]

    def stages(self) -> list[tuple[str, nn.Module]]:
        """The named stages in order, ``flatten`` included."""
        return [item for part in self.stage_containers for item in getattr(self, part).named_children()]

    def stage(self, name: str) -> nn.Module | None:
        """The stage called ``name`` (``"C1"``, ``"H1"``...), or ``None`` when the model has none."""
        return dict(self.stages()).get(name)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for _, stage in self.stages():
            x = stage(x)
        return x

    def activations(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The output of every named stage for a batch ``x``, in order (``output`` last)."""
        out: dict[str, torch.Tensor] = {}
        for name, stage in self.stages():
            x = stage(x)
            if name != "flatten":
                out[name] = x
        return out
