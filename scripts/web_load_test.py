"""Load test of `lenetlab serve` on this machine's loopback: many clients uploading large images, one
student drawing, and clients that stall. Prints (and with --json writes) what it measured.

    python scripts/web_load_test.py RUN [--clients 64] [--seconds 20] [--slow 40] [--json out.json]

- RUN is served by a real `lenetlab serve` process on 127.0.0.1 (a free port);
- --clients threads each POST a large but valid image (a 1900x1900 noisy photo of a digit, ~3.6 MB
  of PNG, under the upload caps) again and again for --seconds;
- meanwhile one "student" posts a 280x280 canvas every 0.25 s and records each answer's latency;
- --slow clients send half a request head and stall, and as many send a head and part of a body and
  stall: the script records when the server drops them;
- the server's peak resident memory is read from /proc (VmHWM) at the end.
Traffic goes to 127.0.0.1 only, bounded in count and time; the script stops the server itself.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def large_photo(side: int = 1900, seed: int = 0) -> bytes:
    """A dark "7" on light, noisy paper: what a phone photo of a digit looks like, nearly incompressible."""
    rng = np.random.default_rng(seed)
    paper = Image.fromarray(np.clip(rng.normal(200, 25, (side, side)), 0, 255).astype(np.uint8))
    pen = ImageDraw.Draw(paper)
    pen.line([(side * 0.3, side * 0.25), (side * 0.7, side * 0.25), (side * 0.45, side * 0.8)], fill=20,
             width=side // 15)
    return _png(paper)


def canvas_digit() -> bytes:
    canvas = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(canvas).line([(90, 60), (190, 60), (120, 230)], fill=0, width=22)
    return _png(canvas)


DROPPED = "dropped by the server"


def post(port: int, body: bytes, timeout: float = 60.0) -> tuple[int | str, float]:
    """(HTTP status, ``DROPPED`` when the server closed the connection, or the error's name; seconds)."""
    start = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("POST", "/api/predict", body=body, headers={"Content-Type": "image/png"})
        response = connection.getresponse()
        response.read()
        status: int | str = response.status
    except ConnectionError:  # reset, aborted, broken pipe, closed before the reply: the server refused it
        status = DROPPED
    except (OSError, http.client.HTTPException) as exc:
        status = type(exc).__name__
    finally:
        connection.close()
    return status, time.perf_counter() - start


def peak_rss_mb(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", text).group(1)) / 1024


def stalled_clients(port: int, count: int, half_body: bool) -> list[socket.socket]:
    sockets = []
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        try:
            if half_body:
                s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\n"
                          b"Content-Length: 4000000\r\n\r\n" + b"\0" * 3_000_000)
            else:
                s.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0")
        except ConnectionError:
            # The server may drop a stalled upload before it is even sent in full (what it is for): the
            # socket is closed, and seconds_until_dropped counts it as dropped at once.
            s.close()
        sockets.append(s)
    return sockets


def seconds_until_dropped(sockets: list[socket.socket], limit: float) -> list[float | None]:
    """For each socket, the seconds until the server closed it (None: still open after ``limit``)."""
    start = time.perf_counter()
    dropped: list[float | None] = [None] * len(sockets)
    for i, s in enumerate(sockets):
        if s.fileno() == -1:  # closed already: the server dropped it while it was being sent
            dropped[i] = 0.0
        else:
            s.settimeout(0.2)
    while time.perf_counter() - start < limit and any(d is None for d in dropped):
        for i, s in enumerate(sockets):
            if dropped[i] is not None:
                continue
            try:
                data = s.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            if not data or b"HTTP/1.1 408" in data:
                dropped[i] = round(time.perf_counter() - start, 1)
    for s in sockets:
        s.close()
    return dropped


def _summary(drops: list[float | None]) -> dict:
    done = [d for d in drops if d is not None]
    return {"count": len(drops), "dropped": len(done), "first_s": min(done, default=None),
            "last_s": max(done, default=None)}


def load_test(run: str, clients: int = 64, seconds: float = 20.0, slow: int = 40) -> dict:
    server = subprocess.Popen([sys.executable, "-m", "lenetlab", "serve", run, "--port", "0"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = server.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        if not match:
            raise SystemExit(f"the server did not start: {line}{server.stderr.read()}")
        port = int(match.group(1))
        photo, canvas = large_photo(), canvas_digit()
        rss_before = peak_rss_mb(server.pid)
        stop = time.perf_counter() + seconds
        large: list[tuple[int, float]] = []
        normal: list[tuple[int, float]] = []

        def uploader() -> None:
            while time.perf_counter() < stop:
                large.append(post(port, photo))
                if large[-1][0] == 503:  # busy: come back later, as the Retry-After header asks
                    time.sleep(2)

        def student() -> None:
            while time.perf_counter() < stop:
                normal.append(post(port, canvas))
                time.sleep(0.25)

        drops: dict[str, list[float | None]] = {}

        def watch(name: str, sockets: list[socket.socket]) -> None:
            drops[name] = seconds_until_dropped(sockets, seconds + 30)

        threads = [threading.Thread(target=uploader) for _ in range(clients)] + [threading.Thread(target=student)]
        threads += [threading.Thread(target=watch, args=("heads", stalled_clients(port, slow // 2, half_body=False))),
                    threading.Thread(target=watch, args=("bodies", stalled_clients(port, slow - slow // 2, True)))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        head_drops, body_drops = drops["heads"], drops["bodies"]
        latencies = [t for status, t in normal if status == 200]
        return {
            "clients": clients, "seconds": seconds, "photo_bytes": len(photo), "canvas_bytes": len(canvas),
            "server_peak_rss_mb": round(peak_rss_mb(server.pid), 1), "server_rss_before_mb": round(rss_before, 1),
            "large_requests": len(large), "large_by_status": {str(s): sum(1 for x, _ in large if x == s)
                                                              for s in sorted({x for x, _ in large}, key=str)},
            "normal_requests": len(normal), "normal_ok": len(latencies),
            "normal_latency_s": {"median": round(statistics.median(latencies), 3) if latencies else None,
                                 "max": round(max(latencies), 3) if latencies else None},
            "slow_heads": _summary(head_drops), "slow_bodies": _summary(body_drops),
        }
    finally:
        server.terminate()
        server.wait(30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="a run directory to serve")
    parser.add_argument("--clients", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--slow", type=int, default=40)
    parser.add_argument("--json", type=Path, help="also write the numbers here")
    args = parser.parse_args()
    result = load_test(args.run, args.clients, args.seconds, args.slow)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
