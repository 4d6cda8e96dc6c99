"""Every server over real HTTP: a body shorter than its Content-Length is answered 408 once
--body-timeout has passed (the connection does not stay open), text that is not valid
Unicode is a 422, and so are a length penalty or a stop string that cannot work; a
temperature that underflows generates greedily; a backward language model is refused before
the server starts."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from rnnkit import LanguageModel
from tests.robust.cli_batch import run_many
from tests.robust.conftest import Models
from tests.serve.server import Server
from tests.test_cli import assert_user_error

ENDPOINTS = {"classifier": "/predict", "translator": "/translate", "lm": "/generate"}


def short_body(server: Server, path: str) -> tuple[bytes, float]:
    """The answer to a request whose body stops 90 bytes short, and how long it took."""
    head = (
        f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
        "content-length: 100\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        start = time.monotonic()
        sock.sendall(head + b'{"texts": ')
        answer = b""
        while chunk := sock.recv(4096):  # until the server closes the connection
            answer += chunk
        return answer, time.monotonic() - start


@pytest.mark.parametrize("task", list(ENDPOINTS))
def test_each_server_times_out_a_short_body_and_refuses_broken_unicode(
    models: Models, task: str
) -> None:
    path = ENDPOINTS[task]
    server = Server(getattr(models, task), "--body-timeout", "1")
    try:
        answer, seconds = short_body(server, path)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408"), answer
        assert b"connection: close" in head.lower()
        assert json.loads(body)["detail"] == (
            "the request body did not arrive within 1 s (--body-timeout): 10 of 100 bytes "
            "came; send the whole body"
        )
        assert 0.9 < seconds < 10
        field = "prompt" if task == "lm" else "texts"
        broken = {field: "ein \ud800" if task == "lm" else ["ein", "\ud800 Hund"]}
        status, answer_json = server.request("POST", path, json.dumps(broken).encode())
        where = "prompt" if task == "lm" else "texts[1]"
        assert (status, answer_json["detail"]) == (
            422,
            f"{where}: character {5 if task == 'lm' else 1} is a lone surrogate (U+D800), which "
            "is not valid Unicode; send UTF-8 text (bytes that are not UTF-8, or an unpaired "
            "\\uD8xx escape in JSON, read this way)",
        )
        if task == "translator":
            status, answer_json = server.request(
                "POST", path, {"texts": ["ant bee"], "length_penalty": 1000.0}
            )
            assert status == 422
            assert answer_json["detail"].startswith("length_penalty must be at most 10, got 1000")
        if task == "lm":
            _generation_checks(server, LanguageModel.load(models.lm))
        assert server.request("GET", "/health")[0] == 200  # still up
    finally:
        server.stop()


def _generation_checks(server: Server, lm: LanguageModel) -> None:
    status, answer = server.request("POST", "/generate", {"prompt": "it", "stop": ""})
    assert (status, answer["detail"]) == (
        422,
        "stop must be a non-empty text (a sample ends once it contains it), got ''; leave it "
        "out to end samples at the end of a document or at the token limit",
    )
    request = {"prompt": "it was", "max_tokens": 12, "temperature": 1e-300, "seed": 3}
    status, answer = server.request("POST", "/generate", request)
    assert status == 200
    assert answer["text"] == lm.generate("it was", max_tokens=12, temperature=0)[0] != ""


def test_serving_a_backward_language_model_is_refused_at_start(models: Models) -> None:
    (result,) = run_many(["serve", str(models.backward_lm), "--port", "0"])
    assert_user_error(
        result,
        "this language model reads text backwards (--reverse): it starts the backward "
        "direction of a classifier and scores text, and generates nothing",
    )


def test_body_timeout_is_checked(tmp_path: Path, models: Models) -> None:
    (result,) = run_many(["serve", str(models.lm), "--body-timeout", "0"])
    assert_user_error(result, "--body-timeout must be in (0, 3600], got 0.0")
