"""FGSM and PGD on the real 1-epoch LeNet-5 of the ``trained_run`` fixture (a few hundred test images)."""

import json

import pytest
import torch

from conftest import written
from lenetlab import MLP, LeNet5, LenetlabError
from lenetlab.checkpoint import load_checkpoint, save_checkpoint
from lenetlab.explore.attack import explore_attack, fgsm, format_table, pgd, robust_accuracy
from lenetlab.models import count_parameters

EPS = [0.0, 0.05, 0.1, 0.2, 0.3]
DIGITS = [str(d) for d in range(10)]


def seeded_sample(test, n, seed):
    """The sample explore_attack draws: the first n of a seeded permutation of the test set."""
    order = torch.randperm(len(test), generator=torch.Generator().manual_seed(seed))[:n]
    return test.as_float()[order], test.labels[order]


@pytest.fixture(scope="module")
def lenet(trained_run):
    return load_checkpoint(trained_run)[0]


@pytest.fixture(scope="module")
def sample(mnist):
    return seeded_sample(mnist.test, 300, 0)


@pytest.fixture(scope="module")
def attacked(lenet, sample):
    """Both attacks at every eps of EPS, once for the module (PGD with 20 steps to stay quick)."""
    return robust_accuracy(lenet, *sample, EPS, "both", steps=20, seed=0)


def test_eps_zero_is_the_clean_accuracy_on_the_same_images(lenet, sample, attacked):
    images, labels = sample
    with torch.no_grad():
        clean = int((lenet(images).argmax(1) == labels).sum()) / len(labels)
    assert attacked["n"] == 300 and attacked["clean_accuracy"] == clean
    assert attacked["fgsm"][0.0] == attacked["pgd"][0.0] == clean
    assert clean > 0.85  # the real trained weights, not a random network


@pytest.mark.parametrize("method", ["fgsm", "pgd"])
def test_accuracy_never_rises_with_eps(attacked, method):
    curve = [attacked[method][e] for e in EPS]
    assert all(later <= earlier for earlier, later in zip(curve, curve[1:])), curve


def test_pgd_is_at_least_as_strong_as_fgsm(attacked):
    assert all(attacked["pgd"][e] <= attacked["fgsm"][e] for e in EPS), attacked


def test_pgd_at_0_3_fools_a_one_epoch_lenet5(lenet, sample, attacked):
    # measured on this sample: clean 94-95 %, PGD at 0.3 0 %, FGSM at 0.3 under 1 %
    assert attacked["clean_accuracy"] - attacked["pgd"][0.3] > 0.6
    assert attacked["pgd"][0.3] < 0.25
    # the attack itself, not only the tracking of its iterates: the last PGD iterate alone fools it too
    images, labels = sample[0][:100], sample[1][:100]
    x_adv = pgd(lenet, images, labels, 0.3, steps=20, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert (lenet(x_adv).argmax(1) == labels).float().mean() < 0.25


@pytest.mark.parametrize("eps", [0.05, 0.3])
def test_perturbations_stay_within_eps_and_pixels_within_0_1(lenet, sample, eps):
    images, labels = sample[0][:64], sample[1][:64]
    generator = torch.Generator().manual_seed(1)
    for x_adv in (fgsm(lenet, images, labels, eps), pgd(lenet, images, labels, eps, steps=10, generator=generator),
                  pgd(lenet, images, labels, eps, steps=5, step_size=eps / 2, random_start=False)):
        assert x_adv.shape == images.shape and not x_adv.requires_grad
        change = (x_adv - images).abs()
        assert change.max() <= eps + 1e-6
        assert change.max() >= eps - 1e-6  # it did move pixels, by the whole budget somewhere
        assert x_adv.min() >= 0 and x_adv.max() <= 1


def test_pgd_is_seeded(lenet, sample):
    images, labels = sample[0][:32], sample[1][:32]

    def run(seed):
        return pgd(lenet, images, labels, 0.1, steps=5, generator=torch.Generator().manual_seed(seed))

    assert torch.equal(run(0), run(0))
    assert not torch.equal(run(0), run(1))
    first = robust_accuracy(lenet, images, labels, [0, 0.1], "pgd", steps=5, seed=0)
    again = robust_accuracy(lenet, images, labels, [0, 0.1], "pgd", steps=5, seed=0)
    assert first["pgd"] == again["pgd"]


def test_attacks_leave_the_model_in_its_own_mode(sample):
    model = LeNet5(activation="relu", pooling="max", batch_norm=True).train()
    images, labels = sample[0][:8], sample[1][:8]
    fgsm(model, images, labels, 0.1)
    robust_accuracy(model, images, labels, [0, 0.1], "both", steps=2)
    assert model.training


def test_explore_attack_writes_files_matching_robust_accuracy(trained_run, mnist, tmp_path):
    torch.manual_seed(0)
    mlp_pt = tmp_path / "bare" / "mlp.pt"  # a bare checkpoint in a folder without config.json
    mlp_pt.parent.mkdir()
    save_checkpoint(mlp_pt, MLP(), "mlp", DIGITS)
    out = tmp_path / "out"
    logged = []
    result = explore_attack([trained_run, mlp_pt], out, eps="0.3,0,0.1", n=200, steps=10, seed=3, log=logged.append)
    assert [p.name for p in written(out)] == ["attack.json", "attack_curves.png", "attack_examples.png"]
    assert sorted(result["files"]) == [str(p) for p in written(out)]
    saved = json.loads((out / "attack.json").read_text())
    assert saved == {k: v for k, v in result.items() if k != "files"}
    assert saved["eps"] == [0.0, 0.1, 0.3] and saved["n"] == 200 and saved["steps"] == 10 and "note" in saved
    assert [r["name"] for r in saved["runs"]] == ["lenet5", "bare/mlp.pt"]
    images, labels = seeded_sample(mnist.test, 200, 3)
    for row, path in zip(saved["runs"], [trained_run, mlp_pt]):
        model, ckpt = load_checkpoint(path)
        expected = robust_accuracy(model, images, labels, [0, 0.1, 0.3], "both", steps=10, seed=3)
        assert row["model"] == ckpt["model"] and row["parameters"] == count_parameters(model)
        assert row["clean_accuracy"] == expected["clean_accuracy"]
        for m in ("fgsm", "pgd"):
            assert row["accuracy"][m] == {f"{e:g}": a for e, a in expected[m].items()}
            assert row["seconds"][m] >= 0
    assert len(logged) == 4
    table = format_table(result).splitlines()
    assert table[0] == "| run | method | ε = 0 | ε = 0.1 | ε = 0.3 |" and len(table) == 2 + 4
    assert table[2].startswith("| lenet5 | FGSM | ") and table[5].startswith("| bare/mlp.pt (mlp) | PGD | ")


@pytest.mark.parametrize("kwargs, message", [
    ({"eps": [-0.1]}, "--eps -0.1 is outside [0, 1]"),
    ({"eps": "0,a"}, "--eps 'a' is not a number"),
    ({"eps": ["a"]}, "--eps 'a' is not a number"),
    ({"eps": [0.1, float("nan")]}, "is outside [0, 1]"),
    ({"eps": 1.5}, "--eps 1.5 is outside [0, 1]"),
    ({"eps": []}, "--eps is empty"),
    ({"n": 0}, "--n must be at least 1 (got 0)"),
    ({"n": 2.5}, "--n must be a whole number (got 2.5)"),
    ({"steps": 0}, "--steps must be at least 1 (got 0)"),
    ({"step_size": 0}, "--step-size must be a positive number, at most 1 (got 0)"),
    ({"method": "cw"}, "--method must be one of fgsm, pgd, both (got 'cw')"),
    ({"seed": -1}, "--seed must be at least 0 (got -1)"),
])
def test_invalid_arguments_are_one_line_errors_and_write_nothing(trained_run, tmp_path, kwargs, message):
    out = tmp_path / "out"
    with pytest.raises(LenetlabError) as info:
        explore_attack([trained_run], out, **kwargs)
    assert message in str(info.value) and "\n" not in str(info.value)
    assert not out.exists() and not (trained_run / "explore" / "attack.json").exists()


def test_runs_must_share_inputs_and_classes(trained_run, tmp_path):
    five = tmp_path / "five.pt"
    save_checkpoint(five, LeNet5(n_classes=5), "lenet5", DIGITS[:5])
    with pytest.raises(LenetlabError, match="different inputs or classes"):
        explore_attack([trained_run, five], tmp_path / "out")
    with pytest.raises(LenetlabError, match="no run to attack"):
        explore_attack([], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_robust_accuracy_checks_its_arguments(lenet, sample):
    images, labels = sample
    with pytest.raises(LenetlabError, match="is not a number"):
        robust_accuracy(lenet, images, labels, ["a"], "fgsm")
    with pytest.raises(LenetlabError, match="300 images and 299 labels"):
        robust_accuracy(lenet, images, labels[:-1], [0.1], "fgsm")
