"""``lenetlab serve RUN_OR_CHECKPOINT``: the draw-a-digit page on a local web server."""

from __future__ import annotations

import argparse
import socket
from pathlib import Path
from typing import Any

from ..errors import LenetlabError

EXAMPLES = """examples:
  lenetlab serve runs/lenet5-20261126-101500              # then open http://127.0.0.1:8000
  lenetlab serve runs/mlp-20261126-103000/best.pt --port 8001 --open
  lenetlab serve runs/lenet5-20261126-101500 --host 0.0.0.0   # reachable from other machines: take care"""


def register(subparsers: Any) -> None:
    """Add ``lenetlab serve`` to the command line (``cli.build_parser`` calls it).

    Examples
    --------
    >>> import argparse
    >>> sub = argparse.ArgumentParser().add_subparsers()
    >>> register(sub)
    """
    p = subparsers.add_parser(
        "serve", help="a local page to draw a digit and watch every layer", epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Start a local web page (FastAPI + uvicorn, `pip install 'lenetlab[web]'`): draw a digit with the "
                    "mouse or a finger, see the 28x28 image the network sees, the ten probabilities and the "
                    "activations of every layer; or load a random MNIST test digit. Stop it with Ctrl+C.")
    p.add_argument("checkpoint", metavar="RUN_OR_CHECKPOINT", type=Path, help="a run directory or a .pt file")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port to listen on (default 8000)")
    p.add_argument("--open", action="store_true", help="open the page in the web browser")
    p.set_defaults(handler=_serve)


def _bind(host: str, port: int) -> socket.socket:
    """Bind the listening socket here, so a busy port is a one-line error rather than a server log."""
    if not 0 <= port <= 65535:
        raise LenetlabError(f"--port must be between 0 and 65535, got {port}")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror:
        raise LenetlabError(f"--host {host} is not an address of this machine; use 127.0.0.1 or 0.0.0.0") from None
    family, _, _, _, address = infos[0]
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Answers are sent in pieces; without TCP_NODELAY, Nagle's algorithm and delayed ACKs add ~40 ms to each.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise LenetlabError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port, "
                            f"e.g. --port {port + 1}") from None
    return sock


def _serve(args: argparse.Namespace) -> int:
    try:
        import python_multipart  # noqa: F401 - the page posts multipart forms; without it they would fail later
        import uvicorn

        from .app import create_app
    except ModuleNotFoundError as exc:
        raise LenetlabError(f"the web page needs {exc.name}; install it with: pip install 'lenetlab[web]'") from None

    app = create_app(args.checkpoint)  # a bad checkpoint fails here, before anything listens
    sock = _bind(args.host, args.port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    print(f"lenetlab: serving {app.state.predictor.checkpoint} at {url}  (Ctrl+C to stop)")
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"lenetlab: listening on {host}: other machines on the network can reach this page")
    if args.open:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, (url,)).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
    return 0
