"""``rnnkit serve`` on a language model, as a real subprocess hit by real HTTP clients: POST
/generate equals ``LanguageModel.generate``, streamed or not; bad requests; a client that
disconnects mid-stream; /info; /predict refused."""

from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from tests.serve.server import Server

KEY = "test-key-123"
AUTH = {"x-api-key": KEY}
TEXT = "the quick brown fox jumps over the lazy dog. " * 50
LIMIT = 20_000  # --max-tokens: a greedy generation this long runs for seconds


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnkit import LanguageModel

    lm = LanguageModel(
        unit="char", hidden=32, embed_dim=16, epochs=1, max_steps=20, batch_size=4, window=16
    ).fit([TEXT])
    return lm.save(tmp_path_factory.mktemp("serve-lm") / "model")


@pytest.fixture(scope="module")
def server(model: Path) -> Iterator[Server]:
    running = Server(
        model, "--api-key", KEY, "--max-prompt-chars", "100", "--max-tokens", str(LIMIT)
    )
    yield running
    assert "(POST /generate, docs at /docs)" in running.stop()


def events(server: Server, body: dict[str, Any]) -> tuple[str, list[tuple[str, Any]]]:
    """POST /generate with ``body`` and read its server-sent events to the end: the content
    type and ``(event name, decoded data)`` in order."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    try:
        headers = {"content-type": "application/json", **AUTH}
        connection.request("POST", "/generate", json.dumps(body), headers)
        response = connection.getresponse()
        assert response.status == 200, response.read()
        found: list[tuple[str, Any]] = []
        name, data = "message", None
        for raw in response:
            line = raw.decode().rstrip("\n")
            if not line:  # a blank line ends an event
                found.append((name, data))
                name, data = "message", None
            elif line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                data = json.loads(line[6:])
        return response.headers["content-type"], found
    finally:
        connection.close()


REQUESTS = [
    {"prompt": "the ", "max_tokens": 60, "temperature": 0.8, "top_k": 10, "seed": 3},
    {"prompt": "", "top_p": 0.9, "seed": 0},
    {"prompt": "the qu", "max_tokens": 30, "temperature": 0, "stop": "o"},
    {"prompt": "lazy", "max_tokens": 1, "temperature": 1.5, "seed": 7},
]


def expected(model: Path, request: dict[str, Any]) -> tuple[str, int]:
    """The library's text for ``request`` (the server's defaults where it sends none), and
    the tokens it draws."""
    from rnnkit import LanguageModel
    from rnnkit.tasks.language_model.generation import Sampling

    lm = LanguageModel.load(model)
    prompt = request.get("prompt", "")
    options = {k: request.get(k, v) for k, v in (("max_tokens", 200), ("seed", None))}
    options["stop"] = request.get("stop")
    sampling = {k: request.get(k, v) for k, v in (("temperature", 1.0), ("top_k", None))}
    sampling["top_p"] = request.get("top_p")
    text = lm.generate(prompt, **options, **sampling)[0]
    return text, len(list(lm.stream(prompt, sampling=Sampling(**sampling), **options)))


@pytest.mark.parametrize("request_body", REQUESTS, ids=range(len(REQUESTS)))
def test_generate_equals_the_library_streamed_or_not(
    server: Server, model: Path, request_body: dict[str, Any]
) -> None:
    text, tokens = expected(model, request_body)
    status, body = server.request("POST", "/generate", request_body, AUTH)
    assert status == 200, body
    assert body == {"text": text, "tokens": tokens, "model": "model"}

    content_type, found = events(server, {**request_body, "stream": True})
    assert content_type.startswith("text/event-stream")
    assert found[-1] == ("done", {"done": True, "tokens": tokens})
    pieces = found[:-1]
    assert len(pieces) == tokens  # one event per token
    assert all(name == "message" for name, _ in pieces)
    assert "".join(data["text"] for _, data in pieces) == text


def test_concurrent_generations_each_get_their_own_text(server: Server, model: Path) -> None:
    requests = [{"prompt": "the", "max_tokens": 80, "seed": seed} for seed in range(6)]
    results: dict[int, Any] = {}

    def client(i: int) -> None:
        results[i] = server.request("POST", "/generate", requests[i], AUTH)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for i, request in enumerate(requests):
        status, body = results[i]
        assert status == 200, body
        assert body["text"] == expected(model, request)[0]


BAD_REQUESTS = {
    "invalid JSON": (b'{"prompt": "a"', 400, "invalid JSON: Expecting"),
    "not UTF-8": (b'{"prompt": "\xff"}', 400, "the body is not UTF-8"),
    "not an object": (["the"], 422, 'expected a JSON object such as {"prompt"'),
    "unknown field": ({"prompt": "a", "text": "x"}, 422, "text: Extra inputs are not permitted"),
    "prompt not a string": ({"prompt": 3}, 422, "prompt: Input should be a valid string"),
    "temperature not a number": ({"temperature": "hot"}, 422, "temperature: Input should be"),
    "stream not a boolean": ({"stream": "yes"}, 422, "stream: Input should be a valid boolean"),
    "temperature below 0": ({"temperature": -0.5}, 422, "temperature must be 0 (greedy) or more"),
    "top_p zero": ({"top_p": 0}, 422, "top_p must be in (0, 1], got 0"),
    "top_p over 1": ({"top_p": 1.5}, 422, "top_p must be in (0, 1], got 1.5"),
    "top_k zero": ({"top_k": 0}, 422, "top_k must be at least 1, got 0"),
    "max_tokens zero": ({"max_tokens": 0}, 422, "max_tokens must be at least 1, got 0"),
    "negative seed": ({"seed": -1}, 422, "seed: Input should be greater than or equal to 0"),
    "streamed, bad": ({"stream": True, "top_k": 0}, 422, "top_k must be at least 1"),
    "max_tokens over the limit": (
        {"max_tokens": LIMIT + 1},
        413,
        f"max_tokens: {LIMIT + 1:,} is over the limit of {LIMIT:,} (--max-tokens)",
    ),
    "prompt too long": (
        {"prompt": "a" * 101},
        413,
        "prompt: 101 characters is over the limit of 100 (--max-prompt-chars)",
    ),
    "stop too long": ({"stop": "a" * 101}, 413, "stop: 101 characters is over the limit of 100"),
    "body too large": (b"x" * 20_000, 413, "request body of 20,000 bytes is over the limit of"),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_stays_up(
    server: Server, case: str
) -> None:
    body, status, message = BAD_REQUESTS[case]
    got_status, got = server.request("POST", "/generate", body, AUTH)
    assert got_status == status, got
    assert message in got["detail"]
    assert server.request("POST", "/generate", {"max_tokens": 3}, AUTH)[0] == 200


def test_the_api_key_is_required(server: Server) -> None:
    status, body = server.request("POST", "/generate", {"prompt": "the"})
    assert (status, body["detail"]) == (401, "missing API key: send the header X-API-Key: KEY")
    assert server.request("GET", "/info", headers={"x-api-key": "nope"})[0] == 401


def read_events(sock: socket.socket, count: int) -> bytes:
    """Bytes from ``sock`` until the response holds ``count`` events after its headers."""
    received = b""
    while received.split(b"\r\n\r\n", 1)[-1].count(b"\n\n") < count or b"\r\n\r\n" not in received:
        chunk = sock.recv(4096)
        assert chunk, f"the server closed the stream: {received!r}"
        received += chunk
    return received


def health_until(server: Server, done: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """GET /health until ``done`` holds for its answer (10 s at most); the last answer."""
    deadline = time.monotonic() + 10
    while True:
        status, health = server.request("GET", "/health")
        assert status == 200
        if done(health) or time.monotonic() > deadline:
            return health
        time.sleep(0.02)


@pytest.mark.parametrize("stream", [True, False], ids=["streamed", "whole"])
def test_a_client_that_disconnects_mid_generation_stops_it(server: Server, stream: bool) -> None:
    before = server.request("GET", "/health")[1]
    request = {"prompt": "the", "max_tokens": LIMIT, "temperature": 0, "stream": stream}
    body = json.dumps(request).encode()
    head = (
        f"POST /generate HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        f"x-api-key: {KEY}\r\ncontent-length: {len(body)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    try:
        sock.sendall(head + body)
        if stream:  # two events arrive while the rest is still being generated
            received = read_events(sock, 2)
            assert received.startswith(b"HTTP/1.1 200")
            assert b"text/event-stream" in received.split(b"\r\n\r\n")[0]
        # /health is answered during the generation
        during = health_until(server, lambda h: h["tokens"] > before["tokens"] + 2)
        assert during["running"] == 1
    finally:
        sock.close()
    after = health_until(server, lambda h: h["running"] == 0)
    assert after["running"] == 0, "the generation went on after its client left"
    assert after["generations"] == before["generations"] + 1
    assert after["tokens"] - before["tokens"] < LIMIT  # greedy, it would run to LIMIT
    time.sleep(0.2)
    assert server.request("GET", "/health")[1]["tokens"] == after["tokens"]
    request = {"prompt": "the", "max_tokens": 5, "temperature": 0}
    status, answer = server.request("POST", "/generate", request, AUTH)
    assert (status, answer["tokens"]) == (200, 5)


def test_info_health_and_openapi(server: Server, model: Path) -> None:
    from rnnkit import LanguageModel

    lm = LanguageModel.load(model)
    status, info = server.request("GET", "/info", headers=AUTH)
    assert status == 200
    assert info["task"] == "language_model"
    assert info["unit"] == "char"
    assert info["vocabulary_size"] == len(lm.units_)
    assert info["format_version"] == 2
    assert info["configuration"]["model"]["hidden_size"] == 32
    assert info["configuration"]["data"]["window"] == 16
    assert info["metrics"] == json.loads((model / "metrics.json").read_text())
    assert info["server"] == {"max_prompt_chars": 100, "max_tokens": LIMIT}
    status, health = server.request("GET", "/health")
    assert status == 200
    assert health["status"] == "ok"
    assert set(health) == {"status", "generations", "running", "tokens"}
    status, schema = server.request("GET", "/openapi.json")
    assert status == 200
    body = schema["paths"]["/generate"]["post"]["requestBody"]["content"]["application/json"]
    assert {"prompt", "max_tokens", "temperature", "stream"} <= set(body["schema"]["properties"])
    assert "/predict" not in schema["paths"]


@pytest.mark.parametrize(
    ("path", "served"),
    [("/predict", "for classifiers"), ("/translate", "for translators")],
)
def test_other_tasks_endpoints_on_a_language_model_say_to_use_generate(
    server: Server, path: str, served: str
) -> None:
    status, body = server.request("POST", path, {"texts": ["a film"]}, AUTH)
    assert status == 404
    assert "model is a language model: POST /generate" in body["detail"]
    assert body["detail"].endswith(f"{path} is served {served}")


def test_a_limit_out_of_range_fails_before_listening(model: Path) -> None:
    from tests.test_cli import assert_user_error, rnnkit

    assert_user_error(
        rnnkit("serve", str(model), "--max-tokens", "0"), "--max-tokens must be at least 1, got 0"
    )
    assert_user_error(
        rnnkit("serve", str(model), "--max-prompt-chars", "0"), "--max-prompt-chars must be at"
    )


def call_app(app: Any, body: dict[str, Any]) -> tuple[int, bytes]:
    """POST /generate through ``app`` in-process, from a client that stays connected."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/generate",
        "raw_path": b"/generate",
        "root_path": "",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"host", b"test")],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }
    incoming = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.Event().wait()  # the client neither sends more nor leaves
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_failing_model_is_a_500_or_an_error_event_and_the_next_request_is_answered(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit import LanguageModel
    from rnnkit.serve.app import create_app
    from rnnkit.serve.config import ServeConfig

    stream = LanguageModel.stream

    def failing(self: LanguageModel, prompt: str, **options: Any) -> Iterator[list[str]]:
        for i, pieces in enumerate(stream(self, prompt, **options)):
            if prompt == "boom" and i == 2:
                raise RuntimeError("model failure")
            yield pieces

    monkeypatch.setattr(LanguageModel, "stream", failing)
    app = create_app(ServeConfig(model=str(model)))
    status, body = call_app(app, {"prompt": "boom", "temperature": 0})
    assert (status, json.loads(body)) == (500, {"detail": "internal error: see the server's log"})
    status, body = call_app(app, {"prompt": "boom", "temperature": 0, "stream": True})
    assert status == 200
    assert body.count(b'data: {"text"') == 2
    assert body.endswith(
        b'event: error\ndata: {"detail": "internal error: see the server\'s log"}\n\n'
    )
    status, body = call_app(app, {"prompt": "the", "temperature": 0, "max_tokens": 4})
    assert (status, json.loads(body)["tokens"]) == (200, 4)
