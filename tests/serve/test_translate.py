"""``rnnkit serve`` on a translator, as a real subprocess hit by real HTTP clients: POST
/translate equals ``Translator.translations`` (greedy and beam search, order kept, concurrent
clients); bad requests; /info and /health; /predict and /generate refused. In-process: waiting
requests share a model call when their decoding agrees, and a failing model is a 500."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi", reason="the serve extra is not installed")
pytest.importorskip("uvicorn", reason="the serve extra is not installed")

from rnnkit.tasks.translation.translating import Translated
from tests.serve.server import Server

KEY = "test-key-123"
AUTH = {"x-api-key": KEY}
MAX_BEAM = 4  # below the model's beam of 5, so a request without a beam gets 4
WORDS = {  # the made-up language pairs of the tests: word by word
    "ein": "one",
    "zwei": "two",
    "drei": "three",
    "hund": "dog",
    "katze": "cat",
    "haus": "house",
    "baum": "tree",
    "rot": "red",
    "blau": "blue",
    "gross": "big",
    "klein": "small",
}


def pairs(count: int, seed: int) -> tuple[list[str], list[str]]:
    """Made-up sentences of 2 to 6 words and their word-by-word translations."""
    rng = random.Random(seed)
    source = [" ".join(rng.choices(list(WORDS), k=rng.randint(2, 6))) for _ in range(count)]
    return source, [" ".join(WORDS[w] for w in s.split()) for s in source]


SENTENCES = pairs(24, seed=1)[0]


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnkit import Translator

    source, target = pairs(60, seed=0)
    translator = Translator(
        unit="word",
        vocab_size=60,
        embed_dim=16,
        hidden=16,
        dropout=0.0,
        batch_size=16,
        lr=0.02,
        max_steps=30,
        valid_split=0.0,
        threads=1,
    ).fit(source, target)
    return translator.save(tmp_path_factory.mktemp("serve-translator") / "model")


@pytest.fixture(scope="module")
def server(model: Path) -> Iterator[Server]:
    running = Server(
        model,
        *("--api-key", KEY, "--max-batch", "8", "--max-chars", "200"),
        *("--max-beam", str(MAX_BEAM), "--max-source-tokens", "12"),
    )
    yield running
    assert "(POST /translate, docs at /docs)" in running.stop()


def expected(model: Path, texts: list[str], **decoding: Any) -> list[Translated]:
    from rnnkit import Translator

    return Translator.load(model).translations(texts, **decoding)


def assert_answers(body: dict[str, Any], found: list[Translated]) -> None:
    """``body`` (a POST /translate answer) holds ``found``, in order."""
    assert body["model"] == "model"
    assert len(body["translations"]) == len(found)
    for answer, translated in zip(body["translations"], found, strict=True):
        assert answer["translation"] == translated.text
        assert answer["tokens"] == len(translated.tokens)
        assert answer["log_prob"] == pytest.approx(translated.log_prob, abs=1e-5)


DECODINGS = {
    "greedy": {"beam": 1},
    "beam 3": {"beam": 3},
    "beam 3, no length penalty": {"beam": 3, "length_penalty": 0.0},
    "the defaults": {},
}


@pytest.mark.parametrize("decoding", list(DECODINGS))
def test_translate_equals_the_library_in_order(server: Server, model: Path, decoding: str) -> None:
    options = DECODINGS[decoding]
    texts = SENTENCES[:8]  # of mixed lengths: the model decodes them sorted by length
    status, body = server.request("POST", "/translate", {"texts": texts, **options}, AUTH)
    assert status == 200, body
    library = {"beam": MAX_BEAM, "length_penalty": 1.0, **options}  # the server's defaults
    found = expected(model, texts, **library)
    assert_answers(body, found)
    assert any(t.tokens for t in found)  # the tiny model translates, if badly
    status, body = server.request("POST", "/translate", {"texts": texts[::-1], **options}, AUTH)
    assert status == 200, body
    assert_answers(body, found[::-1])


def test_beam_search_finds_what_greedy_misses(model: Path) -> None:
    """The decodings compared above differ, so the server cannot be ignoring ``beam``."""
    greedy = expected(model, SENTENCES, beam=1)
    beam = expected(model, SENTENCES, beam=3)
    assert [t.text for t in greedy] != [t.text for t in beam]


def test_concurrent_clients_each_get_their_own_translations(server: Server, model: Path) -> None:
    beams = {i: 1 + 2 * (i % 2) for i in range(8)}  # greedy and beam 3 clients side by side
    wanted = {b: expected(model, SENTENCES, beam=b) for b in set(beams.values())}
    before = server.request("GET", "/health")[1]
    results: dict[tuple[int, int], Any] = {}

    def client(i: int) -> None:
        for j in range(i % 3, len(SENTENCES), 3):
            request = {"texts": [SENTENCES[j]], "beam": beams[i]}
            results[i, j] = server.request("POST", "/translate", request, AUTH)

    threads = [threading.Thread(target=client, args=(i,)) for i in beams]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 * 8
    for (i, j), (status, body) in results.items():
        assert status == 200, body
        assert_answers(body, [wanted[beams[i]][j]])
    after = server.request("GET", "/health")[1]
    assert after["requests"] - before["requests"] == len(results)
    assert after["sentences"] - before["sentences"] == len(results)
    assert after["batches"] - before["batches"] < len(results)  # some requests shared a call


BAD_REQUESTS = {
    "invalid JSON": (b'{"texts": ["a"', 400, "invalid JSON: Expecting"),
    "not UTF-8": (b'{"texts": ["\xff"]}', 400, "the body is not UTF-8"),
    "not an object": ([1, 2], 422, 'expected a JSON object such as {"texts"'),
    "no texts": ({}, 422, "texts: Field required"),
    "texts not a list": ({"texts": "ein hund"}, 422, "texts: Input should be a valid list"),
    "a text not a string": ({"texts": ["ein", 3]}, 422, "texts[1]: Input should be a valid str"),
    "empty list": ({"texts": []}, 422, "texts: the list is empty; send at least one text"),
    "empty text": ({"texts": ["ein hund", "  "]}, 422, "texts[1]: empty text"),
    "unknown field": ({"texts": ["ein"], "beams": 2}, 422, "beams: Extra inputs"),
    "too many texts": (
        {"texts": ["ein hund"] * 9},
        413,
        "texts: 9 texts is over the limit of 8 (--max-batch); split the request",
    ),
    "text too long": (
        {"texts": ["ein", "a" * 201]},
        413,
        "texts[1]: 201 characters is over the limit of 200 (--max-chars)",
    ),
    "body too large": (b"x" * 20_000, 413, "request body of 20,000 bytes is over the limit of"),
    "text of too many tokens": (
        {"texts": ["ein", " ".join(["hund"] * 13)]},
        413,
        "texts[1] has 13 tokens, over the limit of 12 (--max-source-tokens)",
    ),
    "beam zero": ({"texts": ["ein"], "beam": 0}, 422, "beam must be at least 1 (1: greedy), got 0"),
    "beam negative": ({"texts": ["ein"], "beam": -2}, 422, "beam must be at least 1"),
    "beam over the limit": (
        {"texts": ["ein"], "beam": MAX_BEAM + 1},
        413,
        f"beam: {MAX_BEAM + 1} is over the limit of {MAX_BEAM} (--max-beam)",
    ),
    "beam not an integer": ({"texts": ["ein"], "beam": 2.5}, 422, "beam: Input should be a valid"),
    "beam a boolean": ({"texts": ["ein"], "beam": True}, 422, "beam: Input should be a valid"),
    "length_penalty negative": (
        {"texts": ["ein"], "length_penalty": -1},
        422,
        "length_penalty must be zero or positive, got -1",
    ),
    "length_penalty not a number": (
        {"texts": ["ein"], "length_penalty": "long"},
        422,
        "length_penalty: Input should be a valid number",
    ),
    "length_penalty NaN": (
        b'{"texts": ["ein"], "length_penalty": NaN}',
        422,
        "length_penalty must be zero or positive, got nan",
    ),
}


@pytest.mark.parametrize("case", list(BAD_REQUESTS))
def test_bad_requests_get_a_4xx_with_a_message_and_the_server_stays_up(
    server: Server, case: str
) -> None:
    body, status, message = BAD_REQUESTS[case]
    got_status, got = server.request("POST", "/translate", body, AUTH)
    assert got_status == status, got
    assert message in got["detail"]
    assert server.request("POST", "/translate", {"texts": ["ein hund"]}, AUTH)[0] == 200


def test_the_api_key_is_required_and_checked(server: Server) -> None:
    request = {"texts": ["ein hund"]}
    status, body = server.request("POST", "/translate", request)
    assert (status, body["detail"]) == (401, "missing API key: send the header X-API-Key: KEY")
    status, body = server.request("POST", "/translate", request, {"x-api-key": KEY + "x"})
    assert (status, body["detail"]) == (401, "wrong API key")
    assert server.request("GET", "/info", headers={"x-api-key": "nope"})[0] == 401
    bearer = {"authorization": f"Bearer {KEY}"}
    assert server.request("POST", "/translate", request, bearer)[0] == 200
    assert server.request("GET", "/health")[0] == 200  # open, for load balancers


def test_info_health_and_openapi(server: Server, model: Path) -> None:
    from rnnkit import Translator

    translator = Translator.load(model)
    status, info = server.request("GET", "/info", headers=AUTH)
    assert status == 200
    assert info["task"] == "translation"
    assert info["format_version"] == 2
    assert info["source"] == {"unit": "word", "vocabulary_size": len(translator.units_.source)}
    assert info["target"] == {"unit": "word", "vocabulary_size": len(translator.units_.target)}
    assert info["joint"] is True
    assert info["configuration"]["model"]["hidden_size"] == 16
    assert info["configuration"]["data"]["max_vocab"] == 60
    assert info["configuration"]["training"]["max_steps"] == 30
    assert info["metrics"] == json.loads((model / "metrics.json").read_text())
    assert info["server"] == {
        "max_batch": 8,
        "max_chars": 200,
        "max_source_tokens": 12,
        "max_beam": MAX_BEAM,
        "batching": True,
        "beam": MAX_BEAM,
        "length_penalty": 1.0,
        "max_ratio": 2.0,
    }
    status, health = server.request("GET", "/health")
    assert status == 200
    assert health["status"] == "ok"
    assert set(health) == {"status", "requests", "sentences", "batches"}
    status, schema = server.request("GET", "/openapi.json")
    assert status == 200
    body = schema["paths"]["/translate"]["post"]["requestBody"]["content"]["application/json"]
    assert set(body["schema"]["properties"]) == {"texts", "beam", "length_penalty"}
    assert "/predict" not in schema["paths"]
    assert "/generate" not in schema["paths"]


@pytest.mark.parametrize(
    ("path", "body", "served"),
    [
        ("/predict", {"texts": ["ein hund"]}, "/predict is served for classifiers"),
        ("/generate", {"prompt": "ein"}, "/generate is served for language models"),
    ],
)
def test_other_tasks_endpoints_say_to_use_translate(
    server: Server, path: str, body: dict[str, Any], served: str
) -> None:
    status, answer = server.request("POST", path, body, AUTH)
    assert status == 404
    assert answer["detail"] == (
        f'model is a translator: POST /translate with {{"texts": ["..."]}}; {served}'
    )


def test_a_beam_limit_out_of_range_fails_before_listening(model: Path) -> None:
    from tests.test_cli import assert_user_error, rnnkit

    assert_user_error(
        rnnkit("serve", str(model), "--max-beam", "0"), "--max-beam must be at least 1, got 0"
    )


# -- in-process --------------------------------------------------------------------------------


@pytest.mark.parametrize("batching", [True, False], ids=["batching", "one at a time"])
def test_requests_waiting_for_the_model_share_a_call_when_their_decoding_agrees(
    batching: bool,
) -> None:
    from rnnkit.tasks.translation.endpoint import Translations

    calls: list[tuple[list[str], int, float]] = []
    busy, release = threading.Event(), threading.Event()

    def translate(texts: list[str], beam: int, length_penalty: float) -> list[Translated]:
        calls.append((texts, beam, length_penalty))
        busy.set()
        assert release.wait(10), "the test never released the model"
        return [Translated(f"{text}/{beam}", [len(text)], -1.0) for text in texts]

    translations = Translations(translate, threads=1, max_batch=8, wait=0.0, enabled=batching)
    later = [(["b"], 1), (["c", "d"], 3), (["e"], 1), (["f"] * 7, 1), (["g"], 3), (["h"], 1)]

    async def main() -> list[list[Translated]]:
        first = asyncio.create_task(translations.run(["a"], 1, 1.0))
        while not busy.is_set():  # the event loop answers while the model is busy
            await asyncio.sleep(0.001)
        rest = [asyncio.create_task(translations.run(texts, b, 1.0)) for texts, b in later]
        await asyncio.sleep(0.05)  # every request is waiting
        release.set()
        try:
            return await asyncio.gather(first, *rest)
        finally:
            await translations.stop()

    results = asyncio.run(main())
    for (texts, beam), found in zip([(["a"], 1), *later], results, strict=True):
        assert [t.text for t in found] == [f"{text}/{beam}" for text in texts]
    if batching:  # the oldest first; f's 7 texts do not fit beside b and e in 8
        assert [(texts, beam) for texts, beam, _ in calls] == [
            (["a"], 1),
            (["b", "e", "h"], 1),
            (["c", "d", "g"], 3),
            (["f"] * 7, 1),
        ]
    else:
        assert [(texts, beam) for texts, beam, _ in calls] == [(["a"], 1), *later]
    assert (translations.requests, translations.sentences) == (7, 14)
    assert translations.batches == len(calls)


@pytest.mark.parametrize("max_batch", [8, 2], ids=["waits", "full before the wait ends"])
def test_a_call_waits_up_to_batch_wait_for_more_requests(max_batch: int) -> None:
    from rnnkit.tasks.translation.endpoint import Translations

    calls: list[list[str]] = []

    def translate(texts: list[str], beam: int, length_penalty: float) -> list[Translated]:
        calls.append(texts)
        return [Translated(text, [], -1.0) for text in texts]

    wait = 0.5 if max_batch == 8 else 30.0  # a full call does not wait
    translations = Translations(translate, threads=1, max_batch=max_batch, wait=wait, enabled=True)

    async def main() -> None:
        first = asyncio.create_task(translations.run(["a"], 1, 1.0))
        await asyncio.sleep(0.05)
        other = asyncio.create_task(translations.run(["x", "y"], 3, 1.0))  # another decoding
        second = asyncio.create_task(translations.run(["b"], 1, 1.0))
        try:
            await asyncio.wait_for(asyncio.gather(first, other, second), 10)
        finally:
            await translations.stop()

    asyncio.run(main())
    assert calls == [["a", "b"], ["x", "y"]]


def call(app: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """One HTTP request through the ASGI application ``app``, in-process."""
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
    incoming = [{"type": "http.request", "body": json.dumps(body).encode(), "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return incoming.pop(0) if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], json.loads(b"".join(m.get("body", b"") for m in sent[1:]))


def test_a_failing_model_is_a_500_and_the_next_request_is_answered(
    model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit import Translator
    from rnnkit.serve.app import create_app
    from rnnkit.serve.config import ServeConfig

    translations = Translator.translations

    def failing(self: Translator, texts: list[str], **decoding: Any) -> list[Translated]:
        if "boom" in texts:
            raise RuntimeError("model failure")
        found = translations(self, texts, **decoding)
        if "nan" in texts:
            found[texts.index("nan")] = Translated("?", [4], float("nan"))
        return found

    monkeypatch.setattr(Translator, "translations", failing)
    app = create_app(ServeConfig(model=str(model)))
    status, body = call(app, "POST", "/translate", {"texts": ["ein", "boom"]})
    assert (status, body) == (500, {"detail": "internal error: see the server's log"})
    status, body = call(app, "POST", "/translate", {"texts": ["ein", "nan"]})
    assert status == 500
    assert body["detail"].startswith(
        "the model gave a NaN or infinite log-probability for texts[1]"
    )
    status, body = call(app, "POST", "/translate", {"texts": ["ein hund"], "beam": 1})
    assert status == 200, body
    assert_answers(body, expected(model, ["ein hund"], beam=1))
