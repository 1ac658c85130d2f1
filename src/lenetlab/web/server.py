"""Run the draw-a-digit app on a local socket (``lenetlab serve``)."""

from __future__ import annotations

import socket
from pathlib import Path

from ..errors import LenetlabError


def bind(host: str, port: int) -> socket.socket:
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


def serve(checkpoint: str | Path, host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False) -> None:
    """Serve the page for a run directory or checkpoint until Ctrl+C."""
    try:
        import python_multipart  # noqa: F401 - the page posts multipart forms; without it they would fail later
        import uvicorn

        from .app import create_app
    except ModuleNotFoundError as exc:
        raise LenetlabError(f"the web page needs {exc.name}; install it with: pip install 'lenetlab[web]'") from None

    app = create_app(checkpoint)  # a bad checkpoint fails here, before anything listens
    sock = bind(host, port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    print(f"lenetlab: serving {app.state.served.checkpoint} at {url}  (Ctrl+C to stop)")
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"lenetlab: listening on {host}: other machines on the network can reach this page")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, (url,)).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    server.run(sockets=[sock])
