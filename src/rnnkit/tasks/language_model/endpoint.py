"""A language model's endpoint on the server (:mod:`rnnkit.serve.app`):

    POST /generate  {"prompt", "max_tokens", "temperature", "top_k", "top_p", "seed",
                     "stop", "stream"}  ->  {"text": ..., "tokens": n, "model": ...}
                    or, with "stream": true, server-sent events: one ``data: {"text": piece}``
                    per generated token, then ``event: done`` / ``data: {"done": true,
                    "tokens": n}`` (``event: error`` if the model fails midway)
    GET  /health    with the generations answered and running, and the tokens generated

The model runs in one worker thread, a token at a time (``Generations``): the event loop keeps
answering (/health, other requests) during a long generation, concurrent generations take
turns token by token, and one whose client disconnects stops at its next token. A prompt, a
stop string or ``max_tokens`` over the server's limits is a 413 naming the flag.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.types import Receive, Send

from rnnkit.bundle import FORMAT_VERSION
from rnnkit.errors import ConfigError
from rnnkit.serve.app import INTERNAL, Endpoint
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import HttpError, error_body, send_json, unicode_text
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.language_model.generation import Sampling, check_stop
from rnnkit.tasks.language_model.options import NAME

log = logging.getLogger(__name__)

Emit = Callable[[str], Awaitable[None]]  # sends one generated piece of text
Generate = Callable[[Emit], Awaitable[int]]  # runs a request's generation: its token count

DEFAULT_MAX_TOKENS = 200  # a request's max_tokens when it sends none (or --max-tokens if lower)


class GenerateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: StrictStr = Field(default="", description="text to continue, from a document's start")
    max_tokens: StrictInt | None = Field(
        default=None,
        description=f"most tokens to generate (default {DEFAULT_MAX_TOKENS}, or the server's "
        "--max-tokens if lower); generation also ends at the end of a document",
    )
    temperature: float = Field(default=1.0, strict=True, description="0 is greedy")
    top_k: StrictInt | None = Field(default=None, description="draw from the k most likely")
    top_p: float | None = Field(
        default=None, strict=True, description="draw from the most likely tokens of mass p"
    )
    seed: StrictInt | None = Field(
        default=None, ge=0, lt=2**64, description="the same seed and request, the same text"
    )
    stop: StrictStr | None = Field(default=None, description="end once the text contains this")
    stream: StrictBool = Field(default=False, description="server-sent events, token by token")


class GenerateResponse(BaseModel):
    text: str
    tokens: int
    model: str


class Generations:
    """Generations run in one worker thread, in turns of a token (streamed) or of up to
    ``TURN`` seconds of tokens (answered whole), counted for /health."""

    TURN = 0.02  # a whole answer's turn: few thread hops, a client's departure seen soon

    def __init__(self, lm: LanguageModel) -> None:
        self.lm = lm
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-generate")
        self.answered = 0  # generations ended, whether their client stayed or not
        self.running = 0
        self.tokens = 0

    async def run(
        self,
        request: GenerateRequest,
        max_tokens: int,
        sampling: Sampling,
        emit: Emit,
        stopped: asyncio.Event,
    ) -> int:
        """Generate for ``request``, handing each token's text to ``emit``, until the text
        ends or ``stopped`` is set; the number of tokens generated."""
        steps = self.lm.stream(
            request.prompt,
            max_tokens=max_tokens,
            sampling=sampling,
            seed=request.seed,
            stop=request.stop,
        )
        turn = 0.0 if request.stream else self.TURN
        loop = asyncio.get_running_loop()
        count, ended = 0, False
        self.running += 1
        try:
            while not ended and not stopped.is_set():
                pieces, ended = await loop.run_in_executor(self.executor, _turn, steps, turn)
                count += len(pieces)
                self.tokens += len(pieces)
                for piece in pieces:
                    await emit(piece)
        finally:
            self.running -= 1
            self.answered += 1  # steps, left unfinished, holds nothing but the model's state
        return count


def _turn(steps: Iterator[list[str]], seconds: float) -> tuple[list[str], bool]:
    """The texts of the next tokens of ``steps`` (at least one, more while under ``seconds``
    have passed), and whether the generation has ended."""
    pieces: list[str] = []
    deadline = time.perf_counter() + seconds
    while True:
        step = next(steps, None)
        if step is None:
            return pieces, True
        pieces.append(step[0])
        if time.perf_counter() >= deadline:
            return pieces, False


def _info(lm: LanguageModel, model: Path, config: ServeConfig) -> dict[str, Any]:
    """What GET /info reports, from the loaded model (the bundle's own configuration)."""
    return {
        "model": model.name,
        "format_version": FORMAT_VERSION,
        "task": NAME,
        "unit": lm.units_.name,
        "vocabulary_size": len(lm.units_),
        "configuration": {
            "model": asdict(lm.model_.config),
            "data": asdict(lm.data_config()),
            "training": asdict(lm.train_config()),
        },
        "metrics": lm.metrics_,
        "server": {"max_prompt_chars": config.max_prompt_chars, "max_tokens": config.max_tokens},
    }


def checked(request: GenerateRequest, config: ServeConfig) -> tuple[int, Sampling]:
    """``max_tokens`` and the sampling settings of ``request``; HttpError for a value out of
    its range (422) or over the server's limits (413)."""
    for name in ("prompt", "stop"):
        text = getattr(request, name)
        if text is not None and len(text) > config.max_prompt_chars:
            raise HttpError(
                413,
                f"{name}: {len(text):,} characters is over the limit of "
                f"{config.max_prompt_chars:,} (--max-prompt-chars)",
            )
        if text is not None:
            unicode_text(text, name)
    try:
        check_stop(request.stop)
    except ConfigError as error:
        raise HttpError(422, str(error)) from None
    max_tokens = request.max_tokens
    if max_tokens is None:
        max_tokens = min(DEFAULT_MAX_TOKENS, config.max_tokens)
    if max_tokens < 1:
        raise HttpError(422, f"max_tokens must be at least 1, got {max_tokens}")
    if max_tokens > config.max_tokens:
        raise HttpError(
            413,
            f"max_tokens: {max_tokens:,} is over the limit of {config.max_tokens:,} (--max-tokens)",
        )
    try:
        sampling = Sampling(request.temperature, request.top_k, request.top_p)
    except ConfigError as error:  # names the field: temperature, top_k or top_p
        raise HttpError(422, str(error)) from None
    return max_tokens, sampling


def event(payload: dict[str, Any], name: str | None = None) -> bytes:
    """One server-sent event: ``event: NAME`` if named, and ``data: JSON``; JSON escapes
    newlines, so the data is one line."""
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(payload, ensure_ascii=False)}\n\n".encode()


async def _watch(receive: Receive, stopped: asyncio.Event) -> None:
    """Set ``stopped`` when the client disconnects (the body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    stopped.set()


def create_endpoint(config: ServeConfig) -> Endpoint:
    """A language model's endpoint: POST /generate, answered whole or as a stream of
    server-sent events, the model in one worker thread."""
    lm = LanguageModel.load(config.model, command="rnnkit serve")
    lm.check_generates()  # a backward model: refused before the server starts
    lm.device = config.device
    info = _info(lm, Path(config.model), config)
    torch.set_num_threads(config.threads or 1)  # one token at a time: see --threads
    generations = Generations(lm)

    async def answer(request: GenerateRequest, receive: Receive, send: Send) -> None:
        max_tokens, sampling = checked(request, config)  # HttpError: answered by the server
        stopped = asyncio.Event()
        watcher = asyncio.create_task(_watch(receive, stopped))

        async def generate(emit: Emit) -> int:
            return await generations.run(request, max_tokens, sampling, emit, stopped)

        try:
            if request.stream:
                await _stream(generate, send)
            else:
                await _whole(generate, send, info["model"])
        finally:
            watcher.cancel()

    async def stop() -> None:
        generations.executor.shutdown(wait=False, cancel_futures=True)

    return Endpoint(
        summary=f"Text generation with the rnnkit language model {info['model']}",
        info=info,
        request=GenerateRequest,
        response=GenerateResponse,
        example='{"prompt": "..."}',
        body_limit=config.max_generate_bytes,
        body_flags="--max-prompt-chars",
        counters=lambda: {
            "generations": generations.answered,
            "running": generations.running,
            "tokens": generations.tokens,
        },
        answer=answer,
        stop=stop,
    )


async def _whole(generate: Generate, send: Send, model: str) -> None:
    """The generated text as one JSON answer."""
    pieces: list[str] = []

    async def emit(piece: str) -> None:
        pieces.append(piece)

    try:
        tokens = await generate(emit)
    except Exception:  # the client gets a 500, the server stays up
        log.exception("POST /generate failed")
        await send_json(send, 500, error_body(INTERNAL))
        return
    payload = {"text": "".join(pieces), "tokens": tokens, "model": model}
    await send_json(send, 200, json.dumps(payload, ensure_ascii=False).encode())


async def _stream(generate: Generate, send: Send) -> None:
    """Server-sent events: each token's text as it is generated, then ``done``."""
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"text/event-stream; charset=utf-8"),
                (b"cache-control", b"no-cache"),
                (b"x-accel-buffering", b"no"),  # proxies such as nginx: pass each event on
            ],
        }
    )

    async def emit(piece: str) -> None:
        await send(
            {"type": "http.response.body", "body": event({"text": piece}), "more_body": True}
        )

    try:
        tokens = await generate(emit)
        last = event({"done": True, "tokens": tokens}, "done")
    except Exception:  # the status is sent: the stream ends with an error event
        log.exception("POST /generate failed while streaming")
        last = event({"detail": INTERNAL}, "error")
    await send({"type": "http.response.body", "body": last, "more_body": False})
