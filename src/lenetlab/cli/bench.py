"""``lenetlab bench``: its flags are TrainConfig's, with the benchmark's own defaults."""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import BENCH_DEFAULTS
from ..errors import LenetlabError
from ._parser import add_command, add_config_flags

_SETTINGS = ("model", "device", "batch_size", "epochs", "channels_last", "precision", "compile")


def register(sub: Any) -> None:
    p = add_command(sub, "bench", _bench)
    add_config_flags(p, _SETTINGS, BENCH_DEFAULTS)
    p.add_argument("--no-notebook", dest="notebook", action="store_false", help="skip the notebook-pipeline epoch")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")


def _bench(args: argparse.Namespace) -> int:
    """measure training and inference speed against the hardware and the notebook

    Measure, in one run on the bundled data: the matrix-product peak, one epoch of the notebook's per-sample
    PIL pipeline, the same epoch from in-memory tensors (plain and as `lenetlab train` runs it), inference
    speed, GFLOP/s and memory.

    examples:
      lenetlab bench                          # CPU, LeNet-5, batch 256: about a minute
      lenetlab bench --device cuda --epochs 3
      lenetlab bench --no-notebook --json     # skip the slow notebook-pipeline epoch, print JSON
    """
    from ..bench import format_report, run_bench
    from ..config import TrainConfig

    settings = {name: getattr(args, name) for name in _SETTINGS}
    TrainConfig(**settings)  # the same checks as `lenetlab train` (epochs >= 1, a known model...)
    if settings["batch_size"] < 1:
        raise LenetlabError("--batch-size must be at least 1")
    result = run_bench(**settings, notebook=args.notebook, progress=not args.json)
    print(json.dumps(result, indent=2) if args.json else format_report(result))
    return 0
