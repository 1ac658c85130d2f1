"""Search the speedrun recipe on validation accuracy alone, on the fast path, and time the finalists.

Stage 1 trains every recipe of a grid once (seed 0) and records the validation curve and time of each
epoch; stage 2 reruns the fastest recipes that reached the target with four more seeds; the chosen
recipe (all five seeds reached the target, lowest mean time) is then timed by ``speedrun`` itself.
The test set is looked at only by ``speedrun``, after the choice. One captured step per
(batch size, augmentation, label smoothing, optimizer) serves every learning rate and length.

    python scripts/speedrun_search.py --device cuda --out search.json          # about 5 minutes on one H200
    python scripts/speedrun_search.py --device cpu --smoke                     # a check that it runs

CPU cost model for the CPU recipe: seconds per epoch by batch size, measured with ``lenetlab bench``
and the engine on the 2-core development machine (idle), see docs/performance.md.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, load_mnist
from lenetlab.engine import FastTrainer
from lenetlab.models import build_model
from lenetlab.speedrun import TARGETS, speedrun

CPU_EPOCH_SECONDS = {64: 4.4, 128: 4.2, 256: 3.7, 512: 3.5, 1024: 3.5}  # train + valid, 2 cores, idle

SGD_LRS = {64: (0.025, 0.05, 0.1), 128: (0.05, 0.1, 0.2), 256: (0.1, 0.2, 0.4), 512: (0.1, 0.2, 0.4),
           1024: (0.2, 0.4, 0.8)}


def grid(model: str, name: str) -> list[dict]:
    """``wide``: the first search (2026-11-27); ``refined``: around its winners; ``smoke``: one tiny recipe."""
    if name == "smoke":
        return [dict(optimizer="sgd", batch_size=256, lr=0.1, epochs=1, augment="none", label_smoothing=0.0)]
    out = []
    if model == "lenet5" and name == "wide":
        for batch, augment in itertools.product((128, 256, 512, 1024), ("none", "shift")):
            for ls, lr, epochs in itertools.product((0.0, 0.1), SGD_LRS[batch], (4, 8, 12)):
                out.append(dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment=augment,
                                label_smoothing=ls))
            for lr, epochs in itertools.product((0.003, 0.01), (4, 8, 12)):
                out.append(dict(optimizer="adamw", batch_size=batch, lr=lr, epochs=epochs, augment=augment,
                                label_smoothing=0.0, weight_decay=5e-4))
    elif model == "lenet5":  # the wide search's winners sat at its highest rate (0.4), with shift, 8-12 epochs
        for batch, lr, epochs in itertools.product((256, 512, 1024), (0.4, 0.6, 0.8), (10, 12, 14)):
            out.append(dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment="shift",
                            label_smoothing=0.0))
        for lr in (1.2, 1.6):
            out.append(dict(optimizer="sgd", batch_size=1024, lr=lr, epochs=12, augment="shift", label_smoothing=0.0))
    elif name == "wide":  # lenet5-modern: batch norm takes larger learning rates
        for batch, lr, epochs in itertools.product((256, 512), (0.1, 0.2, 0.4), (8, 16, 24)):
            out.append(dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment="shift",
                            label_smoothing=0.0))
    else:  # lenet5-modern refined: 24 epochs reached 99.43 % at best; longer
        for batch, lr, epochs in itertools.product((256, 512), (0.1, 0.2), (32, 48)):
            out.append(dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment="shift",
                            label_smoothing=0.0))
    return out


def run_grid(model: str, recipes: list[dict], seeds: list[int], device: torch.device, data, target: float,
             log, budget: float = float("inf")) -> list[dict]:
    """Train each recipe with each seed; one trainer (one capture) per group of recipes sharing a step.

    Past ``budget`` seconds the remaining recipes are skipped (and logged), so a slow device still ends.
    """
    results = []
    started = time.perf_counter()
    def key(r: dict) -> tuple:
        return r["optimizer"], r["batch_size"], r["augment"], r["label_smoothing"], r.get("weight_decay") or 0.0

    for _, group in itertools.groupby(sorted(recipes, key=key), key=key):
        group = list(group)
        longest = max(r["epochs"] for r in group)
        base = TrainConfig.from_preset("speedrun", model=model, **{**group[0], "epochs": longest})
        torch.manual_seed(0)
        net = build_model(model).to(device)
        trainer = FastTrainer(net, data.train, data.valid, base, device)
        if trainer.capture_error:
            log(f"  capture failed, eager: {trainer.capture_error}")
        for recipe, seed in itertools.product(group, seeds):
            if time.perf_counter() - started > budget:
                log(f"  over the {budget:.0f} s budget: skipped {recipe} seed {seed}")
                continue
            trainer.reschedule(recipe["lr"], recipe["epochs"])
            torch.manual_seed(seed)
            trainer.reset(build_model(model).state_dict(), seed)
            curve, seconds, reached_at = [], [], None
            trainer.sync()
            t0 = time.perf_counter()
            for epoch in range(1, recipe["epochs"] + 1):
                try:
                    trainer.train_epoch()
                except Exception as exc:  # a diverged recipe is a result, not a crash
                    curve.append(None)
                    log(f"  diverged: {exc}")
                    break
                acc = trainer.valid_accuracy()
                curve.append(round(acc, 5))
                seconds.append(round(time.perf_counter() - t0, 4))
                if reached_at is None and acc >= target:
                    reached_at = epoch
            row = {**recipe, "seed": seed, "valid_curve": curve, "elapsed": seconds, "reached_epoch": reached_at,
                   "seconds_to_target": seconds[reached_at - 1] if reached_at else None}
            results.append(row)
            log(json.dumps(row))
    return results


def choose(stage1: list[dict], objective) -> list[dict]:
    reached = [r for r in stage1 if r["reached_epoch"]]
    return sorted(reached, key=objective)


def recipe_of(row: dict) -> dict:
    keys = ("optimizer", "batch_size", "lr", "epochs", "augment", "label_smoothing", "weight_decay")
    return {k: row[k] for k in keys if k in row}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--models", default="lenet5,lenet5-modern")
    parser.add_argument("--finalists", type=int, default=4)
    parser.add_argument("--budget", type=float, default=200.0, help="seconds for stage 1 of each model")
    parser.add_argument("--grid", choices=("wide", "refined", "smoke"), default="refined")
    parser.add_argument("--compile", action="store_true", help="also time the chosen recipe with torch.compile")
    parser.add_argument("--out", type=Path, default=Path("speedrun-search.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__}

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def save() -> None:
        args.out.write_text(json.dumps(report, indent=1))

    for model in args.models.split(","):
        target = 0.5 if args.grid == 'smoke' else TARGETS[model]
        t0 = time.perf_counter()
        stage1 = run_grid(model, grid(model, args.grid), [0], device, data, target, log,
                          args.budget if model == "lenet5" else args.budget / 3)
        report[model] = {"stage1": stage1, "stage1_seconds": round(time.perf_counter() - t0, 1)}
        save()
        objectives = {"gpu": lambda r: r["seconds_to_target"]}
        if model == "lenet5" and device.type == "cuda":
            objectives["cpu"] = lambda r: r["reached_epoch"] * CPU_EPOCH_SECONDS[r["batch_size"]]
        for name, objective in objectives.items():
            ranked = choose(stage1, objective)[: args.finalists if model == "lenet5" else 2]
            if not ranked:
                log(f"{model}: no recipe reached {target} in stage 1")
                continue
            finalists = run_grid(model, [recipe_of(r) for r in ranked], [1, 2, 3, 4], device, data, target, log)
            scored = []
            for r in ranked:
                runs = [r] + [f for f in finalists if recipe_of(f) == recipe_of(r)]
                if all(x["reached_epoch"] for x in runs):
                    scored.append((sum(objective(x) for x in runs) / len(runs), recipe_of(r)))
            report[model][f"finalists_{name}"] = finalists
            if scored:
                best = min(scored, key=lambda s: s[0])[1]
                report[model][f"best_{name}"] = best
                log(f"{model} best for {name}: {best}")
                if name == "gpu" or device.type == "cpu":
                    seeds = 1 if args.grid == "smoke" else 5
                    report[model][f"speedrun_{name}"] = speedrun(model, target, str(device), seeds, **best)
                    save()
                    if args.compile:
                        report[model][f"speedrun_{name}_compiled"] = speedrun(model, target, str(device), seeds,
                                                                              **best, compile=True)
            save()
    save()
    return 0


if __name__ == "__main__":
    sys.exit(main())
