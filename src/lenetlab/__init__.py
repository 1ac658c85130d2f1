"""lenetlab: LeNet-5 and the course notebook's MLP on real MNIST, offline, and a look inside.

The public API, small on purpose::

    from lenetlab import load_mnist, LeNet5, MLP, TrainConfig, fit, evaluate
    data = load_mnist()                                   # bundled, checksum-verified MNIST
    model = LeNet5()
    fit(model, data, TrainConfig.from_preset("default", epochs=3))
    print(evaluate(model, data.test).accuracy)

Names are imported on first use (PEP 562), so ``import lenetlab`` and ``lenetlab --help`` do not
pay for PyTorch and matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"  # the one place the version is written; pyproject.toml reads it from here

# public name -> the module that defines it
_API = {
    "TrainConfig": "config",
    "ImageSet": "data", "MNISTData": "data", "load_mnist": "data", "read_idx": "data",
    "LenetlabError": "errors",
    "MLP": "models", "MODELS": "models", "FCNet": "models", "LeNet1": "models", "LeNet4": "models",
    "LeNet5": "models", "LinearClassifier": "models", "build_model": "models", "count_parameters": "models",
    "Predictor": "predict",
    "mnist_preprocess": "preprocess",
    "RunDir": "rundir",
    "RunWriter": "runs", "predict_images": "runs", "train_run": "runs",
    "evaluate_run": "evaluation",
    "EvalResult": "training", "FitObserver": "training", "evaluate": "training",
    "fit": "training",
    "load_checkpoint": "checkpoint", "save_checkpoint": "checkpoint",
}
__all__ = sorted(_API)


def __getattr__(name: str) -> Any:
    if name not in _API:
        raise AttributeError(f"module 'lenetlab' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({"__version__", *_API})
