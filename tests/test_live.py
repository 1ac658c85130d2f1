"""`lenetlab serve` on a run that is still training: the page's curves and epoch counter advance by
themselves, /api/metrics grows, and the drawing panel moves to each newer best.pt. Real training, real
uvicorn, real Chromium."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import torch

from browser_helpers import CHROMIUM, CHROMIUM_ARGS, draw

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not CHROMIUM.exists(), reason=f"no Chromium at {CHROMIUM}")]
sync_api = pytest.importorskip("playwright.sync_api")
uvicorn = pytest.importorskip("uvicorn")


def _serve(run_dir):
    from lenetlab.web.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(create_app(run_dir, lang="en"), log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    return server, thread, sock, f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.long  # heavy end-to-end (over 10 s): CI runs it right after the README's command
def test_the_page_watches_a_run_train(tmp_path):
    import httpx

    run = tmp_path / "live"
    run.mkdir()  # serve first, on the empty folder the training is about to fill
    server, thread, sock, url = _serve(run)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    training = subprocess.Popen([sys.executable, "-m", "lenetlab", "train", "--epochs", "3", "--out", str(run),
                                 "--no-progress", "--lang", "en", "--keep-filters"], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            problems = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url + "/")
            # The first epoch ends: the curves appear, the counter says which epoch runs, the model loads.
            page.wait_for_function("() => Number(document.body.dataset.epochs) >= 1", timeout=180_000)
            first = int(page.get_attribute("body", "data-epochs"))
            if first < 3:  # (a slow start can miss an epoch or two; the counter still says the running one)
                assert page.get_attribute("body", "data-training") == "training"
                assert f"epoch {first + 1} of 3" in page.text_content("#training-status")
            page.wait_for_selector("body[data-ready]", timeout=30_000)
            seen = [len(httpx.get(url + "/api/metrics").json()["history"])]
            draw(page, [(140, 40), (140, 240)])
            page.wait_for_selector("body[data-predicted]")
            # More points arrive without reloading the page, and /api/metrics grows with them.
            page.wait_for_function(f"() => Number(document.body.dataset.epochs) > {first}", timeout=180_000)
            seen.append(len(httpx.get(url + "/api/metrics").json()["history"]))
            page.wait_for_selector("body[data-training='finished']", timeout=180_000)
            final = httpx.get(url + "/api/metrics").json()
            seen.append(len(final["history"]))
            assert seen[0] >= 1 and seen == sorted(seen) and seen[-1] == 3 and seen[-1] > seen[0]
            assert final["state"] == "finished" and final["model_epoch"] == final["best_epoch"]
            assert page.evaluate("() => document.querySelector('#curve-loss').toDataURL().length") > 3000
            assert f"best.pt of epoch {final['best_epoch']}" in page.text_content("#training-status")
            # The epoch scrubber: the slider shows C1 as each epoch left it (the kept snapshots, to the digit).
            page.wait_for_function("() => document.querySelector('#scrub-slider').max === '2'", timeout=30_000)
            kernels = {}
            for position in (0, 2):
                page.locator("#scrub-slider").fill(str(position))
                page.wait_for_selector(f"#scrubber[data-epoch='{position + 1}']")
                kernels[position] = page.evaluate("() => [...document.querySelectorAll('#scrub-kernels canvas')]"
                                                  ".map((c) => c.dataset.values.split(',').map(Number))")
                kept = torch.load(run / "filters" / f"epoch_{position + 1:03d}.pt", weights_only=True)["C1"]
                assert np.allclose(np.array(kernels[position]), kept[:, 0].reshape(6, 25).numpy(), atol=1e-6)
                assert page.evaluate("() => document.querySelectorAll('#scrub-maps canvas').length") == 6
            assert kernels[0] != kernels[2]  # the kernels drawn change with the slider
            assert problems == []
            browser.close()
        assert training.wait(60) == 0, training.stdout.read()
    finally:
        if training.poll() is None:
            training.kill()
        server.should_exit = True
        thread.join(10)
        sock.close()
