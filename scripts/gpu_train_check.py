"""`lenetlab train --device cuda` on the fast path, measured: epoch times of fit's loop and of the fast
path on the default recipe, and the default recipe trained in full with seeds 0-4 through ``train_run``
(the command's own function), tested on the test set, to compare with the CPU's fit (README: Results).

    python scripts/gpu_train_check.py --out train-check.json            # about 1 minute on one H200
    python scripts/gpu_train_check.py --device cpu --smoke              # a check that it runs
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, fit, load_mnist, train_run
from lenetlab.fast_fit import fit_fast
from lenetlab.models import build_model


def epoch_seconds(loop, config: TrainConfig, device: torch.device, data) -> list[float]:
    torch.manual_seed(0)
    model = build_model(config.model).to(device)
    state = loop(model, data, config, progress=False, log=None)
    return [r.train_seconds + r.valid_seconds for r in state.history]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="2 epochs, 1 seed")
    parser.add_argument("--out", type=Path, default=Path("train-check.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "recipe": "default"}
    timing = TrainConfig.from_preset("default", epochs=3, device=args.device)
    for name, loop in (("fit", fit), ("fit_fast", fit_fast)):
        report[f"{name}_epoch_seconds"] = epoch_seconds(loop, timing, device, data)
        print(name, report[f"{name}_epoch_seconds"], flush=True)
    epochs, seeds = (2, 1) if args.smoke else (None, args.seeds)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in range(seeds):
            config = TrainConfig.from_preset("default", seed=seed, device=args.device, epochs=epochs)
            t0 = time.perf_counter()
            metrics = train_run(config, Path(folder) / f"seed{seed}", progress=False, log=None, figures=False)
            runs.append({"seed": seed, "test_accuracy": metrics["test"]["accuracy"], "best_epoch": metrics["best_epoch"],
                         "train_seconds": metrics["train_seconds"], "wall_seconds": round(time.perf_counter() - t0, 2)})
            print(json.dumps(runs[-1]), flush=True)
    tests = [r["test_accuracy"] for r in runs]
    report["runs"] = runs
    report["test_accuracy_mean"] = statistics.fmean(tests)
    report["test_accuracy_std"] = statistics.stdev(tests) if len(tests) > 1 else 0.0
    args.out.write_text(json.dumps(report, indent=1))
    print(f"test {100 * report['test_accuracy_mean']:.2f} ± {100 * report['test_accuracy_std']:.2f} %")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
