"""Parameters, multiply-accumulates and output shape of every layer, for any registered model.

MACs count one multiply-add per weight use: a convolution producing ``C_out x H x W`` values from
``C_in`` maps with a ``k x k`` kernel does ``C_out*H*W*C_in*k*k``; a linear layer ``n_in*n_out``.
Pooling, biases and activations are not multiply-accumulates and count 0 (the usual convention).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from ..i18n import number, t
from ..models import FC_EQUAL_DEPTH_HIDDEN, FCNet, build_model, count_parameters
from ._common import named_stages


def _macs_of(module: nn.Module, output: torch.Tensor) -> int:
    if isinstance(module, nn.Conv2d):
        k = module.kernel_size[0] * module.kernel_size[1]
        return int(output[0].numel() * (module.in_channels // module.groups) * k)
    if isinstance(module, nn.Linear):
        return int(module.in_features * module.out_features)
    return 0


def layer_table(model: nn.Module, input_shape: tuple[int, int, int] = (1, 28, 28)) -> dict[str, Any]:
    """Per-layer parameters, MACs per image and output shape of ``model``, and the totals.

    Examples
    --------
    >>> table = layer_table(build_model("lenet5"))
    >>> [(r["layer"], r["parameters"], r["macs"]) for r in table["layers"]][:2]
    [('C1', 156, 117600), ('S2', 0, 0)]
    >>> table["total_parameters"], table["total_macs"]
    (61706, 416520)
    """
    was_training = model.training
    model.eval()
    macs: dict[str, int] = {}
    hooks = []
    stages = named_stages(model)
    for name, stage in stages:
        macs[name] = 0
        for leaf in stage.modules():
            if isinstance(leaf, (nn.Conv2d, nn.Linear)):
                def hook(mod: nn.Module, _inp: Any, out: torch.Tensor, name: str = name) -> None:
                    macs[name] += _macs_of(mod, out)
                hooks.append(leaf.register_forward_hook(hook))
    try:
        with torch.no_grad():
            outputs = model.activations(torch.zeros(1, *input_shape))
    finally:
        for h in hooks:
            h.remove()
        model.train(was_training)
    rows = []
    for name, stage in stages:
        rows.append({
            "layer": name,
            "type": _describe(stage),
            "output_shape": list(outputs[name].shape[1:]),
            "parameters": sum(p.numel() for p in stage.parameters()),
            "macs": macs[name],
        })
    return {"layers": rows, "total_parameters": count_parameters(model), "total_macs": sum(macs.values())}


def _describe(stage: nn.Module) -> str:
    leaves = [m for m in stage.modules() if not list(m.children())] or [stage]
    parts = []
    for m in leaves:
        if isinstance(m, nn.Conv2d):
            parts.append(f"conv {m.in_channels}->{m.out_channels} {m.kernel_size[0]}x{m.kernel_size[1]}"
                         + (f" s{m.stride[0]}" if m.stride[0] != 1 else "") + (f" p{m.padding[0]}" if m.padding[0] else ""))
        elif isinstance(m, nn.Linear):
            parts.append(f"linear {m.in_features}->{m.out_features}")
        elif isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
            kind = "avgpool" if isinstance(m, nn.AvgPool2d) else "maxpool"
            parts.append(f"{kind} {m.kernel_size}")
        else:
            parts.append(type(m).__name__.lower())
    return " + ".join(parts)


def default_models() -> dict[str, nn.Module]:
    """LeNet-5, the notebook's MLP, and the fully connected network of LeNet-5's depth."""
    return {
        "LeNet-5": build_model("lenet5"),
        "MLP (notebook)": build_model("mlp"),
        "FC, LeNet-5's depth": FCNet(hidden=FC_EQUAL_DEPTH_HIDDEN, activation="tanh"),
    }


def params_report(models: dict[str, nn.Module] | None = None) -> dict[str, Any]:
    """``layer_table`` for each model (default: :func:`default_models`), keyed by display name.

    Examples
    --------
    >>> report = params_report()
    >>> report["LeNet-5"]["total_parameters"], report["MLP (notebook)"]["total_parameters"]
    (61706, 105214)
    """
    models = default_models() if models is None else models
    return {name: layer_table(model) for name, model in models.items()}


_DISPLAY_KEYS = {"MLP (notebook)": "explore.model_mlp", "FC, LeNet-5's depth": "explore.model_fc_depth"}


def display_name(name: str, lang: str = "en") -> str:
    """A model's name as :func:`default_models` gives it, in ``lang`` (the JSON keeps the English one)."""
    return t(lang, _DISPLAY_KEYS[name]) if name in _DISPLAY_KEYS else name


def format_table(name: str, table: dict[str, Any], lang: str = "en") -> str:
    """The table as aligned text, one row per layer and a total, in ``lang`` (French numbers: 61 706).

    The type column is PyTorch's vocabulary (conv, avgpool, linear, tanh): the names the code uses.
    """
    def count(value: int) -> str:
        return number(value, lang)

    columns = [t(lang, f"explore.col_{c}") for c in ("layer", "type", "output", "parameters", "macs")]
    header = f"{columns[0]:<7} {columns[1]:<34} {columns[2]:<16} {columns[3]:>11} {columns[4]:>16}"
    lines = [display_name(name, lang), header, "-" * len(header)]
    for r in table["layers"]:
        shape = "x".join(str(d) for d in r["output_shape"])
        layer = t(lang, "page.layer.output") if r["layer"] == "output" else r["layer"]
        lines.append(f"{layer:<7} {r['type'][:34]:<34} {shape:<16} {count(r['parameters']):>11} {count(r['macs']):>16}")
    lines.append("-" * len(header))
    lines.append(f"{t(lang, 'explore.total'):<7} {'':<34} {'':<16} {count(table['total_parameters']):>11} "
                 f"{count(table['total_macs']):>16}")
    return "\n".join(lines)
