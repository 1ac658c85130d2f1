"""Recipe ideas the speedrun search did not try (issue 26, item 1), each measured on validation alone.

Each idea is trained beside the same recipe without it, seeds 0-2, on the fast path, 48,000/12,000 split:

- inputs: [0, 1] (today); the paper's (background -0.1, ink 1.175); standardised (mean 0, std 1 over the
  training images). Same network, same 61,706 parameters: a fixed map in front of C1;
- an exponential moving average (EMA) of the weights, evaluated instead of the raw weights (decay 0.99
  and 0.998; it starts from the initial weights);
- a 1.5x higher peak rate with standardised inputs; label smoothing 0.1 on the combination.

``EmaTrainer`` is the average as it was measured here (started from the initial weights); lenetlab's own
``--ema`` came from it and is bias-corrected (``lenetlab.step.WeightAverage``).

Two tracks: **stop** (the speedrun preset: batch 256, rate 0.3, 10 epochs of one-cycle; the epoch at which
validation first reaches 99.0 %, and the best validation) and **budget** (batch 128, rate 0.3, 2 epochs,
the 2-epoch budget's recipe: validation after the last epoch). The test set is never looked at.

    python scripts/recipe_ideas.py --out ideas.json          # about 1 minute on one H200
    python scripts/recipe_ideas.py --device cpu --smoke       # a check that it runs
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

from lenetlab import TrainConfig, load_mnist
from lenetlab.engine import FastTrainer
from lenetlab.models import build_model


class InputMap(nn.Module):
    """x -> scale * x + shift in front of the network (the background 0 maps to ``shift``)."""

    def __init__(self, scale: float, shift: float) -> None:
        super().__init__()
        self.scale, self.shift = scale, shift

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


class EmaTrainer(FastTrainer):
    """FastTrainer that keeps an EMA of the weights (updated inside the captured step) and validates it."""

    def __init__(self, model: nn.Module, *args, decay: float, **kwargs) -> None:
        self.decay = decay
        self.ema = [p.detach().clone() for p in model.parameters()]
        super().__init__(model, *args, **kwargs)

    def _step(self) -> None:
        super()._step()
        with torch.no_grad():
            torch._foreach_lerp_(self.ema, [p.detach() for p in self.model.parameters()], 1 - self.decay)

    @torch.no_grad()
    def reset(self, state, seed: int) -> None:
        super().reset(state, seed)
        for average, p in zip(self.ema, self.model.parameters(), strict=True):
            average.copy_(p)

    @torch.no_grad()
    def valid_accuracy(self, batch_size: int | None = None) -> float:
        params = list(self.model.parameters())
        raw = [p.clone() for p in params]
        for p, average in zip(params, self.ema, strict=True):
            p.copy_(average)
        accuracy = super().valid_accuracy(batch_size)
        for p, value in zip(params, raw, strict=True):
            p.copy_(value)
        return accuracy


def ideas(mean: float, std: float) -> dict[str, dict]:
    standard = (1 / std, -mean / std)
    return {
        "base": {},
        "paper inputs": {"inputs": (1.275, -0.1)},
        "standardised inputs": {"inputs": standard},
        "EMA 0.99": {"ema": 0.99},
        "EMA 0.998": {"ema": 0.998},
        "standardised, rate x1.5": {"inputs": standard, "lr_factor": 1.5},
        "standardised + EMA 0.99": {"inputs": standard, "ema": 0.99},
        "standardised + EMA 0.99 + label smoothing 0.1": {"inputs": standard, "ema": 0.99, "label_smoothing": 0.1},
    }


def run_idea(idea: dict, config: TrainConfig, seeds: list[int], data, device: torch.device) -> list[dict]:
    config = dataclasses.replace(config, lr=config.lr * idea.get("lr_factor", 1.0),
                                 label_smoothing=idea.get("label_smoothing", config.label_smoothing))

    def network() -> nn.Module:
        net = build_model("lenet5")
        return nn.Sequential(InputMap(*idea["inputs"]), net) if "inputs" in idea else net

    torch.manual_seed(0)
    model = network().to(device)
    if "ema" in idea:
        trainer = EmaTrainer(model, data.train, data.valid, config, device, decay=idea["ema"])
    else:
        trainer = FastTrainer(model, data.train, data.valid, config, device)
    rows = []
    for seed in seeds:
        torch.manual_seed(seed)
        trainer.reset(network().state_dict(), seed)
        curve = []
        for _ in range(config.epochs):
            try:
                trainer.train_epoch()
            except Exception as exc:  # a diverged run is a result
                curve.append(None)
                print(f"  diverged: {exc}", file=sys.stderr)
                break
            curve.append(round(trainer.valid_accuracy(), 5))
        reached = next((i + 1 for i, a in enumerate(curve) if a is not None and a >= 0.99), None)
        rows.append({"seed": seed, "valid_curve": curve, "epoch_99": reached})
    return rows


def summary(rows: list[dict]) -> dict:
    finals = [r["valid_curve"][-1] or 0.0 for r in rows]
    bests = [max(a or 0.0 for a in r["valid_curve"]) for r in rows]
    reached = [r["epoch_99"] for r in rows if r["epoch_99"]]
    return {"final_mean": round(statistics.fmean(finals), 5), "best_mean": round(statistics.fmean(bests), 5),
            "reached_99": f"{len(reached)} of {len(rows)}",
            "epoch_99_mean": round(statistics.fmean(reached), 2) if len(reached) == len(rows) else None}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="one seed, 1 epoch, three ideas")
    parser.add_argument("--out", type=Path, default=Path("ideas.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    pixels = data.train.images.float() / 255
    mean, std = float(pixels.mean()), float(pixels.std())
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "train_mean": mean, "train_std": std}
    tracks = {"stop": TrainConfig.from_preset("speedrun", device=args.device),
              "budget": TrainConfig.from_preset("speedrun", batch_size=128, lr=0.3, epochs=2, device=args.device)}
    seeds = [0] if args.smoke else [0, 1, 2]
    chosen = ideas(mean, std)
    if args.smoke:
        chosen = {k: chosen[k] for k in ("base", "paper inputs", "standardised + EMA 0.99")}
        tracks = {k: dataclasses.replace(c, epochs=1) for k, c in tracks.items()}
    for track, config in tracks.items():
        report[track] = {}
        for name, idea in chosen.items():
            t0 = time.perf_counter()
            rows = run_idea(idea, config, seeds, data, device)
            report[track][name] = {"idea": {k: v for k, v in idea.items()}, "runs": rows, **summary(rows)}
            print(f"{track:6s} {name:48s} {json.dumps(summary(rows))} ({time.perf_counter() - t0:.1f} s)", flush=True)
            args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
