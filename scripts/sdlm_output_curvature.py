"""Why the softmax row of the published ablation suffers: the Gauss-Newton diagonal h that SDLM divides by,
for lenet5-1998 with its RBF + MAP output and with a linear output + cross-entropy, at the start and after
one pass of the paper's per-image SDLM (seed 0, the published runs' initialisation, h on 500 training images).
Per weight layer: the median h, the share of weights with h below mu (their step is then near the cap
eta / mu), and the median of 1 / (mu + h), the step over eta.

    python scripts/sdlm_output_curvature.py --out softmax-curvature.json   # about 3 minutes on one core
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lenetlab.data import load_mnist
from lenetlab.explore.published import INIT
from lenetlab.models import build_model
from lenetlab.paper_sdlm import ESTIMATE_IMAGES, per_sample_sdlm
from lenetlab.sdlm import MU, diagonal_hessian


def curvature(model: torch.nn.Module, images: torch.Tensor, labels: torch.Tensor) -> dict[str, dict[str, float]]:
    h = diagonal_hessian(model, images, labels)
    rows = {}
    for name, p in model.named_parameters():
        if p in h and name.endswith("weight"):
            v = h[p].flatten()
            rows[name] = {"median_h": float(v.median()), "share_below_mu": float((v < MU).float().mean()),
                          "median_step_over_eta": float((1 / (MU + v)).median())}
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(1)
    data = load_mnist().train_on_all()
    chosen = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(1))[:ESTIMATE_IMAGES]
    images, labels = data.train.as_float()[chosen], data.train.labels[chosen]
    result = {}
    for output in ("rbf", "linear"):
        torch.manual_seed(0)
        model = build_model("lenet5-1998", init=INIT, output=output)
        start = curvature(model, images, labels)
        history = per_sample_sdlm(model, data.train, data.test, passes=1, seed=0)
        result[output] = {"start": start, "after_pass_1": curvature(model, images, labels),
                          "test_error_after_pass_1": history.passes[0].test_error}
        print(output, result[output]["test_error_after_pass_1"], flush=True)
    args.out.write_text(json.dumps({"command": f"python scripts/sdlm_output_curvature.py --out {args.out.name}",
                                    "torch": torch.__version__, **result}, indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
