"""The French report's pictures for the README and docs/see-it.md: its curves and its exploration.

    python scripts/report_screenshots.py      # trains LeNet-5 for 3 epochs (about a minute), explores, renders

Writes docs/images/report_fr_curves.png and docs/images/report_fr_explore.png, taken in headless Chromium
(/usr/bin/chromium) from `lenetlab report RUN --lang fr` after `explore params`, `filters` and `feature-maps`.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from lenetlab.cli import main

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def run(*argv: str) -> None:
    if main(list(argv)) != 0:
        sys.exit(f"lenetlab {' '.join(argv)} failed")


def _crop(path: Path, height: int) -> None:
    from PIL import Image

    with Image.open(path) as image:
        cropped = image.crop((0, 0, image.width, min(height, image.height)))
    cropped.save(path, optimize=True)


def shoot() -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "lenet5"
        run("train", "--epochs", "3", "--out", str(out), "--no-progress", "--lang", "fr", "--keep-filters")
        run("explore", "params", "--out", str(out / "explore"), "--lang", "fr")
        run("explore", "filters", str(out), "--lang", "fr")
        run("explore", "feature-maps", str(out), "--index", "7", "--lang", "fr")
        run("report", str(out), "--lang", "fr")
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto((out / "report.html").as_uri())
            for section, name in (("#curves", "report_fr_curves.png"), ("#explore", "report_fr_explore.png")):
                path = ROOT / "docs" / "images" / name
                page.locator(section).screenshot(path=str(path))
                _crop(path, 1400)  # the exploration is long: its first two figures say enough
                print(f"wrote docs/images/{name}")
            browser.close()


if __name__ == "__main__":
    shoot()
