"""The fast path (lenetlab.engine) and `lenetlab speedrun`: the optimizer arithmetic, the schedule on the
device, the on-device augmentation, the stopping rule, and on a GPU the captured step."""

import copy
import json

import pytest
import torch
import torch.nn.functional as F

from conftest import write_idx_folder
from lenetlab import TrainConfig
from lenetlab.augment import random_shift
from lenetlab.cli import main
from lenetlab.data import ImageSet
from lenetlab.engine import FastTrainer
from lenetlab.errors import LenetlabError
from lenetlab.models import build_model
from lenetlab.optimizers import DeviceAdam, DeviceSGD
from lenetlab.schedule import lr_table
from lenetlab.speedrun import busy_warning, fixed_budget, format_budget_table, run_to_target, speedrun
from lenetlab.training import lr_factor

LRS = [0.1, 0.05, 0.3, 0.02, 0.0, 0.2]


@torch.no_grad()
def _max_difference(model_a, model_b):
    return max(float((a - b).abs().max()) for a, b in zip(model_a.parameters(), model_b.parameters(), strict=True))


def _train_pair(reference, ours, model_a, model_b, steps=5):
    torch.manual_seed(1)
    for i in range(steps):
        for group in reference.param_groups:
            group["lr"] = LRS[i]
        x, y = torch.randn(8, 5), torch.randint(0, 3, (8,))
        for model, optimizer in ((model_a, reference), (model_b, ours)):
            model.zero_grad()
            F.cross_entropy(model(x), y).backward()
            optimizer.step()
    return _max_difference(model_a, model_b)


def _tiny():
    torch.manual_seed(0)
    a = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.Tanh(), torch.nn.Linear(4, 3))
    return a, copy.deepcopy(a)


@pytest.mark.parametrize("momentum,nesterov,weight_decay", [(0.9, True, 5e-4), (0.9, False, 0.0), (0.0, False, 1e-3)])
def test_device_sgd_computes_what_torch_sgd_computes(momentum, nesterov, weight_decay):
    a, b = _tiny()
    reference = torch.optim.SGD(a.parameters(), lr=LRS[0], momentum=momentum, nesterov=nesterov,
                                weight_decay=weight_decay)
    ours = DeviceSGD(list(b.parameters()), torch.tensor(LRS), momentum, nesterov, weight_decay)
    assert _train_pair(reference, ours, a, b) < 1e-6
    assert int(ours.step_index) == 5


@pytest.mark.parametrize("decoupled", [False, True])
def test_device_adam_computes_what_torch_adam_computes(decoupled):
    a, b = _tiny()
    cls = torch.optim.AdamW if decoupled else torch.optim.Adam
    reference = cls(a.parameters(), lr=LRS[0], weight_decay=5e-4)
    ours = DeviceAdam(list(b.parameters()), torch.tensor(LRS), 5e-4, decoupled=decoupled)
    assert _train_pair(reference, ours, a, b) < 1e-5


def test_the_schedule_table_is_fits_schedule():
    config = TrainConfig(lr=0.2, epochs=3, schedule="onecycle")
    table = lr_table(config.lr, config.schedule, steps_per_epoch=10, epochs=config.epochs)
    assert len(table) == 31
    expected = [0.2 * lr_factor("onecycle", s, 30) for s in range(31)]
    assert torch.allclose(table, torch.tensor(expected), atol=1e-7)


def test_random_shift_on_the_device_moves_each_image_by_at_most_two_pixels():
    images = torch.zeros(50, 28, 28, dtype=torch.uint8)
    images[:, 13, 13] = 255  # one lit pixel: where it lands is the shift
    torch.manual_seed(0)
    shifted = random_shift(images, 2)
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    rows, cols = (shifted == 255).nonzero()[:, 1], (shifted == 255).nonzero()[:, 2]
    assert len(rows) == 50 and (rows - 13).abs().max() <= 2 and (cols - 13).abs().max() <= 2
    assert len({(int(r), int(c)) for r, c in zip(rows, cols)}) > 5  # the shifts vary


def _synthetic_set(n, seed=0):
    """Random images whose class is written in the brightness of one corner (unit tests only)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, 10, (n,), generator=g)
    images = torch.randint(0, 40, (n, 28, 28), generator=g, dtype=torch.uint8)
    images[:, :6, :6] = (labels * 25).to(torch.uint8)[:, None, None]
    return ImageSet(images, labels)


def test_fast_trainer_on_the_cpu_trains_drops_the_partial_batch_and_restarts_exactly():
    train, valid = _synthetic_set(300), _synthetic_set(100, seed=1)
    config = TrainConfig.from_preset("speedrun", epochs=3, batch_size=64, augment="shift")
    torch.manual_seed(0)
    model = build_model("lenet5")
    start = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = FastTrainer(model, train, valid, config, torch.device("cpu"))
    assert trainer.graph is None and trainer.steps_per_epoch == 4  # 300 // 64: the last 44 images wait
    runs = []
    for _ in range(2):
        trainer.reset(start, seed=3)
        losses = [trainer.train_epoch() for _ in range(3)]
        runs.append((losses, trainer.valid_accuracy(), {k: v.clone() for k, v in model.state_dict().items()}))
        assert int(trainer.optimizer.step_index) == 12
    assert runs[0][0] == runs[1][0] and runs[0][1] == runs[1][1]
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in start)
    assert runs[0][0][-1] < runs[0][0][0]  # it learns
    with pytest.raises(LenetlabError, match="do not fit"):
        trainer.reschedule(0.1, 4)


def test_both_paths_train_with_the_models_own_loss_and_the_same_divergence_rule():
    """FastTrainer used to hard-code cross-entropy: lenet5-1998's MAP criterion must be what it minimises."""
    from lenetlab.errors import DivergedError

    train, valid = _synthetic_set(128), _synthetic_set(32, seed=1)
    config = TrainConfig.from_preset("paper", epochs=2, batch_size=64, optimizer="sgd", split="holdout")
    model = build_model("lenet5-1998")
    calls = []
    criterion = model.criterion
    model.criterion = lambda logits, labels, reduction="mean": calls.append(reduction) or criterion(logits, labels,
                                                                                                     reduction)
    trainer = FastTrainer(model, train, valid, config, torch.device("cpu"))
    first = trainer.train_epoch()
    assert calls == ["sum", "sum"] and first > 0  # two steps of 64, each through the model's criterion
    model.criterion = lambda logits, labels, reduction="mean": criterion(logits, labels, reduction) * float("nan")
    with pytest.raises(DivergedError, match="at epoch 2"):
        trainer.train_epoch()


class _ScriptedTrainer:
    """Stands in for FastTrainer in the stopping-rule test: validation accuracies from a script."""

    def __init__(self, accuracies):
        self.accuracies, self.epochs = list(accuracies), 0

    def sync(self):
        pass

    def train_epoch(self):
        self.epochs += 1

    def valid_accuracy(self):
        return self.accuracies[self.epochs - 1]


def test_the_stopping_rule_stops_at_the_first_epoch_that_reaches_the_target():
    trainer = _ScriptedTrainer([0.97, 0.989, 0.9901, 0.995, 0.999])
    reached, curve, seconds = run_to_target(trainer, 0.99, max_epochs=5)
    assert reached and curve == [0.97, 0.989, 0.9901] and trainer.epochs == 3 and seconds >= 0
    reached, curve, _ = run_to_target(_ScriptedTrainer([0.9, 0.95]), 0.99, max_epochs=2)
    assert not reached and curve == [0.9, 0.95]


def test_busy_warning_names_the_load():
    assert busy_warning({"load_1min": 0.3, "cores": 2, "torch_threads": 2}) is None
    assert "load 2.7 on 2 cores" in busy_warning({"load_1min": 2.7, "cores": 2, "torch_threads": 2})


def test_speedrun_refuses_nonsense_before_training():
    with pytest.raises(LenetlabError, match="--seeds"):
        speedrun(seeds=0, progress=False)
    with pytest.raises(LenetlabError, match="--target"):
        speedrun(target=99.0, progress=False)


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@pytest.mark.slow
def test_speedrun_command_on_the_cpu_writes_its_numbers(tmp_path, capsys):
    out = tmp_path / "speedrun.json"
    # One epoch to a low target: reached; the table and the JSON say so, test accuracy measured after.
    assert main(["speedrun", "--device", "cpu", "--seeds", "1", "--epochs", "1", "--target", "0.9",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "reached      1 of 1 seeds" in table and "plain eager PyTorch epoch" in table
    result = json.loads(out.read_text())
    run = result["runs"][0]
    assert run["reached"] and run["epochs"] == 1 and run["valid_accuracy"] >= 0.9 and run["test_accuracy"] > 0.9
    assert result["parameters"] == 61706 and result["fast_path"]["cuda_graph"] is False
    assert result["summary"]["plain_epochs_ratio"] == pytest.approx(run["seconds"] / result["summary"]["plain_epoch_seconds"], rel=0.02)
    # A target one epoch cannot reach: exit 1, and the JSON says not reached.
    assert main(["speedrun", "--device", "cpu", "--seeds", "1", "--epochs", "1", "--target", "0.999",
                 "--out", str(out)]) == 1
    assert json.loads(out.read_text())["summary"]["reached"] == 0
    # The fixed-budget track: one epoch over the 60,000 images, two seeds, tested once each.
    assert main(["speedrun", "--device", "cpu", "--budget", "1", "--seeds", "2", "--target", "0.97",
                 "--out", str(out)]) == 0
    table = capsys.readouterr().out
    assert "1 epoch over 60,000 training images" in table and "reached by 2 of 2 seeds: budget met" in table
    result = json.loads(out.read_text())
    assert result["track"] == "fixed budget" and result["config"]["epochs"] == 1 and len(result["runs"]) == 2
    assert all(r["test_accuracy"] > 0.97 for r in result["runs"])


def test_the_fixed_budget_track_trains_on_everything_and_counts_the_seeds_that_reach_the_target(tmp_path):
    """Tiny synthetic data (60 + 20 training images, 20 test): the arithmetic of the summary, not the accuracy."""
    data = write_idx_folder(tmp_path / "data", n_train=80, n_test=20)
    result = fixed_budget(epochs=2, seeds=4, target=0.1, device="cpu", progress=False, data_dir=str(data),
                          batch_size=16)
    runs, s = result["runs"], result["summary"]
    assert [r["seed"] for r in runs] == [0, 1, 2, 3] and result["epochs"] == 2 and result["config"]["epochs"] == 2
    assert result["train_images"] == 80 and result["fast_path"]["steps_per_epoch"] == 5  # all of them, no validation
    tests = [r["test_accuracy"] for r in runs]
    assert s["reached"] == sum(a >= 0.1 for a in tests)
    assert s["test_accuracy_mean"] == pytest.approx(sum(tests) / 4, abs=1e-6)
    assert s["test_accuracy_std"] == pytest.approx(torch.tensor(tests).std().item(), abs=1e-6)
    assert s["met"] == (s["test_accuracy_mean"] >= 0.1 and s["reached"] == 4)  # 4 seeds: none may miss
    assert len({tuple(r.values()) for r in runs}) == 4
    table = format_budget_table(result, "fr")
    assert "budget fixe  lenet5 (61\u202f706 paramètres), 2 époques sur 80 images" in table
    assert f"par {s['reached']} graines sur 4" in table
    with pytest.raises(LenetlabError, match="--target"):
        fixed_budget(epochs=1, seeds=1, target=1.5, progress=False, data_dir=str(data))


def test_speedrun_refuses_a_budget_below_one_epoch(capsys):
    assert main(["speedrun", "--budget", "0", "--device", "cpu"]) == 2
    assert "--budget must be at least 1" in capsys.readouterr().err
    assert main(["speedrun", "--budget", "2", "--epochs", "3", "--device", "cpu"]) == 2
    assert "give --budget or --epochs, not both" in capsys.readouterr().err


cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@pytest.mark.gpu
@cuda
def test_the_captured_step_trains_like_the_eager_step(mnist):
    """Without augmentation the captured and the eager step compute the same updates (up to float noise)."""
    device = torch.device("cuda")
    config = TrainConfig.from_preset("speedrun", epochs=1, augment="none")
    torch.manual_seed(0)
    start = build_model("lenet5").state_dict()
    results = []
    for graph in (True, False):
        model = build_model("lenet5").to(device)
        trainer = FastTrainer(model, mnist.train, mnist.valid, config, device, graph=graph)
        assert (trainer.graph is not None) == graph
        trainer.reset(start, seed=0)
        loss = trainer.train_epoch()
        results.append((loss, trainer.valid_accuracy(), [p.detach().cpu() for p in model.parameters()]))
    (loss_g, acc_g, params_g), (loss_e, acc_e, params_e) = results
    assert loss_g == pytest.approx(loss_e, rel=1e-3)
    assert abs(acc_g - acc_e) < 0.005
    assert max(float((a - b).abs().max()) for a, b in zip(params_g, params_e)) < 1e-2


@pytest.mark.gpu
@cuda
def test_speedrun_on_the_gpu_uses_a_cuda_graph():
    result = speedrun(device="cuda", seeds=2, target=0.9, epochs=2, progress=False)
    assert result["fast_path"]["cuda_graph"] is True
    assert result["summary"]["reached"] == 2 and result["summary"]["test_accuracy_mean"] > 0.9


@pytest.mark.gpu
@cuda
def test_train_on_the_gpu_takes_the_captured_path_and_resumes_bit_for_bit(tmp_path, monkeypatch, capsys, request):
    """`lenetlab train --device cuda`: the fast path with its CUDA graph, and --resume after an interrupt gives
    the same run as no interrupt (deterministic kernels, so that the comparison can be exact)."""
    from lenetlab import runs as runs_module
    from lenetlab import train_run
    from lenetlab.errors import TrainingInterrupted
    from lenetlab.fast_fit import fit_fast

    request.addfinalizer(lambda: torch.use_deterministic_algorithms(False))  # --deterministic is process-wide
    data_dir = write_idx_folder(tmp_path / "data", n_train=1000, n_test=200)
    config = TrainConfig.from_preset("default", epochs=3, batch_size=64, device="cuda", deterministic=True,
                                     data_dir=str(data_dir))
    graphs = []
    original_capture = FastTrainer._capture

    def counting_capture(self):
        original_capture(self)
        graphs.append(self.graph is not None)

    monkeypatch.setattr(FastTrainer, "_capture", counting_capture)
    whole = train_run(config, tmp_path / "whole", progress=False, figures=False)
    assert "fast path: the images on the GPU" in capsys.readouterr().out and graphs == [True]

    real_loop_for = runs_module.loop_for

    def stop_before_epoch_3(*args, **kwargs):
        loop, why = real_loop_for(*args, **kwargs)
        assert loop is fit_fast

        def stopping(*a, observer, **k):
            class Stop(type(observer)):
                def epoch_started(self, epoch):
                    if epoch == 3:
                        raise KeyboardInterrupt
                    super().epoch_started(epoch)
            observer.__class__ = Stop
            return loop(*a, observer=observer, **k)
        return stopping, why

    monkeypatch.setattr(runs_module, "loop_for", stop_before_epoch_3)
    with pytest.raises(TrainingInterrupted, match="holds epoch 2 of 3"):
        train_run(config, tmp_path / "cut", progress=False, log=None, figures=False)
    monkeypatch.setattr(runs_module, "loop_for", real_loop_for)
    resumed = train_run(config, tmp_path / "cut", resume=True, progress=False, log=None, figures=False)
    assert graphs == [True, True, True]
    for metrics in (whole, resumed):
        for epoch in metrics["epochs"]:
            epoch["train_seconds"] = epoch["valid_seconds"] = 0
        metrics["train_seconds"] = 0
    assert resumed == whole


def test_the_yardstick_is_the_median_of_several_plain_epochs(monkeypatch):
    """One timing of the plain epoch swung 2x within minutes on the 2-core machine: the median of three is kept."""
    from lenetlab import speedrun as speedrun_module

    timings = iter([6.3, 3.1, 4.4])
    monkeypatch.setattr(speedrun_module, "plain_epoch_seconds", lambda data, device: next(timings))
    assert speedrun_module.yardstick(None, torch.device("cpu")) == (4.4, [6.3, 3.1, 4.4])
