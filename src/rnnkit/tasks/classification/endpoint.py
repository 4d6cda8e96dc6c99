"""A classifier's HTTP endpoint:

    POST /predict   {"texts": [...], "top_k": k}  ->  {"predictions": [...], "model": ...}
    GET  /health    liveness, and how many batches and texts the model has run
    GET  /info      task, labels, configuration, metrics and bundle format version

Every bad request gets a 4xx with a ``detail`` message: invalid or too deeply nested JSON (400),
a missing or wrong API key (401), a body, text count or text over the limits (413), wrong types
or empty texts (422). Nothing a client sends takes the server down. A text the model gives NaN
or infinite outputs for (damaged weights) is a 500 that says so, never a NaN in the JSON.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from rnnkit.bundle import FORMAT_VERSION
from rnnkit.errors import PredictionError
from rnnkit.serve.batcher import Batcher
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import (
    JSON,
    HttpError,
    check_key,
    check_text_list,
    chunks,
    error_body,
    error_response,
    parse,
    read_texts_body,
    refuse_other_endpoints,
    send_json,
)
from rnnkit.tasks.classification.estimator import TextClassifier
from rnnkit.tasks.classification.options import NAME
from rnnkit.validation import finite_rows

log = logging.getLogger(__name__)


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(description="texts to label, at most --max-batch")
    top_k: StrictInt | None = Field(
        default=None, ge=1, description="list only the k most likely labels in probs"
    )


class Prediction(BaseModel):
    label: str
    score: float
    probs: dict[str, float]


class PredictResponse(BaseModel):
    predictions: list[Prediction]
    model: str


def _info(clf: TextClassifier, model: Path) -> dict[str, Any]:
    """What GET /info reports, from the loaded classifier (the bundle's own configuration)."""
    return {
        "model": model.name,
        "format_version": FORMAT_VERSION,
        "task": NAME,
        "labels": [str(c) for c in clf.classes_],
        "configuration": {
            "model": asdict(clf.model_.config),
            "data": asdict(clf.data_config()),
            "training": asdict(clf.train_config()),
        },
        "vocabulary_size": len(clf.vocab_),
        "metrics": clf.metrics_,
    }


def create_predict_app(config: ServeConfig) -> PredictFirst:
    """A classifier's ASGI application: FastAPI, with POST /predict in front."""
    clf = TextClassifier.load(config.model)
    clf.device = config.device
    labels = [str(c) for c in clf.classes_]
    info = _info(clf, Path(config.model))
    torch.set_num_threads(config.torch_threads)
    batcher = Batcher(
        functools.partial(clf.predict_proba, check_finite=False),
        max_batch=config.max_batch,
        wait=config.batch_wait_ms / 1000,
        enabled=config.batching,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await batcher.start()
        yield
        await batcher.stop()

    app = FastAPI(
        title="rnnkit",
        summary=f"Text classification with the rnnkit model {info['model']}",
        lifespan=lifespan,
    )

    app.add_exception_handler(HttpError, error_response)

    async def answer(headers: Headers, body: AsyncIterator[bytes]) -> bytes:
        """The JSON answer to POST /predict; HttpError for a bad request."""
        check_key(config.api_key, headers)
        raw = await read_texts_body(headers, body, config)
        request = parse(raw, PredictRequest, '{"texts": ["..."]}')
        check_text_list(request.texts, config.max_batch, config.max_chars)
        probs = await batcher.predict(request.texts)
        try:
            finite_rows(probs)
        except PredictionError as error:
            bad = error.rows
            where = ", ".join(f"texts[{i}]" for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
            log.error("the model gave NaN or infinite outputs for %s", where)
            raise HttpError(
                500,
                f"the model gave NaN or infinite outputs for {where}: its weights are damaged "
                "or its training diverged; the server's operator must replace the model",
            ) from None
        payload = {
            "predictions": [_prediction(row, labels, request.top_k) for row in probs],
            "model": info["model"],
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {"status": "ok", "batches": batcher.batches, "texts": batcher.texts}

    @app.get("/info")
    async def get_info(request: Request) -> dict[str, Any]:
        check_key(config.api_key, request.headers)
        return {
            **info,
            "server": {
                "max_batch": config.max_batch,
                "max_chars": config.max_chars,
                "batching": config.batching,
            },
        }

    @app.post(
        "/predict",
        response_model=PredictResponse,
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": PredictRequest.model_json_schema()}},
            }
        },
    )
    async def predict(request: Request) -> Response:
        # Documents the route; requests reach it only where this FastAPI application is used
        # without the PredictFirst wrapper create_app returns.
        return Response(await answer(request.headers, request.stream()), media_type=JSON)

    refuse_other_endpoints(app, info["model"], NAME)

    return PredictFirst(app, answer)


class PredictFirst:
    """The ASGI application ``rnnkit serve`` runs: POST /predict straight from the ASGI
    messages, everything else through FastAPI. FastAPI's middleware, routing and request
    objects cost more per request than the model's share of a short text in a batch
    (RESULTS.md ``serve-load`` times the HTTP stack alone both ways; design.md, decision 22)."""

    def __init__(
        self, api: FastAPI, answer: Callable[[Headers, AsyncIterator[bytes]], Awaitable[bytes]]
    ) -> None:
        self.api, self.answer = api, answer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/predict" or scope["method"] != "POST":
            await self.api(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            status, body = 200, await self.answer(headers, chunks(receive))
        except HttpError as error:
            status, body = error.status, error_body(error.detail)
        except Exception:  # the client gets a 500, the server stays up
            log.exception("POST /predict failed")
            status, body = 500, error_body("internal error: see the server's log")
        await send_json(send, status, body)


def _prediction(row: np.ndarray, labels: list[str], top_k: int | None) -> dict[str, Any]:
    """One row of PredictResponse.predictions."""
    order = row.argsort()[::-1][:top_k]
    return {
        "label": labels[order[0]],
        "score": float(row[order[0]]),
        "probs": {labels[i]: float(row[i]) for i in order},
    }
