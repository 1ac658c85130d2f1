"""The registered models and how to build one by name.

Every model is a :class:`~lenetlab.models.base.StagedModel`: named stages, one ``forward`` and one
``activations``, and ``model.config`` holding its constructor arguments (what checkpoints store).
The registry itself (names, classes, defaults) is :mod:`lenetlab.registry`, which imports no torch.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..errors import LenetlabError
from ..registry import MODELS, check_model_args, model_spec
from .base import StagedModel
from .dense import FC_EQUAL_DEPTH_HIDDEN, MLP, FCNet, LinearClassifier, parse_hidden
from .lenet import LeNet1, LeNet4, LeNet5
from .lenet1998 import LeNet5_1998

# 25 million parameters (100 MB of float32) is 400 times LeNet-5 and 17 times the largest network
# the explorations train; a checkpoint or a sweep asking for more is refused before allocating.
MAX_PARAMETERS = 25_000_000


def build_model(name: str, **kwargs: Any) -> StagedModel:
    """Build a registered model by name; unknown names and invalid architectures raise :class:`LenetlabError`.

    Examples
    --------
    >>> build_model("lenet5", activation="relu").config["activation"]
    'relu'
    >>> build_model("lenet5-modern").config["pooling"]
    'max'
    >>> sorted(MODELS)[:3]
    ['fcnet', 'lenet1', 'lenet4']
    """
    spec = model_spec(name)
    check_model_args(name, kwargs, flag="argument")
    arguments = {**spec.defaults, **kwargs}
    try:
        # Sized first on the meta device (no memory, no random numbers drawn), so that arguments
        # asking for gigabytes are refused before anything is allocated.
        with torch.device("meta"):
            size = count_parameters(spec.constructor(**arguments))
        if size > MAX_PARAMETERS:
            raise LenetlabError(f"{name} with these arguments would have {size:,} parameters, over the "
                                f"{MAX_PARAMETERS:,} lenetlab builds; choose smaller layers")
        return spec.constructor(**arguments)
    except (TypeError, ValueError) as exc:
        raise LenetlabError.of("error.invalid_architecture", name=name, reason=exc) from None


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters.

    Examples
    --------
    >>> count_parameters(LeNet5()), count_parameters(MLP())
    (61706, 105214)
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


__all__ = ["FC_EQUAL_DEPTH_HIDDEN", "FCNet", "LeNet1", "LeNet4", "LeNet5", "LeNet5_1998", "LinearClassifier", "MLP", "MODELS", "StagedModel", "build_model",
           "count_parameters", "parse_hidden"]
