"""Run the draw-a-digit app on a local socket (``lenetlab serve``)."""

from __future__ import annotations

import errno
import socket
from pathlib import Path
from typing import Any

from ..errors import LenetlabError
from .guards import LOOPBACK_NAMES

HEADER_SECONDS = 10.0  # a client has this long to send a request's head (uvicorn alone waits for ever)
KEEP_ALIVE_SECONDS = 5.0


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
        if exc.errno == errno.EADDRNOTAVAIL:
            raise LenetlabError(f"--host {host} is not an address of this machine; use 127.0.0.1 (this machine only) "
                                "or 0.0.0.0 (every network it is on)") from None
        raise LenetlabError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port, "
                            f"e.g. --port {port + 1}") from None
    return sock


def _names_of_this_server(host: str) -> tuple[str, ...]:
    """The Host names a request may carry: loopback, the --host given and, listening everywhere, this
    machine's name and addresses (other names are refused: DNS rebinding)."""
    names = {*LOOPBACK_NAMES, host}
    if host in ("0.0.0.0", "::", ""):
        machine = socket.gethostname()
        names.add(machine)
        try:
            names.update(info[4][0] for info in socket.getaddrinfo(machine, None))
        except OSError:
            pass
    return tuple(sorted(names))


def serve(checkpoint: str | Path | list[str | Path], host: str = "127.0.0.1", port: int = 8000, open_browser: bool = False,
          lang: str | None = None) -> None:
    """Serve the page for a run directory or checkpoint until Ctrl+C, in ``lang`` (default: the system's)."""
    try:
        import python_multipart  # noqa: F401 - the page posts multipart forms; without it they would fail later
        import uvicorn

        from .app import create_app
    except ModuleNotFoundError as exc:
        raise LenetlabError(f"the web page needs {exc.name}; install it with: pip install 'lenetlab[web]'") from None

    app = create_app(checkpoint, hosts=_names_of_this_server(host), lang=lang)  # a bad checkpoint fails here, before listening
    sock = bind(host, port)
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else shown}:{port}/"
    print(f"lenetlab: serving {', '.join(r.checkpoint for r in app.state.runs)} at {url}  (Ctrl+C to stop)")
    if host not in ("127.0.0.1", "::1", "localhost"):
        print(f"lenetlab: listening on {host}: other machines on the network can reach this page")
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(1.0, webbrowser.open, (url,)).start()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", http=_header_timeout_protocol(),
                                           timeout_keep_alive=KEEP_ALIVE_SECONDS))
    server.run(sockets=[sock])


def _header_timeout_protocol() -> type:
    """uvicorn's h11 protocol, closing connections that send no whole request head within HEADER_SECONDS."""
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutProtocol(H11Protocol):
        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._head_deadline = self.loop.call_later(HEADER_SECONDS, self._drop_if_no_request)

        def _drop_if_no_request(self) -> None:
            if self.cycle is None and not self.transport.is_closing():
                self.transport.close()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_deadline.cancel()
            super().connection_lost(exc)

    return HeaderTimeoutProtocol

