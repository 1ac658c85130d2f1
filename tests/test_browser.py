"""The draw-a-digit page in a real Chromium, against a real uvicorn server started here.

Needs Playwright for Python and Debian's Chromium at /usr/bin/chromium (`apt-get install -y chromium`);
Playwright's own browser download is never used.
"""

from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, canvas_ink, draw

# CI sets LENETLAB_REQUIRE_BROWSER=1: there a missing Chromium is a failure, not a quiet skip.
if not CHROMIUM.exists() and os.environ.get("LENETLAB_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"LENETLAB_REQUIRE_BROWSER=1 but there is no Chromium at {CHROMIUM}")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}; install it with `apt-get install -y chromium`"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed: pip install playwright")
uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed: pip install 'lenetlab[web]'")


@pytest.fixture(scope="module")
def server(trained_run):
    """uvicorn serving the trained run on a free 127.0.0.1 port, in a thread; its base URL."""
    from lenetlab.web.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))  # bound before the server starts: no race for the port
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(trained_run, lang="en"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the uvicorn server did not start")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    sock.close()


@pytest.fixture
def page(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.problems = []  # console errors, page errors and any request leaving the test server
        page.on("console", lambda m: m.type == "error" and page.problems.append(f"console: {m.text}"))
        page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
        page.on("request", lambda r: r.url.startswith((server, "data:")) or page.problems.append(f"request: {r.url}"))
        yield page
        browser.close()


def test_draw_a_digit_then_a_random_test_image(page, server, mnist, tmp_path):
    page.goto(server + "/")
    page.wait_for_selector("body[data-model='lenet5']")
    assert "61,706 parameters" in page.text_content("#model-info")
    assert page.text_content("#pred-label") == "–"

    draw(page, [(140, 40), (140, 240)])  # a "1": one vertical stroke
    page.wait_for_selector("body[data-predicted]")
    page.wait_for_function("() => document.querySelectorAll('#layers .layer').length === 7")
    # The answer to the whole stroke comes last (partial strokes are sent while the pen moves).
    page.wait_for_function("() => document.querySelector('#pred-label').textContent === '1'", timeout=10_000)
    assert page.get_attribute("body", "data-predicted") == "1"
    assert canvas_ink(page, "#input") > 5  # the 28x28 input the network saw is drawn, not black
    counts = page.evaluate("""() => Object.fromEntries([...document.querySelectorAll('#layers .layer')]
        .map(l => [l.dataset.layer, l.querySelectorAll('canvas').length]))""")
    assert counts == {"C1": 6, "S2": 6, "C3": 16, "S4": 16, "C5": 1, "F6": 1, "output": 1}
    assert canvas_ink(page, "#layers [data-layer='C1'] canvas") > 5
    widths = page.evaluate("() => [...document.querySelectorAll('#bars .bar-fill')].map(b => parseFloat(b.style.width))")
    assert len(widths) == 10 and max(widths) == widths[1] and abs(sum(widths) - 100) < 0.5

    page.select_option("#overlay", "saliency")  # "why?": which pixels made it say 1
    page.wait_for_selector("body[data-overlay='saliency']")
    assert page.is_visible("#attribution")
    opaque = page.evaluate("""() => { const d = document.querySelector('#attribution').getContext('2d')
        .getImageData(0, 0, 28, 28).data; let n = 0; for (let i = 3; i < d.length; i += 4) n += d[i] > 40; return n; }""")
    assert 10 < opaque < 784  # coloured where the stroke matters, transparent elsewhere
    page.select_option("#overlay", "")
    assert not page.is_visible("#attribution")

    page.click("#clear")
    assert page.text_content("#pred-label") == "–"
    assert canvas_ink(page, "#pad") == 255  # white paper again

    page.click("#random")
    page.wait_for_selector("#true-label:not([hidden])")
    page.wait_for_selector("body[data-predicted]")
    index = int(page.get_attribute("#true-label", "data-index"))
    label = int(page.get_attribute("#true-label", "data-label"))
    assert label == int(mnist.test.labels[index])
    assert f"#{index}, true label: {label}" in page.text_content("#true-label")
    assert page.text_content("#pred-label") in [str(d) for d in range(10)]
    assert canvas_ink(page, "#pad") < 250  # the digit is shown on the pad

    shot = tmp_path / "serve.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    assert page.problems == []
    print(f"screenshot: {shot}")


def test_the_page_says_what_went_wrong_when_the_server_refuses(page, server):
    page.goto(server + "/")
    page.wait_for_selector("body[data-model]")
    page.evaluate("""async () => {
        const r = await fetch('/api/predict', {method: 'POST', body: 'nonsense', headers: {'content-type': 'text/plain'}});
        document.body.dataset.answer = r.status + ' ' + (await r.json()).error; }""")
    answer = page.get_attribute("body", "data-answer")
    # text/plain is what a page on another site could post without asking: refused, and said why
    assert answer.startswith("415 unsupported content type text/plain; send a PNG")


def test_a_finger_draws_too(server):
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 400, "height": 900}, has_touch=True, is_mobile=True)
        page = context.new_page()
        page.goto(server + "/")
        page.wait_for_selector("body[data-model]")
        box = page.locator("#pad").bounding_box()
        assert box["width"] <= 400  # the pad fits a phone's width
        page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.wait_for_selector("body[data-predicted]")
        assert canvas_ink(page, "#pad") < 255 and canvas_ink(page, "#input") > 0
        browser.close()


def test_the_confusion_matrix_opens_the_images_behind_a_cell(page, server, trained_run):
    """Click the cell true 4 / predicted 9: exactly the test images metrics.json counts there, surest first."""
    import json

    matrix = json.loads((trained_run / "metrics.json").read_text())["test"]["confusion_matrix"]
    true, predicted = (4, 9) if matrix[4][9] else max(((i, j) for i in range(10) for j in range(10) if i != j),
                                                      key=lambda c: matrix[c[0]][c[1]])
    page.goto(server + "/")
    page.wait_for_selector("#confusion-panel:not([hidden])")
    shown = page.evaluate("""() => [...document.querySelectorAll('table.confusion tr')].slice(1)
        .map((r) => [...r.cells].slice(1).map((c) => Number(c.textContent.replace(/,/g, ''))))""")
    assert shown == matrix  # the page's matrix is metrics.json's
    page.click(f"table.confusion td[data-true='{true}'][data-predicted='{predicted}']")
    page.wait_for_selector(f"#cell-images[data-cell='{true},{predicted}']")
    assert int(page.get_attribute("#cell-images", "data-count")) == matrix[true][predicted]
    titles = page.evaluate("() => [...document.querySelectorAll('#cell-images canvas')].map((c) => c.title)")
    assert len(titles) == min(matrix[true][predicted], 200)
    confidences = [float(t.split(": ")[1].split(" %")[0]) for t in titles]
    assert confidences == sorted(confidences, reverse=True)
    page.click("#cell-images canvas >> nth=0")  # into the drawing panel, with its true label
    page.wait_for_selector("body[data-predicted]")
    assert page.get_attribute("body", "data-predicted") == str(predicted)
    assert page.get_attribute("#true-label", "data-label") == str(true)
    # The per-class accuracy bars: a click lists every misclassified image of that class.
    page.click(f"#class-bars .bar-track[data-class='{true}']")
    page.wait_for_selector(f"#cell-images[data-cell='{true},wrong']")
    assert int(page.get_attribute("#cell-images", "data-count")) == sum(matrix[true]) - matrix[true][true]
    assert page.problems == []


def test_two_runs_overlay_their_curves_and_a_selector_picks_one(trained_run, tmp_path):
    """`lenetlab serve RUN1 RUN2`: both runs' curves in the charts; the selector moves the drawing panel."""
    from lenetlab import TrainConfig, train_run
    from lenetlab.web.app import create_app

    mlp = tmp_path / "mlp"
    train_run(TrainConfig.from_preset("default", model="mlp", epochs=2), mlp, progress=False, log=None,
              figures=False)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app([trained_run, mlp], lang="en"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(url + "/")
            page.wait_for_selector("body[data-series='2']")  # two runs' curves on the charts
            assert page.get_attribute("body", "data-model") == "lenet5"
            names = page.evaluate("() => [...document.querySelectorAll('#run-select option')].map((o) => o.textContent)")
            assert names == [trained_run.name, "mlp"]
            draw(page, [(140, 40), (140, 240)])
            page.wait_for_selector("#layers [data-layer='C1']")
            page.select_option("#run-select", "1")
            page.wait_for_selector("body[data-run='1']")
            assert page.get_attribute("body", "data-model") == "mlp"
            page.wait_for_selector("#layers [data-layer='H1']")  # the drawing, redrawn through the MLP
            assert "105,214 parameters" in page.text_content("#model-info")
            assert errors == []
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
