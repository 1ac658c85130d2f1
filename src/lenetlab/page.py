"""The draw-a-digit page as HTML: ``static/index.html`` with its language (and, exported, everything else).

``lenetlab serve`` sends it with the catalogue of its ``--lang`` embedded and the style sheet and
scripts as ``/static/`` files; ``lenetlab export`` inlines those too and embeds the model, so that the
file needs nothing else. One page, one front end: the two differ only in where the model comes from.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from .i18n import messages, t

STATIC = Path(__file__).parent / "web" / "static"  # served by `lenetlab serve`, embedded by `lenetlab export`
# In this order, each file one namespace (app.js's header lists them): lenet.js, mnist.js and app.js (the page's state and
# helpers) first, as every other file uses them as it loads; main.js last, as it starts the page; those between
# use each other only once it has. The exported page has no server for the projector: its panel stays hidden there.
SCRIPTS = ("lenet.js", "mnist.js", "app.js", "drawing.js", "explain.js", "calculator.js", "training.js", "confusion.js",
           "projector.js", "main.js")


_SCRIPT_ESCAPES = str.maketrans({"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028",
                                 "\u2029": "\\u2029"})


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element, whatever its strings hold (a class named ``<!--<script>``).

    ``</script>``, ``<!--`` and ``<script`` change how the HTML parser reads a script element, so no
    ``<``, ``>`` or ``&`` is left as it is (JSON's ``\\u003c`` is the same string once parsed), as
    Django's ``json_script`` does; U+2028/2029 are escaped for older JavaScript parsers.

    >>> script_json({"name": "<!--<script>", "x": "a\u2028b"})
    '{"name":"\\\\u003c!--\\\\u003cscript\\\\u003e","x":"a\\\\u2028b"}'
    """
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_SCRIPT_ESCAPES)


# The command line's own words, which the page never shows: every --help (its examples name flags, paths and
# http://127.0.0.1) and the studies' printed tables. Left out, the page carries 25 kB less of catalogue.
COMMAND_LINE_ONLY = ("help.", "study.")


def page_messages(lang: str) -> dict[str, str]:
    """The catalogue of ``lang`` as the page gets it: all of it but :data:`COMMAND_LINE_ONLY`.

    Examples
    --------
    >>> "page.title" in page_messages("fr"), any(key.startswith("help.") for key in page_messages("fr"))
    (True, False)
    """
    return {key: text for key, text in messages(lang).items() if not key.startswith(COMMAND_LINE_ONLY)}


def render_page(lang: str, *, embedded: dict[str, Any] | None = None, title: str | None = None) -> str:
    """The page in ``lang``; with ``embedded`` (the model, its graph, sample digits) a self-contained file."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace('<html lang="en">', f'<html lang="{lang}">', 1)
    page = page.replace("<title>lenetlab</title>", f"<title>{html.escape(title or t(lang, 'page.title'))}</title>", 1)
    settings = (f"window.LENETLAB_LANG = {script_json(lang)}; "
                f"window.LENETLAB_MESSAGES = {script_json(page_messages(lang))};")
    if embedded is not None:
        settings += f"\n  window.LENETLAB_EMBEDDED = {script_json(embedded)};"
        css = (STATIC / "style.css").read_text(encoding="utf-8")
        page = page.replace('<link rel="stylesheet" href="/static/style.css">', f"<style>\n{css}</style>", 1)
        for script in SCRIPTS:
            code = (STATIC / script).read_text(encoding="utf-8").replace("</script", "<\\/script")
            page = page.replace(f'<script src="/static/{script}"></script>', f"<script>\n{code}</script>", 1)
    first_script = page.index("<script")
    return page[:first_script] + f"<script>{settings}</script>\n  " + page[first_script:]
