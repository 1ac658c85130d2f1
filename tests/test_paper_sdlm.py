"""The 1998 paper's training as published: per-image SDLM (lenetlab/paper_sdlm.py), its initialisation, the study."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from lenetlab.cli import main
from lenetlab.data import ImageSet, to_input
from lenetlab.errors import LenetlabError
from lenetlab.explore.published import published_summary
from lenetlab.explore.published_ablation import published_ablation
from lenetlab.models import build_model
from lenetlab.models.lenet1998 import SparseConv2d, Subsampling, c3_table_rows
from lenetlab.paper_sdlm import per_sample_sdlm
from lenetlab.sdlm import MU, diagonal_hessian


def _images(n: int, seed: int = 0) -> ImageSet:
    g = torch.Generator().manual_seed(seed)
    return ImageSet((torch.rand(n, 28, 28, generator=g) * 255).to(torch.uint8), torch.randint(0, 10, (n,), generator=g))


def _snapshot(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


def test_one_image_makes_one_step_of_eta_over_mu_plus_h_times_its_gradient():
    """One pass over one image: h from that image, then w - 0.0005 / (0.02 + h) * dE/dw, written out here."""
    torch.manual_seed(0)
    model = build_model("lenet5-1998", init="root-fan-in")
    image = _images(1)
    before = _snapshot(model)
    x, y = to_input(image.images), image.labels
    h = diagonal_hessian(model, x, y)
    loss = model.criterion(model(x), y)
    params = [p for p in model.parameters() if p.requires_grad]
    grads = dict(zip(params, torch.autograd.grad(loss, params)))
    by_name = dict(model.named_parameters())
    expected = {n: before[n] - 0.0005 / (0.02 + h[by_name[n]]) * grads[by_name[n]] for n in before}
    wrong_before = int(model(x).argmax(1) != y)

    history = per_sample_sdlm(model, image, _images(3, seed=1), passes=1, compile=False)

    for name, p in model.named_parameters():
        if p.requires_grad:
            torch.testing.assert_close(p.detach(), expected[name], rtol=1e-5, atol=1e-7)
            assert not torch.equal(p.detach(), before[name])  # every parameter moved
    (record,) = history.passes
    assert (record.epoch, record.eta) == (1, 0.0005)
    assert record.train_error == wrong_before  # judged before its own step, as the paper's Figure 5 counts it
    assert 0 <= record.test_error <= 1 and history.compiled is False


def test_each_image_steps_from_where_the_previous_left_and_h_is_kept_for_the_pass():
    """Two images: the second step's gradient is taken at the weights the first step left, with the h of the pass."""
    torch.manual_seed(1)
    model = build_model("lenet5-1998", init="root-fan-in")
    train = _images(2, seed=2)
    reference = build_model("lenet5-1998", init="root-fan-in")
    reference.load_state_dict(model.state_dict())
    gen = torch.Generator().manual_seed(7)  # the same draws per_sample_sdlm makes: the estimate's images, then the order
    estimate = torch.randperm(2, generator=gen)[:500]
    order = torch.randperm(2, generator=gen).tolist()
    x_all, y_all = to_input(train.images), train.labels
    h = diagonal_hessian(reference, x_all[estimate], y_all[estimate])
    params = [p for p in reference.parameters() if p.requires_grad]
    for k in order:
        loss = reference.criterion(reference(x_all[k:k + 1]), y_all[k:k + 1])
        grads = torch.autograd.grad(loss, params)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= 0.0005 / (MU + h[p]) * g

    per_sample_sdlm(model, train, _images(2, seed=3), passes=1, seed=7, compile=False)

    for (name, p), q in zip(((n, p) for n, p in model.named_parameters() if p.requires_grad), params):
        torch.testing.assert_close(p.detach(), q.detach(), rtol=1e-5, atol=1e-7, msg=name)


def test_the_papers_distortions_keep_one_image_in_ten_and_never_rotate():
    from lenetlab.augment import paper_distortion_maps, paper_distortions

    theta = paper_distortion_maps(20_000, 28, torch.Generator().manual_seed(0))
    identity = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    kept = (theta == identity).flatten(1).all(1)
    assert 0.09 < kept.float().mean() < 0.11  # 60,000 originals among 600,000 images
    moved = theta[~kept]
    forward = torch.linalg.inv(moved[:, :, :2])  # the image's own map: scale, squeeze, horizontal shear
    assert torch.all(moved[:, 1, 0] == 0) and torch.all(forward[:, 1, 0].abs() < 1e-6)  # no rotation, no vertical shear
    scale, squeeze = (forward[:, 0, 0] * forward[:, 1, 1]).sqrt(), (forward[:, 0, 0] / forward[:, 1, 1]).sqrt()
    shear = forward[:, 0, 1] / forward[:, 0, 0]
    for amount, low, high in ((scale, 0.9, 1.1), (squeeze, 0.9, 1.1), (shear, -0.2, 0.2)):
        assert low - 1e-5 <= amount.min() < low + 0.01 and high - 0.01 < amount.max() <= high + 1e-5
    assert moved[:, :, 2].abs().max() <= 2 * 2 / 28 + 1e-6  # at most 2 pixels each way
    images = torch.rand(8, 1, 28, 28)
    draws = [paper_distortions(images, torch.Generator().manual_seed(seed)) for seed in (3, 3, 4)]
    assert torch.equal(draws[0], draws[1]) and not torch.equal(draws[0], draws[2])


def test_distortions_draw_fresh_images_each_pass_from_the_seed():
    """With distortions the same seed gives the same weights, another seed or no distortions other ones."""
    train, test = _images(4, seed=5), _images(2, seed=6)

    def trained(distort: bool, seed: int) -> torch.Tensor:
        torch.manual_seed(0)
        model = build_model("lenet5-1998", init="root-fan-in")
        per_sample_sdlm(model, train, test, passes=2, distort=distort, seed=seed, compile=False)
        return torch.cat([p.detach().flatten() for p in model.parameters()])

    again = trained(True, 1)
    assert torch.equal(again, trained(True, 1))
    assert not torch.allclose(again, trained(True, 2)) and not torch.allclose(again, trained(False, 1))


@pytest.mark.parametrize("init, power", [("fan-in", 1.0), ("root-fan-in", 0.5)])
def test_the_weights_start_uniform_in_2_4_over_the_fan_in_or_its_root(init, power):
    """The printed ±2.4 / F_in; or ±2.4 / sqrt(F_in) where each input has its own weight, S2 and S4 kept at ±2.4 / 4."""
    torch.manual_seed(0)
    model = build_model("lenet5-1998", init=init)
    checked = 0
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d | torch.nn.Linear):
            bounds = torch.full((module.weight.shape[0],), 2.4 / module.weight[0].numel() ** power)
        elif isinstance(module, SparseConv2d):
            seen = torch.tensor([sum(row) for row in c3_table_rows()], dtype=torch.float32) * 25
            bounds = 2.4 / seen ** power
        elif isinstance(module, Subsampling):
            bounds = torch.full((module.weight.shape[0],), 2.4 / 4)  # one coefficient for 4 nearly equal inputs
        else:
            continue
        per_unit = module.bias.detach().abs()
        assert (per_unit <= bounds + 1e-7).all()
        weight = module.weight.detach().abs()
        largest = weight.flatten(1).max(1).values if weight.dim() > 1 else weight
        if isinstance(module, SparseConv2d):  # C3's kernels each belong to one output map
            largest = torch.zeros(16).index_reduce_(0, module.connection_index // module.in_channels,
                                                   weight.flatten(1).max(1).values, "amax")
        assert (largest <= bounds + 1e-7).all()
        if weight.numel() >= 150:  # the whole range is used, not a narrower one (S2, S4: 6 and 16 draws only)
            assert largest.max() > 0.8 * bounds.max()
        checked += 1
    assert checked == 6  # C1, S2, C3, S4, C5, F6 (the RBF prototypes are fixed)
    with pytest.raises(LenetlabError, match="unknown init 'xavier'; choose 'fan-in' or 'root-fan-in'"):
        build_model("lenet5-1998", init="xavier")


def test_the_summary_gives_mean_std_and_whether_the_papers_error_is_reached(tmp_path):
    runs = {"seed-0": (False, [0.02, 0.0090]), "seed-1": (False, [0.02, 0.0100]),
            "seed-0-distortions": (True, [0.03, 0.0070])}
    for name, (distort, errors) in runs.items():
        passes = [{"epoch": i + 1, "eta": 5e-4, "train_error": e * 2, "test_error": e, "seconds": 1.0}
                  for i, e in enumerate(errors)]
        (tmp_path / f"{name}.json").write_text(json.dumps(
            {"seed": int(name[5]), "distortions": distort, "passes": passes, "seconds": 2.0, "machine": "cpu"}))

    result = published_summary(tmp_path, lang="fr")

    without, with_distortions = result["rows"]
    assert without["seeds"] == 2 and without["mean_error"] == pytest.approx(0.0095)
    assert without["std_error"] == pytest.approx(0.000707, abs=1e-6) and without["met"] is True  # 0.95 % ≤ 0.95 %
    assert with_distortions["seeds"] == 1 and with_distortions["met"] is True  # 0.70 % ≤ 0.80 %
    table = (tmp_path / "published.md").read_text().replace("\u202f", " ")  # French: a narrow space before %
    assert "| sans distorsions | 2 | 0,95 % | 0,95 % ± 0,07 | oui | 1,90 % | 0 |" in table  # training error on the fly
    assert (tmp_path / "figure5.png").stat().st_size > 10_000


def _per_image_run(folder, name, seed, error, minutes=28):
    passes = [{"epoch": 1, "eta": 5e-4, "train_error": 0.05, "test_error": 0.03, "seconds": 60.0},
              {"epoch": 2, "eta": 5e-4, "train_error": 0.01, "test_error": error, "seconds": 60.0}]
    run = {"seed": seed, "passes": passes, "train_images": 60000, "seconds": 60.0 * minutes}
    (folder / f"{name}.json").write_text(json.dumps(run))
    return run


def test_the_published_ablation_table_reads_each_rows_seeds_and_its_change_over_the_seeds_both_finished(tmp_path):
    _per_image_run(tmp_path, "seed-0", 0, 0.0090)  # the first row is the published run itself
    _per_image_run(tmp_path, "seed-1", 1, 0.0100)
    _per_image_run(tmp_path, "ablation-tanh-seed-0", 0, 0.0500)
    _per_image_run(tmp_path, "ablation-tanh-seed-1", 1, 0.0700)
    _per_image_run(tmp_path, "ablation-full-c3-seed-1", 1, 0.0110)  # seed 0 not trained yet
    (tmp_path / "ablation-sgd-seed-0.json").write_text(json.dumps(  # the batch path keeps only its last error
        {"seed": 0, "passes": 2, "status": "ok", "test_error": 0.0080, "seconds": 600.0}))
    (tmp_path / "ablation-softmax-seed-0.json").write_text(json.dumps(  # a failed row as the code writes it
        {"seed": 0, "passes": 2, "status": "failed", "message": "training diverged: the loss is nan at epoch 1",
         "test_error": None, "seconds": None}))

    result = published_ablation(tmp_path, [0, 1], passes=2, lang="fr")

    rows = {r["name"]: r for r in result["rows"]}
    assert rows["lenet5-1998"]["test_error"] == pytest.approx(0.0095) and set(rows["lenet5-1998"]["errors"]) == {0, 1}
    assert rows["ablation-tanh"]["change"] == pytest.approx(0.0505)
    assert rows["ablation-full-c3"]["change"] == pytest.approx(0.0010)  # against seed 1's 0.0100, not the mean
    assert rows["ablation-avg-pooling"]["test_error"] is None and rows["ablation-softmax"]["seconds"] is None
    assert rows["lenet5-1998"]["parameters"] == 60000 and rows["ablation-full-c3"]["parameters"] == 60900
    table = (tmp_path / "published-ablation.md").read_text().replace("\u202f", " ")
    assert "| tous les choix de 1998 | 60 000 | 0,95 % ± 0,07 |  | 28 |" in table
    assert "| tanh simple au lieu de 1,7159 tanh(2a/3) | 60 000 | 6,00 % ± 1,41 | +5,05 points | 28 |" in table
    assert "| C3 relié à toutes les cartes de S2 | 60 900 | 1,10 % (1 sur 2 graines) | +0,10 points | 28 |" in table
    assert "| SGD + moment de Nesterov au lieu de SDLM | 60 000 | 0,80 % (1 sur 2 graines) | −0,10 points | 10 |" in table
    assert "| 60 850 | échec : training diverged: the loss is nan at epoch 1 |  |  |" in table
    assert "| sous-échantillonnage par moyenne au lieu du sous-échantillonnage entraînable | 59 956 |  |  |  |" in table
    assert "(2 passes sur les 60 000 images" in table and "graines 0, 1" in table
    assert (tmp_path / "published-ablation.png").stat().st_size > 10_000


def test_a_row_that_diverges_is_recorded_as_failed_and_the_study_goes_on(tmp_path, monkeypatch):
    from lenetlab.errors import DivergedError
    from lenetlab.explore import published_ablation as module

    def fake_per_image(out, seed, *, passes, model_args, name, **_):
        if model_args == {"activation": "tanh"}:
            raise DivergedError.of("error.diverged", loss=float("nan"), where="pass 1")
        return _per_image_run(out, name, seed, 0.01)

    def fake_batch_row(out, path, seed, passes, *_):  # the SGD row failed as train_variants reports it
        run = {"seed": seed, "passes": passes, "status": "failed", "message": "out of memory", "test_error": None,
               "seconds": None}
        path.write_text(json.dumps(run))
        return run

    monkeypatch.setattr(module, "train_published", fake_per_image)
    monkeypatch.setattr(module, "_train_batch_row", fake_batch_row)
    lines = []
    module.train_published_ablation(tmp_path, 0, passes=2, log=lines.append)

    assert len(lines) == 6 and lines[2].startswith("[3/6] plain tanh instead of 1.7159 tanh(2a/3), seed 0: failed: "
                                                   "training diverged: the loss is nan")
    assert "lower --lr" not in lines[2] and lines[5].endswith("failed: out of memory")
    assert lines[0] == "[1/6] every 1998 choice, seed 0: pass 2: test error 1.00 %"
    failed = json.loads((tmp_path / "ablation-tanh-seed-0.json").read_text())
    assert failed["status"] == "failed" and failed["passes"] == 2  # resumable: not trained again
    table = module.published_ablation(tmp_path, [0], passes=2)
    assert table["rows"][2]["failed"] and table["rows"][5]["test_error"] is None


def test_a_run_trained_for_other_passes_is_refused_not_mixed_in(tmp_path, capsys):
    _per_image_run(tmp_path, "seed-0", 0, 0.0090)  # 2 passes
    before = (tmp_path / "seed-0.json").read_bytes()
    assert main(["paper", "--published", "--ablation", "--seeds", "0", "--passes", "3", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "seed-0.json was trained for 2 passes, not --passes 3; give --passes 2" in err
    assert len(err.strip().splitlines()) == 1 and (tmp_path / "seed-0.json").read_bytes() == before
    assert not (tmp_path / "published-ablation.md").exists()


@pytest.mark.parametrize("argv, words", [
    (["--published", "--models", "lenet5"], "--published trains lenet5-1998 alone"),
    (["--published", "--ablation", "--distortions", "with"], "--published --ablation trains without distortions"),
    (["--published", "--ablation", "--distortions", "both"], "leave out --distortions"),
    (["--published", "--seeds", "1,1"], "--seeds '1,1': give distinct whole numbers"),
    (["--published", "--seeds", "a"], "--seeds 'a': give distinct whole numbers"),
    (["--published", "--passes", "0"], "--passes must be at least 1 (got 0)"),
])
def test_published_refuses_bad_requests_in_one_line_before_training(argv, words, tmp_path, capsys):
    assert main(["paper", *argv, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_printed_init_stays_at_chance_where_the_root_init_learns(mnist):
    """The finding of paper_sdlm.py, on 2,000 real images with the paper's first eta: measured 10 % against 84 %."""
    small = lambda s, n: ImageSet(s.images[:n], s.labels[:n])  # noqa: E731
    errors = {}
    for init in ("fan-in", "root-fan-in"):
        torch.manual_seed(0)
        model = build_model("lenet5-1998", init=init)
        history = per_sample_sdlm(model, small(mnist.train, 2000), small(mnist.test, 1000), passes=1, compile=False)
        errors[init] = history.passes[0].test_error
    assert errors["fan-in"] > 0.8  # chance is 0.9: every unit saturated
    assert errors["root-fan-in"] < 0.3


@pytest.mark.long
def test_the_compiled_step_equals_the_eager_one(mnist):
    """torch.compile's step is the same arithmetic: over 5 real images the weights move the same way, to float noise
    (measured 1.5e-5 of the move after 1 image, 5e-5 after 5; per-image steps then amplify it, 3e-3 after 50)."""
    train = ImageSet(mnist.train.images[:5], mnist.train.labels[:5])
    test = ImageSet(mnist.test.images[:100], mnist.test.labels[:100])
    torch.manual_seed(3)
    start = _snapshot(build_model("lenet5-1998", init="root-fan-in"))
    moved = {}
    for compiled in (False, True):
        torch.manual_seed(3)
        model = build_model("lenet5-1998", init="root-fan-in")
        history = per_sample_sdlm(model, train, test, passes=1, compile=compiled)
        if shutil.which("cc") or shutil.which("gcc"):  # a C compiler: torch.compile must not have fallen back
            assert history.compiled is compiled
        moved[compiled] = {n: p.detach() - start[n] for n, p in model.named_parameters() if n in start}
    for name, eager in moved[False].items():
        assert float((moved[True][name] - eager).norm() / eager.norm()) < 1e-3, name


@pytest.mark.long
def test_lenetlab_paper_published_trains_resumes_and_writes_its_files(tmp_path, capsys):
    """The command, on a 300-image folder: one pass with distortions (one compilation), then a second call trains nothing."""
    from conftest import write_idx_folder

    folder = write_idx_folder(tmp_path / "data", n_train=300, n_test=100)
    argv = ["paper", "--published", "--seeds", "4", "--passes", "1", "--distortions", "with", "--data-dir", str(folder),
            "--out", str(tmp_path / "out"), "--lang", "fr"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| avec distorsions | 1 |" in out and "sans distorsions |" not in out
    run = tmp_path / "out" / "seed-4-distortions.json"
    first = json.loads(run.read_text())
    assert (first["train_images"], len(first["passes"]), first["init"], first["compiled"]) == (300, 1, "root-fan-in",
                                                                                               True)
    from conftest import written

    assert {p.name for p in written(tmp_path / "out")} == {"seed-4-distortions.json", "published.json",
                                                           "published.md", "figure5.png"}
    stamp = run.stat().st_mtime_ns
    assert main(argv) == 0
    assert run.stat().st_mtime_ns == stamp  # not trained again


@pytest.mark.long
def test_lenetlab_paper_published_ablation_trains_every_row_once_and_writes_the_table(tmp_path, capsys):
    """The ablation command on a 300-image folder, one pass: 5 per-image rows (one compilation each) and SGD."""
    from conftest import write_idx_folder

    folder = write_idx_folder(tmp_path / "data", n_train=300, n_test=100)
    argv = ["paper", "--published", "--ablation", "--seeds", "4", "--passes", "1", "--threads", "1",
            "--data-dir", str(folder), "--out", str(tmp_path / "out")]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "| every 1998 choice | 60,000 |" in out and "| SGD + Nesterov momentum instead of SDLM | 60,000 |" in out
    assert "[1/6] every 1998 choice, seed 4: pass 1: test error" in out and "(300 passes" not in out
    assert "1 passes of the 300 training images" in out
    runs = {p.stem: json.loads(p.read_text()) for p in (tmp_path / "out").glob("*seed-4*.json")}
    assert set(runs) == {"seed-4", "ablation-full-c3-seed-4", "ablation-tanh-seed-4", "ablation-avg-pooling-seed-4",
                         "ablation-softmax-seed-4", "ablation-sgd-seed-4"}
    assert runs["ablation-tanh-seed-4"]["model_args"] == {"activation": "tanh"}
    assert all(len(r["passes"]) == 1 and r["train_images"] == 300 for n, r in runs.items() if n != "ablation-sgd-seed-4")
    sgd = runs["ablation-sgd-seed-4"]
    assert sgd["status"] == "ok" and 0 <= sgd["test_error"] <= 1 and sgd["recipe"]["optimizer"] == "sgd"
    config = json.loads((tmp_path / "out" / "ablation-sgd-seed-4" / "config.json").read_text())
    assert config["model_args"]["init"] == "root-fan-in"  # the same start as the per-image rows
    table = json.loads((tmp_path / "out" / "published-ablation.json").read_text())
    assert [list(r["errors"]) for r in table["rows"]] == [["4"]] * 6  # JSON keys are strings
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "out").glob("*seed-4*.json")}
    assert main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing trained again
