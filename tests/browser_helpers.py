"""What the browser tests share: where Chromium is, how it is started, drawing on the pad."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
# WebGPU: the GPU process left on, and the flag headless Linux needs; without a card, SwiftShader's adapter.
WEBGPU_ARGS = [a for a in CHROMIUM_ARGS if a != "--disable-gpu"] + ["--enable-unsafe-webgpu"]


def train_small_mlp_in_lab(page, epochs: int, timeout_ms: int = 300_000) -> None:
    """In the page that trains (lenetlab lab): network A off, B the course's MLP narrowed to 48 and 24 hidden
    units, ``epochs``, Train, then wait until B is done."""
    page.select_option("#lab-net-A .lab-model", "none")
    page.fill("#lab-B-hidden_1", "48")
    page.fill("#lab-B-hidden_2", "24")
    page.fill("#lab-epochs", str(epochs))
    page.click("#lab-start")
    page.wait_for_function("() => LabPage.state.nets.B && LabPage.state.nets.B.done", timeout=timeout_ms)


def draw(page, points: list[tuple[float, float]]) -> None:
    """One stroke with mouse events through ``points`` (in the 280x280 pad's own pixels)."""
    box = page.locator("#pad").bounding_box()
    sx, sy = box["width"] / 280, box["height"] / 280
    page.mouse.move(box["x"] + points[0][0] * sx, box["y"] + points[0][1] * sy)
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(box["x"] + x * sx, box["y"] + y * sy, steps=8)
    page.mouse.up()


def canvas_ink(page, selector: str) -> float:
    """Mean brightness (0-255) of a canvas as the page drew it."""
    return page.evaluate("""(sel) => {
        const c = document.querySelector(sel), d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let s = 0; for (let i = 0; i < d.length; i += 4) s += d[i]; return s / (d.length / 4); }""", selector)
