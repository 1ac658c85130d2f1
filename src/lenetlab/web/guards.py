"""What stands between the network and the app: ASGI middleware and the server's protocol settings.

- :class:`SameOrigin`: only this machine's names (and the ``--host`` given) may address the server,
  and only pages it served may post to it or read its API (``Sec-Fetch-Site``, else ``Referer``). A web page the user visits elsewhere cannot drive it
  (cross-site POSTs carry another ``Origin``) nor read it through DNS rebinding (another ``Host``).
- :class:`BodySizeLimit`: a body over the cap is refused, declared or streamed, and a client that
  does not finish sending its body within :data:`BODY_SECONDS` is answered 408 and dropped.

The deadline for request heads is the server's (``server.HeaderTimeoutProtocol``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from urllib.parse import urlsplit

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 5 * 1024 * 1024  # a 280x280 canvas PNG is ~10 KB; 5 MB leaves room for photos
BODY_SECONDS = 20.0  # 5 MB in 20 s is 2 Mbit/s, a slow phone connection
# Bodies over LARGE_BODY_BYTES (photos, not canvases) are held in memory by at most MAX_LARGE_BODIES
# requests at once; more get 503 at once, so 64 clients uploading photos cannot fill the memory.
LARGE_BODY_BYTES = 512 * 1024
MAX_LARGE_BODIES = 8
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def _host_name(value: str) -> str:
    """``"127.0.0.1:8000"`` -> ``"127.0.0.1"``, ``"[::1]:8000"`` -> ``"::1"`` (lower case)."""
    return (urlsplit(f"//{value}").hostname or "").lower()


class SameOrigin:
    """Refuse requests addressed to another host name (403) and posts from another origin (403).

    Examples
    --------
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> app.add_middleware(SameOrigin, hosts=["127.0.0.1", "localhost"])
    """

    def __init__(self, app: ASGIApp, hosts: Iterable[str] = LOOPBACK_NAMES) -> None:
        self.app = app
        self.hosts = {h.lower().strip("[]") for h in hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or []}
            host = _host_name(headers.get("host", ""))
            origin = headers.get("origin")
            if host not in self.hosts:
                await _refuse(scope, receive, send, 403, f"this server answers to {', '.join(sorted(self.hosts))} "
                              f"only, not {host or 'a request without a Host'}; open the address `lenetlab serve` printed")
                return
            # Same origin means the same host AND port: another local server's page (a notebook on
            # :8888, say) is another site. "null" comes from sandboxed frames and local files: refused.
            if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").lower():
                await _refuse(scope, receive, send, 403, "requests from another site's page are refused; "
                                                        "use the page `lenetlab serve` serves")
                return
            # A GET carries no Origin: an <img> on another local site could start a t-SNE or a sprite build.
            # Browsers say where a request comes from (Sec-Fetch-Site; older ones only a Referer).
            if scope.get("path", "").startswith("/api/") and _from_another_site(headers):
                await _refuse(scope, receive, send, 403, "the API answers the page `lenetlab serve` serves, not "
                                                        "another site's page; open the address it printed")
                return
        await self.app(scope, receive, send)


def _from_another_site(headers: dict[str, str]) -> bool:
    """Whether a browser sent this request for a page of another origin (a tool such as curl: never)."""
    site = headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")  # "none": typed in the address bar, a bookmark
    referer = headers.get("referer")
    return referer is not None and urlsplit(referer).netloc.lower() != headers.get("host", "").lower()


class BodySizeLimit:
    """ASGI middleware: refuse request bodies over ``max_bytes`` with 413, by Content-Length or as streamed.

    The body is read here (at most ``max_bytes``, within ``seconds``) and replayed to the app, so a
    client that lies about Content-Length, sends chunks without one, or stalls is cut off all the same.

    Examples
    --------
    >>> from fastapi import FastAPI
    >>> app = FastAPI()
    >>> app.add_middleware(BodySizeLimit, max_bytes=1024)
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES, seconds: float = BODY_SECONDS,
                 max_large: int = MAX_LARGE_BODIES) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.seconds = seconds
        self.max_large = max_large
        self.large_in_flight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        too_big = f"request body over {self.max_bytes // (1024 * 1024)} MB; send a smaller image (a 280x280 PNG is enough)"
        try:
            size = int(declared) if declared is not None else None
        except ValueError:
            await _refuse(scope, receive, send, 400, "invalid Content-Length header; send a number of bytes")
            return
        if size is not None and size > self.max_bytes:
            await _refuse(scope, receive, send, 413, too_big)
            return
        large = size is None or size > LARGE_BODY_BYTES  # a streamed body of unknown size counts as large
        if large and self.large_in_flight >= self.max_large:
            await _refuse(scope, receive, send, 503, "the server is busy with other large uploads; try again in a "
                                                     "few seconds, or send a smaller image (280x280 is enough)")
            return
        self.large_in_flight += large
        try:
            await self._read_then_call(scope, receive, send, too_big)
        finally:
            self.large_in_flight -= large

    async def _read_then_call(self, scope: Scope, receive: Receive, send: Send, too_big: str) -> None:
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + self.seconds
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except asyncio.TimeoutError:
                await _refuse(scope, receive, send, 408, f"the request body did not arrive within {self.seconds:g} s; "
                                                         "send it again")
                return
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await _refuse(scope, receive, send, 413, too_big)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as a server would

        await self.app(scope, replay, send)


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, message: str) -> None:
    headers = {"connection": "close", **({"retry-after": "2"} if status == 503 else {})}
    await JSONResponse({"error": message}, status_code=status, headers=headers)(scope, receive, send)
