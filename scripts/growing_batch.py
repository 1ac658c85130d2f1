"""A growing batch size (issue 26, item 1), on validation only: the batch grows epoch by epoch while the
one-cycle schedule runs over the run's steps, as is, or with each step's rate scaled by batch / the
recipe's batch (the linear scaling rule). The 48,000/12,000 split, seeds 0-2, the fast path on the CPU
(eager steps there, so the batch may change between epochs; on a GPU each size would be another capture).
After every epoch: the weight average's validation accuracy and the epoch's training seconds.

    python scripts/growing_batch.py budget2 --out budget2.json   # 2 epochs: about 5 minutes on 2 cores
    python scripts/growing_batch.py stop --out stop.json         # 10 epochs: about 20 minutes
    python scripts/growing_batch.py budget2 --plan "fixed 32, rate scaled" --out fixed32.json
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
from lenetlab.schedule import lr_table

# track -> (recipe changes from the speedrun preset, {plan name: (batch size of each epoch, scale the rate?)})
TRACKS = {
    "budget2": ({"batch_size": 128, "lr": 0.3, "epochs": 2}, {
        "fixed 128": ([128, 128], False),
        "64 then 256": ([64, 256], False),
        "64 then 128": ([64, 128], False),
        "64 then 256, rate scaled": ([64, 256], True),
        "32 then 128, rate scaled": ([32, 128], True),
        "fixed 32, rate scaled": ([32, 32], True),  # the control: is it the growth, or the small first batch?
        "32 then 256, rate scaled": ([32, 256], True),
    }),
    "stop": ({}, {
        "fixed 256": ([256] * 10, False),
        "64, 128, 256": ([64] * 2 + [128] * 3 + [256] * 5, False),
        "64, 128, 256, rate scaled": ([64] * 2 + [128] * 3 + [256] * 5, True),
    }),
}


def train_plan(trainer: FastTrainer, batches: list[int], peak: float, scaled: bool, first: int) -> list[dict]:
    """Train one run with the batch size of each epoch from ``batches``; one record per epoch."""
    n = len(trainer.order)
    steps = [n // b for b in batches]
    table = lr_table(peak, "onecycle", sum(steps), 1)
    if scaled:
        table[:-1] *= torch.cat([torch.full((s,), b / first) for s, b in zip(steps, batches)])
    trainer.optimizer.lrs = table
    curve = []
    for epoch, batch in enumerate(batches, 1):
        trainer.batch_size, trainer.steps_per_epoch = batch, n // batch
        trainer.offsets = torch.arange(batch)
        started = time.perf_counter()
        loss = trainer.train_epoch()
        seconds = time.perf_counter() - started
        curve.append({"epoch": epoch, "batch": batch, "loss": round(loss, 4), "seconds": round(seconds, 2),
                      "valid": round(trainer.valid_accuracy(), 5)})
    return curve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("track", choices=sorted(TRACKS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--plan", action="append", help="a plan to train, by name; repeat it (default: every plan of the track)")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    load_before = machine_load()
    train, valid = split_train_valid(load_mnist().train)
    changes, plans = TRACKS[args.track]
    if args.plan:
        plans = {name: plans[name] for name in args.plan}
    config = TrainConfig.from_preset("speedrun", **changes)
    results = {}
    for name, (batches, scaled) in plans.items():
        results[name] = {"batches": batches, "rate_scaled": scaled, "curves": []}
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            net = build_model("lenet5")
            trainer = FastTrainer(net, train, valid, config, torch.device("cpu"))
            trainer.reset({k: v.clone() for k, v in net.state_dict().items()}, seed)
            curve = train_plan(trainer, batches, config.lr, scaled, config.batch_size)
            results[name]["curves"].append(curve)
            reached = next((c["epoch"] for c in curve if c["valid"] >= 0.99), None)
            print(f"{name}, seed {seed}: last {curve[-1]['valid']:.4f}, 99 % at epoch {reached}, "
                  f"{sum(c['seconds'] for c in curve):.1f} s", flush=True)
    plan_words = "".join(f" --plan {name!r}" for name in args.plan or [])
    result = {"command": f"python scripts/growing_batch.py {args.track}{plan_words} --out {args.out.name}",
              "date": time.strftime("%Y-%m-%d"), "machine": f"{cpu_name()}, {torch.get_num_threads()} threads",
              "torch": torch.__version__, "load_before": load_before, "load_after": machine_load(),
              "recipe": {k: getattr(config, k) for k in ("batch_size", "lr", "epochs", "ema", "schedule")},
              "plans": results}
    args.out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
