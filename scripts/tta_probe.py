"""Does averaging the predictions over shifted copies of each image pay? (issue 26, item 1: test-time shifts).

For each run given, its best.pt is evaluated on the run's own validation split (the 12,000 images it was
not trained on, the only place a recipe may be chosen) and on the test set, plain and with the softmax
averaged over the image and its shifts by up to ``--shift`` pixels (9 copies at 1 pixel).

    python scripts/tta_probe.py runs/m-affine-s0 runs/m-shift-s0 [--shift 1] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lenetlab.checkpoint import load_checkpoint
from lenetlab.data import ImageSet, load_mnist
from lenetlab.rundir import RunDir
from lenetlab.training import evaluate


def accuracy(model: torch.nn.Module, images: ImageSet, shift: int) -> float:
    return evaluate(model, images, batch_size=1000, tta_shift=shift).accuracy  # the product's own arithmetic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--shift", type=int, default=1)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    rows = []
    for path in args.runs:
        run = RunDir(path)
        train = run.config.train
        data = load_mnist(train.data_dir, train.valid_fraction, train.seed)
        model, _ = load_checkpoint(run.best_path)
        model.eval()
        row = {"run": str(path), "model": train.model, "augment": train.augment, "seed": train.seed}
        for name, images in (("valid", data.valid), ("test", data.test)):
            row[name] = accuracy(model, images, 0)
            row[f"{name}_tta"] = accuracy(model, images, args.shift)
        rows.append(row)
        print(f"{path}: valid {row['valid']:.2%} -> {row['valid_tta']:.2%} with shifts, "
              f"test {row['test']:.2%} -> {row['test_tta']:.2%}")
    if args.json:
        args.json.write_text(json.dumps({"shift": args.shift, "runs": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
