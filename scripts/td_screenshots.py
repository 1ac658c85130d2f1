"""The README's two pictures of a TD check: failing on the original course's mistake, passing in the corrigé.

The énoncé gets, in place of its ``evaluate`` skeleton, the course's own validation loop (the loss
overwritten at each batch instead of summed); the corrigé runs as it is. Each is executed with nbclient
at ``SEANCE = "test"`` (seconds), converted to HTML by nbconvert, and the ``check_evaluate`` cell with its
output is photographed in headless Chromium (Debian's fonts-noto-color-emoji draws the ✅ and ❌).

    python scripts/td_screenshots.py                      # docs/images/td_check_{fails,passes}_fr.png
    python scripts/td_screenshots.py --lang en
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


# The course's validation loop, as students copy it: the loss of each batch overwrites the previous one.
COURSE_EVALUATE = """def evaluate(model, loader, criterion):
    model.eval()
    valid_loss = 0.0
    with torch.no_grad():
        for data, target in loader:
            output = model(data)
            loss = criterion(output, target)
            valid_loss = loss.item() * data.size(0)
    return valid_loss / len(loader.dataset)
"""


def executed_html(notebook: Path, folder: Path, mistake: bool) -> Path:
    """``notebook`` run at SEANCE="test" in ``folder`` (with the course's ``evaluate`` if ``mistake``), as HTML."""
    nb = nbformat.read(notebook, as_version=4)
    for cell in nb.cells:
        if mistake and cell.cell_type == "code" and cell.source.startswith("def evaluate(model, loader, criterion):"):
            cell.source = COURSE_EVALUATE
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
    parser.add_argument("--check", default="check_evaluate", help="the check whose cell is photographed")
    parser.add_argument("--lang", choices=("fr", "en"), default="fr")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for version, picture in (("enonce", "fails"), ("corrige", "passes")):
            page = executed_html(NOTEBOOKS / f"td_lenet5_{version}_{args.lang}.ipynb", Path(folder),
                                 mistake=version == "enonce")
            target = args.out / f"td_check_{picture}_{args.lang}.png"
            photograph(page, args.check, target)
            print(f"{target} ({target.stat().st_size / 1e3:.0f} KB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
