"""Frame times of the served page's projector in Chromium, with the 10,000 test images as dots.

    python scripts/projector_frame_time.py RUN [--seconds 2] [--fresh] [--tsne] [--json out.json]

- RUN is served by a real `lenetlab serve` process on 127.0.0.1 (a free port); the projector keeps its points
  in RUN/projections.npz (--fresh removes that file first, to time their computation);
- the script times the first GET /api/projection (PCA of every representation: pixels, and C5, F6 or H1, H2)
  and the sprite sheet, and with --tsne the t-SNE of the deepest layer (about a minute on 2 cores);
- then Chromium (/usr/bin/chromium, headless) opens the page, and the mouse sweeps across the scatter for
  --seconds while a requestAnimationFrame loop in the page records the time between frames; the page's own
  work per hover (window.lenetlab.projectorStats) is reported beside it. Last, the representation is switched
  and the frames of the ~500 ms tween are timed the same way.
The load average (os.getloadavg) is printed with the numbers: on a busy machine frames are slower.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# In the page: the time between successive frames, until window.__frames.stop() is called.
RECORD_FRAMES = """() => {
  const deltas = [];
  let last = performance.now(), running = true;
  const tick = (now) => { deltas.push(now - last); last = now; if (running) requestAnimationFrame(tick); };
  requestAnimationFrame(tick);
  window.__frames = { deltas, stop: () => { running = false; return deltas.slice(1); } };
}"""


def summary(values: list[float]) -> dict[str, float]:
    """Median, 95th percentile and maximum, in milliseconds (rounded to 0.01)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    return {"n": len(values), "median": round(statistics.median(values), 2), "p95": round(p95, 2),
            "max": round(ordered[-1], 2)}


def get(url: str) -> tuple[int, bytes, float]:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as answer:
        return answer.status, answer.read(), time.perf_counter() - start


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def measure_api(base: str, tsne: bool) -> dict:
    listing = json.loads(get(f"{base}/api/projections")[1])
    reps = [r["key"] for r in listing["representations"]]
    out = {"representations": reps, "cached_before": listing["ready"]}
    _, body, seconds = get(f"{base}/api/projection?rep={reps[-1]}&method=pca")
    out["first_projection_seconds"] = round(seconds, 2)
    out["projection_json_bytes"] = len(body)
    _, sprite, seconds = get(f"{base}/api/sprite")
    out["sprite"] = {"bytes": len(sprite), "seconds": round(seconds, 2)}
    if tsne:
        start = time.perf_counter()
        while urllib.request.urlopen(f"{base}/api/projection?rep={reps[-1]}&method=tsne").status == 202:
            time.sleep(1)
        out["tsne_seconds"] = {reps[-1]: round(time.perf_counter() - start, 1)}
    return out


def measure_page(base: str, seconds: float) -> dict:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto(base + "/")
        page.wait_for_selector("#confusion-panel:not([hidden])", timeout=120_000)
        page.locator("#proj-hover").scroll_into_view_if_needed()
        page.wait_for_selector("#projector[data-state='ready']", timeout=600_000)
        page.wait_for_function("() => window.lenetlab.projector.state().sprite")
        page.locator("#proj-hover").scroll_into_view_if_needed()
        box = page.locator("#proj-hover").bounding_box()
        hovers_before = page.evaluate("() => window.lenetlab.projectorStats.hoverMs.length")

        page.evaluate(RECORD_FRAMES)
        load = os.getloadavg()
        start, moves = time.perf_counter(), 0
        while (elapsed := time.perf_counter() - start) < seconds:  # a Lissajous sweep over the whole scatter
            u = elapsed / seconds * 2 * math.pi
            page.mouse.move(box["x"] + box["width"] * (0.5 + 0.45 * math.sin(3 * u)),
                            box["y"] + box["height"] * (0.5 + 0.45 * math.sin(2 * u + 0.5)))
            moves += 1
        hover_frames = page.evaluate("() => window.__frames.stop()")
        hover_ms = page.evaluate(f"() => window.lenetlab.projectorStats.hoverMs.slice({hovers_before})")
        shown = page.evaluate("() => window.lenetlab.projector.state()")

        draws_before = page.evaluate("() => window.lenetlab.projectorStats.drawMs.length")
        page.evaluate(RECORD_FRAMES)
        page.select_option("#proj-rep", index=0)  # the pixels: every dot moves
        page.wait_for_function("() => window.lenetlab.projector.state().moving", polling=10)
        page.wait_for_function("() => !window.lenetlab.projector.state().moving", timeout=600_000)
        tween_frames = page.evaluate("() => window.__frames.stop()")
        draw_ms = page.evaluate(f"() => window.lenetlab.projectorStats.drawMs.slice({draws_before})")
        browser.close()
    return {"points": shown["count"], "mouse_moves": moves, "hover_events": len(hover_ms),
            "frames_while_hovering_ms": summary(hover_frames), "work_per_hover_ms": summary(hover_ms),
            "frames_during_tween_ms": summary(tween_frames), "work_per_tween_frame_ms": summary(draw_ms),
            "loadavg_at_start": [round(v, 2) for v in load], "loadavg_at_end": [round(v, 2) for v in os.getloadavg()]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--seconds", type=float, default=2.0, help="how long the mouse sweeps (default: 2)")
    parser.add_argument("--fresh", action="store_true", help="remove RUN/projections.npz first")
    parser.add_argument("--tsne", action="store_true", help="also time the t-SNE of the deepest layer")
    parser.add_argument("--json", type=Path, help="write the numbers here too")
    args = parser.parse_args()
    if args.fresh:
        (args.run / "projections.npz").unlink(missing_ok=True)
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "lenetlab", "serve", str(args.run), "--port", str(port),
                               "--lang", "en"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                get(f"{base}/api/runs")
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit("lenetlab serve did not start") from None
                time.sleep(0.2)
        result = {"machine": f"{os.cpu_count()} CPUs", "api": measure_api(base, args.tsne),
                  "page": measure_page(base, args.seconds)}
    finally:
        server.terminate()
        server.wait(10)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
