"""The README's two pictures of a TD check: failing in the énoncé run unchanged, passing in the corrigé.

Each notebook is executed with nbclient at ``SEANCE = "test"`` (seconds), converted to HTML by nbconvert,
and the cell of the chosen check (with its output) is photographed in headless Chromium.

    python scripts/td_screenshots.py                      # docs/images/td_check_{fails,passes}_fr.png
    python scripts/td_screenshots.py --check check_evaluate --lang en
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "src" / "lenetlab" / "td" / "notebooks"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def executed_html(notebook: Path, folder: Path) -> Path:
    """``notebook`` run at SEANCE="test" in ``folder``, as an HTML page."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if "parameters" in cell.metadata.get("tags", []):
            cell.source = re.sub(r'^SEANCE = .*$', 'SEANCE = "test"', cell.source, flags=re.M)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page = folder / f"{notebook.stem}.html"
    page.write_text(body, encoding="utf-8")
    return page


def photograph(page: Path, check: str, out: Path) -> None:
    """The cell whose code calls ``td.<check>(``, with its output, as a PNG."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        tab = browser.new_page(viewport={"width": 1000, "height": 800}, device_scale_factor=1)
        tab.goto(page.resolve().as_uri())
        cell = tab.locator(".jp-Cell.jp-CodeCell", has_text=f"td.{check}(").first
        cell.screenshot(path=str(out))
        browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", default="check_lenet5", help="the check whose cell is photographed")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for version, picture in (("enonce", "fails"), ("corrige", "passes")):
            page = executed_html(NOTEBOOKS / f"td_lenet5_{version}_{args.lang}.ipynb", Path(folder))
            target = args.out / f"td_check_{picture}_{args.lang}.png"
            photograph(page, args.check, target)
            print(f"{target} ({target.stat().st_size / 1e3:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
