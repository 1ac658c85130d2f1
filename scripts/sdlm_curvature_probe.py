"""Per-image SDLM on a part of each pass, printing the curvature h that each pass starts with (docs/paper.md).

For every parameter tensor: the median h and the fraction of its h below mu (whose steps sit at the cap
eta / mu); after each pass, the training error on the fly, the test error and the fraction of saturated
units (|output| > 1.5, the squashing's asymptote being 1.7159) per layer on 500 training images.

    OMP_NUM_THREADS=1 python scripts/sdlm_curvature_probe.py --eta 5e-4 --images 30000 --passes 3 --subsampling 1.2
    ... --renew 2000      # h re-estimated every 2,000 images instead of once per pass
    ... --eta 1e-4        # EBLearn's MNIST demo's eta

--subsampling B redraws S2 and S4's coefficients and biases in ±B after the model's own initialisation
(1.2 = 2.4 / sqrt 4; the model's "root-fan-in" keeps them at 0.6 = 2.4 / 4).
"""

from __future__ import annotations

import argparse
import time

import torch

from lenetlab.data import load_mnist
from lenetlab.models import build_model
from lenetlab.models.lenet1998 import Subsampling
from lenetlab.paper_sdlm import _error, _load, _step_function
from lenetlab.sdlm import MU, diagonal_hessian


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--eta", type=float, default=5e-4)
    parser.add_argument("--images", type=int, default=30000, help="images per pass")
    parser.add_argument("--passes", type=int, default=3)
    parser.add_argument("--renew", type=int, default=0, help="re-estimate h every N images (0: once per pass)")
    parser.add_argument("--subsampling", type=float, default=0.0, help="redraw S2, S4 in ±B (0: keep the init)")
    parser.add_argument("--init", default="root-fan-in")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    data = load_mnist().train_on_all()
    model = build_model("lenet5-1998", init=args.init)
    if args.subsampling:
        for module in model.modules():
            if isinstance(module, Subsampling):
                torch.nn.init.uniform_(module.weight, -args.subsampling, args.subsampling)
                torch.nn.init.uniform_(module.bias, -args.subsampling, args.subsampling)
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
    step = torch.compile(_step_function(model), fullgraph=True)
    images, labels = data.train.as_float(), data.train.labels
    generator = torch.Generator().manual_seed(0)

    def step_sizes() -> dict[str, torch.Tensor]:
        _load(model, params)
        chosen = torch.randperm(len(labels), generator=generator)[:500]
        h = diagonal_hessian(model, images[chosen], labels[chosen])
        by_name = dict(model.named_parameters())
        step_sizes.h = {n: h[by_name[n]] for n in names}
        return {n: args.eta / (MU + step_sizes.h[n]) for n in names}

    for epoch in range(1, args.passes + 1):
        sizes = step_sizes()
        print(f"pass {epoch} h (median / fraction below mu):",
              "  ".join(f"{n}: {float(v.median()):.3g} / {float((v < MU).float().mean()):.2f}"
                        for n, v in step_sizes.h.items()), flush=True)
        wrong, start = 0, time.perf_counter()
        for i, k in enumerate(torch.randperm(len(labels), generator=generator)[:args.images].tolist()):
            if args.renew and i and i % args.renew == 0:
                sizes = step_sizes()
            params, _, correct = step(params, sizes, images[k:k + 1], labels[k:k + 1])
            wrong += int(~correct[0])
        _load(model, params)
        with torch.no_grad():
            acts = model.activations(images[:500])
        saturated = {k: round(float((v.abs() > 1.5).float().mean()), 3) for k, v in acts.items() if k != "output"}
        print(f"  training error {wrong / args.images:.4f}, test error {_error(model, data.test):.4f}, "
              f"saturated {saturated}, {time.perf_counter() - start:.0f} s", flush=True)


if __name__ == "__main__":
    main()
