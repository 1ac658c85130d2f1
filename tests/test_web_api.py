"""The draw-a-digit API through FastAPI's TestClient: right answers for good input, 4xx JSON for bad."""

from __future__ import annotations

import base64
import io
import json
import socket
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("fastapi", reason="the web extra is not installed: pip install 'lenetlab[web]'")
pytest.importorskip("python_multipart", reason="python-multipart is not installed: pip install 'lenetlab[web]'")
from fastapi.testclient import TestClient  # noqa: E402
from PIL import Image  # noqa: E402

from lenetlab import MLP, LenetlabError, load_checkpoint, mnist_preprocess, predict_images, save_checkpoint  # noqa: E402
from lenetlab.cli import main  # noqa: E402
from lenetlab.web.app import MAX_BODY_BYTES, create_app  # noqa: E402

LENET_SHAPES = {"C1": [6, 28, 28], "S2": [6, 14, 14], "C3": [16, 10, 10], "S4": [16, 5, 5], "C5": [120], "F6": [84],
                "output": [10]}


@pytest.fixture(scope="module")
def client(trained_run):
    return TestClient(create_app(trained_run), base_url="http://127.0.0.1:8000")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def drawn_digit(mnist, index: int) -> Image.Image:
    """A real test digit as a person would draw it: dark ink on white paper, 280x280."""
    return Image.fromarray(255 - mnist.test.images[index].numpy()).resize((280, 280), Image.Resampling.BILINEAR)


def test_model_describes_the_run(client, trained_run):
    info = client.get("/api/model").json()
    metrics = json.loads((trained_run / "metrics.json").read_text())
    assert info["name"] == "lenet5"
    assert info["parameters"] == 61706
    assert info["test_accuracy"] == metrics["test"]["accuracy"]
    assert info["arguments"]["activation"] == "tanh" and info["arguments"]["c1_channels"] == 6
    assert info["class_names"] == [str(i) for i in range(10)]
    assert [(layer["name"], layer["shape"]) for layer in info["layers"]][:2] == [("C1", [6, 28, 28]), ("S2", [6, 14, 14])]


def test_array_predicts_what_the_model_computes(client, trained_run, mnist):
    model, _ = load_checkpoint(trained_run)
    index = 3
    image = mnist.test.images[index]
    response = client.post("/api/predict", json={"array": image.tolist()})
    assert response.status_code == 200
    body = response.json()
    with torch.inference_mode():
        expected = model(mnist.test.as_float(index, index + 1)).softmax(1)[0]
    assert np.allclose(body["probabilities"], expected.numpy(), atol=1e-5)
    assert abs(sum(body["probabilities"]) - 1) < 1e-4
    assert body["label"] == int(expected.argmax()) == int(np.argmax(body["probabilities"]))
    # A 28x28 array is the network's input as it is: 0-255 values are scaled to [0, 1], not preprocessed.
    assert np.allclose(body["input"], image.numpy() / 255.0, atol=1e-4)
    assert {k: v["shape"] for k, v in body["activations"].items()} == LENET_SHAPES
    c1 = np.asarray(body["activations"]["C1"]["values"])
    assert c1.shape == (6, 28, 28) and np.abs(c1).max() <= 1.0  # tanh
    assert body["activations"]["C1"]["kind"] == "maps" and body["activations"]["F6"]["kind"] == "vector"


def test_png_is_preprocessed_like_predict(client, trained_run, mnist, tmp_path):
    image = drawn_digit(mnist, 0)
    path = tmp_path / "digit.png"
    image.save(path)
    body = client.post("/api/predict", files={"image": ("digit.png", path.read_bytes(), "image/png")}).json()
    expected = predict_images(trained_run, [path], device="cpu")[0]
    assert np.allclose(body["input"], mnist_preprocess(image), atol=1e-4)
    assert body["label"] == expected["label"] == int(mnist.test.labels[0])
    assert np.allclose(body["probabilities"], expected["probabilities"], atol=1e-5)


def test_png_as_base64_json_data_uri_and_raw_body_give_the_same_answer(client, mnist):
    raw = png_bytes(drawn_digit(mnist, 1))
    b64 = base64.b64encode(raw).decode()
    answers = [
        client.post("/api/predict", files={"image": ("d.png", raw, "image/png")}).json(),
        client.post("/api/predict", json={"image": b64}).json(),
        client.post("/api/predict", json={"image": "data:image/png;base64," + b64}).json(),
        client.post("/api/predict", content=raw, headers={"content-type": "image/png"}).json(),
    ]
    assert all(a["probabilities"] == answers[0]["probabilities"] for a in answers)
    assert answers[0]["label"] == int(mnist.test.labels[1])


def test_array_with_preprocess_flag_goes_through_mnist_preprocess(client, mnist):
    canvas = np.full((28, 28), 255, np.uint8)
    canvas[4:24, 12:16] = 0  # a dark "1" on white, off-centre
    body = client.post("/api/predict", json={"array": canvas.tolist(), "preprocess": True}).json()
    assert np.allclose(body["input"], mnist_preprocess(canvas), atol=1e-4)


def test_random_returns_a_real_test_digit(client, mnist):
    fixed = client.get("/api/random", params={"index": 0}).json()
    assert fixed["index"] == 0 and fixed["label"] == 7 == int(mnist.test.labels[0])
    assert np.array_equal(np.asarray(fixed["image"], dtype=np.uint8), mnist.test.images[0].numpy())
    drawn = client.get("/api/random").json()
    assert 0 <= drawn["index"] < 10_000
    assert drawn["label"] == int(mnist.test.labels[drawn["index"]])
    assert np.array_equal(np.asarray(drawn["image"], dtype=np.uint8), mnist.test.images[drawn["index"]].numpy())


def _big_png() -> bytes:
    # 50 megapixels of white: a few tens of KB of PNG, 50 MB once decoded.
    return png_bytes(Image.new("L", (10_000, 5_000), 255))


GOOD_ROW = [0.0] * 28
BAD_REQUESTS = {
    "empty body": dict(content=b""),
    "empty JSON content": dict(content=b"", headers={"content-type": "application/json"}),
    "broken JSON": dict(content=b'{"array": [[0, 1', headers={"content-type": "application/json"}),
    "JSON list": dict(json=[1, 2, 3]),
    "JSON nested 100000 deep": dict(content=b"[" * 100_000 + b"]" * 100_000, headers={"content-type": "application/json"}),
    "JSON without keys": dict(json={"picture": 1}),
    "not an image (multipart)": dict(files={"image": ("notes.txt", b"hello, not a PNG", "text/plain")}),
    "not an image (raw png type)": dict(content=b"\x89PNG\r\n\x1a\nbroken", headers={"content-type": "image/png"}),
    "multipart without image field": dict(files={"picture": ("d.png", b"x", "image/png")}),
    "empty multipart file": dict(files={"image": ("d.png", b"", "image/png")}),
    "invalid base64": dict(json={"image": "not base64 !!"}),
    "base64 of text": dict(json={"image": base64.b64encode(b"just text").decode()}),
    "image not a string": dict(json={"image": 12}),
    "array 27 rows": dict(json={"array": [GOOD_ROW] * 27}),
    "array ragged": dict(json={"array": [GOOD_ROW] * 27 + [[0.0] * 5]}),
    "array 3-d": dict(json={"array": [[[0.0] * 28] * 28]}),
    "array flat": dict(json={"array": [0.0] * 784}),
    "array of strings": dict(json={"array": [["a"] * 28] * 28}),
    "array not a list": dict(json={"array": "28x28"}),
    "array NaN": dict(content=json.dumps({"array": [[float("nan")] * 28] * 28}).encode(),
                      headers={"content-type": "application/json"}),
    "array Infinity": dict(content=json.dumps({"array": [[0.0] * 27 + [float("inf")]] * 28}).encode(),
                           headers={"content-type": "application/json"}),
    "array out of range": dict(json={"array": [[-3.0] * 28] * 28}),
    "blank canvas": dict(files={"image": ("blank.png", png_bytes(Image.new("RGB", (280, 280), "white")), "image/png")}),
}


@pytest.mark.parametrize("name", list(BAD_REQUESTS))
def test_bad_input_gets_4xx_json_error(client, name):
    response = client.post("/api/predict", **BAD_REQUESTS[name])
    assert 400 <= response.status_code < 500, response.text
    error = response.json()["error"]
    assert isinstance(error, str) and 10 < len(error) < 300 and "\n" not in error


def test_blank_canvas_asks_for_a_digit(client):
    response = client.post("/api/predict", **BAD_REQUESTS["blank canvas"])
    assert response.status_code == 422
    assert "draw a digit" in response.json()["error"]


def test_huge_image_is_refused_from_its_header(client, monkeypatch):
    import PIL.ImageFile

    # Decoding would call ImageFile.load; make it fail loudly so the test proves the header check came first.
    def never(self):
        raise AssertionError("a 50-megapixel image was decoded")

    monkeypatch.setattr(PIL.ImageFile.ImageFile, "load", never)
    response = client.post("/api/predict", files={"image": ("big.png", _big_png(), "image/png")})
    assert response.status_code == 413
    assert "10000x5000" in response.json()["error"]


def test_body_over_the_cap_is_refused_by_length_and_when_streamed(client):
    big = b"0" * (MAX_BODY_BYTES + 1)
    declared = client.post("/api/predict", content=big, headers={"content-type": "application/json"})
    assert declared.status_code == 413 and "MB" in declared.json()["error"]

    def chunks():  # no Content-Length: the cap must hold on the streamed size
        for _ in range(6):
            yield b"0" * (1024 * 1024)

    streamed = client.post("/api/predict", content=chunks(), headers={"content-type": "application/json"})
    assert "content-length" not in streamed.request.headers
    assert streamed.status_code == 413


def test_server_keeps_answering_after_bad_input(client, mnist):
    for name in ("broken JSON", "array NaN", "not an image (multipart)"):
        client.post("/api/predict", **BAD_REQUESTS[name])
    response = client.post("/api/predict", json={"array": mnist.test.images[0].tolist()})
    assert response.status_code == 200 and response.json()["label"] == 7


@pytest.mark.parametrize("url, status", [("/api/random?index=10000", 422), ("/api/random?index=-1", 422),
                                         ("/api/random?index=seven", 422), ("/api/nothing", 404)])
def test_bad_urls_get_json_errors(client, url, status):
    response = client.get(url)
    assert response.status_code == status
    assert response.json()["error"]


def test_page_and_static_files_are_served_without_any_external_reference(client):
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    for name in ("app.js", "style.css"):
        assert f"/static/{name}" in page.text
        asset = client.get(f"/static/{name}")
        assert asset.status_code == 200 and len(asset.text) > 500
        assert "http://" not in asset.text and "https://" not in asset.text
    assert "http://" not in page.text and "https://" not in page.text


def test_mlp_checkpoint_shows_its_own_layers(tmp_path, mnist):
    torch.manual_seed(0)
    model = MLP()
    save_checkpoint(tmp_path / "mlp.pt", model, "mlp", [str(i) for i in range(10)])
    client = TestClient(create_app(tmp_path / "mlp.pt"), base_url="http://127.0.0.1:8000")
    info = client.get("/api/model").json()
    assert info["name"] == "mlp" and info["parameters"] == 105214 and info["test_accuracy"] is None
    body = client.post("/api/predict", json={"array": mnist.test.images[5].tolist()}).json()
    assert {k: (v["kind"], v["shape"]) for k, v in body["activations"].items()} == {
        "H1": ("vector", [120]), "H2": ("vector", [84]), "output": ("vector", [10])}
    with torch.inference_mode():
        expected = model(mnist.test.as_float(5, 6)).softmax(1)[0].numpy()
    assert np.allclose(body["probabilities"], expected, atol=1e-5)


def test_create_app_refuses_what_is_not_a_checkpoint(tmp_path):
    (tmp_path / "notes.pt").write_text("not a checkpoint")
    with pytest.raises(LenetlabError, match="not a loadable lenetlab checkpoint"):
        create_app(tmp_path / "notes.pt")
    with pytest.raises(LenetlabError, match="no checkpoint"):
        create_app(tmp_path / "missing")


def test_serve_defaults_to_localhost_and_reports_mistakes_in_one_line(tmp_path, trained_run, capsys):
    from lenetlab.cli import build_parser

    args = build_parser().parse_args(["serve", str(trained_run)])
    assert (args.host, args.port) == ("127.0.0.1", 8000)

    assert main(["serve", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("lenetlab: error: no checkpoint") and err.count("\n") == 1

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", str(trained_run), "--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"cannot listen on 127.0.0.1:{port}" in err and "--port" in err and err.count("\n") == 1


def test_serve_without_the_web_extra_says_how_to_install_it(trained_run, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if uvicorn were not installed
    assert main(["serve", str(trained_run)]) == 2
    err = capsys.readouterr().err
    assert "needs uvicorn" in err and "pip install 'lenetlab[web]'" in err and err.count("\n") == 1


def test_only_this_server_and_its_own_page_may_call_it(client, mnist):
    body = {"array": mnist.test.images[0].tolist()}
    assert client.post("/api/predict", json=body, headers={"origin": "http://127.0.0.1:8000"}).status_code == 200
    rebinding = client.get("/api/model", headers={"host": "attacker.example:8000"})
    assert rebinding.status_code == 403 and "answers to" in rebinding.json()["error"]
    cross_site = client.post("/api/predict", json=body, headers={"origin": "https://attacker.example"})
    assert cross_site.status_code == 403 and "another site" in cross_site.json()["error"]
    form = client.post("/api/predict", files={"image": ("d.png", b"x", "image/png")},
                       headers={"origin": "https://attacker.example"})
    assert form.status_code == 403
    for origin in ("null", "http://127.0.0.1:8888"):  # a sandboxed frame; another local server's page
        assert client.post("/api/predict", json=body, headers={"origin": origin}).status_code == 403
    # A GET carries no Origin: another site's <img> or fetch is told apart by Sec-Fetch-Site, else Referer
    for headers in ({"sec-fetch-site": "cross-site"}, {"sec-fetch-site": "same-site"},
                    {"referer": "http://127.0.0.1:8888/notebook"}):
        refused = client.get("/api/sprite", headers=headers)
        assert refused.status_code == 403 and "another site" in refused.json()["error"], headers
    for headers in ({"sec-fetch-site": "same-origin"}, {"sec-fetch-site": "none"},
                    {"referer": "http://127.0.0.1:8000/"}, {}):
        assert client.get("/api/model", headers=headers).status_code == 200, headers
    assert client.get("/", headers={"sec-fetch-site": "cross-site"}).status_code == 200  # a link to the page
    # JSON sent as text/plain needs no permission from the browser: refused
    plain = client.post("/api/predict", content=json.dumps(body), headers={"content-type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["error"]


def test_no_500_for_numbers_too_large_and_no_paths_in_answers(client, trained_run):
    row = "[" + "0, " * 27 + "9" * 400 + "]"  # a 400-digit integer in a 28x28 array
    huge = client.post("/api/predict", content=('{"array": [' + ", ".join([row] * 28) + "]}").encode(),
                       headers={"content-type": "application/json"})
    assert huge.status_code == 422 and "too large" in huge.json()["error"]
    info = client.get("/api/model").json()
    assert info["checkpoint"] == f"{trained_run.name}/best.pt"
    assert str(trained_run.parent) not in json.dumps(info)


def test_large_uploads_wait_for_the_large_lane_and_small_ones_do_not(client, mnist):
    from lenetlab.web.app import MAX_IMAGE_PIXELS, SMALL_IMAGE_PIXELS

    over = Image.new("L", (2100, 2000), 255)  # 4.2 MP: over the upload cap
    response = client.post("/api/predict", files={"image": ("big.png", png_bytes(over), "image/png")})
    assert response.status_code == 413 and "2100x2000" in response.json()["error"]
    assert MAX_IMAGE_PIXELS == 4_000_000 and SMALL_IMAGE_PIXELS < MAX_IMAGE_PIXELS
    photo = Image.fromarray(255 - mnist.test.images[0].numpy()).resize((1500, 1500))  # large lane, still served
    assert client.post("/api/predict", files={"image": ("photo.png", png_bytes(photo), "image/png")}).json()["label"] == 7


def test_explain_gives_the_attribution_maps_of_the_input(client, trained_run, mnist):
    from lenetlab.explore.attribution import occlusion, saliency

    x = mnist.test.images[0].numpy().astype(np.float32) / 255.0
    model, _ = load_checkpoint(trained_run)
    inputs = torch.from_numpy(x)[None, None]
    for method, attribute in (("saliency", saliency), ("occlusion", occlusion)):
        answer = client.post("/api/explain", json={"array": x.tolist(), "method": method, "target": 7}).json()
        expected = attribute(model, inputs, torch.tensor([7]))[0]
        assert answer["method"] == method and answer["target"] == 7 and answer["class_name"] == "7"
        assert np.allclose(np.asarray(answer["map"]), expected, atol=2e-6)
        assert answer["max_abs"] == pytest.approx(float(np.abs(expected).max()), abs=2e-6)
    default = client.post("/api/explain", json={"array": x.tolist(), "method": "saliency"}).json()
    assert default["target"] == client.post("/api/predict", json={"array": x.tolist()}).json()["label"]
    for body, status in (({"array": x.tolist(), "method": "gradcam"}, 422), ({"array": x.tolist(), "method": "saliency",
                                                                             "target": 10}, 422),
                         ({"method": "saliency"}, 422)):
        response = client.post("/api/explain", json=body)
        assert response.status_code == status and "error" in response.json()
    plain = client.post("/api/explain", content=json.dumps({"array": x.tolist(), "method": "saliency"}),
                        headers={"content-type": "text/plain"})
    assert plain.status_code == 415


def test_confusion_and_cells_are_best_pts_on_the_test_set(client, trained_run):
    import json

    metrics = json.loads((trained_run / "metrics.json").read_text())
    confusion = client.get("/api/confusion").json()
    assert confusion["matrix"] == metrics["test"]["confusion_matrix"]
    assert confusion["accuracy"] == pytest.approx(metrics["test"]["accuracy"], abs=1e-6)
    i, j = max(((i, j) for i in range(10) for j in range(10) if i != j), key=lambda c: confusion["matrix"][c[0]][c[1]])
    cell = client.get(f"/api/cell?true={i}&predicted={j}&limit=5").json()
    assert cell["count"] == confusion["matrix"][i][j] and len(cell["images"]) == min(5, cell["count"])
    surest = [x["confidence"] for x in cell["images"]]
    assert surest == sorted(surest, reverse=True)
    assert all(len(x["image"]) == 28 for x in cell["images"])
    wrong = client.get(f"/api/cell?true={i}").json()  # no predicted: every misclassified image of class i
    assert wrong["count"] == sum(confusion["matrix"][i]) - confusion["matrix"][i][i]
    assert all(x["predicted"] != i for x in wrong["images"])
    for bad in ("true=10&predicted=0", "true=0&predicted=-1", "true=1&predicted=2&limit=0", "true=a&predicted=1",
                "true=1&limit=10000"):
        answer = client.get(f"/api/cell?{bad}")
        assert answer.status_code == 422 and "error" in answer.json(), bad


def test_metrics_of_a_finished_run_and_of_one_still_waiting(client, trained_run, tmp_path):
    from fastapi.testclient import TestClient

    from lenetlab.web.app import create_app

    m = client.get("/api/metrics").json()
    assert m["state"] == "finished" and len(m["history"]) == 1 and m["model_epoch"] == 1
    empty = tmp_path / "soon"
    empty.mkdir()  # a run about to start: served, waiting for its first epoch
    waiting = TestClient(create_app(empty, lang="en"), base_url="http://127.0.0.1:8000")
    assert waiting.get("/api/metrics").json() == {"state": "unknown", "history": []}
    answer = waiting.get("/api/model")
    assert answer.status_code == 409 and "no finished epoch yet" in answer.json()["error"]


def test_declared_query_bounds_refuse_in_one_line(client):
    """Query bounds and the explain body are declared (FastAPI Query, a pydantic model), and refused in one line."""
    import typing

    from lenetlab.web.app import ProjectionMethod
    from lenetlab.web.projector import METHODS

    assert typing.get_args(ProjectionMethod) == METHODS
    for url, words in (("/api/cell?true=3&limit=5000", "limit: input should be less than or equal to 1000, got 5000"),
                       ("/api/cell?true=-1", "true: input should be greater than or equal to 0, got -1"),
                       ("/api/model?run=-2", "run: input should be greater than or equal to 0, got -2"),
                       ("/api/projection?method=umap", "method: input should be 'pca' or 'tsne', got 'umap'")):
        answer = client.get(url)
        assert answer.status_code == 422 and answer.json()["error"] == words, (url, answer.json())
    blank = [[0.0] * 28 for _ in range(28)]
    for body, words in (({"array": blank, "method": "x"}, "method: input should be 'saliency' or 'occlusion'"),
                        ({"array": blank, "method": "saliency", "target": True}, "target: input should be a valid"),
                        ({"array": blank, "method": "saliency", "target": 10}, '"target" must be a class number')):
        answer = client.post("/api/explain", json=body)
        assert answer.status_code == 422 and answer.json()["error"].startswith(words), (body, answer.json())
        assert "\n" not in answer.json()["error"]
