"""What `--fuse` buys on a GPU: the fast path's epoch at `lenetlab bench`'s batch 256, with and without the
first stage in two Triton kernels, with and without ``--compile``, and the fused epoch's kernel table.

    python scripts/gpu_fused.py --out fused.json          # about a minute on one H200
    TRITON_INTERPRET=1 python scripts/gpu_fused.py --device cpu --smoke   # a check that it runs (no graph)

Each variant trains 5 epochs of bench's recipe from the same weights and seed; an epoch is training plus
validation, as `bench` counts it, and the figure kept is the median of the last three.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, fused, load_mnist
from lenetlab.data import ImageSet
from lenetlab.engine import FastTrainer
from lenetlab.models import build_model

VARIANTS = {"unfused": {}, "fused": {"fuse": True}, "compile": {"compile": True},
            "fused_compile": {"fuse": True, "compile": True}}


def epochs_of(trainer: FastTrainer, epochs: int) -> dict:
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.reset(start, 0)
    rows = []
    for _ in range(epochs):
        trainer.sync()
        t0 = time.perf_counter()
        loss = trainer.train_epoch()
        t1 = time.perf_counter()
        accuracy = trainer.valid_accuracy()
        t2 = time.perf_counter()
        rows.append({"train": round(t1 - t0, 5), "valid": round(t2 - t1, 5), "loss": round(loss, 5),
                     "valid_accuracy": round(accuracy, 5)})
    last = rows[-3:]
    return {"epochs": rows, "epoch_seconds": round(statistics.median(r["train"] + r["valid"] for r in last), 5),
            "train_seconds": round(statistics.median(r["train"] for r in last), 5),
            "ms_per_step": round(1000 * statistics.median(r["train"] for r in last) / trainer.steps_per_epoch, 4),
            "graph": trainer.graph is not None, "capture_seconds": round(trainer.capture_seconds, 3),
            "capture_error": trainer.capture_error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true", help="2 epochs of 64 images, fused and unfused only, no profile")
    parser.add_argument("--out", type=Path, default=Path("fused.json"))
    parser.add_argument("--warps", help="only the fused epoch, for each forward:backward warp count, e.g. 4:4,4:8")
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    epochs = 2 if args.smoke else 5
    if args.smoke:  # Triton's interpreter runs one image in about a second: a slice of the data
        data = dataclasses.replace(data, train=ImageSet(data.train.images[:64], data.train.labels[:64]),
                                   valid=ImageSet(data.valid.images[:64], data.valid.labels[:64]))
    config = TrainConfig.from_preset("seed", batch_size=256, epochs=epochs, device=args.device)  # bench's recipe
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__, "batch_size": 256}

    def trainer(**changes) -> FastTrainer:
        torch.manual_seed(0)
        return FastTrainer(build_model("lenet5").to(device), data.train, data.valid,
                           dataclasses.replace(config, **changes), device)

    if args.warps:  # the kernels' launch setting, swept
        for pair in args.warps.split(","):
            fused.WARPS["forward"], fused.WARPS["backward"] = map(int, pair.split(":"))
            report[f"fused_warps_{pair}"] = epochs_of(trainer(fuse=True), epochs)
            print(pair, {k: v for k, v in report[f"fused_warps_{pair}"].items() if k != "epochs"}, flush=True)
        args.out.write_text(json.dumps(report, indent=1))
        return 0
    for name, changes in VARIANTS.items():
        if args.smoke and "compile" in changes:
            continue
        report[name] = epochs_of(trainer(**changes), epochs)
        print(name, {k: v for k, v in report[name].items() if k != "epochs"}, flush=True)
    if device.type == "cuda" and not args.smoke:
        fast = trainer(fuse=True)
        fast.reset({k: v.clone() for k, v in fast.model.state_dict().items()}, 0)
        fast.train_epoch()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
            fast.train_epoch()
            fast.sync()
        table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=25)
        print(table, flush=True)
        events = [e for e in prof.key_averages() if e.self_device_time_total > 0]
        report["profile_fused"] = {"table": table.splitlines(), "kernels_per_epoch": sum(e.count for e in events),
                                   "kernel_ms_per_epoch": round(sum(e.self_device_time_total for e in events) / 1000, 3)}
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
