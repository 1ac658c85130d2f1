"""The stop-on-validation recipe with an EMA of the weights (scripts/recipe_ideas.py found that it reaches
99.0 % validation in 5.7 epochs instead of 9.3): search the schedule's length, the peak rate, the batch size
and the decay around it, on validation alone, seeds 0-2, on the fast path.

    python scripts/ema_search.py --out ema-search.json        # about 2 minutes on one H200
    python scripts/ema_search.py --device cpu --smoke         # a check that it runs
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from recipe_ideas import EmaTrainer  # noqa: E402

from lenetlab import TrainConfig, load_mnist  # noqa: E402
from lenetlab.models import build_model  # noqa: E402

CPU_EPOCH_SECONDS = {128: 4.2, 256: 3.7}  # train + valid on the 2-core machine (scripts/speedrun_search.py)
LRS = {128: (0.15, 0.2, 0.3), 256: (0.2, 0.3, 0.4)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("ema-search.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    seeds = [0] if args.smoke else [0, 1, 2]
    lengths = (1,) if args.smoke else (4, 5, 6, 8)
    decays = (0.99,) if args.smoke else (0.98, 0.99)  # 0.998 was worse than 0.99 (recipe_ideas.py)
    batches = (256,) if args.smoke else (128, 256)
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "rows": []}
    for batch, decay in itertools.product(batches, decays):
        config = TrainConfig.from_preset("speedrun", batch_size=batch, epochs=max(lengths), device=args.device)
        torch.manual_seed(0)
        trainer = EmaTrainer(build_model("lenet5").to(device), data.train, data.valid, config, device, decay=decay)
        for lr, epochs in itertools.product(LRS[batch][:1] if args.smoke else LRS[batch], lengths):
            trainer.reschedule(lr, epochs)
            t0, runs = time.perf_counter(), []
            for seed in seeds:
                torch.manual_seed(seed)
                trainer.reset(build_model("lenet5").state_dict(), seed)
                curve = []
                for _ in range(epochs):
                    try:
                        trainer.train_epoch()
                    except Exception as exc:  # a diverged run is a result
                        print(f"  diverged: {exc}", file=sys.stderr)
                        curve.append(None)
                        break
                    curve.append(round(trainer.valid_accuracy(), 5))
                reached = next((i + 1 for i, a in enumerate(curve) if a is not None and a >= 0.99), None)
                runs.append({"seed": seed, "valid_curve": curve, "epoch_99": reached})
            hits = [r["epoch_99"] for r in runs if r["epoch_99"]]
            mean = statistics.fmean(hits) if len(hits) == len(runs) else None
            row = {"batch_size": batch, "lr": lr, "epochs": epochs, "ema": decay, "runs": runs,
                   "reached": len(hits), "epoch_99_mean": mean,
                   "cpu_seconds_estimate": round(mean * CPU_EPOCH_SECONDS[batch], 1) if mean else None}
            report["rows"].append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "runs"}), f"({time.perf_counter() - t0:.1f} s)",
                  flush=True)
        args.out.write_text(json.dumps(report, indent=1))
    done = [r for r in report["rows"] if r["epoch_99_mean"]]
    for row in sorted(done, key=lambda r: r["cpu_seconds_estimate"])[:8]:
        print("best:", {k: v for k, v in row.items() if k != "runs"})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
