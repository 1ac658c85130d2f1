"""`lenetlab train` on the fast path (lenetlab.fast_fit): which loop a recipe gets, and fit's contract kept
(history, best epoch, last.pt, an exact --resume). On the CPU the fast path runs eagerly, so everything
but the CUDA graph is checked here; tests/test_engine.py's GPU tests check the graph."""

import copy
import dataclasses

import pytest
import torch

from conftest import write_idx_folder
from lenetlab import TrainConfig, train_run
from lenetlab import runs as runs_module
from lenetlab.data import ImageSet, MNISTData
from lenetlab.errors import LenetlabError, TrainingInterrupted
from lenetlab.fast_fit import fit_fast, loop_for
from lenetlab.models import build_model
from lenetlab.schedule import lr_table
from lenetlab.training import FitObserver, evaluate, fit

pytestmark = pytest.mark.unit
CPU, CUDA = torch.device("cpu"), torch.device("cuda")  # a device object needs no GPU


def _data(n_train=200, n_valid=64):
    generator = torch.Generator().manual_seed(0)
    labels = torch.arange(n_train + n_valid) % 10
    images = (torch.rand(n_train + n_valid, 28, 28, generator=generator) * 60).to(torch.uint8)
    for i, label in enumerate(labels):  # a learnable mark: a bright bar whose row is the label
        images[i, 4 + 2 * label, 6:22] = 255
    train, valid = ImageSet(images[:n_train], labels[:n_train]), ImageSet(images[n_train:], labels[n_train:])
    return MNISTData(train, valid, valid, [str(c) for c in range(10)], "synthetic", "synthetic")


def test_the_cpu_keeps_fits_loop_and_a_gpu_takes_the_fast_path_when_the_recipe_allows_it():
    default = TrainConfig()
    assert loop_for(default, CPU) == (fit, None)
    assert loop_for(default, CUDA) == (fit_fast, "cli.loop.fast")
    assert loop_for(dataclasses.replace(default, augment="none"), CUDA)[0] is fit_fast
    assert loop_for(dataclasses.replace(default, augment="affine"), CUDA) == (fit, "cli.loop.augment")
    assert loop_for(dataclasses.replace(default, optimizer="sdlm"), CUDA) == (fit, "cli.loop.optimizer")
    assert loop_for(default, CUDA, world=2) == (fit, "cli.loop.processes")
    # a run resumes with the loop it started with, whatever the recipe would pick today
    assert loop_for(default, CUDA, resume_state={"rng": {"shuffle": None}}) == (fit, "cli.loop.resume")
    assert loop_for(default, CUDA, resume_state={"loop": "device"}) == (fit_fast, "cli.loop.fast")
    with pytest.raises(LenetlabError, match="only a GPU can continue it exactly; resume it with --device cuda"):
        loop_for(default, CPU, resume_state={"loop": "device"})


class _Keep(FitObserver):
    """Keeps each epoch's weights and resume() dictionary, and counts the calls fit makes."""

    def __init__(self):
        self.calls, self.weights, self.resumes = [], {}, {}

    def started(self, steps_per_epoch, state):
        self.calls.append(("started", steps_per_epoch, state.epoch))

    def step(self, epoch, steps_done):
        self.calls.append(("step", epoch, steps_done))

    def epoch_ended(self, end):
        self.calls.append(("ended", end.record.epoch, end.improved))
        self.weights[end.record.epoch] = {k: v.clone() for k, v in end.model.state_dict().items()}
        self.resumes[end.record.epoch] = copy.deepcopy(end.resume())  # as saved: torch's optimizer state is live


def _without_seconds(history):
    return [dataclasses.replace(r, train_seconds=0, valid_seconds=0) for r in history]


@pytest.mark.parametrize("optimizer", ["sgd", "adamw"])
def test_fit_fast_resumes_exactly_where_it_stopped(optimizer):
    data = _data()
    config = TrainConfig.from_preset("default", epochs=3, batch_size=64, augment="shift", optimizer=optimizer,
                                     lr=0.05 if optimizer == "sgd" else 0.003)
    torch.manual_seed(0)
    start = build_model("lenet5").state_dict()
    model = build_model("lenet5")
    model.load_state_dict(start)
    straight = _Keep()
    state = fit_fast(model, data, config, observer=straight, progress=False, log=None)
    assert straight.calls[0] == ("started", 3, 0)  # 200 // 64: the last 8 images of each epoch wait
    assert [c for c in straight.calls if c[0] == "step"][:3] == [("step", 1, 1), ("step", 1, 2), ("step", 1, 3)]
    assert state.history[-1].train_loss < state.history[0].train_loss  # it learns
    schedule = lr_table(config.lr, config.schedule, 3, 3, CPU)  # the rate of each epoch's last step, as fit records it
    assert [r.lr for r in state.history] == [round(float(schedule[i]), 8) for i in (2, 5, 8)]
    saved = straight.resumes[1]
    assert saved["loop"] == "device" and saved["optimizer"]["step"] == 3 and saved["epoch"] == 1

    again = build_model("lenet5")
    again.load_state_dict(straight.weights[1])
    resumed = _Keep()
    state_resumed = fit_fast(again, data, config, observer=resumed, progress=False, log=None, resume_state=saved)
    assert resumed.calls[0] == ("started", 3, 1)
    assert _without_seconds(state_resumed.history) == _without_seconds(state.history)
    assert state_resumed.best_epoch == state.best_epoch
    assert all(torch.equal(again.state_dict()[k], model.state_dict()[k]) for k in start)


def test_train_on_the_fast_path_writes_a_run_that_resumes_exactly_after_an_interrupt(tmp_path, monkeypatch, capsys):
    """Through train_run and last.pt (loaded weights_only): what `train --device cuda` does, run eagerly on the CPU."""
    data_dir = write_idx_folder(tmp_path / "data", n_train=160, n_test=40)
    config = TrainConfig.from_preset("default", epochs=2, batch_size=32, data_dir=str(data_dir), lr=0.02)
    monkeypatch.setattr(runs_module, "loop_for", lambda *args: (fit_fast, "cli.loop.fast"))
    whole = train_run(config, tmp_path / "whole", progress=False, figures=False)
    assert "fast path: the images on the GPU" in capsys.readouterr().out

    def stopped_before_epoch_2(*args, observer, **kwargs):
        class Stop(type(observer)):
            def epoch_started(self, epoch):
                if epoch == 2:
                    raise KeyboardInterrupt
                super().epoch_started(epoch)

        observer.__class__ = Stop
        return fit_fast(*args, observer=observer, **kwargs)

    monkeypatch.setattr(runs_module, "loop_for", lambda *args: (stopped_before_epoch_2, None))
    with pytest.raises(TrainingInterrupted, match="holds epoch 1 of 2"):
        train_run(config, tmp_path / "cut", progress=False, log=None, figures=False)
    monkeypatch.setattr(runs_module, "loop_for", lambda *args: (fit_fast, None))
    resumed = train_run(config, tmp_path / "cut", resume=True, progress=False, log=None, figures=False)
    for metrics in (whole, resumed):
        for epoch in metrics["epochs"]:
            epoch["train_seconds"] = epoch["valid_seconds"] = 0
        metrics["train_seconds"] = 0
    assert resumed == whole


@pytest.mark.parametrize("loop", [fit, fit_fast])
def test_with_ema_validation_and_checkpoints_see_the_average_and_resume_stays_exact(loop):
    data = _data()
    config = TrainConfig.from_preset("default", epochs=3, batch_size=64, lr=0.05, ema=0.9)
    torch.manual_seed(0)
    start = build_model("lenet5").state_dict()
    model = build_model("lenet5")
    model.load_state_dict(start)
    straight = _Keep()
    state = loop(model, data, config, observer=straight, progress=False, log=None)
    raw = {k: v.clone() for k, v in model.state_dict().items()}  # after fit: the weights training went on with
    saved = straight.weights[3]  # what epoch 3's checkpoints hold: the average, not the raw weights
    c1 = "feature_extractor.C1.conv.weight"
    assert not torch.equal(saved[c1], raw[c1])
    assert "raw_weights" in straight.resumes[1]
    plain = build_model("lenet5")
    plain.load_state_dict(saved)  # the saved weights are the ones validation scored
    assert evaluate(plain, data.valid).loss == pytest.approx(state.history[-1].valid_loss, abs=1e-6)

    again = build_model("lenet5")
    again.load_state_dict(straight.weights[1])  # as train_run loads last.pt
    resumed = _Keep()
    state_resumed = loop(again, data, config, observer=resumed, progress=False, log=None,
                         resume_state=straight.resumes[1])
    assert _without_seconds(state_resumed.history) == _without_seconds(state.history)
    assert all(torch.equal(again.state_dict()[k], raw[k]) for k in raw)
    assert all(torch.equal(resumed.weights[3][k], saved[k]) for k in saved)
