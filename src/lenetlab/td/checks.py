"""The checks a student runs after each exercise of the TD: one short verdict with a hint, never a traceback.

Each check prints one line (« ✅ Bravo : ... » or « ❌ ... »), returns a :class:`CheckResult`, appends
it to :data:`results` and, when ``LENETLAB_TD_LOG`` names a file, appends a JSON line to it. The checks of
the networks are here; those of the training loops (4 to 7) live in ``_training`` and are re-exported here.

>>> from lenetlab import td
>>> td.set_language("en")
>>> ok = td.check_conv_output_size(lambda n, kernel_size, stride=1, padding=0: (n + 2 * padding - kernel_size) // stride + 1)
✅ Well done: your formula gives the right output size in the 5 cases tested (for example 28 → 28 with a kernel of 5, a stride of 1 and a padding of 2).
>>> bool(ok), ok.name
(True, 'check_conv_output_size')
>>> td.set_language("fr")
"""

from __future__ import annotations

import inspect
import numbers
import re
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._messages import (
    MISMATCH,
    CheckResult,
    Fail,
    brief,
    call,
    language,
    num,
    results,
    set_language,
    student,
    tr,
    verdict,
)
from ._training import check_evaluate, check_per_class_accuracy, check_train, check_train_one_epoch

__all__ = ["CheckResult", "check_conv_output_size", "check_evaluate", "check_lenet5", "check_mlp",
           "check_parameter_count", "check_per_class_accuracy", "check_train", "check_train_one_epoch", "language",
           "results", "set_language"]


# --- 1. the size of a convolution's output ------------------------------------------------------------------

_CONV_CASES = [(28, 5, 1, 2), (28, 5, 1, 0), (14, 5, 1, 0), (32, 5, 2, 0), (7, 3, 2, 1)]
_CONV_MISTAKES: dict[str, Callable[[int, int, int, int], int]] = {
    "conv_no_plus_one": lambda n, k, s, p: (n + 2 * p - k) // s,
    "conv_no_padding": lambda n, k, s, p: (n - k) // s + 1,
    "conv_padding_once": lambda n, k, s, p: (n + p - k) // s + 1,
    "conv_no_stride": lambda n, k, s, p: n + 2 * p - k + 1,
    "conv_rounding": lambda n, k, s, p: -(-(n + 2 * p - k) // s) + 1,
}


@verdict
def check_conv_output_size(conv_output_size: Any) -> str:
    """Check ``conv_output_size(n, kernel_size, stride=1, padding=0)`` = ⌊(n + 2p − k)/s⌋ + 1 on five cases."""
    name = "conv_output_size"
    fn = student(conv_output_size, name, "conv_output_size(n, kernel_size, stride=1, padding=0)", 4)
    calls = [(n, k) if (s, p) == (1, 0) else (n, k, s) if p == 0 else (n, k, s, p) for n, k, s, p in _CONV_CASES]
    got = [call(name, fn, *args) for args in calls]
    right = [(n + 2 * p - k) // s + 1 for n, k, s, p in _CONV_CASES]
    for args, value in zip(calls, got):
        text = ", ".join(map(str, args))
        if value is None:
            raise Fail(tr("returns_none", name=name))
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise Fail(tr("not_a_number", name=f"{name}({text})", got=brief(value)))
        if not isinstance(value, numbers.Integral):
            raise Fail(tr("conv_float", args=text, value=repr(value)))
    if got == right:
        return tr("conv_ok", n=len(calls), example=tr("conv_example"))
    i = next(i for i, (a, b) in enumerate(zip(got, right)) if a != b)
    key = next((key for key, f in _CONV_MISTAKES.items() if got == [f(*case) for case in _CONV_CASES]), "conv_wrong")
    raise Fail(tr(key, args=", ".join(map(str, calls[i])), value=got[i], expected=right[i]))


# --- 2, 3, 8. the networks -------------------------------------------------------------------------------

def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def _no_bias(model: nn.Module) -> bool:
    return any(getattr(m, "bias", 0) is None for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d)))


def _instantiate(cls: Any, name: str) -> nn.Module:
    """The student's network, built without arguments (then in evaluation mode) or given already built."""
    if isinstance(cls, nn.Module):
        model = cls  # the student's own instance: used as it is (its mode kept)
    else:
        if cls is None or cls is Ellipsis:
            raise Fail(tr("not_written", name=name))
        if not callable(cls):
            raise Fail(tr("not_callable", name=name, got=brief(cls)))
        try:
            inspect.signature(cls).bind()
        except TypeError:
            raise Fail(tr("no_args", name=name)) from None
        except ValueError:
            pass
        model = call(name, cls)
    if not isinstance(model, nn.Module):
        raise Fail(tr("not_module", name=name))
    if "_parameters" not in vars(model) or _count(model) == 0:
        raise Fail(tr("not_written", name=name))
    return model if model is cls else model.eval()


def _forward(model: nn.Module, name: str, x: torch.Tensor, flatten_key: str, flat_widths: set[int]) -> torch.Tensor:
    """The output of the network on ``x`` (a shape error of unflattened maps becomes ``flatten_key``), checked."""
    def explain(exc: Exception) -> str | None:
        m = MISMATCH.search(str(exc))
        return tr(flatten_key) if m and int(m[2]) in flat_widths else None

    with torch.no_grad():
        out = call(name, model, x, explain=explain)
    if out is None:
        raise Fail(tr("returns_none", name=f"{name}.forward"))
    if not isinstance(out, torch.Tensor):
        raise Fail(tr("not_tensor", name=name, got=brief(out)))
    if tuple(out.shape) != (x.shape[0], 10):
        raise Fail(tr("out_shape", name=name, input=str(tuple(x.shape)), shape=str(tuple(out.shape)),
                       expected=str((x.shape[0], 10))))
    if torch.allclose(out.sum(1), torch.ones(len(out)), atol=1e-4) and (out >= 0).all():
        raise Fail(tr("softmax", name=name))
    if (out >= 0).all() and (out == 0).any():
        raise Fail(tr("relu_last", name=name))
    if ((out >= 0) & (out <= 1)).all():
        raise Fail(tr("in_0_1", name=name))
    return out


_MLP_SIZES = [(784, 120), (120, 84), (84, 10)]


@verdict
def check_mlp(MLP: Any) -> str:  # noqa: N803 - the notebook's class name
    """Check the course's MLP, 784 → 120 → 84 → 10 with ReLU, 105,214 parameters, returning logits."""
    model = _instantiate(MLP, "MLP")
    x = torch.rand(64, 1, 28, 28)
    _forward(model, "MLP", x, "mlp_no_flatten", {28})
    count = _count(model)
    if count != 105_214:
        sizes = [(m.in_features, m.out_features) for m in model.modules() if isinstance(m, nn.Linear)]
        wrong = [i for i, (a, b) in enumerate(zip(sizes, _MLP_SIZES)) if a != b]
        if len(sizes) != 3:
            detail = tr("count_layers", n=len(sizes), got=" → ".join(map(str, [sizes[0][0]] + [b for _, b in sizes]))
                        if sizes else "∅")
        elif wrong:
            detail = tr("count_layer", i=wrong[0] + 1, got="nn.Linear({}, {})".format(*sizes[wrong[0]]),
                        expected="nn.Linear({}, {})".format(*_MLP_SIZES[wrong[0]]))
        else:
            detail = tr("count_bias" if _no_bias(model) else "count_other")
        raise Fail(tr("count", name="MLP", count=num(count), expected=num(105_214), detail=detail))
    with torch.no_grad():
        y = torch.rand(64, 1, 28, 28)
        if torch.allclose(model(x) + model(y) - model(torch.zeros_like(x)), model(x + y), atol=1e-4):
            raise Fail(tr("linear_only"))
    kinds = {type(m).__name__ for m in model.modules()}
    if "ReLU" not in kinds and kinds & {"Tanh", "Sigmoid"}:
        raise Fail(tr("mlp_relu", got=f"`nn.{sorted(kinds & {'Tanh', 'Sigmoid'})[0]}`"))
    return tr("mlp_ok", shape="(64, 10)", count=num(count))


def _spec(kind: str, text: str, **attrs: int) -> tuple[str, dict[str, int], str]:
    return kind, attrs, text


_TANH = _spec("Tanh", "nn.Tanh()")
_POOL = _spec("AvgPool2d", "nn.AvgPool2d(2)", kernel_size=2, stride=2, padding=0)
_FE = [_spec("Conv2d", "nn.Conv2d(1, 6, 5, padding=2)", in_channels=1, out_channels=6, kernel_size=5, stride=1, padding=2),
       _TANH, _POOL,
       _spec("Conv2d", "nn.Conv2d(6, 16, 5)", in_channels=6, out_channels=16, kernel_size=5, stride=1, padding=0),
       _TANH, _POOL]
_C5_CONV = [_spec("Conv2d", "nn.Conv2d(16, 120, 5)", in_channels=16, out_channels=120, kernel_size=5, stride=1,
                  padding=0), _TANH]
_CL = [_spec("Linear", "nn.Linear(400, 120)", in_features=400, out_features=120), _TANH,
       _spec("Linear", "nn.Linear(120, 84)", in_features=120, out_features=84), _TANH,
       _spec("Linear", "nn.Linear(84, 10)", in_features=84, out_features=10)]


def _one(value: Any) -> Any:
    if value == "same":
        return value
    pair = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    return pair[0] if len(set(pair)) == 1 else pair


def _describe(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        extra = "".join(f", {k}={_one(getattr(m, k))}" for k, plain in (("stride", 1), ("padding", 0))
                        if _one(getattr(m, k)) != plain)
        return f"nn.Conv2d({m.in_channels}, {m.out_channels}, {_one(m.kernel_size)}{extra})"
    if isinstance(m, nn.Linear):
        return f"nn.Linear({m.in_features}, {m.out_features})"
    if isinstance(m, (nn.AvgPool2d, nn.MaxPool2d)):
        stride = "" if _one(m.stride) == _one(m.kernel_size) else f", stride={_one(m.stride)}"
        padding = f", padding={_one(m.padding)}" if _one(m.padding) != 0 else ""
        return f"nn.{type(m).__name__}({_one(m.kernel_size)}{stride}{padding})"
    return f"nn.{type(m).__name__}()"


def _matches(m: nn.Module, spec: tuple[str, dict[str, int], str]) -> bool:
    kind, attrs, _ = spec
    if type(m).__name__ != kind:
        return False
    for key, want in attrs.items():
        got = _one(getattr(m, key, None))
        if got == "same":
            got = _one(m.kernel_size) // 2
        if got != want:
            return False
    return True


def _leaves(block: nn.Module, prefix: str) -> list[tuple[str, nn.Module]]:
    """The layers of a block in order, nested containers opened, each with the Python expression that reaches it."""
    return [(prefix + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in n.split(".") if p), m)
            for n, m in block.named_modules() if not any(True for _ in m.children())]


def _compare(block: str, layers: list[tuple[str, nn.Module]], specs: list[tuple[str, dict[str, int], str]]) -> None:
    """Raise the hint naming the first layer of ``block`` that differs from the course's."""
    layers = [(w, m) for w, m in layers if not isinstance(m, nn.Flatten)]
    order = " → ".join(s[2].removeprefix("nn.") for s in specs)
    for i, spec in enumerate(specs):
        if i >= len(layers):
            last = f"`{_describe(layers[-1][1])}`" if layers else f"`{block} = nn.Sequential(`"
            raise Fail(tr("layer_missing", block=block, last=last, expected=spec[2], order=order))
        where, m = layers[i]
        if not _matches(m, spec):
            if spec is _FE[0] and isinstance(m, nn.Conv2d) and _one(m.padding) in (0, "valid") and \
                    (m.in_channels, m.out_channels, _one(m.kernel_size)) == (1, 6, 5):
                raise Fail(tr("padding"))
            raise Fail(tr("layer_differs", where=where, got=_describe(m), expected=spec[2], order=order))
    if len(layers) > len(specs):
        raise Fail(tr("layer_extra", block=block, got=_describe(layers[len(specs)][1]), last=specs[-1][2], order=order))


@verdict
def check_lenet5(LeNet5: Any) -> str:  # noqa: N803 - the notebook's class name
    """Check LeNet-5's ``feature_extractor`` and ``classifier`` layer by layer, its shapes and its 61,706 parameters."""
    model = _instantiate(LeNet5, "LeNet5")
    for attr in ("feature_extractor", "classifier"):
        if not isinstance(getattr(model, attr, None), nn.Module):
            raise Fail(tr("no_attr", attr=attr))
    fe, cl = _leaves(model.feature_extractor, "feature_extractor"), _leaves(model.classifier, "classifier")
    c5 = [m for _, m in fe if not isinstance(m, nn.Flatten)][6:7]
    conv_c5 = bool(c5) and isinstance(c5[0], nn.Conv2d)  # C5 written as a 5x5 convolution, as in the 1998 paper
    _compare("feature_extractor", fe, _FE + _C5_CONV if conv_c5 else _FE)
    _compare("classifier", cl, _CL[2:] if conv_c5 else _CL)
    x = torch.rand(8, 1, 28, 28)
    with torch.no_grad():
        maps = call("feature_extractor", model.feature_extractor, x)
    shape = tuple(getattr(maps, "shape", ()))
    expected = [(8, 120, 1, 1), (8, 120)] if conv_c5 else [(8, 16, 5, 5), (8, 400)]
    if shape not in expected:
        raise Fail(tr("padding") if shape[1:] in [(16, 4, 4), (256,)] else
                    tr("fe_shape", shape=str(shape), expected=str(expected[0])))
    _forward(model, "LeNet5", x, "lenet_no_flatten", {1, 4, 5})
    count = _count(model)
    if count != 61_706:
        raise Fail(tr("count", name="LeNet5", count=num(count), expected=num(61_706), detail=tr("count_bias" if _no_bias(model) else "count_other")))
    order = "C1 → S2 → C3 → S4 → C5 → F6 → " + ("sortie" if language() == "fr" else "output")
    return tr("lenet_ok", order=order, fe=str(shape), count=num(count))


def _as_int(answer: Any) -> int | None:
    if isinstance(answer, bool):
        return None
    if isinstance(answer, numbers.Integral):
        return int(answer)
    if isinstance(answer, numbers.Real) and float(answer).is_integer():
        return int(answer)
    if isinstance(answer, str):
        digits = re.sub(r"[\s\u202f\u00a0,._']", "", answer)
        return int(digits) if digits.isdigit() else None
    return None


@verdict
def check_parameter_count(answer: Any, model_or_class: Any, what: str = "") -> str:
    """Compare a written answer to the real number of parameters; when wrong, give the count layer by layer."""
    model = _instantiate(model_or_class, getattr(model_or_class, "__name__", "model_or_class"))
    name, count = what or type(model).__name__, _count(model)
    if answer is None or answer is Ellipsis:
        raise Fail(tr("count_answer_missing", got="..." if answer is Ellipsis else "None"))
    got = _as_int(answer)
    if got is None:
        raise Fail(tr("count_not_int", got=brief(answer)))
    if got == count:
        return tr("count_ok", name=name, count=num(count))
    rows, biases = [], 0
    for path, m in model.named_modules():
        own = sum(p.numel() for p in m.parameters(recurse=False))
        if not own:
            continue
        bias = m.bias.numel() if isinstance(getattr(m, "bias", None), torch.Tensor) else 0
        biases += bias
        plus = f" + {bias}" if bias else ""
        if isinstance(m, nn.Conv2d):
            k = m.kernel_size
            formula = f"{m.out_channels} × ({m.in_channels} × {k[0]} × {k[1]}){plus} = "
        elif isinstance(m, nn.Linear):
            formula = f"{m.in_features} × {m.out_features}{plus} = "
        else:
            formula = ""
        rows.append(f"`{path or name}` ({type(m).__name__}) {formula}{num(own)}")
    detail = ("\u202f; " if language() == "fr" else "; ").join(rows)
    if biases and got == count - biases:
        raise Fail(tr("count_bias_missing", bias=num(biases), name=name, count=num(count), detail=detail))
    raise Fail(tr("count_wrong", name=name, count=num(count), got=num(got), detail=detail))
