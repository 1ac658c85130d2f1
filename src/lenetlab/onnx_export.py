"""``lenetlab export RUN --format onnx``: the run's network as an ONNX file, for people who take it elsewhere.

PyTorch's exporter (``torch.onnx.export(..., dynamo=True)``, which needs the ``onnx`` and ``onnxscript``
packages: ``pip install 'lenetlab[onnx]'``) writes the model with a free batch size: input ``image``, N x 1 x
28 x 28 floats in [0, 1] after MNIST's preprocessing (``lenetlab predict``'s), output ``logits``, N x classes.
The file's metadata carry the model's name, its arguments, the class names and that description.
``tests/test_onnx.py`` runs the file in onnxruntime against PyTorch.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import torch

from ._fs import atomic_write, check_not_input, check_output_file
from .errors import LenetlabError
from .predict import Predictor
from .rundir import RunDir

INPUT_DESCRIPTION = ("N x 1 x 28 x 28 floats in [0, 1]: white digits on black, centred by mass as MNIST's "
                     "(lenetlab.mnist_preprocess); output: N x classes logits (softmax gives the probabilities)")


def export_onnx(run: str | Path, out: str | Path | None = None) -> Path:
    """Write ``RUN/model.onnx`` (or ``out``): the run's best network as ONNX. Returns the path.

    Examples
    --------
    >>> path = export_onnx("runs/lenet5", "lenet5.onnx")
    >>> path.name, path.stat().st_size > 200_000   # 61,706 float32 weights
    ('lenet5.onnx', True)
    """
    run_dir = RunDir.containing(run)
    path = Path(out) if out is not None else run_dir.path / "model.onnx"
    check_output_file(path, (".onnx",), "cli.writes.onnx")  # before any work; a user's file is never replaced
    predictor = Predictor.load(run)
    check_not_input(path, [predictor.source, run_dir.config_path, run_dir.metrics_path])
    try:
        import onnx  # noqa: F401 - the exporter needs it; said here in one line rather than deep in PyTorch
        import onnxscript  # noqa: F401
    except ModuleNotFoundError as exc:
        raise LenetlabError(f"--format onnx needs {exc.name}; install it with: pip install 'lenetlab[onnx]'") from None
    model = predictor.model.cpu().eval()
    example = torch.zeros(2, 1, 28, 28)
    # The exporter prints its progress, warns of its own internals (a FutureWarning of torch.utils._pytree) and
    # logs that torchvision's operators are skipped: none of it concerns the user.
    exporter_log = logging.getLogger("torch.onnx")
    level = exporter_log.level
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        exporter_log.setLevel(logging.ERROR)
        try:
            program = torch.onnx.export(model, (example,), dynamo=True, input_names=["image"],
                                        output_names=["logits"],
                                        dynamic_shapes=({0: torch.export.Dim("batch")},), verbose=False)
        finally:
            exporter_log.setLevel(level)
    proto = program.model_proto
    for key, value in (("lenetlab.model", predictor.name), ("lenetlab.arguments", json.dumps(predictor.arguments)),
                       ("lenetlab.class_names", json.dumps(list(predictor.class_names))),
                       ("lenetlab.input", INPUT_DESCRIPTION)):
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value
    return atomic_write(path, lambda f: f.write(proto.SerializeToString()))
