"""A trained model as a *graph*: per named stage (C1, S2, ... output) the operations it applies and their
weights, the form ``web/static/lenet.js`` evaluates in plain JavaScript.

The exported page (``export.py``) embeds it and the served page reads it from ``GET /api/graph``, so the
explanation of any value is computed by the same code in both. Batch norm is folded into the convolution
before it, so every model is made of six operations: convolution, linear, activation, pooling, flatten and
(inside the page) softmax; LeNet-5 of 1998 adds its RBF output (its other layers are written as exact
convolutions).
"""

from __future__ import annotations

import base64
from typing import Any

import numpy as np
import torch
from torch import nn

from .errors import LenetlabError
from .models import build_model
from .models.lenet1998 import (
    BACKGROUND,
    INK,
    SQUASH_A,
    SQUASH_S,
    PaperField,
    RBFOutput,
    ScaledTanh,
    SparseConv2d,
    Subsampling,
)

__all__ = ["model_graph", "stage_ops"]


# Activations the page implements (lenet.js: ACTIVATIONS), by their PyTorch module.
_ACTIVATIONS = {nn.Tanh: "tanh", nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.GELU: "gelu", nn.ELU: "elu",
                nn.LeakyReLU: "leaky_relu"}


def _floats(tensor: torch.Tensor) -> str:
    """float32 little-endian bytes, base64: 4 bytes a weight, the smallest exact form a page can decode."""
    return base64.b64encode(np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype="<f4").tobytes()).decode()


def _tensor(t: torch.Tensor) -> dict[str, Any]:
    return {"shape": list(t.shape), "data": _floats(t)}


def _fold_batch_norm(conv_w: torch.Tensor, conv_b: torch.Tensor | None, bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    """The convolution that computes conv followed by batch norm in eval mode (running statistics)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    bias = conv_b if conv_b is not None else torch.zeros_like(bn.running_mean)
    return conv_w * scale[:, None, None, None], (bias - bn.running_mean) * scale + bn.bias


def _conv_op(weight: torch.Tensor, bias: torch.Tensor, stride: int, padding: int) -> dict[str, Any]:
    return {"op": "conv", "weight": _tensor(weight), "bias": _tensor(bias), "stride": stride, "padding": padding,
            "batch_norm_folded": False}


def _lenet1998_op(m: nn.Module, following: nn.Module | None) -> tuple[dict[str, Any], int] | None:
    """LeNet-5 of 1998's layers as the page's operations, exactly: the 32x32 field folded into C1 (a
    convolution of bg + r x padded with bg is r W * x padded with 0, plus bg sum(W)), subsampling as the
    2x2 stride-2 convolution with one weight per map, the sparse C3 as its dense convolution, RBF units."""
    if isinstance(m, PaperField) and isinstance(following, nn.Conv2d) and following.padding == (0, 0):
        w, b = following.weight, following.bias
        return _conv_op(w * (INK - BACKGROUND), b + BACKGROUND * w.sum((1, 2, 3)), following.stride[0], 2), 2
    if isinstance(m, Subsampling):
        n = len(m.weight)
        return _conv_op(torch.diag(m.weight)[:, :, None, None].expand(n, n, 2, 2), m.bias, 2, 0), 1
    if isinstance(m, SparseConv2d):
        return _conv_op(m.dense_weight(), m.bias, 1, 0), 1
    if isinstance(m, ScaledTanh):
        return {"op": "act", "fn": "scaled_tanh", "A": SQUASH_A, "S": SQUASH_S}, 1  # A tanh(S a)
    if isinstance(m, RBFOutput):
        return {"op": "rbf", "weight": _tensor(m.prototypes)}, 1
    return None


def stage_ops(name: str, module: nn.Module, model_name: str) -> list[dict[str, Any]]:
    """The page's operations for one stage of the model (a Sequential is walked in order)."""
    children = list(module.children()) if isinstance(module, nn.Sequential) else [module]
    if any(isinstance(child, nn.Sequential) for child in children):  # a 1998 subsampling stage: (pool, act)
        children = [leaf for child in children for leaf in (child.children() if isinstance(child, nn.Sequential)
                                                            else [child])]
    ops: list[dict[str, Any]] = []
    i = 0
    while i < len(children):
        m = children[i]
        special = _lenet1998_op(m, children[i + 1] if i + 1 < len(children) else None)
        if special is not None:
            op, consumed = special
            ops.append(op)
            i += consumed
            continue
        if isinstance(m, nn.Conv2d):
            if m.groups != 1 or m.dilation != (1, 1) or m.padding_mode != "zeros" or len(set(m.stride)) != 1 \
                    or not isinstance(m.padding, tuple) or len(set(m.padding)) != 1:
                raise _cannot(model_name, name, "a convolution with groups, dilation or unequal strides")
            w, b = m.weight, m.bias
            if i + 1 < len(children) and isinstance(children[i + 1], nn.BatchNorm2d):
                w, b = _fold_batch_norm(w, b, children[i + 1])
                i += 1
            if b is None:
                b = torch.zeros(w.shape[0])
            ops.append({"op": "conv", "weight": _tensor(w), "bias": _tensor(b), "stride": m.stride[0],
                        "padding": m.padding[0], "batch_norm_folded": w is not m.weight})
        elif isinstance(m, nn.Linear):
            ops.append({"op": "linear", "weight": _tensor(m.weight), "bias": _tensor(m.bias)})
        elif type(m) in _ACTIVATIONS:
            op = {"op": "act", "fn": _ACTIVATIONS[type(m)]}
            if isinstance(m, nn.LeakyReLU):
                op["slope"] = m.negative_slope
            if isinstance(m, nn.ELU):
                op["alpha"] = m.alpha
            if isinstance(m, nn.GELU) and m.approximate != "none":
                raise _cannot(model_name, name, "GELU with the tanh approximation")
            ops.append(op)
        elif isinstance(m, nn.AvgPool2d | nn.MaxPool2d):
            size, stride = _pair(m.kernel_size), _pair(m.stride or m.kernel_size)
            if _pair(m.padding) != 0 or getattr(m, "ceil_mode", False):
                raise _cannot(model_name, name, "a pooling with padding or ceil_mode")
            ops.append({"op": "pool", "kind": "max" if isinstance(m, nn.MaxPool2d) else "avg", "size": size,
                        "stride": stride})
        elif isinstance(m, nn.Flatten):
            ops.append({"op": "flatten"})
        else:
            raise _cannot(model_name, name, f"a {type(m).__name__} layer")
        i += 1
    return ops


def _pair(value: Any) -> int:
    values = set(value) if isinstance(value, tuple | list) else {value}
    if len(values) != 1:
        raise LenetlabError(f"a pooling of unequal sizes {value} has no JavaScript version")
    return int(values.pop())


def _cannot(model_name: str, stage: str, what: str) -> LenetlabError:
    return LenetlabError(f"cannot export {model_name}: its stage {stage} uses {what}, which the page's JavaScript "
                         "does not implement; the exportable models are lenet5, lenet5-modern, lenet5-1998, mlp, linear, "
                         "fcnet, lenet1 and lenet4")


def model_graph(model: nn.Module, name: str = "model") -> dict[str, Any]:
    """The model as the page evaluates it: its stages, each a list of operations with float32 weights.

    Every constant the page needs comes with it, so that the JavaScript declares none of Python's values again:
    an operation's own (a leaky ReLU's slope, the 1998 scaled tanh's A and S) and, as ``arguments``, the
    model's constructor arguments with their defaults applied (``model.config``: the shape calculator's).

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> graph = model_graph(LeNet5().eval(), "lenet5")
    >>> [s["name"] for s in graph["stages"]]
    ['C1', 'S2', 'C3', 'S4', 'C5', 'flatten', 'F6', 'output']
    >>> [op["op"] for op in graph["stages"][0]["ops"]]
    ['conv', 'act']
    >>> graph["arguments"]["padding"], graph["arguments"]["c5_kernel"]
    (2, None)
    """
    model = model.eval()
    with torch.no_grad():
        stages = [{"name": stage_name, "ops": stage_ops(stage_name, module, name)} for stage_name, module in model.stages()]
    arguments = {key: list(value) if isinstance(value, tuple) else value
                 for key, value in getattr(model, "config", {}).items()}
    return {"format": "lenetlab-graph-1", "name": name, "input": [1, 28, 28], "arguments": arguments,
            "stages": stages}


def model_from_graph(graph: Any, path: str = "the network file") -> tuple[nn.Module, str]:
    """The model a graph describes, with its weights: the inverse of :func:`model_graph` (batch norm aside,
    which a graph holds folded). Reads what the page that trains downloads (``lenetlab import``); anything
    else is refused in one line that names what is wrong (``path`` names the file in it).

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> model = LeNet5(kernel_size=3).eval()
    >>> again, name = model_from_graph(model_graph(model, "lenet5"))
    >>> name, torch.equal(again(torch.ones(1, 1, 28, 28)), model(torch.ones(1, 1, 28, 28)))
    ('lenet5', True)
    """
    if not isinstance(graph, dict) or graph.get("format") != "lenetlab-graph-1":
        raise LenetlabError.of("error.graph_format", path=path)
    name, arguments, stages = graph.get("name"), graph.get("arguments"), graph.get("stages")
    if not isinstance(name, str) or not isinstance(arguments, dict) or not isinstance(stages, list):
        raise LenetlabError.of("error.graph_parts", path=path)
    model = build_model(name, **arguments).eval()
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    ops = [op for stage in stages if isinstance(stage, dict) for op in stage.get("ops", [])
           if isinstance(op, dict) and "weight" in op]
    if len(ops) != len(weighted) or any(isinstance(m, (nn.BatchNorm2d, RBFOutput)) for m in model.modules()):
        raise LenetlabError.of("error.graph_layers", path=path, model=name, found=len(ops), expected=len(weighted))
    with torch.no_grad():
        for module, op in zip(weighted, ops):
            for tensor, saved in ((module.weight, op.get("weight")), (module.bias, op.get("bias"))):
                tensor.copy_(torch.from_numpy(_decoded(saved, tuple(tensor.shape), name, path)))
    return model, name


def _decoded(saved: Any, shape: tuple[int, ...], name: str, path: str) -> np.ndarray:
    """A tensor of the graph (float32, base64) checked against the shape the model expects."""
    try:
        values = np.frombuffer(base64.b64decode(saved["data"], validate=True), dtype="<f4")
        ok = list(saved["shape"]) == list(shape) and values.size == int(np.prod(shape))
    except (KeyError, TypeError, ValueError):
        ok = False
    if not ok:
        raise LenetlabError.of("error.graph_tensor", path=path, shape="x".join(map(str, shape)), model=name)
    if not np.isfinite(values).all():
        raise LenetlabError.of("error.graph_not_numbers", path=path)
    return values.reshape(shape).astype(np.float32)
