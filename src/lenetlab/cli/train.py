"""``lenetlab train``, ``evaluate`` and ``predict``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import LenetlabError
from ._parser import (
    ArchAction,
    add_command,
    add_config_flags,
    add_lang_flag,
    given_config,
    thread_count,
    whole_number_in,
)


def register(sub: Any) -> None:
    p = add_command(sub, "train", _train)
    add_config_flags(p)
    p.add_argument("--arch", action=ArchAction, dest="model_args", metavar="KEY=VALUE",
                   help="a constructor argument of the model, repeatable: kernel_size=3, c1_channels=12, "
                        "activation=relu, pooling=max, batch_norm=true (LeNet-5; stride=2 and padding=0 are C1's, "
                        "c3_kernel, c3_stride, c3_padding C3's, and C5's kernel follows what reaches it unless "
                        "c5_kernel=K), hidden_1=200 (MLP), hidden=300,100 (fcnet) ... an unknown key lists the "
                        "ones the model takes")
    run = p.add_argument_group("the run")
    run.add_argument("--out", type=Path, help="run directory (default: runs/MODEL-DATE-TIME)")
    run.add_argument("--force", action="store_true", help="overwrite the run directory if it holds a run")
    run.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue an interrupted run from its last.pt")
    run.add_argument("--no-progress", action="store_true", help="no progress bars (summary lines only)")
    run.add_argument("--threads", type=thread_count, help="PyTorch CPU threads (default: all cores; use 1 on a busy machine)")
    add_lang_flag(run)

    p = add_command(sub, "evaluate", _evaluate)
    p.add_argument("checkpoint", metavar="RUN_DIR_OR_CHECKPOINT", type=Path)
    p.add_argument("--data-dir", help="folder of IDX files to test on (default: the data the run was trained on)")
    add_config_flags(p, ["device"])
    p.add_argument("--tta", type=whole_number_in(0, 3), default=0, metavar="N",
                   help="decide on the predictions averaged over the image shifted by up to N pixels in x and y "
                        "((2N+1)² copies; test-time augmentation); 0: the image alone")
    p.add_argument("--json", action="store_true", help="print the test numbers as JSON")

    p = add_command(sub, "predict", _predict)
    p.add_argument("checkpoint", metavar="CHECKPOINT", type=Path, help="a run directory or a .pt file")
    p.add_argument("images", metavar="IMAGE", nargs="+", type=Path)
    add_config_flags(p, ["device"])
    p.add_argument("--json", action="store_true", help="print the results as JSON")


def set_threads(threads: int | None) -> None:
    if threads is None:
        return
    if threads < 1:
        raise LenetlabError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


def _train(args: argparse.Namespace) -> int:
    """train a model and write a run directory

    Train LeNet-5 (or another registered model) on MNIST and write a run directory with checkpoints,
    metrics, figures and report.html. Every setting below is a field of lenetlab.TrainConfig; a preset sets
    the recipe, any flag overrides it.

    examples:
      lenetlab train                                   # LeNet-5, the project's recipe, bundled MNIST
      lenetlab train --preset seed                     # the course notebook's recipe to the letter
      lenetlab train --model mlp --epochs 5 --out runs/mlp
      lenetlab train --arch activation=relu --arch pooling=max --arch c1_channels=12
      lenetlab train --model fcnet --arch hidden=300,100
      lenetlab train --data-dir ~/data/FashionMNIST/raw --out runs/fashion
      lenetlab train --resume runs/lenet5-20261126-101500
    """
    from ..config import FIELDS, TrainConfig
    from ..report import finish_run
    from ..runs import train_run

    set_threads(args.threads)
    given = given_config(args, {k: f.default for k, f in FIELDS.items()})
    if args.resume is not None:
        # --lang is welcome: it is the language of what the resumed run prints and draws, not one of its settings.
        given.update({k: True for k in ("out", "force") if getattr(args, k)})
        if given:
            flags = ", ".join("--" + ("arch" if k == "model_args" else k.replace("_", "-")) for k in given)
            raise LenetlabError.of("error.resume_flags", flags=flags)
        from ..rundir import RunDir

        train_run(TrainConfig(), RunDir.containing(args.resume).path, resume=True, progress=not args.no_progress,
                  finish=finish_run, lang=args.lang)
        return 0
    preset = given.pop("preset", "default")
    train_run(TrainConfig.from_preset(preset, **given), args.out, force=args.force, progress=not args.no_progress,
              finish=finish_run, lang=args.lang)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    """test a trained model: per-class table and accuracy

    Evaluate a run's best.pt (or any checkpoint) on the test set of the data it was trained on, and print
    the notebook's per-class table.

    examples:
      lenetlab evaluate runs/lenet5-20261126-101500
      lenetlab evaluate runs/lenet5-20261126-101500/best.pt --json
      lenetlab evaluate runs/lenet5-20261126-101500 --tta 1
    """
    import sys

    from ..evaluation import evaluate_run
    from ..i18n import check_lang, number, t

    lang = check_lang(args.lang)
    result, names = evaluate_run(args.checkpoint, args.data_dir, args.device,
                                 log=lambda line: print(line, file=sys.stderr), lang=lang, tta_shift=args.tta)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    counts = [sum(row) for row in result.confusion_matrix]
    width = max(8, max(len(n) for n in names))
    for i, name in enumerate(names[: len(counts)]):
        correct = result.confusion_matrix[i][i]
        print(t(lang, "cli.class_accuracy", name=f"{name:>{width}}",
                accuracy=number(100 * result.per_class_accuracy[i], lang, 2).rjust(6),
                correct=number(correct, lang).rjust(5), total=number(counts[i], lang).rjust(5)))
    total = sum(counts)
    correct = sum(result.confusion_matrix[i][i] for i in range(len(counts)))
    print("\n" + t(lang, "cli.overall_accuracy", accuracy=number(100 * result.accuracy, lang, 2),
                   correct=number(correct, lang), total=number(total, lang), loss=number(result.loss, lang, 4)))
    return 0


def _predict(args: argparse.Namespace) -> int:
    """classify your own images of digits

    Classify PNG, JPEG, BMP, GIF or WebP images of any size, dark-on-light or light-on-dark, after MNIST's own preprocessing
    (crop to the ink, fit in 20x20, centre by mass in 28x28).

    examples:
      lenetlab predict runs/lenet5-20261126-101500 my_digit.png
      lenetlab predict runs/lenet5-20261126-101500/best.pt photo1.jpg photo2.png --json
    """
    from ..runs import predict_images

    results = predict_images(args.checkpoint, args.images, args.device)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        from ..i18n import check_lang, number, t

        lang = check_lang(args.lang)
        for r in results:
            print(t(lang, "cli.prediction", path=r["path"], name=r["class_name"],
                    probability=number(100 * r["probability"], lang, 1)))
    return 0
