"""The ASGI application in-process: the hand-written POST /predict and FastAPI's own route
answer alike, and a failing model call is a 500 that leaves the server answering."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import TINY, make_texts

pytest.importorskip("fastapi", reason="the serve extra is not installed")

from rnnkit import TextClassifier
from rnnkit.serve.app import RouteFirst, create_app
from rnnkit.serve.config import ServeConfig


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    texts, labels = make_texts(200)
    clf = TextClassifier(
        embed_dim=TINY["embed_dim"], hidden=TINY["hidden"], epochs=1, lr=TINY["lr"]
    ).fit(texts, labels)
    return clf.save(tmp_path_factory.mktemp("app") / "model")


@pytest.fixture
def app(model: Path) -> RouteFirst:
    created = create_app(ServeConfig(model=str(model), max_batch=4, max_chars=50))
    assert isinstance(created, RouteFirst)
    return created


def call(asgi: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One HTTP request through ``asgi``, as a server would deliver it."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    incoming = [{"type": "http.request", "body": raw, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(asgi(scope, receive, send))
    assert sent[0]["type"] == "http.response.start"
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"texts": ["a good film", "a bad film"], "top_k": 1}, 200),
        ({"texts": ["x"] * 5}, 413),
        ({"texts": ["y" * 51]}, 413),
        ({"texts": [" "]}, 422),
        ({"texts": "a film"}, 422),
        (b"{not json", 400),
    ],
)
def test_the_fast_path_and_fastapis_route_answer_alike(
    app: RouteFirst, body: Any, status: int
) -> None:
    fast = call(app, "POST", "/predict", body)
    routed = call(app.api, "POST", "/predict", body)
    assert fast == routed
    assert fast[0] == status
    if status == 200:
        assert len(fast[1]["predictions"]) == 2
        assert fast[1]["model"] == "model"
    else:
        assert fast[1]["detail"]


def test_other_paths_go_to_fastapi(app: RouteFirst) -> None:
    assert call(app, "GET", "/health", b"")[1]["status"] == "ok"
    assert call(app, "GET", "/predict", b"")[0] == 405
    assert call(app, "POST", "/nowhere", {})[0] == 404


@pytest.mark.parametrize(
    ("path", "served"),
    [
        ("/generate", "/generate is served for language models"),
        ("/translate", "/translate is served for translators"),
    ],
)
def test_other_tasks_endpoints_on_a_classifier_say_to_use_predict(
    app: RouteFirst, path: str, served: str
) -> None:
    status, body = call(app, "POST", path, {"texts": ["a"]})
    assert status == 404
    assert body["detail"].startswith('model is a classifier: POST /predict with {"texts"')
    assert body["detail"].endswith(served)
    assert call(app, "GET", "/info", b"")[1]["task"] == "classification"


def test_a_failing_model_call_is_a_500_and_the_next_request_is_answered(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    predict_proba = TextClassifier.predict_proba

    def failing(self: TextClassifier, texts: list[str], **options: Any) -> Any:
        if "boom" in texts:
            raise RuntimeError("model failure")
        return predict_proba(self, texts, **options)

    monkeypatch.setattr(TextClassifier, "predict_proba", failing)
    app = create_app(ServeConfig(model=str(model)))
    status, body = call(app, "POST", "/predict", {"texts": ["boom"]})
    assert (status, body) == (500, {"detail": "internal error: see the server's log"})
    assert call(app, "POST", "/predict", {"texts": ["a good film"]})[0] == 200
