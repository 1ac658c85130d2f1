"""The projector and the side-by-side confusion matrices of `lenetlab serve`: the API's points, labels and sprite
sheet (TestClient), then the page in a real Chromium: hovering a dot shows that test image, switching the
representation keeps every dot, and two runs' matrices come with their difference B − A."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from browser_helpers import CHROMIUM, CHROMIUM_ARGS

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'lenetlab[web]'")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from lenetlab.i18n import messages  # noqa: E402
from lenetlab.web.app import create_app  # noqa: E402

needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")


@pytest.fixture(scope="module")
def run_a(trained_run, tmp_path_factory):
    """A copy of the shared trained run: the projector writes projections.npz into the run it serves."""
    return shutil.copytree(trained_run, tmp_path_factory.mktemp("projector") / "lenet5")


@pytest.fixture(scope="module")
def client(run_a):
    return TestClient(create_app(run_a, lang="en"), base_url="http://127.0.0.1:8000")


# ----- the API -----------------------------------------------------------------------------------------------
def test_the_projection_of_every_test_image_and_its_cache(client, run_a, mnist, monkeypatch):
    listing = client.get("/api/projections").json()
    assert [(r["key"], r["dimensions"]) for r in listing["representations"]] == [("pixels", 784), ("c5", 120),
                                                                                 ("f6", 84)]
    assert listing["n"] == 10_000 and listing["sprite"] == {"columns": 100, "tile": 28}
    answer = client.get("/api/projection?rep=c5&method=pca")
    assert answer.status_code == 200
    body = answer.json()
    points = np.array(body["points"])
    assert body["n"] == 10_000 and points.shape == (10_000, 2)
    assert np.abs(points).max() == pytest.approx(1.0, abs=1e-4) and np.isfinite(points).all()  # into [-1, 1]
    assert body["labels"] == mnist.test.labels.tolist()
    accuracy = json.loads((run_a / "metrics.json").read_text())["test"]["accuracy"]
    assert np.mean(np.array(body["predicted"]) == mnist.test.labels.numpy()) == pytest.approx(accuracy, abs=1e-9)
    # Every representation's PCA was computed at once, and kept in the run's folder, keyed by best.pt.
    assert set(client.get("/api/projections").json()["ready"]) == {"pixels-pca", "c5-pca", "f6-pca"}
    with np.load(run_a / "projections.npz") as saved:
        assert np.allclose(saved["c5-pca"], points, atol=1e-4)
    from lenetlab.web import projector

    computed, real = [], projector.project
    monkeypatch.setattr(projector, "project", lambda x, method, seed=0: computed.append(method) or real(x, method))
    fresh = TestClient(create_app(run_a, lang="en"), base_url="http://127.0.0.1:8000")  # a new server: from disk
    assert fresh.get("/api/projection?rep=c5&method=pca").json()["points"] == body["points"]
    assert computed == []
    stat = (run_a / "best.pt").stat()
    os.utime(run_a / "best.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a newer best.pt:
    assert fresh.get("/api/projections").json()["ready"] == []  # the points on disk are not its points
    os.utime(run_a / "best.pt", ns=(stat.st_atime_ns, stat.st_mtime_ns))  # (the same best.pt again, for the others)
    assert len(fresh.get("/api/projections").json()["ready"]) == 3
    for bad in ("rep=h1", "rep=C5", "method=umap", "rep=output"):
        refused = client.get(f"/api/projection?{bad}")
        assert refused.status_code == 422 and re.search("must be one of|should be 'pca' or 'tsne'",
                                                        refused.json()["error"]), bad


def test_the_sprite_sheet_holds_every_test_digit_in_order(client, mnist):
    answer = client.get("/api/sprite")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/png"
    sheet = Image.open(io.BytesIO(answer.content))
    assert sheet.size == (2800, 2800) and sheet.mode == "L"
    pixels = np.asarray(sheet)
    for i in (0, 1, 99, 100, 4321, 9999):  # tile i: column i % 100, row i // 100
        row, col = divmod(i, 100)
        assert np.array_equal(pixels[28 * row:28 * row + 28, 28 * col:28 * col + 28], mnist.test.images[i].numpy()), i


def test_tsne_is_computed_in_the_background_while_the_page_waits(trained_run, tmp_path, monkeypatch):
    from lenetlab.web import projector

    real = projector.project

    def quick_tsne(x, method, seed=0):  # the real t-SNE of 10,000 images takes half a minute
        if method == "pca":
            return real(x, method, seed)
        time.sleep(0.5)
        return x[:, :2]

    monkeypatch.setattr(projector, "project", quick_tsne)
    run = shutil.copytree(trained_run, tmp_path / "run", ignore=shutil.ignore_patterns("projections.npz"))
    client = TestClient(create_app(run, lang="en"), base_url="http://127.0.0.1:8000")
    first = client.get("/api/projection?rep=f6&method=tsne")
    assert first.status_code == 202 and first.json()["state"] == "computing"
    deadline = time.monotonic() + 30
    while (answer := client.get("/api/projection?rep=f6&method=tsne")).status_code == 202:
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert answer.status_code == 200 and np.array(answer.json()["points"]).shape == (10_000, 2)
    assert "f6-tsne" in client.get("/api/projections").json()["ready"]


# ----- in Chromium ---------------------------------------------------------------------------------------------
def _serve(runs, lang):
    uvicorn = pytest.importorskip("uvicorn")
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(runs, lang=lang), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return server, thread, sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def open_page():
    """``open_page(runs, lang)``: the served page in Chromium; page errors gathered in ``page.problems``."""
    sync_api = pytest.importorskip("playwright.sync_api")
    started = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)

        def open_page(runs, lang="en"):
            served = _serve(runs, lang)
            started.append(served)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.problems = []
            page.on("pageerror", lambda e: page.problems.append(str(e)))
            page.on("console", lambda m: m.type == "error" and page.problems.append(m.text))
            page.goto(served[3] + "/")
            page.wait_for_selector("body[data-ready]")
            return page

        yield open_page
        browser.close()
    for server, thread, sock, _ in started:
        server.should_exit = True
        thread.join(10)
        sock.close()


def _projector_ready(page, rep=None):
    page.wait_for_selector("#confusion-panel:not([hidden])")  # the panels above have their height
    page.locator("#proj-hover").scroll_into_view_if_needed()  # the projection is asked for once it comes into view
    page.wait_for_selector("#projector[data-state='ready']" + (f"[data-rep='{rep}']" if rep else ""), timeout=60_000)
    page.wait_for_function("() => window.lenetlab.projector.state().sprite")
    page.locator("#proj-hover").scroll_into_view_if_needed()


def _isolated_dot(points: np.ndarray) -> int:
    """A dot with no other within 0.06 (about 17 canvas pixels): the pointer over it can only mean it."""
    from scipy.spatial import cKDTree

    distances, _ = cKDTree(points).query(points, k=2)
    return int(np.flatnonzero(distances[:, 1] > 0.06)[0])


@pytest.mark.browser
@needs_chromium
def test_hovering_a_dot_shows_that_test_image_and_a_click_opens_it(open_page, run_a, mnist):
    page = open_page(run_a)
    _projector_ready(page)
    assert page.get_attribute("#projector", "data-rep") == "f6"  # the deepest layer first
    assert page.locator("#proj-legend > span").count() == 10
    data = page.evaluate("async () => (await fetch('/api/projection?rep=f6&method=pca')).json()")
    points = np.array(data["points"])
    # Where the page draws the dots: the API's points, up to one scale for both axes and y pointing up.
    where = np.array(page.evaluate("() => [0, 1, 2, 3, 4].map((i) => window.lenetlab.projector.screenPosition(i))"))
    scale = (where[1:, 0] - where[0, 0]) / (points[1:5, 0] - points[0, 0])
    assert np.allclose(scale, scale[0], rtol=1e-3) and scale[0] > 100
    assert np.allclose(-(where[1:, 1] - where[0, 1]) / (points[1:5, 1] - points[0, 1]), scale[0], rtol=1e-3)

    i = _isolated_dot(points)
    x, y = page.evaluate(f"() => window.lenetlab.projector.screenPosition({i})")
    page.mouse.move(x + 1, y + 1)
    page.wait_for_selector(f"#proj-card[data-index='{i}']")
    label = int(mnist.test.labels[i])
    assert page.get_attribute("#proj-card", "data-label") == str(label)
    assert page.get_attribute("#proj-card", "data-predicted") == str(data["predicted"][i])
    assert f"test image #{i}" in page.text_content("#proj-card")
    thumbnail = np.array(page.evaluate("""() => Array.from(document.querySelector('#proj-thumb').getContext('2d')
        .getImageData(0, 0, 28, 28).data)""")).reshape(28, 28, 4)
    assert np.array_equal(thumbnail[..., 0], mnist.test.images[i].numpy())  # the digit itself, from the sprite sheet

    page.mouse.click(x + 1, y + 1)  # into the drawing panel, with its true label
    page.wait_for_selector(f"#true-label[data-index='{i}']")
    assert page.get_attribute("#true-label", "data-label") == str(label)
    page.wait_for_selector("body[data-predicted]")

    before = page.evaluate(f"() => window.lenetlab.projector.screenPosition({i})")
    page.select_option("#proj-rep", "pixels")  # the dots move to where the pixels' PCA puts them
    page.wait_for_function("() => window.lenetlab.projector.state().moving")
    assert page.evaluate("() => window.lenetlab.projector.state().count") == 10_000
    _projector_ready(page, "pixels")
    assert page.evaluate("() => window.lenetlab.projector.state().count") == 10_000
    assert page.get_attribute("#projector", "data-count") == "10000"
    assert page.evaluate(f"() => window.lenetlab.projector.screenPosition({i})") != before
    page.select_option("#proj-color", "predicted")
    assert page.get_attribute("#projector", "data-color") == "predicted"
    assert page.problems == []


def _english_fragments() -> set[str]:
    """Literal pieces of the English messages that a French page must not show (placeholders removed)."""
    en, fr = messages("en"), messages("fr")
    french = " ".join(fr.values())
    pieces = {p.strip(" .,:;()·") for key, text in en.items() if text != fr[key] for p in re.split(r"\{\w+\}", text)}
    return {p for p in pieces if len(p) >= 6 and p not in french}


@pytest.mark.browser
@pytest.mark.slow
@needs_chromium
def test_two_runs_side_by_side_and_their_difference(open_page, run_a, tmp_path):
    from lenetlab import TrainConfig, train_run

    run_b = tmp_path / "mlp"
    train_run(TrainConfig.from_preset("default", model="mlp", epochs=1, augment="none", batch_size=512), run_b,
              progress=False, log=None, figures=False)  # any second run will do: the quickest
    a, b = (json.loads((r / "metrics.json").read_text())["test"]["confusion_matrix"] for r in (run_a, run_b))
    page = open_page([run_a, run_b], lang="fr")
    page.wait_for_selector("#compare-controls:not([hidden])")
    page.check("#compare-toggle")
    page.wait_for_selector("#compare[data-runs='0,1']")
    assert page.is_hidden("#confusion-single")

    def matrix(name):
        return page.evaluate(f"""() => [...document.querySelectorAll("#compare [data-matrix='{name}'] tr")].slice(1)
            .map((r) => [...r.cells].slice(1).map((c) => Number(c.dataset.value)))""")

    assert matrix("A") == a and matrix("B") == b
    assert matrix("difference") == (np.array(b) - np.array(a)).tolist()
    shown = page.evaluate("""() => [...document.querySelectorAll("#compare [data-matrix='difference'] tr")].slice(1)
        .map((r) => [...r.cells].slice(1).map((c) => c.textContent))""")
    assert all(text == "0" or text[0] in "+\u2212" for row in shown for text in row)  # signed counts

    i, j = max(((i, j) for i in range(10) for j in range(10) if i != j), key=lambda c: b[c[0]][c[1]])
    page.click(f"#compare [data-matrix='B'] td[data-true='{i}'][data-predicted='{j}']")  # B's own images
    page.wait_for_selector(f"#cell-images[data-cell='{i},{j}'][data-run='1']")
    assert int(page.get_attribute("#cell-images", "data-count")) == b[i][j]
    assert page.text_content("#cell-title").startswith("mlp : ")
    page.select_option("#compare-a", "1")  # the pickers: A = B, nothing changes
    page.wait_for_selector("#compare[data-runs='1,1']")
    assert set(np.array(matrix("difference")).flat) == {0}

    _projector_ready(page)  # and the projector, in French too
    text = page.evaluate("() => document.querySelector('#confusion-panel').innerText + '\\n' "
                         "+ document.querySelector('#projector').innerText")
    assert "Projection des représentations" in text and "Couleur" in text
    assert sorted(p for p in _english_fragments() if p in text) == []
    assert page.problems == []
