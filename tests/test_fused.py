"""`--fuse`: LeNet-5's first stage (shift, C1, tanh, S2) in two Triton kernels on the fast path.

The kernels must compute what the unfused step computes: the forward values and C1's gradients against
PyTorch on the same batch and the same shifts, on a GPU and in Triton's interpreter on the CPU (where
Triton is installed; the CPU build of PyTorch does not bring it). Everywhere else, `--fuse` must be
refused in one line, never dropped.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest
import torch

from lenetlab import TrainConfig
from lenetlab.cli import main
from lenetlab.engine import FastTrainer
from lenetlab.errors import LenetlabError
from lenetlab.fast_fit import loop_for
from lenetlab.fused import fusable
from lenetlab.models import build_model

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
# .ci/run installs Triton for the interpreter test and sets LENETLAB_REQUIRE_TRITON: there it must run, not skip.
has_triton = pytest.mark.skipif(importlib.util.find_spec("triton") is None
                                and not os.environ.get("LENETLAB_REQUIRE_TRITON"), reason="needs Triton")

# The same comparison on any device: random uint8 images (blank rows at the edges, as MNIST has), every
# shift from 0 to 4 in both directions, a gradient from random weights on S2's output.
COMPARE = r"""
import json, sys, torch
import torch.nn.functional as F
from lenetlab import fused
from lenetlab.augment import random_shift
from lenetlab.data import to_input
from lenetlab.models import build_model

device = torch.device(sys.argv[1])
torch.manual_seed(0)
model = build_model("lenet5").to(device)
images = torch.randint(0, 256, (40, 28, 28), dtype=torch.uint8, device=device)
images[:, :2] = 0
index = torch.tensor([0, 5, 5, 39, 17], device=device)
shifts = torch.tensor([[0, 4, 2, 1, 3], [4, 0, 2, 3, 1]], device=device)
c1, s2 = model.stage("C1"), model.stage("S2")
padded = F.pad(images[index], (2,) * 4)  # random_shift's own arithmetic, with these shifts
rows = torch.arange(28, device=device)[None, :] + shifts[0][:, None]
cols = torch.arange(28, device=device)[None, :] + shifts[1][:, None]
shifted = padded[torch.arange(5, device=device)[:, None, None], rows[:, :, None], cols[:, None, :]]
reference = s2(c1(to_input(shifted)))
upstream = torch.randn_like(reference)
(reference * upstream).sum().backward()
weight_grad, bias_grad = c1.conv.weight.grad.clone(), c1.conv.bias.grad.clone()
c1.conv.weight.grad = c1.conv.bias.grad = None
out = fused.first_stage(images, index, shifts, c1.conv)
(out * upstream).sum().backward()
print(json.dumps({
    "shape": list(out.shape),
    "forward": float((out - reference).abs().max()),
    "weight": float((c1.conv.weight.grad - weight_grad).abs().max() / weight_grad.abs().max()),
    "bias": float((c1.conv.bias.grad - bias_grad).abs().max() / bias_grad.abs().max()),
}))
"""


def _check(errors: dict) -> None:
    assert errors["shape"] == [5, 6, 14, 14]
    assert errors["forward"] < 1e-6  # tanh's values are at most 1
    assert errors["weight"] < 1e-5 and errors["bias"] < 1e-5


def test_only_the_notebooks_first_stage_is_fusable():
    assert fusable(build_model("lenet5"))
    for name, args in (("mlp", {}), ("lenet5-modern", {}), ("lenet5-1998", {}), ("lenet5", {"kernel_size": 3}),
                       ("lenet5", {"activation": "relu"}), ("lenet5", {"pooling": "max"}),
                       ("lenet5", {"c1_channels": 12}), ("lenet5", {"padding": 0}), ("lenet5", {"stride": 2})):
        assert not fusable(build_model(name, **args)), (name, args)
    assert fusable(build_model("lenet5", c1_channels=4, c3_channels=8))


def test_fuse_is_refused_in_one_line_where_it_cannot_run(mnist, capsys, tmp_path):
    """On the CPU, on a recipe the fast path does not train, on a network that is not the notebook's: refused,
    before `train` writes anything."""
    with pytest.raises(LenetlabError, match="--fuse runs on a CUDA GPU with Triton, not on cpu"):
        loop_for(TrainConfig(fuse=True), torch.device("cpu"))
    with pytest.raises(LenetlabError, match="--fuse runs on the fast path, and this run takes fit's step-by-step "
                                            "loop: the fast path shifts or does not augment"):
        loop_for(TrainConfig(fuse=True, augment="affine"), torch.device("cuda"))
    assert loop_for(TrainConfig(fuse=True), torch.device("cuda"))[0].__name__ == "fit_fast"
    config = TrainConfig.from_preset("speedrun", epochs=1, fuse=True)
    if not torch.cuda.is_available():
        with pytest.raises(LenetlabError, match="--fuse runs on a CUDA GPU"):
            FastTrainer(build_model("lenet5"), mnist.train, mnist.valid, config, torch.device("cpu"))
    run = tmp_path / "run"
    assert main(["train", "--fuse", "--device", "cpu", "--epochs", "1", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "--fuse" in err and "Traceback" not in err
    assert not run.exists()
    assert main(["train", "--lang", "fr", "--fuse", "--device", "cpu", "--epochs", "1", "--out", str(run)]) == 2
    assert "retirez --fuse" in capsys.readouterr().err and not run.exists()


@has_triton
def test_the_kernels_compute_pytorchs_first_stage_in_tritons_interpreter(tmp_path):
    env = {**os.environ, "TRITON_INTERPRET": "1"}
    done = subprocess.run([sys.executable, "-c", COMPARE, "cpu"], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    _check(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.gpu
@cuda
def test_the_kernels_compute_pytorchs_first_stage_on_the_gpu():
    done = subprocess.run([sys.executable, "-c", COMPARE, "cuda"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    _check(json.loads(done.stdout.strip().splitlines()[-1]))


@pytest.mark.gpu
@cuda
def test_a_fused_epoch_trains_as_the_unfused_one(mnist):
    """Same seed, same draws (the fused step draws its shifts as random_shift does): one captured epoch each,
    the same loss and accuracy to float noise."""
    device = torch.device("cuda")
    torch.manual_seed(0)
    start = build_model("lenet5").state_dict()
    results = []
    for fuse in (False, True):
        config = TrainConfig.from_preset("speedrun", epochs=1, fuse=fuse)
        trainer = FastTrainer(build_model("lenet5").to(device), mnist.train, mnist.valid, config, device)
        assert trainer.graph is not None and trainer.fused == fuse
        trainer.reset(start, seed=0)
        results.append((trainer.train_epoch(), trainer.valid_accuracy()))
    (loss, accuracy), (fused_loss, fused_accuracy) = results
    assert fused_loss == pytest.approx(loss, rel=1e-2)
    assert abs(fused_accuracy - accuracy) < 0.005 and fused_accuracy > 0.95
