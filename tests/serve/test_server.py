"""``rnnkit serve`` as a real subprocess, hit by a real HTTP client."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY, make_texts

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from tests.serve.server import Server

KEY = "test-key-123"
AUTH = {"x-api-key": KEY}


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnkit import TextClassifier

    texts, labels = make_texts(300)
    clf = TextClassifier(
        embed_dim=TINY["embed_dim"],
        hidden=TINY["hidden"],
        epochs=3,
        batch_size=TINY["batch_size"],
        lr=TINY["lr"],
    ).fit(texts, labels)
    return clf.save(tmp_path_factory.mktemp("serve") / "model")


@pytest.fixture(scope="module")
def server(model: Path) -> Iterator[Server]:
    running = Server(model, "--api-key", KEY, "--max-batch", "8", "--max-chars", "200")
    yield running
    running.stop()


def test_predict_returns_the_models_probabilities_in_order(server: Server, model: Path) -> None:
    from rnnkit import TextClassifier

    texts, _ = make_texts(6, seed=3)
    status, body = server.request("POST", "/predict", {"texts": texts}, AUTH)
    assert status == 200, body
    assert body["model"] == "model"
    expected = TextClassifier.load(model).predict_proba(texts)
    for row, probs in zip(body["predictions"], expected, strict=True):
        assert row["probs"] == pytest.approx(
            dict(zip(["neg", "pos"], probs.tolist(), strict=True)), abs=1e-6
        )
        assert row["label"] == ["neg", "pos"][int(probs.argmax())]
        assert row["score"] == pytest.approx(float(probs.max()), abs=1e-6)
    status, body = server.request("POST", "/predict", {"texts": texts[:1], "top_k": 1}, AUTH)
    assert status == 200
    assert list(body["predictions"][0]["probs"]) == [body["predictions"][0]["label"]]


def test_health_info_and_openapi(server: Server) -> None:
    status, health = server.request("GET", "/health")
    assert status == 200
    assert health["status"] == "ok"
    status, info = server.request("GET", "/info", headers=AUTH)
    assert status == 200
    assert info["labels"] == ["neg", "pos"]
    assert info["format_version"] == 2
    assert info["configuration"]["model"]["hidden_size"] == TINY["hidden"]
    assert info["server"] == {"max_batch": 8, "max_chars": 200, "batching": True}
    status, schema = server.request("GET", "/openapi.json")
    assert status == 200
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert "texts" in body["schema"]["properties"]


BAD_REQUESTS = {
    "invalid JSON": (b'{"texts": ["a"', 400, "invalid JSON: Expecting"),
    "not UTF-8": (b'{"texts": ["\xff"]}', 400, "the body is not UTF-8"),
    "not an object": ([1, 2], 422, 'expected a JSON object such as {"texts"'),
    "no texts": ({}, 422, "texts: Field required"),
    "texts not a list": ({"texts": "a film"}, 422, "texts: Input should be a valid list"),
    "a text not a string": ({"texts": ["ok", 3]}, 422, "texts[1]: Input should be a valid string"),
    "empty list": ({"texts": []}, 422, "texts: the list is empty"),
    "empty text": ({"texts": ["fine", "  "]}, 422, "texts[1]: empty text"),
    "top_k zero": ({"texts": ["ok"], "top_k": 0}, 422, "top_k: Input should be greater"),
    "unknown field": ({"texts": ["ok"], "text": "x"}, 422, "text: Extra inputs"),
    "too many texts": ({"texts": ["ok"] * 9}, 413, "9 texts is over the limit of 8 (--max-batch)"),
    "text too long": ({"texts": ["ok", "a" * 201]}, 413, "texts[1]: 201 characters is over"),
    "body too large": (b"x" * 20_000, 413, "request body of 20,000 bytes is over the limit of"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_stays_up(
    server: Server, case: str
) -> None:
    body, status, message = BAD_REQUESTS[case]
    got_status, got = server.request("POST", "/predict", body, AUTH)
    assert got_status == status, got
    assert message in got["detail"]
    assert server.request("POST", "/predict", {"texts": ["good"]}, AUTH)[0] == 200


def test_the_api_key_is_required_and_checked(server: Server) -> None:
    request = {"texts": ["a good film"]}
    status, body = server.request("POST", "/predict", request)
    assert (status, body["detail"]) == (401, "missing API key: send the header X-API-Key: KEY")
    status, body = server.request("POST", "/predict", request, {"x-api-key": KEY + "x"})
    assert (status, body["detail"]) == (401, "wrong API key")
    assert server.request("GET", "/info", headers={"x-api-key": "nope"})[0] == 401
    assert server.request("POST", "/predict", request, {"authorization": f"Bearer {KEY}"})[0] == 200
    assert server.request("GET", "/health")[0] == 200  # open, for load balancers


def test_concurrent_requests_are_batched_and_each_gets_its_own_answer(
    server: Server, model: Path
) -> None:
    from rnnkit import TextClassifier

    texts, _ = make_texts(64, seed=4)
    expected = TextClassifier.load(model).predict_proba(texts)
    before = server.request("GET", "/health")[1]
    results: dict[int, list[float]] = {}

    def client(i: int) -> None:
        for j in range(i, len(texts), 16):
            status, body = server.request("POST", "/predict", {"texts": [texts[j]]}, AUTH)
            assert status == 200
            results[j] = [body["predictions"][0]["probs"][k] for k in ("neg", "pos")]

    threads = [threading.Thread(target=client, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == list(range(len(texts)))
    np.testing.assert_allclose([results[j] for j in range(len(texts))], expected, atol=1e-6)
    after = server.request("GET", "/health")[1]
    assert after["texts"] - before["texts"] == len(texts)
    assert after["batches"] - before["batches"] < len(texts)  # some requests shared a batch


def test_all_interfaces_warn_and_workers_serve(model: Path) -> None:
    running = Server(model, "--workers", "2", "--no-batching", host="0.0.0.0")
    try:
        status, body = running.request("POST", "/predict", {"texts": ["a good film"]})
        assert status == 200, body
    finally:
        stderr = running.stop()
    assert "warning: listening on all interfaces (0.0.0.0)" in stderr
    assert "set --api-key" in stderr


def test_a_bad_model_or_option_fails_before_listening(tmp_path: Path) -> None:
    from tests.test_cli import assert_user_error, rnnkit

    assert_user_error(rnnkit("serve", str(tmp_path / "none")), "no such model folder")
    assert_user_error(
        rnnkit("serve", str(tmp_path), "--api-key", "short"), "--api-key must be at least 8"
    )
