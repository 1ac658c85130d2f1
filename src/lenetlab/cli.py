"""The ``lenetlab`` command line: parse arguments, call the library, print. No logic of its own."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from .errors import LenetlabError

EXAMPLES = {
    "train": """examples:
  lenetlab train                                   # LeNet-5, the project's recipe, bundled MNIST
  lenetlab train --preset seed                     # the course notebook's recipe to the letter
  lenetlab train --model mlp --epochs 5 --out runs/mlp
  lenetlab train --activation relu --pooling max --c1-channels 12
  lenetlab train --data-dir ~/data/FashionMNIST/raw --out runs/fashion
  lenetlab train --resume runs/lenet5-20261126-101500""",
    "evaluate": """examples:
  lenetlab evaluate runs/lenet5-20261126-101500
  lenetlab evaluate runs/lenet5-20261126-101500/best.pt --json""",
    "predict": """examples:
  lenetlab predict runs/lenet5-20261126-101500 my_digit.png
  lenetlab predict runs/lenet5-20261126-101500/best.pt photo1.jpg photo2.png --json""",
}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage mistake as one line with the fix, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see `{self.prog} --help`\n")


def _add_train(sub: Any) -> None:
    p = sub.add_parser("train", help="train a model and write a run directory", epilog=EXAMPLES["train"],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Train LeNet-5 (or another registered model) on MNIST and write a run directory "
                                   "with checkpoints, metrics and figures.")
    p.add_argument("--model", default="lenet5",
                   help="lenet5 (default), lenet5-modern, mlp, linear, fcnet, lenet1 or lenet4")
    p.add_argument("--preset", default="default", help="seed: the notebook's recipe; default: the project's (default)")
    p.add_argument("--epochs", type=int, help="number of epochs (preset: seed 15, default 40)")
    p.add_argument("--batch-size", type=int, help="training batch size (preset: seed 256, default 128)")
    p.add_argument("--lr", type=float, help="learning rate, the peak one for one-cycle (preset: seed 0.01, default 0.05)")
    p.add_argument("--optimizer", help="sgd, adam or adamw")
    p.add_argument("--momentum", type=float, help="SGD momentum")
    p.add_argument("--weight-decay", type=float, help="L2 weight decay")
    p.add_argument("--schedule", help="constant, onecycle or cosine")
    p.add_argument("--label-smoothing", type=float, help="label smoothing of the training loss")
    p.add_argument("--augment", help="none, shift (random ±2 px) or affine (shift, rotation, scale)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, initialisation and shuffling (default 0)")
    p.add_argument("--valid-fraction", type=float, default=0.2, help="share of the 60,000 held out for validation")
    p.add_argument("--data-dir", help="folder with the four MNIST-format IDX files (default: the bundled MNIST)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--out", type=Path, help="run directory (default: runs/MODEL-DATE-TIME)")
    p.add_argument("--force", action="store_true", help="overwrite the run directory if it holds a run")
    p.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run from its last.pt")
    p.add_argument("--keep-filters", action="store_true", help="keep C1's kernels after every epoch")
    p.add_argument("--deterministic", action="store_true",
                   help="use PyTorch's deterministic algorithms (CPU runs are deterministic anyway)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (summary lines only)")
    speed = p.add_argument_group("speed (see README: Performance for what each buys)")
    speed.add_argument("--no-channels-last", dest="channels_last", action="store_false", default=None,
                       help="keep the plain NCHW layout (channels_last, the default, is 20%% faster on CPU)")
    speed.add_argument("--threads", type=int, help="PyTorch CPU threads (default: all cores; use 1 on a busy machine)")
    speed.add_argument("--precision", help="fp32 (default) or bf16 (autocast; fast on CPUs with AMX/AVX512-BF16)")
    speed.add_argument("--compile", action="store_true", default=None, help="torch.compile the model (eager if it fails)")
    arch = p.add_argument_group("architecture (defaults: the notebook's values)")
    arch.add_argument("--c1-channels", type=int, help="feature maps of C1 (6)")
    arch.add_argument("--c3-channels", type=int, help="feature maps of C3 (16)")
    arch.add_argument("--c5-channels", type=int, help="feature maps of C5 (120)")
    arch.add_argument("--f6-units", type=int, help="units of F6 (84)")
    arch.add_argument("--kernel-size", type=int, help="kernel size of C1, C3, C5 (5)")
    arch.add_argument("--stride", type=int, help="stride of C1 (1)")
    arch.add_argument("--padding", type=int, help="padding of C1 (2)")
    arch.add_argument("--pooling", help="avg (default) or max, for S2 and S4")
    arch.add_argument("--pool-size", type=int, help="size and stride of S2 and S4 (2)")
    arch.add_argument("--activation", help="tanh (default for LeNet-5), relu, sigmoid, gelu, elu, leaky_relu")
    arch.add_argument("--batch-norm", action="store_true", default=None, help="batch norm after each convolution")
    arch.add_argument("--hidden-1", type=int, help="MLP: units of the first hidden layer (120)")
    arch.add_argument("--hidden-2", type=int, help="MLP: units of the second hidden layer (84)")
    arch.add_argument("--hidden", help="fcnet: hidden-layer widths, comma-separated (300,100)")
    p.set_defaults(handler=_train)


_ARCH_ARGS = ("c1_channels", "c3_channels", "c5_channels", "f6_units", "kernel_size", "stride", "padding",
              "pooling", "pool_size", "activation", "batch_norm", "hidden_1", "hidden_2", "hidden")
_RECIPE_ARGS = ("epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule",
                "label_smoothing", "augment", "channels_last", "precision", "compile")


def _train(args: argparse.Namespace) -> int:
    from .runs import train_run
    from .training import TrainConfig

    _set_threads(args.threads)
    if args.resume is not None:
        given = [f"--{k.replace('_', '-')}" for k in _ARCH_ARGS + _RECIPE_ARGS if getattr(args, k) is not None]
        if given:
            raise LenetlabError(f"--resume continues a run with its own settings, so {', '.join(given)} would be "
                                "ignored; drop them, or start a new run with --out")
        train_run(TrainConfig(), args.resume, resume=True, progress=not args.no_progress)
        return 0
    config = TrainConfig.from_preset(
        args.preset,
        model=args.model,
        model_args={k: getattr(args, k) for k in _ARCH_ARGS if getattr(args, k) is not None},
        seed=args.seed,
        valid_fraction=args.valid_fraction,
        data_dir=args.data_dir,
        device=args.device,
        keep_filters=args.keep_filters,
        deterministic=args.deterministic,
        **{k: getattr(args, k) for k in _RECIPE_ARGS},
    )
    train_run(config, args.out, force=args.force, progress=not args.no_progress)
    return 0


def _set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise LenetlabError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _add_evaluate(sub: Any) -> None:
    p = sub.add_parser("evaluate", help="test a trained model: per-class table and accuracy",
                       epilog=EXAMPLES["evaluate"], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT", type=Path)
    p.add_argument("--data-dir", help="folder with the IDX files the model was trained on (default: bundled MNIST)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the test numbers as JSON")
    p.set_defaults(handler=_evaluate)


def _evaluate(args: argparse.Namespace) -> int:
    from .runs import evaluate_run

    result, names = evaluate_run(args.checkpoint, args.data_dir, args.device)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    counts = [sum(row) for row in result.confusion_matrix]
    width = max(8, max(len(n) for n in names))
    for i, name in enumerate(names[: len(counts)]):
        correct = result.confusion_matrix[i][i]
        print(f"Test accuracy of {name:>{width}}: {100 * result.per_class_accuracy[i]:6.2f}% ({correct:5d}/{counts[i]:5d})")
    total = sum(counts)
    correct = sum(result.confusion_matrix[i][i] for i in range(len(counts)))
    print(f"\nTest accuracy (overall): {100 * result.accuracy:.2f}% ({correct}/{total})   test loss {result.loss:.4f}")
    return 0


def _add_predict(sub: Any) -> None:
    p = sub.add_parser("predict", help="classify your own images of digits", epilog=EXAMPLES["predict"],
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description="Classify PNG/JPEG images of any size, dark-on-light or light-on-dark, after "
                                   "MNIST's own preprocessing (crop to the ink, fit in 20x20, centre by mass in 28x28).")
    p.add_argument("checkpoint", metavar="CHECKPOINT", type=Path, help="a run directory or a .pt file")
    p.add_argument("images", metavar="IMAGE", nargs="+", type=Path)
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.set_defaults(handler=_predict)


def _predict(args: argparse.Namespace) -> int:
    from .runs import predict_images

    results = predict_images(args.checkpoint, args.images, args.device)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            print(f"{r['path']}: {r['class_name']} ({100 * r['probability']:.1f}%)")
    return 0


def _register_others(sub: Any) -> None:
    """Commands that live beside the modules they drive; each defines ``register(subparsers)`` and
    imports its heavy or optional dependencies (scikit-learn, FastAPI) only when it runs."""
    from . import bench, report
    from .explore import commands as explore_commands
    from .web import commands as web_commands

    for module in (bench, explore_commands, report, web_commands):
        module.register(sub)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = _Parser(prog="lenetlab", description="Train LeNet-5 and the MLP of the course notebook on real MNIST, "
                     "offline, and look inside what they learned.")
    parser.add_argument("--version", action="version", version=f"lenetlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in (_add_train, _add_evaluate, _add_predict):
        add(sub)
    _register_others(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.handler(args)
    except LenetlabError as exc:
        print(f"lenetlab: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("\nlenetlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
