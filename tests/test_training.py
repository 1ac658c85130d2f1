import math
import pickle

import pytest
import torch

from lenetlab import LeNet5, LenetlabError, TrainConfig, build_model, evaluate, fit, load_checkpoint, save_checkpoint
from lenetlab.augment import random_shift
from lenetlab.checkpoint import read_checkpoint
from lenetlab.data import ImageSet, MNISTData
from lenetlab.rundir import RunDir
from lenetlab.runs import RunWriter
from lenetlab.training import lr_factor


def _subset(mnist, n_train=6000, n_valid=1000):
    return MNISTData(
        ImageSet(mnist.train.images[:n_train], mnist.train.labels[:n_train]),
        ImageSet(mnist.valid.images[:n_valid], mnist.valid.labels[:n_valid]),
        mnist.test, mnist.class_names, mnist.sha256, mnist.source,
    )


def test_short_real_training_beats_chance_by_far(mnist):
    data = _subset(mnist, n_train=12000)
    model = LeNet5()
    state = fit(model, data, TrainConfig.from_preset("default", epochs=2), progress=False, log=None)
    assert [r.epoch for r in state.history] == [1, 2]
    assert state.history[1].train_loss < state.history[0].train_loss
    result = evaluate(model, mnist.test)
    assert result.accuracy > 0.80  # chance is 0.10; 188 steps of SGD already reach ~87%
    assert sum(map(sum, result.confusion_matrix)) == 10000
    assert result.accuracy == pytest.approx(sum(result.confusion_matrix[i][i] for i in range(10)) / 10000)


def test_validation_loss_is_summed_over_all_batches_not_overwritten(mnist):
    model = LeNet5()
    valid = ImageSet(mnist.valid.images[:1000], mnist.valid.labels[:1000])
    whole = evaluate(model, valid, batch_size=1000).loss
    batched = evaluate(model, valid, batch_size=300).loss  # batches of 300, 300, 300, 100
    with torch.no_grad():
        direct = torch.nn.functional.cross_entropy(model(valid.as_float()), valid.labels).item()
    assert whole == pytest.approx(direct, rel=1e-5)
    assert batched == pytest.approx(direct, rel=1e-5)


def test_same_seed_same_numbers(mnist):
    data = _subset(mnist, 2000, 500)
    config = TrainConfig.from_preset("default", epochs=1)
    runs = []
    for _ in range(2):
        torch.manual_seed(0)
        model = LeNet5()
        state = fit(model, data, config, progress=False, log=None)
        runs.append((state.history[0].train_loss, state.history[0].valid_loss, model.state_dict()))
    assert runs[0][:2] == runs[1][:2]
    assert all(torch.equal(runs[0][2][k], runs[1][2][k]) for k in runs[0][2])


def test_divergence_stops_with_a_clear_message(mnist, tmp_path):
    data = _subset(mnist, 2000, 200)
    for model_name in ("lenet5", "mlp"):  # tanh saturates to a huge finite loss, ReLU may reach inf/NaN
        config = TrainConfig.from_preset("seed", model=model_name, epochs=1, lr=100.0)
        with pytest.raises(LenetlabError, match=r"diverged.*epoch 1, step \d+.*lower --lr"):
            fit(build_model(model_name), data, config, observer=RunWriter(RunDir(tmp_path), config, data.class_names),
                progress=False, log=None)
        assert not (tmp_path / "best.pt").exists()


def test_checkpoint_round_trip(tmp_path):
    model = LeNet5(c1_channels=8, activation="relu")
    save_checkpoint(tmp_path / "m.pt", model, "lenet5", list("0123456789"), {"epoch": 3})
    rebuilt, payload = load_checkpoint(tmp_path / "m.pt")
    assert payload["model"] == "lenet5" and payload["epoch"] == 3 and payload["model_args"]["c1_channels"] == 8
    x = torch.randn(5, 1, 28, 28)
    model.eval()
    assert torch.equal(model(x), rebuilt(x))
    assert not list(tmp_path.glob(".*.tmp"))  # the atomic write left no temporary file


class _Payload:
    """Unpickling this object would run code that creates a file: a weights-only load must refuse it."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (open, (self.target, "w"))


def test_pickle_payload_is_refused_and_does_not_run(tmp_path):
    target = tmp_path / "pwned"
    evil = tmp_path / "evil.pt"
    with open(evil, "wb") as f:
        pickle.dump({"format": "lenetlab-checkpoint/1", "payload": _Payload(str(target))}, f, protocol=2)
    with pytest.raises(LenetlabError, match="not a loadable lenetlab checkpoint"):
        read_checkpoint(evil)
    assert not target.exists()


def test_checkpoint_of_another_architecture_is_refused(tmp_path):
    save_checkpoint(tmp_path / "m.pt", LeNet5(), "lenet5", list("0123456789"))
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    payload["model"], payload["model_args"] = "mlp", {}
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(LenetlabError, match="do not fit a mlp"):
        load_checkpoint(tmp_path / "edited.pt")
    torch.save({"weights": torch.zeros(3)}, tmp_path / "foreign.pt")
    with pytest.raises(LenetlabError, match="not a lenetlab checkpoint"):
        load_checkpoint(tmp_path / "foreign.pt")
    with pytest.raises(LenetlabError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nowhere")


def test_test_time_shifts_average_the_nine_shifted_images_softmax():
    torch.manual_seed(0)
    model = LeNet5().eval()
    images = torch.zeros(6, 28, 28, dtype=torch.uint8)
    images[:, 8:20, 12:16] = torch.randint(100, 255, (6, 12, 4), dtype=torch.uint8)
    labels = torch.arange(6)
    result = evaluate(model, ImageSet(images, labels), batch_size=4, tta_shift=1)
    padded = torch.nn.functional.pad(images.float().div(255), (1, 1, 1, 1))  # written out: every dy, dx in -1..1
    with torch.no_grad():
        expected = sum(model(padded[:, 1 + dy:29 + dy, 1 + dx:29 + dx].unsqueeze(1)).softmax(1)
                       for dy in (-1, 0, 1) for dx in (-1, 0, 1)) / 9
    assert torch.allclose(result.probabilities, expected, atol=1e-6)
    assert torch.equal(result.predictions, expected.argmax(1))
    plain = evaluate(model, ImageSet(images, labels), batch_size=4)
    assert result.loss == pytest.approx(plain.loss)  # the loss stays the plain images'
    assert not torch.allclose(result.probabilities, plain.probabilities)


def test_random_shift_moves_pixels_without_changing_them():
    images = torch.zeros(50, 28, 28, dtype=torch.uint8)
    images[:, 10:18, 10:18] = 200
    shifted = random_shift(images, 2, torch.Generator().manual_seed(0))
    assert shifted.shape == images.shape and shifted.dtype == torch.uint8
    assert torch.equal(shifted.sum((1, 2)), images.sum((1, 2)))  # nothing falls off a 2-px margin
    offsets = {tuple(torch.nonzero(s)[0].tolist()) for s in shifted}
    assert len(offsets) > 5 and all(8 <= r <= 12 and 8 <= c <= 12 for r, c in offsets)


def test_one_cycle_schedule():
    assert lr_factor("constant", 500, 1000) == 1.0
    assert lr_factor("onecycle", 0, 1000) == pytest.approx(0.1)
    assert lr_factor("onecycle", 200, 1000) == pytest.approx(1.0)
    assert lr_factor("onecycle", 1000, 1000) == pytest.approx(0.0)
    assert lr_factor("cosine", 500, 1000) == pytest.approx(0.5)


@pytest.mark.parametrize("override, message", [
    ({"epochs": 0}, "--epochs"), ({"lr": -1.0}, "--lr"), ({"lr": math.nan}, "--lr"),
    ({"optimizer": "lbfgs"}, "optimizer"), ({"model": "vgg"}, "unknown model"), ({"augment": "mixup"}, "unknown augment"),
])
def test_bad_settings_are_named(override, message):
    with pytest.raises(LenetlabError, match=message):
        TrainConfig.from_preset("default", **override)
    with pytest.raises(LenetlabError, match="unknown preset"):
        TrainConfig.from_preset("fast")


def test_config_defaults_are_the_default_preset():
    assert TrainConfig() == TrainConfig.from_preset("default")
    modern = TrainConfig.from_preset("default", model="lenet5-modern")
    assert modern.label_smoothing == 0.0 and modern.epochs == 40
    assert TrainConfig.from_preset("default", model="lenet5-modern", label_smoothing=0.05).label_smoothing == 0.05
    assert TrainConfig.from_preset("seed", model="lenet5-modern").label_smoothing == 0.0


def _loss_and_grads(config, mnist):
    """Loss and gradients of one fixed batch through the training path ``config`` selects."""
    from lenetlab.training import _training_batch, _training_network

    torch.manual_seed(0)
    model = LeNet5()
    network = _training_network(model, config, world=1)
    inputs, labels = _training_batch(mnist.train, torch.arange(256), "none", torch.Generator(), config.channels_last)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=config.precision == "bf16"):
        logits = network(inputs)
    loss = torch.nn.functional.cross_entropy(logits.float(), labels)
    loss.backward()
    return loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])


@pytest.mark.parametrize("options, tolerance", [
    ({"channels_last": True}, 1e-5),
    ({"precision": "bf16"}, 2e-2),
    ({"channels_last": True, "precision": "bf16"}, 2e-2),
])
def test_fast_paths_give_the_plain_paths_loss_and_gradients(mnist, options, tolerance):
    plain_loss, plain_grads = _loss_and_grads(TrainConfig.from_preset("seed", channels_last=False), mnist)
    fast_loss, fast_grads = _loss_and_grads(TrainConfig.from_preset("seed", **{"channels_last": False, **options}), mnist)
    assert fast_loss == pytest.approx(plain_loss, rel=tolerance)
    cosine = torch.nn.functional.cosine_similarity(fast_grads, plain_grads, dim=0)
    assert cosine > 1 - tolerance


@pytest.mark.slow
def test_compiled_path_gives_the_plain_paths_loss(mnist):
    plain_loss, plain_grads = _loss_and_grads(TrainConfig.from_preset("seed", channels_last=False), mnist)
    fast_loss, fast_grads = _loss_and_grads(TrainConfig.from_preset("seed", channels_last=False, compile=True), mnist)
    assert fast_loss == pytest.approx(plain_loss, rel=1e-5)
    assert torch.allclose(fast_grads, plain_grads, rtol=1e-3, atol=1e-6)
