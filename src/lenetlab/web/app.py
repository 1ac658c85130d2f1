"""The draw-a-digit page's server: a FastAPI app around one checkpoint.

    GET  /              the page (static/index.html in the server's language; plain HTML, CSS and JS, no CDN)
    GET  /api/runs      the runs served (several: their curves overlay, a selector picks one); ?run=K on every route
    GET  /api/model     name, constructor arguments, parameters, layers, test accuracy of the run
    GET  /api/graph     the model as the page's JavaScript evaluates it (lenetlab.graph.model_graph)
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
decoded, arrays are checked for shape and finite values (``inputs.py``). Requests from other sites and
other host names are refused (``guards.py``).
"""

from __future__ import annotations

import json
import random
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import LenetlabError
from ..i18n import check_lang
from ..page import render_page
from ..registry import MAX_CLASSES
from .guards import LOOPBACK_NAMES, MAX_BODY_BYTES, BodySizeLimit, SameOrigin
from .inputs import (  # noqa: F401 - app's names before inputs.py was split out
    MAX_IMAGE_PIXELS,
    SMALL_IMAGE_PIXELS,
    BadInput,
    Lanes,
    decode_png,
    parse_array,
    read_input,
    refusal,
)
from .served import ServedRun, expand_runs

STATIC_DIR = Path(__file__).with_name("static")
MAX_CELL_IMAGES = 1000  # the page asks for 200; each is 784 numbers of JSON
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


_FOLDERS = re.compile(r"(?:[A-Za-z]:)?[\\/](?:[^\s\\/:;,'\"()]+[\\/])+(?=[^\s\\/:;,'\"()])")


def without_folders(message: str) -> str:
    r"""``message`` with each absolute path cut to its last part: a reply never tells where the runs live.

    >>> without_folders("/home/ada/runs/lenet5/config.json is damaged; C:\\Users\\ada\\data moved")
    'config.json is damaged; data moved'
    """
    return _FOLDERS.sub("", message)


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
    >>> app = create_app("runs/lenet5-20261126-101500")
    >>> client = TestClient(app, base_url="http://127.0.0.1")
    >>> client.get("/api/model").json()["parameters"]
    61706
    """
    runs = [ServedRun(path) for path in expand_runs(checkpoint_path)]
    page = render_page(check_lang(lang))
    lanes = Lanes()
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
        x = await read_input(request, lanes)
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
