import json

import pytest
import torch

from lenetlab.bench import NotebookDataset, format_report, matmul_peak, notebook_epoch
from lenetlab.cli import main
from lenetlab.data import ImageSet, MNISTData
from lenetlab.models import LeNet5


def test_notebook_dataset_gives_what_totensor_gives(mnist):
    dataset = NotebookDataset(mnist.train.images[:5], mnist.train.labels[:5])
    x, y = dataset[3]
    assert x.shape == (1, 28, 28) and x.dtype == torch.float32
    assert torch.equal(x, mnist.train.as_float(3, 4)[0]) and y == int(mnist.train.labels[3])


def test_notebook_epoch_runs_and_times_both_halves(mnist):
    small = MNISTData(ImageSet(mnist.train.images[:512], mnist.train.labels[:512]),
                      ImageSet(mnist.valid.images[:256], mnist.valid.labels[:256]),
                      mnist.test, mnist.class_names, mnist.sha256, mnist.source)
    times = notebook_epoch(LeNet5(), small, 256, torch.device("cpu"))
    assert times["epoch_seconds"] == times["train_seconds"] + times["valid_seconds"]
    assert times["train_seconds"] > 0 and times["valid_seconds"] > 0


def test_matmul_peak_is_positive():
    assert matmul_peak(torch.device("cpu"), size=128, seconds=0.05) > 0


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
@pytest.mark.slow  # two real epochs (plain and as `train` runs it) on the full data: ~15 s on 2 cores
def test_bench_smoke(capsys):
    """One real epoch on the bundled data, notebook pipeline skipped: every number is present and sane."""
    code = main(["bench", "--no-notebook", "--json"])
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    assert result["macs_per_image"] == 416520
    assert result["gflop_per_epoch"] == round(2 * 416520 * (3 * 48000 + 12000) / 1e9, 2)
    ours = result["lenetlab"]
    assert ours["epoch_seconds"] > 0 and ours["train_images_per_s"] > 0 and ours["inference_images_per_s"] > 0
    assert ours["achieved_gflops"] == round(result["gflop_per_epoch"] / ours["epoch_seconds"], 1)
    assert 0.15 < ours["valid_accuracy"] <= 1.0  # the seed recipe is slow: ~21% after one epoch, chance is 10%
    assert result["memory"]["peak_rss_mb"] > 0
    fast = result["fast_path"]  # the speedrun's engine, eager on the CPU, same recipe
    assert fast["cuda_graph"] is False and fast["epoch_seconds"] == pytest.approx(
        fast["train_seconds"] + fast["valid_seconds"], abs=2e-4)
    assert abs(fast["valid_accuracy"] - ours["valid_accuracy"]) < 0.1  # same recipe, other random numbers
    assert result["machine"]["load"]["load_1min"] >= 0 and result["machine"]["load"]["cores"] >= 1
    text = format_report({**result, "notebook": {"epoch_seconds": 6.0, "train_seconds": 5.0, "valid_seconds": 1.0},
                          "speedup_vs_notebook": 3.0})
    assert "3.0x faster" in text and "GFLOP/s achieved" in text
