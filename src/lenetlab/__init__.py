"""lenetlab: LeNet-5 and the course notebook's MLP on real MNIST, offline, and a look inside.

The public API, small on purpose::

    from lenetlab import load_mnist, LeNet5, MLP, TrainConfig, fit, evaluate
    data = load_mnist()                                   # bundled, checksum-verified MNIST
    model = LeNet5()
    fit(model, data, TrainConfig.from_preset("default", epochs=3))
    print(evaluate(model, data.test).accuracy)
"""

__version__ = "0.1.0"

from .data import ImageSet, MNISTData, load_mnist, read_idx  # noqa: E402
from .errors import LenetlabError  # noqa: E402
from .models import MLP, MODELS, FCNet, LeNet1, LeNet4, LeNet5, LinearClassifier, build_model, count_parameters  # noqa: E402
from .preprocess import mnist_preprocess  # noqa: E402
from .runs import evaluate_run, predict_images, train_run  # noqa: E402
from .training import (  # noqa: E402
    EvalResult,
    TrainConfig,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)

__all__ = [
    "EvalResult", "FCNet", "ImageSet", "LeNet1", "LeNet4", "LeNet5", "LinearClassifier", "LenetlabError", "MLP", "MNISTData", "MODELS", "TrainConfig",
    "build_model", "count_parameters", "evaluate", "evaluate_run", "fit", "load_checkpoint", "load_mnist",
    "mnist_preprocess", "predict_images", "read_idx", "save_checkpoint", "train_run",
]
