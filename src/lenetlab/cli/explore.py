"""``lenetlab explore ...``: parse, call the explore functions, print (the studies that train: studies.py)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ._parser import Parser, add_command, float_list, int_list, print_files
from .studies import register as register_studies


def register(sub: Any) -> None:
    explore = add_command(sub, "explore", _explore)
    explore.set_defaults(explore_parser=explore)
    esub = explore.add_subparsers(dest="explore_command", metavar="EXPLORE_COMMAND", parser_class=Parser)

    p = add_command(esub, "params", _params)
    p.add_argument("--model", action="append", metavar="NAME", help="a registered model instead (repeatable)")
    p.add_argument("--out", type=Path, help="also write params.json and params.png into this folder")
    p.add_argument("--json", action="store_true", help="print the numbers as JSON")

    p = add_command(esub, "filters", _filters)
    p.add_argument("run", metavar="RUN", type=Path, help="a run directory (or its best.pt)")
    p.add_argument("--epochs", type=int_list, help="epochs to show from RUN/filters (default: up to 6, evenly)")
    p.add_argument("--out", type=Path, help="output folder (default RUN/explore)")

    p = add_command(esub, "feature-maps", _feature_maps)
    p.add_argument("run", metavar="RUN", type=Path)
    which = p.add_mutually_exclusive_group()
    which.add_argument("--index", type=int, help="index of a test image (default 0)")
    which.add_argument("--image", type=Path, metavar="PNG", help="your own image file instead")
    p.add_argument("--data-dir", help="folder of IDX files for --index (default: the data the run was trained on)")
    p.add_argument("--out", type=Path, help="output folder (default RUN/explore)")

    p = add_command(esub, "embeddings", _embeddings)
    p.add_argument("run_lenet", metavar="RUN_LENET", type=Path)
    p.add_argument("run_mlp", metavar="RUN_MLP", type=Path)
    p.add_argument("--method", default="both", choices=("pca", "tsne", "both"), help="projection")
    p.add_argument("--n", type=int, default=5000, help="test images, a seeded sample")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of t-SNE")
    p.add_argument("--data-dir", help="folder of IDX files (default: the data RUN_LENET was trained on)")
    p.add_argument("--out", type=Path, help="output folder (default RUN_LENET/explore)")

    p = add_command(esub, "attribution", _attribution)
    p.add_argument("run", metavar="RUN", type=Path, help="a run directory (or its best.pt)")
    which = p.add_mutually_exclusive_group()
    which.add_argument("--index", type=int, nargs="+", metavar="I", help="test images (default: the most confidently "
                                                                          "wrong ones and one right image per class)")
    which.add_argument("--image", type=Path, nargs="+", metavar="PNG", help="your own image files instead")
    p.add_argument("--method", default="all", choices=("saliency", "gradcam", "occlusion", "all"), help="which maps")
    p.add_argument("--patch", type=int, default=4, help="occlusion: side of the square hidden, in pixels")
    p.add_argument("--stride", type=int, default=2, help="occlusion: pixels between two positions of the square")
    p.add_argument("--data-dir", help="folder of IDX files for --index (default: the data the run was trained on)")
    p.add_argument("--seed", type=int, default=1, help="seed of the randomised weights of the sanity check (not the "
                   "run's own training seed, 0 by default, whose weights would be the run's starting point)")
    p.add_argument("--out", type=Path, help="output folder (default RUN/explore)")

    p = add_command(esub, "attack", _attack)
    p.add_argument("runs", metavar="RUN", type=Path, nargs="+", help="run directories to attack side by side")
    p.add_argument("--method", default="both", choices=("fgsm", "pgd", "both"), help="the attack")
    p.add_argument("--eps", type=float_list, default=[0, 0.05, 0.1, 0.15, 0.2, 0.3], metavar="E1,E2,...",
                   help="L-infinity budgets, in pixel units of [0, 1]")
    p.add_argument("--n", type=int, default=10000, help="test images, a seeded sample (10000: all of them)")
    p.add_argument("--steps", type=int, default=40, help="PGD steps")
    p.add_argument("--step-size", type=float, help="PGD step (default 2.5 * eps / steps, as Madry et al.)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample and of PGD's random start")
    p.add_argument("--data-dir", help="folder of IDX files (default: the data the first run was trained on)")
    p.add_argument("--out", type=Path, help="output folder (default FIRST_RUN/explore)")

    register_studies(esub, sub)  # the studies that train: sweep, sweep-merge, compare, paper

def _explore(args: argparse.Namespace) -> int:
    """look inside: parameters, filters, feature maps, embeddings, sweeps, comparisons

    Each command writes PNGs and a JSON of the numbers behind them into RUN/explore/ (or --out).

    examples:
      lenetlab explore params
      lenetlab explore filters runs/lenet5
      lenetlab explore feature-maps runs/lenet5 --index 7
      lenetlab explore embeddings runs/lenet5 runs/mlp --method both --n 5000
      lenetlab explore sweep --model lenet5 --vary kernel_size=3,5,7 --vary c1_channels=4,6,12 --epochs 5
      lenetlab explore compare --epochs 10
    """
    args.explore_parser.print_help()
    return 2


def _params(args: argparse.Namespace) -> int:
    """parameters, MACs and output shape of every layer

    Parameters per layer and in total, multiply-accumulates per image and output shape of every layer of
    LeNet-5, the notebook's MLP and a fully connected network of LeNet-5's depth (or of the --model given).

    examples:
      lenetlab explore params                     # LeNet-5, the MLP, the FC network of LeNet-5's depth
      lenetlab explore params --out runs/params   # also params.json and params.png there
      lenetlab explore params --json
    """
    from ..explore.params import default_models, format_table, params_report
    from ..models import build_model

    models = {name: build_model(name) for name in args.model} if args.model else default_models()
    report = params_report(models)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        from ..i18n import check_lang, t

        lang = check_lang(args.lang)
        print("\n\n".join(format_table(name, table, lang) for name, table in report.items()))
        print("\n" + t(lang, "explore.macs_note"))
    if args.out is not None:
        from .. import plots
        from .._fs import write_json
        from ..explore._common import output_dir
        from ..explore.figures import params_figure

        folder = output_dir(None, args.out)
        write_json(folder / "params.json", report)
        from ..i18n import check_lang

        plots.save(params_figure(report, check_lang(args.lang)), folder / "params.png")
        print(f"wrote {folder / 'params.json'} and {folder / 'params.png'}")
    return 0


def _filters(args: argparse.Namespace) -> int:
    """learned C1/C3 kernels beside classic filters

    Draw the learned C1 kernels next to the closest classic filter (Sobel, Prewitt, Laplacian, Gaussian,
    Gabor; sign-invariant cosine), C3 as a grid, and C1 at selected epochs when the run was trained with
    --keep-filters.

    examples:
      lenetlab explore filters runs/lenet5
      lenetlab train --keep-filters --out runs/k && lenetlab explore filters runs/k --epochs 1,5,20
    """
    from ..explore.figures import filter_name
    from ..explore.filters import explore_filters
    from ..i18n import check_lang, number, t

    lang = check_lang(args.lang)
    result = explore_filters(args.run, args.out, args.epochs, lang=lang)
    for m in result["C1"]:
        print(t(lang, "explore.kernel_line", kernel=m["kernel"], best=f"{m['best']:<16}" if lang == "en" else f"{filter_name(m['best'], lang):<18}",
                similarity=number(m["similarity"], lang, 3)))
    print(t(lang, "explore.mean_similarity", similarity=number(result["mean_best_similarity"], lang, 3)))
    if "epochs" not in result:
        print(t(lang, "explore.no_snapshots"))
    print_files(result["files"], args.lang)
    return 0


def _feature_maps(args: argparse.Namespace) -> int:
    """activations of C1, S2, C3, S4, C5 for one image

    Draw every layer's activations for one test image, or for your own image after the same preprocessing as
    `lenetlab predict`.

    examples:
      lenetlab explore feature-maps runs/lenet5              # test image 0
      lenetlab explore feature-maps runs/lenet5 --index 7
      lenetlab explore feature-maps runs/lenet5 --image my_digit.png
    """
    from ..explore.feature_maps import explore_feature_maps
    from ..i18n import check_lang, number, t

    lang = check_lang(args.lang)
    result = explore_feature_maps(args.run, args.out, index=args.index, image_path=args.image, data_dir=args.data_dir,
                                  lang=lang)
    source = t(lang, "explore.test_image", index=result["index"]) if args.image is None else result["source"]
    label = "" if result["label"] is None else t(lang, "explore.fm_label", label=result["label"])  # ", label 3"
    print(t(lang, "explore.fm_line", source=source, predicted=result["prediction"],
            probability=number(100 * result["probabilities"][result["prediction"]], lang, 1), label=label))
    for name, layer in result["layers"].items():
        print(t(lang, "explore.layer_stats", name=f"{name:<3}", shape=f"{'×'.join(map(str, layer['shape'])):<10}",
                mean=number(layer["mean"], lang, 3, sign=True), max=number(layer["max"], lang, 3, sign=True)))
    print_files(result["files"], args.lang)
    return 0


def _embeddings(args: argparse.Namespace) -> int:
    """PCA / t-SNE of the MLP's H1 and LeNet-5's C5, F6, with scores

    Project the MLP's first hidden layer, LeNet-5's C5 and F6, and the raw pixels to 2-d, and score each in
    its own space: 5-NN accuracy (5-fold CV) and silhouette.

    examples:
      lenetlab train --model mlp --out runs/mlp
      lenetlab explore embeddings runs/lenet5 runs/mlp                 # PCA and t-SNE of 5000 test images
      lenetlab explore embeddings runs/lenet5 runs/mlp --method pca --n 2000
    """
    from ..explore.embeddings import explore_embeddings
    from ..i18n import check_lang

    result = explore_embeddings(args.run_lenet, args.run_mlp, args.out, method=args.method, n=args.n, seed=args.seed,
                                data_dir=args.data_dir, lang=check_lang(args.lang))
    print_files(result["files"], args.lang)
    return 0


def _attribution(args: argparse.Namespace) -> int:
    """which pixels made the network say what it said: saliency, Grad-CAM, occlusion

    For each image: the input gradient (saliency, and gradient x input), Grad-CAM on the last
    convolutional layer (C3 for LeNet-5; not for fully connected networks), and occlusion sensitivity
    (how much the true class's probability drops when a square of the image is hidden). A sanity
    check compares the maps with those of the same network with random weights (Adebayo et al. 2018).
    Writes attribution.png and attribution.json.

    examples:
      lenetlab explore attribution runs/lenet5                     # the confidently wrong + one per class
      lenetlab explore attribution runs/lenet5 --index 0 7 42 --method occlusion --patch 6
      lenetlab explore attribution runs/mlp --image my_digit.png --method saliency
    """
    from ..explore.attribution import explore_attribution
    from ..i18n import check_lang, number, t

    lang = check_lang(args.lang)
    result = explore_attribution(args.run, args.out, index=args.index, image=args.image, method=args.method,
                                 patch=args.patch, stride=args.stride, data_dir=args.data_dir, seed=args.seed, lang=lang)
    check = result.get("sanity_check") or {}
    if "rank_correlation_trained_vs_random" in check:
        print(t(lang, "study.attribution.sanity",
                rho=number(check["rank_correlation_trained_vs_random"], lang, 3, sign=True)))
    print_files(result["files"], args.lang)
    return 0


def _attack(args: argparse.Namespace) -> int:
    """how easily each network is fooled: accuracy under FGSM and PGD attacks against epsilon

    FGSM (Goodfellow et al. 2015) and PGD (Madry et al. 2018: random start, L-infinity) in the [0, 1]
    pixel space the models take, on a seeded sample of the test set; every run given side by side.
    Writes attack.json, attack_curves.png and attack_examples.png.

    examples:
      lenetlab explore attack runs/mlp runs/lenet5 runs/lenet5-modern
      lenetlab explore attack runs/lenet5 --method fgsm --eps 0,0.1,0.2 --n 2000
    """
    from ..explore.attack import explore_attack, format_table
    from ..i18n import check_lang

    lang = check_lang(args.lang)
    result = explore_attack(args.runs, args.out, method=args.method, eps=args.eps, n=args.n, steps=args.steps,
                            step_size=args.step_size, seed=args.seed, data_dir=args.data_dir, lang=lang)
    print(format_table(result, lang))
    print_files(result["files"], args.lang)
    return 0
