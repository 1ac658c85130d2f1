"""Attribution maps (saliency, gradient x input, Grad-CAM, occlusion) on the real trained LeNet-5."""

import copy
import itertools
import json

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_idx_folder, written
from lenetlab import MLP, LenetlabError, TrainConfig, load_checkpoint, train_run
from lenetlab.evaluation import confidently_wrong
from lenetlab.explore.attribution import (
    explore_attribution,
    grad_cam,
    gradient_times_input,
    occlusion,
    randomized_model,
    randomized_weights_correlation,
    rank_correlation,
    saliency,
)
from lenetlab.training import evaluate


@pytest.fixture(scope="module")
def model(trained_run):
    return load_checkpoint(trained_run)[0]


@pytest.fixture(scope="module")
def digits(mnist):
    """Eight real test digits (N, 28, 28) in [0, 1] and their labels."""
    return mnist.test.as_float(0, 8)[:, 0], mnist.test.labels[:8]


def test_saliency_is_the_logit_gradient_and_gradient_times_input_is_zero_on_black(model, digits):
    x, labels = digits
    maps = saliency(model, x, labels)
    assert maps.shape == (8, 28, 28) and maps.dtype == np.float32
    assert np.isfinite(maps).all() and np.abs(maps).max() > 0
    # the gradient of the logit, checked by a central finite difference along a random direction
    direction = torch.randn(28, 28, generator=torch.Generator().manual_seed(0))
    direction /= direction.norm()
    eps = 1e-2
    with torch.no_grad():
        logit = lambda image: float(model(image[None, None])[0, int(labels[0])])  # noqa: E731
        numeric = (logit(x[0] + eps * direction) - logit(x[0] - eps * direction)) / (2 * eps)
    assert float((maps[0] * direction.numpy()).sum()) == pytest.approx(numeric, rel=1e-2, abs=1e-4)
    times_input = gradient_times_input(model, x, labels)
    assert np.allclose(times_input, maps * x.numpy(), atol=1e-7)
    assert (times_input[x.numpy() == 0] == 0).all() and (x.numpy() == 0).any()
    # one class for the whole batch, and the model is left in the mode it was in
    model.train()
    assert np.array_equal(saliency(model, x[:2], 7), saliency(model, x[:2], [7, 7]))
    assert model.training
    model.eval()


def _patches(patch, stride):
    starts = list(range(0, 28 - patch + 1, stride))
    starts += [] if starts[-1] == 28 - patch else [28 - patch]
    return [(r, c) for r, c in itertools.product(starts, starts)]


def test_occlusion_of_a_blank_region_changes_nothing(model, mnist):
    images = mnist.test.as_float(0, 3)[:, 0].clone()
    images[:, :, :14] = 0.0  # the left half is all black
    labels = mnist.test.labels[:3]
    heat = occlusion(model, images, labels, patch=4, stride=2, baseline=0.0)
    assert heat.shape == (3, 28, 28) and np.isfinite(heat).all()
    # pixels whose every covering patch lies inside the black half: patches start at column <= 10
    only_blank = np.ones((28, 28), bool)
    for r, c in _patches(4, 2):
        if c + 4 > 14:
            only_blank[r:r + 4, c:c + 4] = False
    assert only_blank[:, :12].all() and not only_blank[:, 12:].any()
    assert (heat[:, only_blank] == 0).all()
    assert np.abs(heat[:, :, 14:]).max() > 1e-3  # hiding ink does change the probability
    # one pixel by hand: the mean drop of p(label) over the patches covering it
    with torch.no_grad():
        p = lambda image: float(model(image[None, None]).softmax(1)[0, int(labels[0])])  # noqa: E731
        drops = []
        for r, c in _patches(4, 2):
            if r <= 20 < r + 4 and c <= 17 < c + 4:
                hidden = images[0].clone()
                hidden[r:r + 4, c:c + 4] = 0.0
                drops.append(p(images[0]) - p(hidden))
    assert len(drops) == 4 and heat[0, 20, 17] == pytest.approx(np.mean(drops), abs=1e-6)


def test_occlusion_covers_every_pixel_and_refuses_bad_patches(model, digits):
    x, labels = digits
    heat = occlusion(model, x[:1], labels[:1], patch=5, stride=3)  # starts 0, 3, ..., 21, then 23 on the edge
    assert heat.shape == (1, 28, 28)
    for patch, stride, words in ((0, 1, "--patch 0"), (29, 2, "--patch 29"), (4, 0, "--stride 0"), (4, 5, "--stride 5")):
        with pytest.raises(LenetlabError, match=words) as error:
            occlusion(model, x[:1], labels[:1], patch=patch, stride=stride)
        assert "\n" not in str(error.value)


def test_grad_cam_on_real_digits(model, digits):
    x, labels = digits
    cam = grad_cam(model, x, labels)
    assert cam.shape == (8, 28, 28) and np.isfinite(cam).all()
    assert (cam >= 0).all() and (cam.reshape(8, -1).max(1) > 0).all()
    # recomputed without hooks, from model.activations: C3's maps weighted by their mean gradient, ReLU, resized
    inputs = x[:, None].clone().requires_grad_(True)
    acts = model.activations(inputs)
    grads = torch.autograd.grad(acts["output"].gather(1, labels[:, None]).sum(), acts["C3"])[0]
    expected = torch.relu((grads.mean((2, 3), keepdim=True) * acts["C3"]).sum(1, keepdim=True)).detach()
    expected = torch.nn.functional.interpolate(expected, size=(28, 28), mode="bilinear", align_corners=False)[:, 0]
    assert np.allclose(cam, expected.numpy(), rtol=1e-4, atol=1e-7)
    for layer in ("C1", "C5"):
        assert grad_cam(model, x[:2], labels[:2], layer=layer).shape == (2, 28, 28)
    with pytest.raises(LenetlabError, match="S2 is not a convolutional layer.*C1, C3, C5"):
        grad_cam(model, x[:2], labels[:2], layer="S2")


def test_grad_cam_refuses_a_model_without_convolution(digits):
    x, labels = digits
    with pytest.raises(LenetlabError) as error:
        grad_cam(MLP().eval(), x[:2], labels[:2])
    message = str(error.value)
    assert "\n" not in message and "convolutional" in message and "saliency" in message and "occlusion" in message


def test_rank_correlation_is_spearmans():
    scipy_stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 5, 200).astype(float), rng.random(200)  # many ties in a
    assert rank_correlation(a, b) == pytest.approx(scipy_stats.spearmanr(a, b).statistic, abs=1e-12)
    assert rank_correlation(a, 2 * a + 1) == pytest.approx(1.0) and rank_correlation(np.ones(5), b[:5]) == 0.0


def test_saliency_depends_on_the_trained_weights(model, digits):
    """Adebayo et al. 2018: fresh random weights must give different maps.

    Measured on this 1-epoch LeNet-5, over 200 test images: mean 0.12 to 0.15 for seeds 0 to 3, per
    image at most 0.34 (95th percentile 0.28); a copy with 5% weight noise gives 0.99. So 0.4 fails
    only if the maps stopped depending on the weights, and holds for every single image.
    """
    x, labels = digits
    first, second = saliency(model, x, labels), saliency(model, x, labels)
    assert np.array_equal(first, second)  # stable: same call, same maps
    rng_before = torch.get_rng_state()
    rho = randomized_weights_correlation(model, x, labels, seed=0)
    assert torch.equal(torch.get_rng_state(), rng_before)  # the global RNG is left alone
    assert -0.2 < rho < 0.4
    assert randomized_weights_correlation(model, x, labels, seed=0) == rho
    fresh = randomized_model(model, seed=0)
    assert type(fresh) is type(model) and fresh.config == model.config
    assert not torch.equal(fresh.stage("C1").conv.weight, model.stage("C1").conv.weight)
    # positive control: the measure does see similar maps as similar
    noisy = copy.deepcopy(model)
    with torch.no_grad():
        for p in noisy.parameters():
            p.add_(0.05 * p.std() * torch.randn(p.shape, generator=torch.Generator().manual_seed(1)))
    similar = np.mean([rank_correlation(np.abs(a), np.abs(b)) for a, b in zip(first, saliency(noisy, x, labels))])
    assert similar > 0.9


def test_explore_attribution_writes_maps_that_match_recomputation(trained_run, model, mnist, tmp_path):
    result = explore_attribution(trained_run, tmp_path, index=[0, 8], method="all")
    assert [p.name for p in written(tmp_path)] == ["attribution.json", "attribution.png"]
    assert result["files"] == [str(tmp_path / "attribution.png"), str(tmp_path / "attribution.json")]
    saved = json.loads((tmp_path / "attribution.json").read_text())
    assert Image.open(tmp_path / "attribution.png").size[1] > 300
    assert set(saved["methods"]) == {"saliency", "gradient_times_input", "gradcam", "occlusion"}
    assert set(saved["sanity_check"]) == {"method", "rank_correlation_trained_vs_random", "note"}
    assert saved["sanity_check"]["rank_correlation_trained_vs_random"] < 0.4
    record = saved["images"][1]
    label = int(mnist.test.labels[8])
    x = mnist.test.as_float(8, 9)[:, 0]
    probs = model(x[:, None]).softmax(1)[0].detach()
    assert (record["source"], record["index"], record["label"], record["target"]) == ("test image 8", 8, label, label)
    assert record["prediction"] == int(probs.argmax()) and record["probability"] == pytest.approx(float(probs.max()), abs=1e-6)
    expected = {"saliency": saliency(model, x, label), "gradient_times_input": gradient_times_input(model, x, label),
                "gradcam": grad_cam(model, x, label), "occlusion": occlusion(model, x, label, patch=4, stride=2)}
    for name, value in expected.items():
        assert np.array(record["maps"][name]).shape == (28, 28)
        assert np.allclose(record["maps"][name], value[0], atol=1.5e-5), name


def test_out_of_range_index_fails_before_writing(trained_run, tmp_path):
    out = tmp_path / "never"
    with pytest.raises(LenetlabError, match=r"--index 10000 is outside the test set; choose 0 to 9999") as error:
        explore_attribution(trained_run, out, index=[3, 10000])
    assert "\n" not in str(error.value) and not out.exists()
    with pytest.raises(LenetlabError, match="not both"):
        explore_attribution(trained_run, out, index=[3], image=["seven.png"])
    with pytest.raises(LenetlabError, match="--patch 30"):
        explore_attribution(trained_run, out, index=[3], patch=30)
    assert not out.exists()


def test_default_images_are_the_confidently_wrong_then_one_right_per_class(trained_run, model, mnist, tmp_path):
    result = explore_attribution(trained_run, tmp_path, method="saliency")
    evaluation = evaluate(model, mnist.test)
    labels, predicted = mnist.test.labels.numpy(), evaluation.predictions.numpy()
    wrong = [w.index for w in confidently_wrong(evaluation.probabilities, labels, 6)]
    right = [int(np.nonzero((labels == c) & (predicted == c))[0][0]) for c in range(10)]
    assert [r["index"] for r in result["images"]] == wrong + right
    assert len(wrong) == min(6, int((labels != predicted).sum()))
    assert [r["label"] != r["prediction"] for r in result["images"]] == [True] * len(wrong) + [False] * 10
    assert [r["label"] for r in result["images"][len(wrong):]] == list(range(10))
    assert set(result["images"][0]["maps"]) == {"saliency", "gradient_times_input"}  # only the chosen method


def test_a_users_image_is_explained_by_its_prediction(trained_run, mnist, tmp_path):
    paper = 255 - mnist.test.images[0].numpy()  # a dark 7 on white paper, as a photo would be
    Image.fromarray(np.kron(paper, np.ones((3, 3), np.uint8))).save(tmp_path / "seven.png")
    result = explore_attribution(trained_run, tmp_path / "out", image=[tmp_path / "seven.png"], method="occlusion",
                                 patch=6, stride=3)
    record = result["images"][0]
    assert record["source"] == str(tmp_path / "seven.png") and record["label"] is None and record["index"] is None
    assert record["target"] == record["prediction"] == 7
    assert list(record["maps"]) == ["occlusion"] and result["settings"]["occlusion_patch"] == 6


@pytest.fixture(scope="module")
def mlp_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("attribution_mlp")
    data_dir = write_idx_folder(root / "data", n_train=40, n_test=12)
    run = root / "run"
    train_run(TrainConfig.from_preset("seed", epochs=1, model="mlp", data_dir=str(data_dir)), run, progress=False,
              log=None)
    return run


def test_an_mlp_run_gets_every_map_but_grad_cam(mlp_run, tmp_path):
    result = explore_attribution(mlp_run, tmp_path, index=[0, 1])
    assert result["images"][0]["maps"]["gradcam"] is None and len(result["images"][0]["maps"]["saliency"]) == 28
    assert (tmp_path / "attribution.png").is_file()
    with pytest.raises(LenetlabError, match="saliency or occlusion") as error:
        explore_attribution(mlp_run, tmp_path / "gradcam", index=[0], method="gradcam")
    assert "\n" not in str(error.value) and not (tmp_path / "gradcam").exists()
