"""A probe beside `lenetlab paper --published`: the same per-image SDLM (lenetlab/paper_sdlm.py), with S2 and
S4's subsampling coefficients and biases started in ±0.6 (2.4 / 4, the printed rule) instead of ±1.2 (2.4 / sqrt 4).

Why: with every weight in ±2.4 / sqrt(F_in), S2 and S4 add four correlated inputs and multiply the sum by up
to 1.2, so they start saturated, and C5's units saturate within a pass (docs/paper.md). Writes its passes
as JSON (arguments: the output file, then the seed, 0 if not given); about 30 minutes on one core.

    OMP_NUM_THREADS=1 python scripts/published_probe.py docs/measurements/published/probe-subsampling-0.6-seed-0.json 0
"""

from __future__ import annotations

import sys
import time

import torch

from lenetlab._fs import write_json
from lenetlab.data import load_mnist
from lenetlab.machine import cpu_name, library_versions, machine_load
from lenetlab.models import build_model
from lenetlab.models.lenet1998 import Subsampling
from lenetlab.paper_sdlm import per_sample_sdlm

BOUND = 0.6


def main(out: str, seed: int = 0) -> None:
    torch.set_num_threads(1)
    data = load_mnist().train_on_all()
    torch.manual_seed(seed)
    model = build_model("lenet5-1998", init="root-fan-in")
    for module in model.modules():
        if isinstance(module, Subsampling):
            torch.nn.init.uniform_(module.weight, -BOUND, BOUND)
            torch.nn.init.uniform_(module.bias, -BOUND, BOUND)
    load, start = machine_load(), time.perf_counter()
    history = per_sample_sdlm(model, data.train, data.test, seed=seed,
                              on_pass=lambda r: print(r, flush=True))
    write_json(out, {"seed": seed, "distortions": False, "subsampling_bound": BOUND, "init": "root-fan-in",
                     "seconds": round(time.perf_counter() - start, 1), **history.as_dict(), "machine": cpu_name(),
                     "load_at_start": load, "load_at_end": machine_load(), "versions": library_versions()})


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 0)
