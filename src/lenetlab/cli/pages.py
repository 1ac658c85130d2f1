"""``lenetlab report``, ``serve``, ``export``, ``lab`` and ``import``: the pages a student reads, and the way
back from the page that trains."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._parser import add_command, add_lang_flag, whole_number_in


def register(sub: Any) -> None:
    p = add_command(sub, "report", _report)
    p.add_argument("run_dir", metavar="RUN", type=Path, help="a run directory written by `lenetlab train`")
    p.add_argument("--open", action="store_true", help="open the report in the web browser")
    add_lang_flag(p)

    p = add_command(sub, "serve", _serve)
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", type=Path, nargs="+",
                   help="a run directory or a .pt file; several, or a folder of runs (a sweep's), overlay their curves")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    add_lang_flag(p)

    p = add_command(sub, "export", _export)
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", type=Path, help="a run directory or a .pt file")
    p.add_argument("--out", type=Path, help="the HTML file to write (default: RUN/model.html)")
    p.add_argument("--format", choices=("html", "onnx"), default="html",
                   help="html: the offline page; onnx: the network as an ONNX file (RUN/model.onnx), for other tools")
    add_lang_flag(p)
    p.add_argument("--open", action="store_true", help="open the page in the web browser")

    p = add_command(sub, "lab", _lab)
    p.add_argument("--out", type=Path, default=Path("lab.html"), help="the HTML file to write")
    p.add_argument("--train-images", type=whole_number_in(100, 60_000 * 8 // 10), default=12_000, metavar="N",
                   help="MNIST training images the page holds (each 1000 adds about 0.2 MB)")
    p.add_argument("--test-images", type=whole_number_in(10, 10_000), default=2_000, metavar="N",
                   help="MNIST test images the page tests on")
    add_lang_flag(p)
    p.add_argument("--open", action="store_true", help="open the page in the web browser")

    p = add_command(sub, "import", _import)
    p.add_argument("file", metavar="FILE", type=Path, help="the weights the page saved (Download the weights)")
    p.add_argument("--out", type=Path, required=True, help="the run directory to write")
    p.add_argument("--force", action="store_true", help="overwrite the run directory if it holds a run")
    add_lang_flag(p)


def _report(args: argparse.Namespace) -> int:
    """write RUN/report.html, a self-contained page of a run

    Write RUN/report.html: settings, curves, per-class table, confusion matrix, sample predictions, the most
    confidently wrong test images and the exploration figures, in one file that needs no network and prints.

    examples:
      lenetlab report runs/lenet5-20261126-101500          # writes runs/lenet5-20261126-101500/report.html
      lenetlab report runs/lenet5-20261126-101500 --open   # ... and opens it in the web browser
    """
    from ..report import write_report

    return _written(write_report(args.run_dir, lang=args.lang), "cli.report_written", args, digits=1)


def _serve(args: argparse.Namespace) -> int:
    """a local page to draw a digit and watch every layer

    Start a local web page (FastAPI + uvicorn, `pip install 'lenetlab[web]'`): draw a digit with the mouse
    or a finger, see the 28x28 image the network sees, the ten probabilities and the activations of every
    layer; or load a random MNIST test digit. Stop it with Ctrl+C.

    examples:
      lenetlab serve runs/lenet5-20261126-101500              # then open http://127.0.0.1:8000
      lenetlab serve runs/mlp-20261126-103000/best.pt --port 8001 --open
      lenetlab serve runs/lenet5-20261126-101500 --host 0.0.0.0   # reachable from other machines: take care
      lenetlab serve runs/lenet5 runs/mlp                     # two runs: curves overlaid, a selector
      lenetlab serve runs/sweep-kernel                        # every run of a sweep folder
    """
    from ..web.server import serve

    serve(args.checkpoint, args.host, args.port, open_browser=args.open, lang=args.lang)
    return 0


def _export(args: argparse.Namespace) -> int:
    """write the run's network as one offline HTML page (draw, see every layer, explain any value)

    Write one self-contained HTML file holding the run's weights and the network's forward pass in plain
    JavaScript: draw a digit, see the 28x28 input after the same preprocessing as `predict`, the probabilities
    and every layer, click any value to see where it comes from, or click one of the embedded test digits.
    It needs no network, no Python and no install: open it from a USB stick or an e-mail, on a phone too.

    examples:
      lenetlab export runs/lenet5-20261126-101500              # writes runs/lenet5-20261126-101500/model.html
      lenetlab export runs/lenet5-20261126-101500 --lang fr --out lenet5-fr.html
      lenetlab export runs/lenet5-20261126-101500 --format onnx   # writes .../model.onnx (pip install 'lenetlab[onnx]')
    """
    from ..export import export_run

    if args.format == "onnx":
        from ..onnx_export import export_onnx

        return _written(export_onnx(args.checkpoint, args.out), "cli.onnx_written", args, browse=False)
    return _written(export_run(args.checkpoint, args.out, args.lang), "cli.page_written", args)


def _lab(args: argparse.Namespace) -> int:
    """write the page that trains LeNet-5 and the MLP in the browser, offline

    Write one self-contained HTML file that trains networks in the browser, with nothing installed: a part of
    MNIST inside the file, LeNet-5 with any choice of the shape calculator, the course's MLP or a fully connected
    network of LeNet-5's depth, two side by side, with live curves, C1's kernels and the confusion matrix.
    Its weights download as a file that `lenetlab import` turns into a run directory.

    examples:
      lenetlab lab                                 # writes lab.html (about 3 MB)
      lenetlab lab --lang fr --out td-lab.html     # the page in French, for the class
      lenetlab lab --train-images 6000             # a lighter page for slow machines
    """
    from ..i18n import check_lang
    from ..lab import write_lab

    path = write_lab(args.out, check_lang(args.lang), train_images=args.train_images, test_images=args.test_images)
    return _written(path, "cli.page_written", args)


def _import(args: argparse.Namespace) -> int:
    """turn the weights the page trained into a run directory

    Read the file the page that trains (`lenetlab lab`) saved with "Download the weights", test the network on
    the whole MNIST test set and write a run directory as `lenetlab train` does (checkpoints, figures, metrics,
    report), so that evaluate, report, serve, export and every explore command work on it.

    examples:
      lenetlab import lenetlab-lenet5-A.json --out runs/page-lenet5
      lenetlab explore filters runs/page-lenet5
    """
    from ..imported import import_run
    from ..report import finish_run

    import_run(args.file, args.out, force=args.force, finish=finish_run, lang=args.lang)
    return 0


def _written(path: Path, key: str, args: argparse.Namespace, digits: int = 2, browse: bool = True) -> int:
    """Say which file was written and its size in MB; open it in the browser with ``--open``."""
    from ..i18n import check_lang, number, t

    lang = check_lang(args.lang)
    print(t(lang, key, path=path, size=number(path.stat().st_size / 1e6, lang, digits)))
    if browse and args.open:
        _open_in_browser(path, args.lang)
    return 0


def _open_in_browser(path: Path, lang: str | None = None) -> None:
    import webbrowser

    from ..i18n import check_lang, t

    if not webbrowser.open(path.resolve().as_uri()):
        print(t(check_lang(lang), "cli.no_browser", uri=path.resolve().as_uri()))
