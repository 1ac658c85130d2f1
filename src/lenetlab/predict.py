"""One prediction path: a checkpoint in, then an image file, image bytes or a 28x28 array in ->
label, probabilities and (on request) every layer's activations.

``lenetlab predict``, the draw-a-digit page and ``explore feature-maps`` all go through
:class:`Predictor`, so the image decoder, the pixel cap, MNIST's preprocessing and the 28x28
input check exist once.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .checkpoint import load_checkpoint
from .errors import LenetlabError, NoDigitError
from .preprocess import MAX_PIXELS, mnist_preprocess, open_image, to_grayscale

INPUT_SIZE = 28


def layer_activations(model: nn.Module, image: np.ndarray) -> dict[str, np.ndarray]:
    """``model.activations`` for one float (28, 28) image, batch dimension dropped, as numpy arrays.

    Examples
    --------
    >>> from lenetlab import LeNet5
    >>> maps = layer_activations(LeNet5().eval(), np.zeros((28, 28), np.float32))
    >>> {k: v.shape for k, v in maps.items()}["S2"]
    (6, 14, 14)
    """
    device = next(model.parameters()).device
    x = torch.as_tensor(np.asarray(image, np.float32), device=device)[None, None]
    with torch.inference_mode():
        return {name: value[0].float().cpu().numpy() for name, value in model.activations(x).items()}


@dataclass
class Prediction:
    """What the network makes of one image: the 28x28 ``input`` it saw, its answer, its layers."""

    label: int
    class_name: str
    probabilities: np.ndarray
    input: np.ndarray
    activations: dict[str, np.ndarray] | None = None

    @property
    def probability(self) -> float:
        return float(self.probabilities[self.label])


class Predictor:
    """A trained model ready to classify MNIST-sized grayscale digits.

    Examples
    --------
    >>> predictor = Predictor.load("runs/lenet5")
    >>> prediction = predictor.predict_image("my_seven.png")   # .label: 7 from a trained LeNet-5
    >>> prediction.input.shape, prediction.probabilities.shape  # what the network saw; a probability per class
    ((28, 28), (10,))
    >>> prediction.class_name == predictor.class_names[prediction.label]
    True
    """

    def __init__(self, model: nn.Module, checkpoint: dict[str, Any], source: str | Path = "<model>") -> None:
        args = checkpoint["model_args"]
        self.input_size, self.in_channels = int(args.get("input_size", INPUT_SIZE)), int(args.get("in_channels", 1))
        self.model = model.eval()
        self.name: str = checkpoint["model"]
        self.arguments: dict[str, Any] = dict(args)
        n_classes = int(args.get("n_classes", 10))
        names = list(checkpoint.get("class_names") or [])
        self.class_names: list[str] = names + [str(i) for i in range(len(names), n_classes)]
        self.epoch: int | None = checkpoint.get("epoch")
        self.source = Path(source)

    def require_digit_input(self) -> None:
        """Images are turned into 28x28 grayscale digits; refuse a model that takes anything else."""
        if (self.input_size, self.in_channels) != (INPUT_SIZE, 1):
            raise LenetlabError(f"{self.source}: this checkpoint expects {self.in_channels}-channel "
                                f"{self.input_size}x{self.input_size} inputs; images are turned into 28x28 grayscale "
                                "digits, so use a model trained on MNIST-sized images")

    @classmethod
    def load(cls, path: str | Path, device: str | torch.device = "cpu") -> Predictor:
        """From a run directory (its ``best.pt``) or a ``.pt`` file."""
        model, checkpoint = load_checkpoint(path, device)
        path = Path(path)
        return cls(model, checkpoint, path / "best.pt" if path.is_dir() else path)

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    def layer_shapes(self) -> dict[str, list[int]]:
        """Each layer's output shape for one image (batch dimension dropped)."""
        maps = layer_activations(self.model, np.zeros((self.input_size, self.input_size), np.float32))
        return {name: list(v.shape) for name, v in maps.items()}

    def probabilities(self, inputs: np.ndarray) -> np.ndarray:
        """Softmax outputs for a batch of float (N, 28, 28) inputs in [0, 1]."""
        x = torch.as_tensor(np.asarray(inputs, np.float32), device=self.device)[:, None]
        with torch.inference_mode():
            return self.model(x).float().softmax(1).cpu().numpy()

    def predict_array(self, x: np.ndarray, *, activations: bool = False) -> Prediction:
        """Classify one float (28, 28) input in [0, 1] (the model's input size), already preprocessed."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        if x.shape != (self.input_size, self.input_size):
            raise LenetlabError(f"the input must be {self.input_size}x{self.input_size}, "
                                f"got {'x'.join(map(str, x.shape))}")
        if activations:
            maps = layer_activations(self.model, x)
            probs = torch.from_numpy(maps["output"]).softmax(0).numpy()
        else:
            maps, probs = None, self.probabilities(x[None])[0]
        label = int(probs.argmax())
        return Prediction(label, self.class_names[label], probs, x, maps)

    def preprocess(self, image: str | Path | bytes | np.ndarray, max_pixels: int = MAX_PIXELS) -> np.ndarray:
        """An image file, its bytes or a grayscale array -> the 28x28 input, as MNIST was made."""
        self.require_digit_input()
        gray = image if isinstance(image, np.ndarray) else to_grayscale(open_image(image, max_pixels))
        try:
            return mnist_preprocess(gray)
        except NoDigitError as exc:
            if isinstance(image, str | Path):  # say which file, as every other image error does
                raise NoDigitError.of("error.no_digit_in", path=image, message=exc) from None
            raise

    def predict_image(self, image: str | Path | bytes | np.ndarray, *, activations: bool = False,
                      max_pixels: int = MAX_PIXELS) -> Prediction:
        """Classify an image of any size, dark-on-light or light-on-dark, after MNIST's preprocessing."""
        return self.predict_array(self.preprocess(image, max_pixels), activations=activations)
