"""Where the fast path's epoch goes on a GPU (`lenetlab bench`'s batch 256), and two ways to shorten it.

1. The kernel table of one captured epoch (torch.profiler): which kernels, how many, how long.
2. Several steps per CUDA graph (K = 1, 4, 16): fewer graph launches; kernel count unchanged.
3. ``--compile`` (inductor's fused element-wise kernels), then captured.

    python scripts/gpu_profile.py --out profile.json          # about 1 minute on one H200
    python scripts/gpu_profile.py --device cpu --smoke         # a check that it runs (no graph, no profile)
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from lenetlab import TrainConfig, load_mnist
from lenetlab.engine import FastTrainer
from lenetlab.models import build_model


class MultiStepTrainer(FastTrainer):
    """FastTrainer with ``k`` steps in one graph (an epoch runs steps_per_epoch // k replays of k steps)."""

    k = 4

    def _capture(self) -> None:
        t0 = time.perf_counter()
        self.model.train()
        side = torch.cuda.Stream(self.device)
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):
            for _ in range(3):
                self.model.zero_grad(set_to_none=True)
                self._step()
        torch.cuda.current_stream(self.device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            for _ in range(self.k):
                self.model.zero_grad(set_to_none=True)  # each step's gradients are fresh, as in one-step replay
                self._step()
        torch.cuda.synchronize(self.device)
        self.capture_seconds = time.perf_counter() - t0

    def train_epoch(self, on_step=None) -> float:
        self.model.train()
        self.order.copy_(torch.randperm(len(self.order), device=self.device))
        self.position.zero_()
        self.loss_sum.zero_()
        replays = self.steps_per_epoch // self.k
        for _ in range(replays):
            self.graph.replay()
        self.epochs_done += 1
        return float(self.loss_sum) / (replays * self.k * self.batch_size)


def epoch_time(trainer: FastTrainer, epochs: int = 3) -> dict:
    start = {k: v.clone() for k, v in trainer.model.state_dict().items()}
    trainer.reset(start, 0)
    for _ in range(epochs):
        trainer.sync()
        t0 = time.perf_counter()
        trainer.train_epoch()
        t1 = time.perf_counter()
        accuracy = trainer.valid_accuracy()
        t2 = time.perf_counter()
    steps = trainer.steps_per_epoch // getattr(trainer, "k", 1) * getattr(trainer, "k", 1)
    return {"train_seconds": round(t1 - t0, 5), "valid_seconds": round(t2 - t1, 5),
            "ms_per_step": round(1000 * (t1 - t0) / steps, 4), "valid_accuracy": round(accuracy, 5),
            "graph": trainer.graph is not None, "capture_error": trainer.capture_error}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("profile.json"))
    args = parser.parse_args()
    device = torch.device(args.device)
    data = load_mnist()
    config = TrainConfig.from_preset("seed", batch_size=256, epochs=3, device=args.device)  # bench's recipe
    report: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
                    "torch": torch.__version__}

    def trainer(cls=FastTrainer, **changes) -> FastTrainer:
        torch.manual_seed(0)
        return cls(build_model("lenet5").to(device), data.train, data.valid, dataclasses.replace(config, **changes),
                   device)

    report["one_step_per_graph"] = epoch_time(trainer())
    print("K=1", report["one_step_per_graph"], flush=True)
    if device.type == "cuda" and not args.smoke:
        for k in (4, 16):
            MultiStepTrainer.k = k
            report[f"{k}_steps_per_graph"] = epoch_time(trainer(MultiStepTrainer))
            print(f"K={k}", report[f"{k}_steps_per_graph"], flush=True)
        report["compile"] = epoch_time(trainer(compile=True))
        print("compile", report["compile"], flush=True)
        for name, graph in (("captured", True), ("eager", False)):  # the profiler may not see inside a graph
            torch.manual_seed(0)
            fast = FastTrainer(build_model("lenet5").to(device), data.train, data.valid, config, device, graph=graph)
            fast.reset({k: v.clone() for k, v in fast.model.state_dict().items()}, 0)
            fast.train_epoch()
            with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
                fast.train_epoch()
                fast.sync()
            table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=30)
            print(name, table, flush=True)
            events = [e for e in prof.key_averages() if e.self_device_time_total > 0]
            report[f"profile_{name}"] = {"table": table.splitlines(), "kernels_per_epoch": sum(e.count for e in events),
                                         "kernel_ms_per_epoch": round(sum(e.self_device_time_total for e in events) / 1000, 3)}
    args.out.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
