"""The model registry: registry name -> where the class lives, its defaults, a one-line description.

Torch-free on purpose: the command line lists the models and builds ``--help`` from this table
without importing PyTorch; the class is imported only when a model is built. Checkpoints store
the registry name and ``model.config`` (every constructor argument), so that ``evaluate``,
``predict``, ``explore``, ``report`` and ``serve`` rebuild exactly the trained model.
"""

from __future__ import annotations

import importlib
import inspect
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .constraints import PLAIN_TYPES, is_a, type_words
from .errors import LenetlabError, Number


@dataclass(frozen=True)
class ModelSpec:
    """One registered model: ``target`` is ``"module:Class"``; ``defaults`` override the class's own."""

    target: str
    description: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def constructor(self) -> Any:
        module, _, name = self.target.partition(":")
        return getattr(importlib.import_module(module), name)

    def argument_names(self) -> list[str]:
        """The keyword arguments the constructor takes (what ``--arch KEY=VALUE`` accepts)."""
        params = inspect.signature(self.constructor).parameters
        return [n for n, p in params.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]

    def argument_types(self) -> dict[str, type]:
        """The plain type (int, float, str, bool) of each argument that has one (``int | None``: int)."""
        hints = typing.get_type_hints(self.constructor.__init__)
        return {name: _plain(hint) for name, hint in hints.items() if _plain(hint) in PLAIN_TYPES}

    def optional_arguments(self) -> set[str]:
        """The arguments typed ``X | None``: None is one of their values (LeNet-5's c5_kernel: "follows")."""
        hints = typing.get_type_hints(self.constructor.__init__)
        return {name for name, hint in hints.items() if type(None) in typing.get_args(hint)}


MODELS: dict[str, ModelSpec] = {
    "lenet5": ModelSpec("lenetlab.models.lenet:LeNet5",
                        "LeNet-5 exactly as the notebook (tanh, average pooling), 61,706 parameters"),
    "lenet5-modern": ModelSpec("lenetlab.models.lenet:LeNet5", "LeNet-5 widths with ReLU, max pooling and batch norm",
                               {"activation": "relu", "pooling": "max", "batch_norm": True}),
    "mlp": ModelSpec("lenetlab.models.dense:MLP", "the notebook's MLP 784-120-84-10 with ReLU, 105,214 parameters"),
    "linear": ModelSpec("lenetlab.models.dense:LinearClassifier",
                        "a linear classifier, pixels to the 10 outputs (1998: 12.0 % error), 7,850 parameters"),
    "fcnet": ModelSpec("lenetlab.models.dense:FCNet", "a fully connected network of any widths (--arch hidden=300,100), tanh"),
    "lenet5-1998": ModelSpec("lenetlab.models.lenet1998:LeNet5_1998",
                             "LeNet-5 as published in 1998: 32x32 field, trainable subsampling, sparse C3, "
                             "scaled tanh, fixed RBF outputs, 60,000 parameters"),
    "lenet1": ModelSpec("lenetlab.models.lenet:LeNet1", "LeNet-1: 4 and 12 maps of 5x5, average pooling, 3,246 parameters"),
    "lenet4": ModelSpec("lenetlab.models.lenet:LeNet4",
                        "LeNet-4: 4 and 16 maps, 120 fully connected units, 51,050 parameters"),
}


def model_spec(name: str) -> ModelSpec:
    """The registry entry of ``name``; an unknown name is a one-line error listing the known ones."""
    if name not in MODELS:
        raise LenetlabError.of("error.unknown_model", name=name, choices=", ".join(MODELS))
    return MODELS[name]


def check_model_args(name: str, args: Mapping[str, Any], flag: str = "--arch", exclude: tuple[str, ...] = ()) -> None:
    """Refuse an argument the model's constructor does not take, naming the ones it does.

    Examples
    --------
    >>> check_model_args("lenet5", {"kernel_size": 3})
    >>> check_model_args("mlp", {"kernel_size": 3})
    Traceback (most recent call last):
    ...
    lenetlab.errors.LenetlabError: mlp takes no --arch kernel_size; it takes: hidden_1, hidden_2, n_classes, input_size, in_channels, activation
    """
    spec = model_spec(name)
    known = [k for k in spec.argument_names() if k not in exclude]
    unknown = [k for k in args if k not in known]
    if unknown:
        raise LenetlabError.of("error.model_argument", model=name, flag=flag, unknown=", ".join(unknown),
                               known=", ".join(known))
    _check_sizes(name, args, flag)
    optional = spec.optional_arguments()
    for key, kind in spec.argument_types().items():
        value = args.get(key)
        if key in optional and value is None:
            continue
        if key in args and not is_a(value, kind):
            raise LenetlabError.of("error.arch_type", model=name, flag=flag, key=key,
                                   kind=type_words(kind), got=repr(value))


# Bounds on what a model's arguments may ask for, checked before anything is built: the parameter cap
# (checkpoint.py, on the meta device) bounds weights, but not the confusion matrix of n_classes, nor the
# time to build 100,000 layers of one unit each.
MAX_CLASSES = 1000  # far above any MNIST-style data set (EMNIST has 62)
MAX_WIDTH = 1 << 24  # channels, units, a kernel's side (the parameter cap then bounds their products)
MAX_LAYERS = 64


def _check_sizes(name: str, args: Mapping[str, Any], flag: str) -> None:
    """Refuse absurd sizes in ``args`` (a damaged checkpoint, a typo) in one line.

    >>> _check_sizes("fcnet", {"hidden": [1] * 100_000}, "--arch")
    Traceback (most recent call last):
    ...
    lenetlab.errors.LenetlabError: fcnet: --arch hidden has 100000 layers; at most 64
    """
    for key, value in args.items():
        if key == "n_classes" and isinstance(value, int) and not 1 <= value <= MAX_CLASSES:
            raise LenetlabError.of("error.arch_classes", model=name, flag=flag, value=value, most=MAX_CLASSES)
        values = value if isinstance(value, list | tuple) else [value]
        if len(values) > MAX_LAYERS:
            raise LenetlabError.of("error.arch_layers", model=name, flag=flag, key=key, n=len(values), most=MAX_LAYERS)
        if any(is_a(v, int) and abs(v) > MAX_WIDTH for v in values):
            raise LenetlabError.of("error.arch_too_wide", model=name, flag=flag, key=key, value=repr(value),
                                   most=Number(MAX_WIDTH, "d"))


def _plain(hint: Any) -> Any:
    """``int | None`` -> int; any other hint unchanged."""
    kinds = [k for k in typing.get_args(hint) if k is not type(None)]
    return kinds[0] if type(None) in typing.get_args(hint) and len(kinds) == 1 else hint
