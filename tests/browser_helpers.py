"""What the browser tests share: where Chromium is, how it is started, drawing on the pad."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


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
