"""The studies that train networks: ``lenetlab explore sweep``, ``sweep-merge``, ``compare`` and ``lenetlab paper``."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..config import STUDY_EPOCHS
from ..errors import LenetlabError
from ._parser import add_command, add_config_flags, print_files, thread_count


def _training_options(p: argparse.ArgumentParser, epochs: int, preset: bool = True) -> None:
    """The settings the trained variants share, from TrainConfig's fields, and how many train at once."""
    add_config_flags(p, ["preset"] if preset else [], {"preset": "default"})
    add_config_flags(p, ["epochs", "seed", "data_dir"], {"epochs": epochs})
    p.add_argument("--jobs", type=int, default=1, help="networks trained at once, in separate processes")
    p.add_argument("--threads", type=thread_count, help="PyTorch threads per job (default: cores / jobs; "
                                               "1 is often faster on a busy machine)")


def _check_training_options(args: argparse.Namespace) -> None:
    """Refuse what would make every variant invalid, before anything is trained or rewritten."""
    from ..config import TrainConfig

    TrainConfig.from_preset(getattr(args, "preset", "default"), epochs=args.epochs, seed=args.seed,
                            data_dir=args.data_dir)
    if args.jobs < 1 or (args.threads is not None and args.threads < 1):
        raise LenetlabError(f"--jobs and --threads must be at least 1, got {args.jobs} and {args.threads}; try --jobs 1")


def register(esub: Any, sub: Any) -> None:
    """The explore subcommands that train (into ``esub``) and ``paper`` (into the top-level ``sub``)."""
    p = add_command(esub, "sweep", _sweep)
    add_config_flags(p, ["model"])
    p.add_argument("--vary", action="append", default=[], metavar="KEY=V1,V2",
                   help="values of one setting (repeatable; separate with ';' when a value holds commas)")
    p.add_argument("--variant", action="append", default=[], metavar="NAME:KEY=V,...", help="a named variant (repeatable)")
    p.add_argument("--shard", metavar="I/N", help="train only the I-th of N disjoint slices (1-based), for job arrays")
    p.add_argument("--out", type=Path, help="sweep folder (default runs/sweep-MODEL)")
    _training_options(p, STUDY_EPOCHS["sweep"])

    p = add_command(esub, "sweep-merge", _sweep_merge)
    p.add_argument("folders", metavar="DIR", nargs="+", type=Path)
    p.add_argument("--out", type=Path, help="where to write the merged table (default: the first DIR)")

    p = add_command(esub, "compare", _compare)
    p.add_argument("--out", type=Path, default=Path("runs/compare"), help="folder")
    _training_options(p, STUDY_EPOCHS["compare"])

    p = add_command(sub, "paper", _paper)
    p.add_argument("--models", help="comma-separated subset: linear, nn-300, nn-1000, nn-300-100, nn-500-150, lenet1, "
                                    "lenet4, lenet5, lenet5-distortions, lenet5-1998, lenet5-1998-distortions "
                                    "(default: all)")
    p.add_argument("--ablation", action="store_true",
                   help="also train lenet5-1998 with one 1998 choice at a time switched to today's (5 more runs); "
                        "writes ablation.md, ablation.json, ablation.png. With --published: the same ablation "
                        "trained the paper's way, one step per image, over --seeds (5 runs per seed beside the "
                        "published one), instead of the published table")
    p.add_argument("--out", type=Path, help="folder (default runs/paper, or runs/paper-published with --published)")
    _training_options(p, STUDY_EPOCHS["paper"], preset=False)
    p.add_argument("--published", action="store_true",
                   help="instead, train lenet5-1998 exactly the paper's way (one SDLM step per image, 20 passes) "
                        "over several seeds, without and with distortions; writes published.md, published.json, "
                        "figure5.png. About 30 minutes per run on one CPU core")
    p.add_argument("--seeds", type=seed_list, default="0,1,2", metavar="S,S,...", help="with --published: the seeds")
    p.add_argument("--distortions", choices=("none", "with", "both"),
                   help="with --published: train without distortions, with them, or both (default both)")
    p.add_argument("--passes", type=int, default=20, help="with --published: passes over the 60,000 images")



def _sweep(args: argparse.Namespace) -> int:
    """train a grid of variants, resumably; sweep.csv/json and plots

    Train every combination of the --vary values (and any named --variant) into OUT/NAME/. A variant whose
    run already has metrics.json is not trained again, so an interrupted sweep is resumed by running the
    same command. Invalid combinations are reported and skipped. KEYs are model arguments (kernel_size,
    c1_channels, pooling, ...) or any `lenetlab train` setting (lr, batch_size, optimizer, augment, ...).

    examples:
      lenetlab explore sweep --model lenet5 --vary kernel_size=3,5,7 --vary c1_channels=4,6,12 --epochs 5
      lenetlab explore sweep --vary pooling=avg,max --vary activation=tanh,relu --jobs 2 --threads 1
      lenetlab explore sweep --variant small:c1_channels=4,c3_channels=8 --variant wide:c1_channels=12
      lenetlab explore sweep --model fcnet --vary "hidden=300;1000;300,100;500,150"
      # on a cluster: one shard per array task, then merge
      lenetlab explore sweep --vary kernel_size=3,5,7 --shard $SLURM_ARRAY_TASK_ID/4 --out runs/sweep
      lenetlab explore sweep-merge runs/sweep
    """
    from ..explore.sweep import format_rows, parse_shard, parse_variant, parse_vary, shard_stem, sweep
    from ..i18n import check_lang, t

    lang = check_lang(args.lang)
    _check_training_options(args)
    shard = parse_shard(args.shard)
    vary = parse_vary(args.vary)
    variants = [parse_variant(v, args.model) for v in args.variant]
    out = args.out or Path("runs") / f"sweep-{args.model}"
    base = {"preset": args.preset, "epochs": args.epochs, "seed": args.seed, "data_dir": args.data_dir}
    result = sweep(args.model, vary, variants, out, base, jobs=args.jobs, threads=args.threads, shard=shard, lang=lang)
    print(format_rows(result["rows"], lang))
    stem = shard_stem(shard)
    print(t(lang, "study.sweep.wrote", csv=out / (stem + ".csv"), json=out / (stem + ".json"))
          + ("" if shard is None else t(lang, "study.sweep.merge_hint", n=shard[1], out=out)))
    return 0


def _sweep_merge(args: argparse.Namespace) -> int:
    """gather sweep shards into one sweep.csv / sweep.json

    Read the sweep-shard-I-of-N.json files in the folders and write one sweep.json, sweep.csv and the plots;
    report shards that are missing.

    examples:
      lenetlab explore sweep-merge runs/sweep
      lenetlab explore sweep-merge node1/sweep node2/sweep --out runs/sweep-all
    """
    from ..explore.sweep import format_rows, merge_sweeps
    from ..i18n import check_lang, t

    lang = check_lang(args.lang)
    merged = merge_sweeps(args.folders, args.out, lang)
    print(format_rows(merged["rows"], lang))
    out = args.out or args.folders[0]
    if merged["missing_shards"]:
        print(t(lang, "study.sweep.missing", shards=merged["missing_shards"], size=merged["grid_size"],
                variants=", ".join(merged["missing_variants"])))
    print(t(lang, "study.sweep.wrote", csv=out / "sweep.csv", json=out / "sweep.json"))
    return 0


def _compare(args: argparse.Namespace) -> int:
    """LeNet-5 vs an MLP of its size vs an FC net of its depth

    Train LeNet-5, an MLP with about as many parameters, and a fully connected network of LeNet-5's depth,
    with one recipe on the same data; one table, one figure.

    examples:
      lenetlab explore compare                    # 10 epochs each, the default recipe
      lenetlab explore compare --epochs 20 --out runs/compare20
    """
    from ..explore.compare import explore_compare
    from ..i18n import check_lang

    _check_training_options(args)
    explore_compare(args.out, args.epochs, preset=args.preset, seed=args.seed, data_dir=args.data_dir, jobs=args.jobs,
                    threads=args.threads, lang=check_lang(args.lang))
    print((args.out / "compare.md").read_text())
    print_files([args.out / "compare.md", args.out / "compare.json", args.out / "compare.png"], args.lang)
    return 0


def _paper(args: argparse.Namespace) -> int:
    """LeCun et al. 1998's MNIST table, reproduced side by side

    Train the paper's 9 models (linear, 4 fully connected nets, LeNet-1, LeNet-4, LeNet-5, LeNet-5 with
    distortions) with today's recipe, and LeNet-5 as published (lenet5-1998) with the paper's, and print
    the paper's test error next to ours; writes paper.md, paper.json, paper.png. --ablation adds the
    ablation of the 1998 choices. Resumable. The output says how our training differs from 1998.

    examples:
      lenetlab paper                              # 11 models, 5 epochs each, into runs/paper
      lenetlab paper --models lenet5-1998 --epochs 20 --ablation
      lenetlab paper --models lenet1,lenet5 --epochs 3
      lenetlab paper --published --seeds 0 --distortions none --threads 1   # the 1998 recipe, one seed
      lenetlab paper --published --ablation --seeds 0 --threads 1           # its ablation, one seed
    """
    from ..explore.paper import PAPER_MODELS, ablation_table, paper_table
    from ..i18n import check_lang

    lang = check_lang(args.lang)
    _check_training_options(args)
    if args.published:
        return _published(args, lang)
    args.out = args.out or Path("runs/paper")
    models = None
    if args.models:
        models = [m.strip() for m in args.models.split(",") if m.strip()]
        unknown = [m for m in models if m not in PAPER_MODELS]
        if unknown:
            raise LenetlabError(f"unknown paper model(s) {', '.join(unknown)}; choose among {', '.join(PAPER_MODELS)}")
    training = dict(seed=args.seed, data_dir=args.data_dir, jobs=args.jobs, threads=args.threads)
    paper_table(args.out, args.epochs, models=models, lang=lang, **training)
    files = [args.out / "paper.md", args.out / "paper.json", args.out / "paper.png"]
    if args.ablation:
        ablation_table(args.out, args.epochs, lang=lang, **training)
        files += [args.out / "ablation.md", args.out / "ablation.json", args.out / "ablation.png"]
    print()
    print((args.out / "paper.md").read_text())
    if args.ablation:
        print((args.out / "ablation.md").read_text())
    print_files(files, args.lang)
    return 0


def seed_list(text: str) -> tuple[int, ...]:
    """``--seeds 0,1,2``: distinct whole numbers (an argparse type)."""
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts or not all(p.isdigit() for p in parts) or len(set(map(int, parts))) != len(parts):
        raise LenetlabError.of("error.seed_list", value=text)
    return tuple(map(int, parts))


def _published(args: argparse.Namespace, lang: str) -> int:
    """``lenetlab paper --published``: each (seed, distortions) run not yet in OUT, then the summary."""
    import torch

    from ..explore.published import published_summary, train_published
    from ..explore.published_ablation import published_ablation, train_published_ablation

    if args.models:
        raise LenetlabError.of("error.published_alone")
    if args.ablation and args.distortions not in (None, "none"):
        raise LenetlabError.of("error.ablation_distortions")
    if args.passes < 1:
        raise LenetlabError.of("error.passes", got=args.passes)
    out = args.out or Path("runs/paper-published")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.ablation:
        for seed in args.seeds:
            train_published_ablation(out, seed, passes=args.passes, data_dir=args.data_dir, threads=args.threads,
                                     lang=lang)
        published_ablation(out, args.seeds, args.passes, lang)
        files = [out / f"published-ablation.{ext}" for ext in ("md", "json", "png")]
        print()
        print(files[0].read_text())
        print_files(files, lang)
        return 0
    for distort in {"none": (False,), "with": (True,), "both": (False, True)}[args.distortions or "both"]:
        for seed in args.seeds:
            train_published(out, seed, distort, passes=args.passes, data_dir=args.data_dir, lang=lang)
    published_summary(out, lang)
    print()
    print((out / "published.md").read_text())
    print_files([out / "published.md", out / "published.json", out / "figure5.png"], lang)
    return 0
