"""A classifier's endpoint on the server (:mod:`rnnkit.serve.app`):

    POST /predict   {"texts": [...], "top_k": k}  ->  {"predictions": [...], "model": ...}
    GET  /health    with how many batches and texts the model has run

Requests are batched with the other requests waiting (:mod:`rnnkit.serve.batcher`). A text
count or text over the limits is a 413, an empty text a 422. A text the model gives NaN or
infinite outputs for (damaged weights) is a 500 that says so, never a NaN in the JSON.
"""

from __future__ import annotations

import functools
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from rnnkit.bundle import FORMAT_VERSION
from rnnkit.errors import PredictionError
from rnnkit.serve.app import Endpoint
from rnnkit.serve.batcher import Batcher
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import HttpError, check_text_list
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


def _info(clf: TextClassifier, model: Path, config: ServeConfig) -> dict[str, Any]:
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
        "server": {
            "max_batch": config.max_batch,
            "max_chars": config.max_chars,
            "batching": config.batching,
        },
    }


def create_endpoint(config: ServeConfig) -> Endpoint:
    """A classifier's endpoint: POST /predict, its texts batched with other requests'."""
    clf = TextClassifier.load(config.model)
    clf.device = config.device
    labels = [str(c) for c in clf.classes_]
    info = _info(clf, Path(config.model), config)
    torch.set_num_threads(config.torch_threads)
    batcher = Batcher(
        functools.partial(clf.predict_proba, check_finite=False),
        max_batch=config.max_batch,
        wait=config.batch_wait_ms / 1000,
        enabled=config.batching,
    )

    async def respond(request: PredictRequest) -> bytes:
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

    return Endpoint(
        summary=f"Text classification with the rnnkit model {info['model']}",
        info=info,
        request=PredictRequest,
        response=PredictResponse,
        example='{"texts": ["..."]}',
        body_limit=config.max_body_bytes,
        body_flags="--max-batch x --max-chars",
        counters=lambda: {"batches": batcher.batches, "texts": batcher.texts},
        respond=respond,
        start=batcher.start,
        stop=batcher.stop,
    )


def _prediction(row: np.ndarray, labels: list[str], top_k: int | None) -> dict[str, Any]:
    """One row of PredictResponse.predictions."""
    order = row.argsort()[::-1][:top_k]
    return {
        "label": labels[order[0]],
        "score": float(row[order[0]]),
        "probs": {labels[i]: float(row[i]) for i in order},
    }
