"""The draw-a-digit page's server: a FastAPI app around one checkpoint.

    GET  /              the page (static/index.html in the server's language; plain HTML, CSS and JS, no CDN)
    GET  /api/runs      the runs served (several: their curves overlay, a selector picks one); ?run=K on every route
    GET  /api/model     name, constructor arguments, parameters, layers, test accuracy of the run
    GET  /api/graph     the model as the page's JavaScript evaluates it (lenetlab.export.model_graph)
    GET  /api/filters   C1 at every epoch ``train --keep-filters`` kept, and a probe digit (the epoch scrubber)
    GET  /api/confusion best.pt's confusion matrix on the test set (rows: true class, columns: predicted)
    GET  /api/cell      ?true=4&predicted=9: the test images of that cell, most confident first
                        (no predicted: every misclassified image of class 4)
    GET  /api/metrics   the run's epochs so far, the current epoch and step, the time left (a run still training too)
    POST /api/predict   a PNG (multipart field ``image``, a raw ``image/png`` body, or JSON
                        ``{"image": "<base64 or data: URI>"}``) or JSON ``{"array": 28x28}``
                        -> probabilities, label, the 28x28 input the network saw, every layer's activations
    POST /api/explain   JSON ``{"array": 28x28, "method": "saliency" | "occlusion", "target": k}``
                        -> a 28x28 attribution map of that input for class k (the page's "why?" overlay)
    GET  /api/random    a real MNIST test digit and its label (``?index=N`` for a given one)
    GET  /api/projections  the representations the projector offers (pixels, C5, F6 / H1, H2), those computed
    GET  /api/projection   ?rep=c5&method=pca: every test image as a 2-d point in [-1, 1], its label and
                        prediction (t-SNE: 202 ``{"state": "computing"}`` until it is ready; see projector.py)
    GET  /api/sprite    every test digit in one grayscale PNG, tile i at column i % 100, row i // 100

Bad input is answered 4xx with ``{"error": "..."}`` and never reaches the model: bodies are capped
(``MAX_BODY_BYTES``) before they are read, images are measured from their header before they are
decoded, arrays are checked for shape and finite values. Requests from other sites and other host
names are refused (``guards.py``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
import random
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import anyio
import numpy as np
from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import ImageTooLarge, LenetlabError, NoDigitError
from ..predict import INPUT_SIZE
from ..preprocess import FORMATS, mnist_preprocess, open_image, to_grayscale
from ..registry import MAX_CLASSES
from .guards import LOOPBACK_NAMES, MAX_BODY_BYTES, BodySizeLimit, SameOrigin
from .served import ServedRun, expand_runs

STATIC_DIR = Path(__file__).with_name("static")
# Uploads are capped lower than `lenetlab predict`'s files: checked from the header, before decoding.
# A 2000x2000 photo passes (about 60 MB while it is decoded and preprocessed); resize larger ones.
MAX_IMAGE_PIXELS = 4_000_000
# Images up to this size (a canvas, a scan of one digit) are decoded at once; larger ones queue for
# one decoding slot, so N large uploads never take N times the memory nor delay the drawing page.
SMALL_IMAGE_PIXELS = 500 * 500


class BadInput(Exception):
    """A request the API refuses: the message names the problem and the fix; answered as JSON."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def decode_png(raw: bytes) -> np.ndarray:
    """Bytes of an image file -> float32 (H, W) grayscale in [0, 1], refusing bombs before decoding.

    Examples
    --------
    >>> from PIL import Image
    >>> buffer = io.BytesIO(); Image.new("L", (3, 2), 255).save(buffer, "PNG")
    >>> decode_png(buffer.getvalue()).shape
    (2, 3)
    """
    try:
        return to_grayscale(open_image(raw, MAX_IMAGE_PIXELS))
    except ImageTooLarge as exc:
        raise BadInput(f"{exc}; send a smaller one", status=413) from None
    except LenetlabError as exc:
        raise BadInput(str(exc)) from None


def parse_array(value: Any) -> np.ndarray:
    """A JSON 28x28 list of numbers (0-1, or 0-255) -> float32 (28, 28) in [0, 1], the network's input.

    Examples
    --------
    >>> parse_array([[0] * 28] * 28).shape
    (28, 28)
    """
    if not isinstance(value, list) or not all(isinstance(row, list) for row in value):
        raise BadInput('"array" must be a list of 28 lists of 28 numbers')
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for row in value for v in row):
        raise BadInput('"array" must hold numbers only (no strings, nulls or booleans)')
    lengths = sorted({len(row) for row in value})
    if len(value) != INPUT_SIZE or lengths != [INPUT_SIZE]:
        got = f"{len(value)}x{lengths[0]}" if len(lengths) == 1 else f"{len(value)} rows of lengths {lengths}"
        raise BadInput(f'"array" must be 28x28 (28 rows of 28 numbers), got {got}; resize it or send a PNG instead')
    try:
        array = np.asarray(value, dtype=np.float64)
    except OverflowError:  # an integer with hundreds of digits
        raise BadInput('"array" holds a number too large; send numbers between 0 and 1 (or 0 and 255)') from None
    if not np.isfinite(array).all():
        raise BadInput('"array" holds NaN or infinite values; send finite numbers between 0 and 1 (or 0 and 255)')
    if array.min() < 0 or array.max() > 255:
        raise BadInput(f'"array" values must lie in [0, 1] or [0, 255], got {array.min():g} to {array.max():g}')
    if array.max() > 1.0:
        array = array / 255.0
    return array.astype(np.float32)


def _decode_base64(text: Any) -> bytes:
    if not isinstance(text, str):
        raise BadInput('"image" must be a base64 string or a data: URI of a PNG')
    if text.startswith("data:"):
        text = text.split(",", 1)[1] if "," in text else ""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise BadInput('"image" is not valid base64; send the PNG as base64 or as a data: URI') from None


class _Lanes:
    """Where bodies are decoded, off the event loop: small ones in their own slots, large ones one at a time.

    Images and JSON alike: 8 JSON arrays of 4.8 MB parsed on the event loop once made an unrelated GET
    wait 1.6 s (median); in a worker thread of the large lane they wait for each other, not for it.
    """

    def __init__(self) -> None:
        self.small = anyio.CapacityLimiter(4)
        self.large = anyio.CapacityLimiter(1)

    async def to_input(self, raw: bytes) -> np.ndarray:
        """An uploaded image as the network's (28, 28) input: decoded and preprocessed in a worker thread."""
        limiter = self.small if _declared_pixels(raw) <= SMALL_IMAGE_PIXELS else self.large
        return await anyio.to_thread.run_sync(lambda: _preprocess(decode_png(raw)), limiter=limiter)

    async def json_object(self, content_type: str, body: bytes, what_to_send: str) -> dict[str, Any]:
        """:func:`_json_object` in a worker thread of the lane the body's size calls for."""
        limiter = self.small if len(body) <= SMALL_JSON_BYTES else self.large
        return await anyio.to_thread.run_sync(lambda: _json_object(content_type, body, what_to_send), limiter=limiter)

    async def array(self, value: Any) -> np.ndarray:
        """:func:`parse_array` (28x28 numbers, checked) in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: parse_array(value), limiter=self.small)


SMALL_JSON_BYTES = 64 * 1024  # a 28x28 array as JSON is about 10 KB
MAX_CELL_IMAGES = 1000  # the page asks for 200; each is 784 numbers of JSON


def _declared_pixels(raw: bytes) -> int:
    """Width x height from the image's header (0 when unreadable: decode_png then says why, cheaply)."""
    try:
        with Image.open(io.BytesIO(raw), formats=FORMATS) as image:
            return image.width * image.height
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        return 0


EXPLAIN_METHODS = ("saliency", "occlusion")
ProjectionMethod = Literal["pca", "tsne"]  # projector.METHODS (a test keeps the two equal)
# Declared bounds of every query parameter (FastAPI checks them; _validation_error words the refusal).
# A class number is checked against the run's own classes after this (registry.MAX_CLASSES bounds it here).
RunIndex = Annotated[int, Query(ge=0, le=1000, description="which of the served runs (0 = the first)")]
ClassNumber = Annotated[int, Query(ge=0, le=MAX_CLASSES - 1)]


class ExplainRequest(BaseModel):
    """The body of POST /api/explain, checked field by field (the array's shape and values by parse_array)."""

    model_config = ConfigDict(extra="ignore", strict=True)
    method: Literal[EXPLAIN_METHODS]  # type: ignore[valid-type]
    target: int | None = Field(default=None, ge=0, le=MAX_CLASSES - 1)
    array: Any = None
_EXPLAIN = ('send JSON (application/json) {"array": the 28x28 input /api/predict returned, '
            '"method": "saliency" or "occlusion", "target": a class (optional)}')
_WHAT_TO_SEND = ('send a PNG (image/png, or multipart field "image"), or JSON (application/json) '
                 '{"image": base64 PNG} or {"array": 28x28 numbers}')


async def _read_input(request: Request, lanes: _Lanes) -> np.ndarray:
    """The request's image or array as the network's (28, 28) input, preprocessed like ``predict``."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        try:
            form = await request.form(max_files=1, max_fields=4)
        except Exception:  # noqa: BLE001 - python-multipart raises several types for broken bodies
            raise BadInput("the multipart body cannot be parsed; send the PNG in a form field named 'image'") from None
        upload = form.get("image")
        if upload is None or isinstance(upload, str):
            raise BadInput("no file in the form field 'image'; send the PNG as multipart field 'image'")
        return await lanes.to_input(await upload.read())
    body = await request.body()
    if content_type.startswith("image/") or (not content_type and body[:8] == b"\x89PNG\r\n\x1a\n"):
        return await lanes.to_input(body)
    payload = await lanes.json_object(content_type, body, _WHAT_TO_SEND)
    if "array" in payload:
        array = await lanes.array(payload["array"])
        return _preprocess(array) if payload.get("preprocess") is True else array
    if "image" in payload:
        return await lanes.to_input(_decode_base64(payload["image"]))
    raise BadInput('the JSON object needs an "image" (base64 PNG) or an "array" (28x28 numbers) key')


_FOLDERS = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/:;,'\"()]+[\\/])+(?=[^\s\\/:;,'\"()])")


def refusal(errors: list[dict[str, Any]]) -> str:
    """A declared constraint's refusal in one line: what was wrong, what is accepted, what was sent.

    >>> refusal([{"loc": ("query", "limit"), "msg": "Input should be less than or equal to 1000", "input": "5000"}])
    'limit: input should be less than or equal to 1000, got 5000'
    """
    first = errors[0] if errors else {}
    where = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "body"))
    message = str(first.get("msg", "bad value"))
    got = first.get("input")
    number = isinstance(got, str) and re.fullmatch(r"[-+]?\d+(\.\d*)?", got)
    shown = "" if got is None or isinstance(got, dict | list) else f", got {got if number else repr(got)}"
    return f"{where or 'request'}: {message[:1].lower()}{message[1:]}{shown}"


def without_folders(message: str) -> str:
    r"""``message`` with each absolute path cut to its last part: a reply never tells where the runs live.

    >>> without_folders("/home/ada/runs/lenet5/config.json is damaged; C:\\Users\\ada\\data moved")
    'config.json is damaged; data moved'
    """
    return _FOLDERS.sub("", message)


def _json_object(content_type: str, body: bytes, what_to_send: str) -> dict[str, Any]:
    """A JSON object from a body sent as application/json, or a 4xx saying what to send."""
    if content_type != "application/json":
        # JSON only as application/json: a page on another site can post text/plain without asking first.
        raise BadInput(f"unsupported content type {content_type or '(none)'}; {what_to_send}", status=415)
    if not body:
        raise BadInput(f"the request body is empty; {what_to_send}", status=400)
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: absurdly nested JSON
        raise BadInput(f"the body is not valid JSON; {what_to_send}", status=400) from None
    if not isinstance(payload, dict):
        raise BadInput(f"the JSON body must be an object; {what_to_send}")
    return payload


def _preprocess(gray: np.ndarray) -> np.ndarray:
    try:
        return mnist_preprocess(gray)
    except NoDigitError:
        raise BadInput("the image holds no visible digit; draw a digit first") from None
    except LenetlabError as exc:
        raise BadInput(str(exc)) from None


def create_app(checkpoint_path: str | Path | list[str | Path], hosts: tuple[str, ...] = LOOPBACK_NAMES,
               lang: str | None = None) -> FastAPI:
    """The draw-a-digit app for a run directory or a ``.pt`` checkpoint (or several, or a folder of runs:
    their curves overlay and a selector picks the one the drawing panel uses), answering to the ``hosts``
    names, its page in ``lang`` (``fr`` or ``en``; default: the system's language).

    Every ``/api`` route takes ``?run=K`` (default 0), the run's position in the list.

    Raises :class:`LenetlabError` when the checkpoint cannot be served.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> app = create_app("runs/lenet5-20261126-101500")                 # doctest: +SKIP
    >>> client = TestClient(app, base_url="http://127.0.0.1")           # doctest: +SKIP
    >>> client.get("/api/model").json()["parameters"]                    # doctest: +SKIP
    61706
    """
    from ..i18n import check_lang
    from ..page import render_page

    runs = [ServedRun(path) for path in expand_runs(checkpoint_path)]
    page = render_page(check_lang(lang))
    lanes = _Lanes()
    app = FastAPI(title="lenetlab: draw a digit", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.runs = runs

    def pick(run: int) -> ServedRun:
        if not 0 <= run < len(runs):
            raise BadInput(f"run must be between 0 and {len(runs) - 1} (the runs this server was given), got {run}")
        return runs[run]
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    app.add_middleware(SameOrigin, hosts=hosts)  # added last, so it runs first

    @app.exception_handler(BadInput)
    async def _bad_input(request: Request, exc: BadInput) -> JSONResponse:
        return JSONResponse({"error": str(exc)}, status_code=exc.status)

    @app.exception_handler(LenetlabError)
    async def _run_problem(request: Request, exc: LenetlabError) -> JSONResponse:  # the run, not the request
        return JSONResponse({"error": without_folders(str(exc))}, status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = "no such page; the API is /api/runs, /api/model, /api/graph, /api/metrics, /api/filters, /api/confusion, /api/cell, /api/projections, /api/projection, /api/sprite, /api/predict, /api/explain and /api/random" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse({"error": message}, status_code=exc.status_code)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"error": refusal(exc.errors())}, status_code=422)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:  # a bug, not the client's fault
        return JSONResponse({"error": f"internal error ({exc.__class__.__name__}); the server keeps running"},
                            status_code=500)

    @app.get("/", include_in_schema=False)
    async def index() -> HTMLResponse:
        return HTMLResponse(page)

    @app.get("/api/runs")
    async def run_list() -> list[dict[str, Any]]:
        return [{"run": k, "name": r.run.path.name, "checkpoint": r.checkpoint} for k, r in enumerate(runs)]

    @app.get("/api/model")
    async def model_info(run: RunIndex = 0) -> dict[str, Any]:
        return await run_in_threadpool(pick(run).describe)

    @app.get("/api/graph")
    async def model_graph_json(run: RunIndex = 0) -> dict[str, Any]:
        served = pick(run)
        predictor = await run_in_threadpool(lambda: served.predictor)
        if served.graph is None:
            raise BadInput(f"{predictor.name} has no JavaScript version; the page uses the server's numbers", 404)
        return served.graph

    @app.get("/api/metrics")
    async def training_metrics(run: RunIndex = 0) -> dict[str, Any]:
        return await run_in_threadpool(pick(run).training)

    @app.post("/api/predict")
    async def predict(request: Request, run: RunIndex = 0) -> dict[str, Any]:
        served = pick(run)
        x = await _read_input(request, lanes)
        return await run_in_threadpool(served.predict, x)

    @app.post("/api/explain")
    async def explain(request: Request, run: RunIndex = 0) -> dict[str, Any]:
        served = pick(run)
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        payload = await lanes.json_object(content_type, await request.body(), _EXPLAIN)
        try:
            body = ExplainRequest.model_validate(payload)
        except ValidationError as exc:
            raise BadInput(f"{refusal(exc.errors())}; {_EXPLAIN}") from None
        n_classes = len(served.predictor.class_names)
        if body.target is not None and body.target >= n_classes:
            raise BadInput(f'"target" must be a class number from 0 to {n_classes - 1}, or absent (the prediction)')
        x = await lanes.array(body.array)
        return await run_in_threadpool(served.explain, x, body.method, body.target)

    @app.get("/api/filters")
    async def filters_over_epochs(run: RunIndex = 0) -> dict[str, Any]:
        return await run_in_threadpool(pick(run).filter_epochs)

    @app.get("/api/confusion")
    async def confusion_matrix(run: RunIndex = 0) -> dict[str, Any]:
        return await run_in_threadpool(pick(run).confusion)

    @app.get("/api/cell")
    async def confusion_cell(true: ClassNumber, predicted: ClassNumber | None = None,
                             limit: Annotated[int, Query(ge=1, le=MAX_CELL_IMAGES)] = 200,
                             run: RunIndex = 0) -> dict[str, Any]:
        served = pick(run)
        k = len((await run_in_threadpool(lambda: served.predictor)).class_names)
        if not (true < k and (predicted is None or predicted < k)):
            raise BadInput(f"true and predicted must be class numbers from 0 to {k - 1}")
        return await run_in_threadpool(served.cell, true, predicted, limit)

    @app.get("/api/random")
    async def random_test_image(index: Annotated[int | None, Query(ge=0)] = None,
                                run: RunIndex = 0) -> dict[str, Any]:
        served = pick(run)
        test = await run_in_threadpool(served.test_set)
        n = len(test)
        if index is None:
            index = random.randrange(n)
        elif index >= n:
            raise BadInput(f"index must be between 0 and {n - 1}, got {index}")
        label = int(test.labels[index])
        return {
            "index": index,
            "label": label,
            "class_name": served.predictor.class_names[label] if label < len(served.predictor.class_names) else str(label),
            "image": test.images[index].tolist(),  # uint8 0-255, as stored in the IDX file
        }

    @app.get("/api/projections")
    async def projection_list(run: RunIndex = 0) -> dict[str, Any]:
        return await run_in_threadpool(pick(run).projections)

    @app.get("/api/projection")
    async def projection(rep: Annotated[str, Query(max_length=64)] = "pixels",
                         method: ProjectionMethod = "pca", run: RunIndex = 0) -> Response:
        served = pick(run)
        keys = [r["key"] for r in served.representations(await run_in_threadpool(lambda: served.predictor))]
        if rep not in keys:
            raise BadInput(f"rep must be one of {', '.join(keys)} for this run's model, got {rep!r}")
        answer = await run_in_threadpool(served.projection, rep, method)
        if answer.get("state") == "computing":
            return JSONResponse(answer, status_code=202)
        # 10,000 points: serialised once here, not walked again by FastAPI's encoder
        return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json")

    @app.get("/api/sprite")
    async def sprite(run: RunIndex = 0) -> Response:
        return Response(await run_in_threadpool(pick(run).sprite), media_type="image/png")

    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app
