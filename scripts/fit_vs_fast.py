"""Do ``fit`` and the fast path (engine.FastTrainer) train to the same test accuracy? Seeds, same recipe.

Both start from the same initial weights for a seed, train the same recipe (LeNet-5, the default preset:
SGD with Nesterov momentum, one-cycle, the ±2 px shift) for the same number of epochs on the same
48,000 images, and are scored on the 10,000 test images with their last epoch's weights. They are not
bit for bit alike (the fast path drops the last partial batch and draws its random numbers on the
device), so the question is whether the difference between paths is within the spread between seeds.

    python scripts/fit_vs_fast.py --seeds 5 --epochs 2 --threads 1 --out docs/fit_vs_fast.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, build_model, evaluate, fit, load_mnist
from lenetlab.engine import FastTrainer
from lenetlab.machine import cpu_name, machine_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = load_mnist()
    config = TrainConfig.from_preset("default", epochs=args.epochs)
    device = torch.device("cpu")
    rows, load_before = [], machine_load()
    for seed in range(args.seeds):
        config_seed = TrainConfig.from_preset("default", epochs=args.epochs, seed=seed)
        torch.manual_seed(seed)
        start = {k: v.clone() for k, v in build_model("lenet5").state_dict().items()}

        model = build_model("lenet5")
        model.load_state_dict(start)
        began = time.perf_counter()
        fit(model, data, config_seed, progress=False, log=None)
        fit_seconds = time.perf_counter() - began
        fit_accuracy = evaluate(model, data.test).accuracy

        model = build_model("lenet5")
        trainer = FastTrainer(model, data.train, data.valid, config, device, graph=False)
        trainer.reset(start, seed)
        began = time.perf_counter()
        for _ in range(args.epochs):
            trainer.train_epoch()
        fast_seconds = time.perf_counter() - began
        fast_accuracy = evaluate(model, data.test).accuracy
        rows.append({"seed": seed, "fit": fit_accuracy, "fast": fast_accuracy,
                     "fit_seconds": round(fit_seconds, 1), "fast_seconds": round(fast_seconds, 1)})
        print(f"seed {seed}: fit {100 * fit_accuracy:.2f} %  fast {100 * fast_accuracy:.2f} %  "
              f"({fit_seconds:.0f} s, {fast_seconds:.0f} s)", flush=True)

    def summary(key: str) -> dict[str, float]:
        values = [r[key] for r in rows]
        return {"mean": statistics.mean(values), "std": statistics.stdev(values) if len(values) > 1 else 0.0}

    fit_s, fast_s = summary("fit"), summary("fast")
    difference = [r["fast"] - r["fit"] for r in rows]
    result = {
        "recipe": f"lenet5, default preset, {args.epochs} epochs, last epoch's weights, test set",
        "machine": f"{cpu_name()}, {args.threads} PyTorch thread(s)", "load_before": load_before,
        "torch": torch.__version__, "rows": rows, "fit": fit_s, "fast": fast_s,
        "mean_difference_fast_minus_fit": statistics.mean(difference),
        "std_of_differences": statistics.stdev(difference) if len(difference) > 1 else 0.0,
    }
    print(f"fit  {100 * fit_s['mean']:.2f} ± {100 * fit_s['std']:.2f} %   "
          f"fast {100 * fast_s['mean']:.2f} ± {100 * fast_s['std']:.2f} %   "
          f"fast − fit {100 * result['mean_difference_fast_minus_fit']:+.2f} ± {100 * result['std_of_differences']:.2f} points")
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
