"""Test-time shifts (issue 26, item 1), on validation only: after each epoch, the validation accuracy of the
weight average as it is, and decided on the softmax averaged over the image and its 8 copies shifted by one
pixel (``evaluate(..., tta_shift=1)``), with the time that costs. Seeds 0-2, the 48,000/12,000 split, the fast
path on the CPU. Two recipes: the stop track's (the ``speedrun`` preset, 10 epochs) and the 2-epoch budget's
(batch 128, rate 0.3, 2 epochs).

    python scripts/tta_ideas.py stop --out stop.json       # about 4 minutes on 2 cores
    python scripts/tta_ideas.py budget2 --out budget2.json # about 1 minute
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, load_mnist
from lenetlab.data import split_train_valid
from lenetlab.engine import FastTrainer
from lenetlab.machine import cpu_name, machine_load
from lenetlab.models import build_model
from lenetlab.training import evaluate

RECIPES = {"stop": {}, "budget2": {"batch_size": 128, "lr": 0.3, "epochs": 2}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("track", choices=sorted(RECIPES))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load_before = machine_load()
    mnist = load_mnist()
    train, valid = split_train_valid(mnist.train)
    config = TrainConfig.from_preset("speedrun", **RECIPES[args.track])
    curves = []
    for seed in range(args.seeds):
        torch.manual_seed(seed)
        net = build_model("lenet5").to(memory_format=torch.channels_last)
        trainer = FastTrainer(net, train, valid, config, torch.device("cpu"))
        trainer.reset({k: v.clone() for k, v in net.state_dict().items()}, seed)
        curve = []
        for epoch in range(1, config.epochs + 1):
            trainer.train_epoch()
            with trainer.averaged():
                raw = evaluate(net, valid, 1000, 10).accuracy
                started = time.perf_counter()
                shifted = evaluate(net, valid, 1000, 10, tta_shift=1).accuracy
                seconds = time.perf_counter() - started
            curve.append({"epoch": epoch, "valid": round(raw, 5), "valid_tta1": round(shifted, 5),
                          "tta_seconds": round(seconds, 2)})
            print(seed, curve[-1], flush=True)
        curves.append(curve)
    result = {"command": f"python scripts/tta_ideas.py {args.track} --out {args.out.name}", "date": time.strftime("%Y-%m-%d"),
              "machine": f"{cpu_name()}, {torch.get_num_threads()} threads", "torch": torch.__version__,
              "load_before": load_before, "recipe": {k: getattr(config, k) for k in ("batch_size", "lr", "epochs", "ema")},
              "curves": curves}
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
