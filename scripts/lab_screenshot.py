"""docs/images/lab_fr.png: the page that trains, in French, LeNet-5 (A) and the course's MLP (B) side by side after
one epoch each, in headless Chromium.

    python scripts/lab_screenshot.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser_helpers import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from lenetlab.lab import write_lab  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as folder, sync_playwright() as p:
        path = write_lab(Path(folder) / "lab.html", "fr")
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(path.resolve().as_uri())
        page.wait_for_selector("body[data-ready]")
        page.fill("#lab-epochs", "1")
        page.click("#lab-start")
        page.wait_for_function("() => Object.values(LabPage.state.nets).every((n) => n.done)", timeout=300_000)
        page.screenshot(path=str(ROOT / "docs" / "images" / "lab_fr.png"), full_page=True)
        browser.close()


if __name__ == "__main__":
    main()
