"""``lenetlab bench`` and ``lenetlab speedrun``: their flags are TrainConfig's, with their own defaults."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..config import BENCH_DEFAULTS
from ..errors import LenetlabError
from ._parser import add_command, add_config_flags, given_config, thread_count
from .train import set_threads

_SETTINGS = ("model", "device", "batch_size", "epochs", "channels_last", "precision", "compile", "fuse")
# What a speedrun may change from its preset: the recipe, the precision and the layout.
_SPEEDRUN_RECIPE = ("epochs", "batch_size", "lr", "optimizer", "momentum", "nesterov", "weight_decay", "schedule",
                    "label_smoothing", "augment", "ema", "channels_last", "precision", "fuse")


def register(sub: Any) -> None:
    p = add_command(sub, "bench", _bench)
    add_config_flags(p, _SETTINGS, BENCH_DEFAULTS)
    p.add_argument("--no-notebook", dest="notebook", action="store_false", help="skip the notebook-pipeline epoch")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")

    p = add_command(sub, "speedrun", _speedrun)
    p.add_argument("--model", choices=("lenet5", "lenet5-modern"), default="lenet5",
                   help="the track: lenet5 (target 0.99) or lenet5-modern (target 0.995)")
    p.add_argument("--target", type=float, help="validation accuracy to reach (default: the track's); with --budget, "
                                                 "the test accuracy each seed is counted against")
    p.add_argument("--budget", type=int, metavar="EPOCHS",
                   help="the fixed-budget track instead: EPOCHS over all 60,000 training images, no validation, the "
                        "test set once per seed (10 seeds unless --seeds)")
    p.add_argument("--seeds", type=int, help="runs with seeds 0, 1, ... (mean ± std over them; default: 5, 10 with "
                                             "--budget)")
    p.add_argument("--preset", default="speedrun", help="recipe to start from (any --preset of train)")
    add_config_flags(p, ["device"])
    recipe = p.add_argument_group("the recipe (default: the preset's)")
    add_config_flags(recipe, _SPEEDRUN_RECIPE)
    p.add_argument("--threads", type=thread_count, help="PyTorch CPU threads (default: all cores)")
    p.add_argument("--out", type=Path, help="where to write the numbers (default: runs/speedrun-MODEL-DEVICE-DATE-TIME.json)")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON instead of the table")


def _bench(args: argparse.Namespace) -> int:
    """measure training and inference speed against the hardware and the notebook

    Measure, in one run on the bundled data: the matrix-product peak, one epoch of the notebook's per-sample
    PIL pipeline, the same epoch from in-memory tensors (plain and as `lenetlab train` runs it), the fast path
    of `lenetlab speedrun`, inference speed, GFLOP/s and memory.

    examples:
      lenetlab bench                          # CPU, LeNet-5, batch 256: about a minute
      lenetlab bench --device cuda --epochs 3
      lenetlab bench --no-notebook --json     # skip the slow notebook-pipeline epoch, print JSON
      lenetlab bench --device cuda --fuse     # the fast path with C1 fused into two Triton kernels
    """
    from ..bench import format_report, run_bench
    from ..config import TrainConfig
    from ..i18n import check_lang

    lang = check_lang(args.lang)
    settings = {name: getattr(args, name) for name in _SETTINGS}
    TrainConfig(**settings)  # the same checks as `lenetlab train` (epochs >= 1, a known model...)
    if settings["batch_size"] < 1:
        raise LenetlabError.of("error.at_least_one", flag="--batch-size")
    result = run_bench(**settings, notebook=args.notebook, progress=not args.json, lang=lang)
    print(json.dumps(result, indent=2) if args.json else format_report(result, lang))
    return 0


def _speedrun(args: argparse.Namespace) -> int:
    """time LeNet-5 to 99 % validation accuracy, on the CPU or a GPU

    Train with the speedrun recipe on the fast path (data on the device; on CUDA the whole step captured in a
    graph), stop at the first epoch whose validation accuracy reaches the target, then test that model once.
    Prints mean ± std over seeds, the time of one plain eager PyTorch epoch on the same machine and the ratio,
    and writes every number to a JSON file.

    examples:
      lenetlab speedrun                              # LeNet-5 to 99 %, 5 seeds, on the GPU if there is one
      lenetlab speedrun --device cpu --seeds 1       # one run on the CPU
      lenetlab speedrun --model lenet5-modern        # the second track: 99.5 %
      lenetlab speedrun --batch-size 256 --lr 0.2    # another recipe
      lenetlab speedrun --budget 2 --device cpu      # fixed budget: 2 epochs of 60,000 images, 10 seeds, test
    """
    import datetime

    from .._fs import check_output_file, write_json
    from ..config import PRESETS
    from ..i18n import check_lang, t
    from ..speedrun import fixed_budget, format_budget_table, format_table, speedrun

    lang = check_lang(args.lang)
    if args.preset not in PRESETS:
        raise LenetlabError.of("error.unknown_preset", name=args.preset, choices=", ".join(PRESETS))
    if args.out is not None:  # checked now, not after minutes of training
        check_output_file(args.out, (".json",), "cli.writes.json")
    if args.budget is not None and args.budget < 1:
        raise LenetlabError.of("error.at_least_one", flag="--budget")
    set_threads(args.threads)
    overrides = {k: v for k, v in given_config(args).items() if k in _SPEEDRUN_RECIPE}
    seeds = args.seeds if args.seeds is not None else 10 if args.budget is not None else 5
    if args.budget is not None:
        if "epochs" in overrides:  # the budget is the number of epochs: two numbers for one thing
            raise LenetlabError.of("error.budget_and_epochs")
        result = fixed_budget(args.model, args.budget, args.target, args.device, seeds, args.preset,
                              progress=not args.json, lang=lang, **overrides)
        table, met = format_budget_table(result, lang), result["summary"]["met"]
    else:
        result = speedrun(args.model, args.target, args.device, seeds, args.preset, progress=not args.json,
                          lang=lang, **overrides)
        table, met = format_table(result, lang), result["summary"]["reached"] == result["summary"]["seeds"]
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    track = f"budget{args.budget}-" if args.budget is not None else ""
    out = args.out or Path("runs") / f"speedrun-{track}{args.model}-{result['machine']['device'].replace(':', '')}-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json(out, result)
    print(json.dumps(result, indent=2) if args.json else f"{table}\n{t(lang, 'cli.numbers_written', path=out)}")
    return 0 if met else 1
