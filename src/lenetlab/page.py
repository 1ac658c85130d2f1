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


# The words the page never shows: every --help (its examples name flags, paths and http://127.0.0.1), the studies'
# printed tables and the TD notebooks' checks. Left out, the page carries 50 kB less of catalogue.
COMMAND_LINE_ONLY = ("help.", "study.", "td.")


def page_messages(lang: str) -> dict[str, str]:
    """The catalogue of ``lang`` as the page gets it: all of it but :data:`COMMAND_LINE_ONLY`.

    Examples
    --------
    >>> "page.title" in page_messages("fr"), any(key.startswith("help.") for key in page_messages("fr"))
    (True, False)
    """
    return {key: text for key, text in messages(lang).items() if not key.startswith(COMMAND_LINE_ONLY)}


def assemble_page(body: str, lang: str, title: str, settings: str, scripts: tuple[str, ...], inline: bool) -> str:
    """index.html's ``<head>`` (in ``lang``, titled ``title``), then ``body`` ending with ``settings`` and ``scripts``.

    ``settings`` (JavaScript) runs first, then the files of static/ in ``scripts``' order: named as ``/static/``
    files for the server, or, ``inline``, written into the page with the style sheet, a file that needs no server.
    The draw-a-digit page and the page that trains (lab.py) are both made here.
    """
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    head = index[:index.index("<body>")].replace('<html lang="en">', f'<html lang="{lang}">', 1)
    head = head.replace("<title>lenetlab</title>", f"<title>{html.escape(title)}</title>", 1)
    tags = [f"<script>{settings}</script>"]
    if inline:
        css = (STATIC / "style.css").read_text(encoding="utf-8")
        head = head.replace('<link rel="stylesheet" href="/static/style.css">', f"<style>\n{css}</style>", 1)
        for script in scripts:
            code = (STATIC / script).read_text(encoding="utf-8").replace("</script", "<\\/script")
            tags.append(f"<script>\n{code}</script>")
    else:
        tags += [f'<script src="/static/{script}"></script>' for script in scripts]
    end = body.rindex("</body>")
    return head + body[:end] + "  " + "\n  ".join(tags) + "\n" + body[end:]


def render_page(lang: str, *, embedded: dict[str, Any] | None = None, title: str | None = None) -> str:
    """The page in ``lang``; with ``embedded`` (the model, its graph, sample digits) a self-contained file."""
    index = (STATIC / "index.html").read_text(encoding="utf-8")
    settings = (f"window.LENETLAB_LANG = {script_json(lang)}; "
                f"window.LENETLAB_MESSAGES = {script_json(page_messages(lang))};")
    if embedded is not None:
        settings += f"\n  window.LENETLAB_EMBEDDED = {script_json(embedded)};"
    return assemble_page(index[index.index("<body>"):], lang, title or t(lang, "page.title"), settings, SCRIPTS,
                         inline=embedded is not None)
