"""Search a recipe for the fixed-budget track at 2 epochs, on validation alone, then run the track with it.

Stage 1 trains a grid of 2-epoch recipes on the 48,000/12,000 split with seeds 0 and 1 on the fast path
(scripts/speedrun_search.py's ``run_grid``) and keeps the recipe with the highest mean validation
accuracy after its 2 epochs; stage 2 fixes it and runs ``fixed_budget`` (all 60,000 images, 10 seeds,
the test set once per seed). The test set is looked at only in stage 2.

    python scripts/budget_search.py --device cuda --out budget-search.json   # about 2 minutes on one H200
    python scripts/budget_search.py --device cuda --grid refined --epochs 2,3 # the second call
    python scripts/budget_search.py --device cpu --grid smoke                 # a check that it runs
"""

from __future__ import annotations

import argparse
import itertools
import json
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from speedrun_search import recipe_of, run_grid  # noqa: E402

from lenetlab import load_mnist  # noqa: E402
from lenetlab.speedrun import fixed_budget  # noqa: E402

LRS = {32: (0.0125, 0.025, 0.05), 64: (0.025, 0.05, 0.1), 128: (0.05, 0.1, 0.2), 256: (0.1, 0.2, 0.4)}


# The wide grid's best recipes all sat at its highest rate for their batch size: the refined grid goes higher.
REFINED_LRS = {32: (0.05, 0.075, 0.1, 0.15), 64: (0.1, 0.15, 0.2, 0.3), 128: (0.2, 0.3, 0.4, 0.6), 256: (0.4, 0.6, 0.8)}


def grid(epochs: int, name: str) -> list[dict]:
    """``wide`` (the first call, 2 epochs), ``refined`` (higher rates, with shift), ``smoke``: one tiny recipe."""
    if name == "smoke":
        return [dict(optimizer="sgd", batch_size=256, lr=0.1, epochs=1, augment="none", label_smoothing=0.0)]
    if name == "refined":
        return [dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment="shift", label_smoothing=0.0)
                for batch, lrs in REFINED_LRS.items() for lr in lrs]
    out = []
    for batch, augment, ls in itertools.product((32, 64, 128, 256), ("none", "shift"), (0.0, 0.1)):
        for lr in LRS[batch]:
            out.append(dict(optimizer="sgd", batch_size=batch, lr=lr, epochs=epochs, augment=augment, label_smoothing=ls))
    for batch, lr in itertools.product((64, 128), (0.002, 0.004)):
        out.append(dict(optimizer="adamw", batch_size=batch, lr=lr, epochs=epochs, augment="none", label_smoothing=0.0,
                        weight_decay=5e-4))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", default="2", help="budgets to search, comma-separated (each chosen on its own)")
    parser.add_argument("--seeds", type=int, default=10, help="seeds of the fixed-budget track (stage 2)")
    parser.add_argument("--grid", choices=("wide", "refined", "smoke"), default="wide")
    parser.add_argument("--out", type=Path, default=Path("budget-search.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    smoke = args.grid == "smoke"
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "grid": args.grid}

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    data = load_mnist()
    for epochs in (int(e) for e in args.epochs.split(",")):
        found: dict = {}
        report[f"budget_{epochs}"] = found
        rows = run_grid("lenet5", grid(epochs, args.grid), [0] if smoke else [0, 1], device, data, target=0.99, log=log)
        found["stage1"] = rows
        by_recipe: dict[str, list[float]] = {}
        for row in rows:
            final = row["valid_curve"][-1] if row["valid_curve"] and row["valid_curve"][-1] is not None else 0.0
            by_recipe.setdefault(json.dumps(recipe_of(row), sort_keys=True), []).append(final)
        ranked = sorted(by_recipe.items(), key=lambda item: -statistics.fmean(item[1]))
        found["ranking"] = [{"recipe": json.loads(k), "valid_mean": round(statistics.fmean(v), 5), "valid": v}
                            for k, v in ranked[:10]]
        chosen = {k: v for k, v in json.loads(ranked[0][0]).items() if k != "epochs"}
        found["chosen"] = chosen
        log(f"{epochs} epochs, chosen on validation: {chosen} ({statistics.fmean(ranked[0][1]):.4f})")
        args.out.write_text(json.dumps(report, indent=1))
        budget = fixed_budget("lenet5", epochs=epochs, device=args.device, seeds=1 if smoke else args.seeds,
                              progress=False, **chosen)
        found["fixed_budget"] = budget
        args.out.write_text(json.dumps(report, indent=1))
        s = budget["summary"]
        print(f"budget {epochs} epochs with {chosen}: test {100 * s['test_accuracy_mean']:.2f} ± "
              f"{100 * s['test_accuracy_std']:.2f} %, {s['reached']} of {s['seeds']} seeds at 99 %, met: {s['met']}",
              flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
