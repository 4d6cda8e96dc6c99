"""A translator's endpoint on the server (:mod:`rnnkit.serve.app`):

    POST /translate  {"texts": [...], "beam": k, "length_penalty": a}
                     ->  {"translations": [{"translation", "tokens", "log_prob"}, ...],
                          "model": ...}, in the order of the texts
    GET  /health     with the requests and sentences answered, and the model calls

The model runs in one worker thread, one call at a time (``Translations``): a beam search over
a batch takes tens to hundreds of milliseconds, and the event loop keeps answering meanwhile
(/health, reading other requests). Requests that arrive while the model is busy are decoded
in its next call, all those asking for the same beam and length penalty in one
``Translator.translations`` call (dynamic batching; --no-batching decodes each on its own).
A beam below 1 or a negative length penalty is a 422 naming the field, a beam over --max-beam
a 413 naming the flag, as a text count or a text over its limit is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr

from rnnkit.bundle import FORMAT_VERSION
from rnnkit.errors import ConfigError
from rnnkit.serve.app import Endpoint
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import HttpError, check_text_list
from rnnkit.tasks.translation.decoding import check_beam
from rnnkit.tasks.translation.estimator import Translator
from rnnkit.tasks.translation.options import NAME
from rnnkit.tasks.translation.translating import Translated

log = logging.getLogger(__name__)

SHUTTING_DOWN = "the server is shutting down; send the request again"

Decoding = tuple[int, float]  # beam, length penalty
Translate = Callable[[list[str], int, float], list[Translated]]


class TranslateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(description="sentences to translate, at most --max-batch")
    beam: StrictInt | None = Field(
        default=None,
        description="beam width, 1 for greedy (default the model's, or --max-beam if lower; "
        "at most --max-beam)",
    )
    length_penalty: float | None = Field(
        default=None,
        strict=True,
        description="alpha of the length penalty ((5 + length) / 6) ** alpha, from 0 to 10 "
        "(default the model's)",
    )


class Translation(BaseModel):
    translation: str
    tokens: int = Field(description="tokens of the translation, its end not counted")
    log_prob: float = Field(description="log-probability of the tokens and the end")


class TranslateResponse(BaseModel):
    translations: list[Translation]
    model: str


@dataclass(eq=False)  # compared by identity: two requests may send the same texts
class _Waiting:
    texts: list[str]
    decoding: Decoding
    future: asyncio.Future[list[Translated]]


class Translations:
    """Requests' texts translated in one worker thread on ``threads`` torch threads, one model
    call at a time. Once the model is free, a call takes the oldest waiting request and every
    other waiting one with the same beam and length penalty, up to ``max_batch`` texts (the
    oldest request whole at least), after waiting up to ``wait`` seconds for more; under load,
    the requests received during a call share the next. Counted for /health."""

    def __init__(
        self, translate: Translate, *, threads: int, max_batch: int, wait: float, enabled: bool
    ) -> None:
        self.translate = translate
        self.max_batch, self.wait, self.enabled = max_batch, wait, enabled
        self.executor = ThreadPoolExecutor(  # torch's thread count is set in the thread itself
            max_workers=1,
            thread_name_prefix="rnnkit-translate",
            initializer=torch.set_num_threads,
            initargs=(threads,),
        )
        self.requests = 0  # answered
        self.sentences = 0
        self.batches = 0  # model calls
        self._waiting: list[_Waiting] = []
        self._arrived = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def run(self, texts: list[str], beam: int, length_penalty: float) -> list[Translated]:
        """The translations of ``texts`` in order, decoded with other requests' texts."""
        if self._task is None or self._task.done():  # started in the loop that serves
            self._arrived = asyncio.Event()
            self._task = asyncio.create_task(self._loop())
        future: asyncio.Future[list[Translated]] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(texts, (beam, length_penalty), future))
        self._arrived.set()
        return await future

    async def stop(self) -> None:
        """Refuse the waiting requests (503) and end the loop; a call running ends alone."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        _fail(self._waiting, HttpError(503, SHUTTING_DOWN))
        self._waiting.clear()
        self.executor.shutdown(wait=False, cancel_futures=True)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            batch = await self._next_batch()
            if not batch:
                continue
            texts = [text for waiting in batch for text in waiting.texts]
            beam, alpha = batch[0].decoding
            try:
                found = await loop.run_in_executor(
                    self.executor, self.translate, texts, beam, alpha
                )
            except asyncio.CancelledError:
                _fail(batch, HttpError(503, SHUTTING_DOWN))
                raise
            except Exception as error:  # the requests fail, the server stays up
                log.exception("translation failed")
                _fail(batch, error)
                continue
            self.batches += 1
            self.sentences += len(texts)
            self.requests += len(batch)
            start = 0
            for waiting in batch:
                if not waiting.future.done():
                    waiting.future.set_result(found[start : start + len(waiting.texts)])
                start += len(waiting.texts)

    async def _next_batch(self) -> list[_Waiting]:
        """The requests of the next call, once those already received (and, with ``wait``,
        those arriving within it) are waiting; empty if all of them left."""
        while not self._waiting:
            self._arrived.clear()
            await self._arrived.wait()
        for _ in range(2):  # a request read now reaches the queue one turn later
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while self.enabled and sum(len(w.texts) for w in self._sharing()) < self.max_batch:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            self._arrived.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), remaining)
        taken = self._take()
        self._waiting = [w for w in self._waiting if w not in taken and not w.future.done()]
        return taken

    def _sharing(self) -> list[_Waiting]:
        """The waiting requests that the oldest one's call may decode, the oldest first."""
        waiting = [w for w in self._waiting if not w.future.done()]
        return [w for w in waiting if w.decoding == waiting[0].decoding] if waiting else []

    def _take(self) -> list[_Waiting]:
        """The requests of the next call: the oldest, then (batching) the others that share
        its decoding while the call holds at most ``max_batch`` texts."""
        taken: list[_Waiting] = []
        size = 0
        for waiting in self._sharing():
            if taken and (not self.enabled or size + len(waiting.texts) > self.max_batch):
                continue
            taken.append(waiting)
            size += len(waiting.texts)
        return taken


def _fail(requests: list[_Waiting], error: Exception) -> None:
    for waiting in requests:
        if not waiting.future.done():
            waiting.future.set_exception(error)


def decoding(request: TranslateRequest, default: Decoding, max_beam: int) -> Decoding:
    """The beam and length penalty ``request`` asks for (``default`` for a field it leaves
    out); HttpError for a value out of its range (422) or a beam over --max-beam (413)."""
    beam = default[0] if request.beam is None else request.beam
    alpha = default[1] if request.length_penalty is None else request.length_penalty
    if beam > max_beam:  # before the range: the server's limit is the one to name
        raise HttpError(413, f"beam: {beam:,} is over the limit of {max_beam:,} (--max-beam)")
    try:
        check_beam(beam, alpha)
    except ConfigError as error:  # names the field: beam or length_penalty
        raise HttpError(422, str(error)) from None
    return beam, alpha


def _info(translator: Translator, model: Path, config: ServeConfig) -> dict[str, Any]:
    """What GET /info reports, from the loaded translator (the bundle's own configuration)."""
    units = translator.units_
    return {
        "model": model.name,
        "format_version": FORMAT_VERSION,
        "task": NAME,
        "source": {"unit": units.source.name, "vocabulary_size": len(units.source)},
        "target": {"unit": units.target.name, "vocabulary_size": len(units.target)},
        "joint": units.joint,
        "configuration": {
            "model": asdict(translator.model_.config),
            "data": asdict(translator.data_config()),
            "training": asdict(translator.train_config()),
        },
        "metrics": translator.metrics_,
        "server": {
            "max_batch": config.max_batch,
            "max_chars": config.max_chars,
            "max_source_tokens": config.max_source_tokens,
            "max_beam": config.max_beam,
            "batching": config.batching,
            "beam": min(translator.beam, config.max_beam),  # a request's defaults
            "length_penalty": translator.length_penalty,
            "max_ratio": translator.max_ratio,
        },
    }


def _check_source_lengths(translator: Translator, texts: list[str], limit: int) -> None:
    """413 for the first text of more than ``limit`` source tokens."""
    lengths = translator.units_.source.encode_batch(texts)
    long = next((i for i, ids in enumerate(lengths) if len(ids) > limit), None)
    if long is not None:
        raise HttpError(
            413,
            f"texts[{long}] has {len(lengths[long]):,} tokens, over the limit of {limit:,} "
            "(--max-source-tokens)",
        )


def _check_finite(found: list[Translated]) -> None:
    """500, logged, when a translation's log-probability is NaN or infinite."""
    bad = [i for i, t in enumerate(found) if not math.isfinite(t.log_prob)]
    if bad:
        where = ", ".join(f"texts[{i}]" for i in bad[:5]) + (" ..." if len(bad) > 5 else "")
        log.error("the model gave a NaN or infinite log-probability for %s", where)
        raise HttpError(
            500,
            f"the model gave a NaN or infinite log-probability for {where}: its weights are "
            "damaged or its training diverged; the server's operator must replace the model",
        )


def create_endpoint(config: ServeConfig) -> Endpoint:
    """A translator's endpoint: POST /translate, the model in a worker thread, waiting
    requests decoded together."""
    translator = Translator.load(config.model, command="rnnkit serve")
    translator.device = config.device
    info = _info(translator, Path(config.model), config)
    default = info["server"]["beam"], info["server"]["length_penalty"]

    def translate(texts: list[str], beam: int, length_penalty: float) -> list[Translated]:
        return translator.translations(texts, beam=beam, length_penalty=length_penalty)

    translations = Translations(
        translate,
        threads=config.threads or 1,  # decoding steps one token at a time: see --threads
        max_batch=config.max_batch,
        wait=config.batch_wait_ms / 1000,
        enabled=config.batching,
    )

    async def respond(request: TranslateRequest) -> bytes:
        check_text_list(request.texts, config.max_batch, config.max_chars)
        _check_source_lengths(translator, request.texts, config.max_source_tokens)
        beam, alpha = decoding(request, default, config.max_beam)
        found = await translations.run(request.texts, beam, alpha)
        _check_finite(found)
        payload = {
            "translations": [
                {"translation": t.text, "tokens": len(t.tokens), "log_prob": t.log_prob}
                for t in found
            ],
            "model": info["model"],
        }
        return json.dumps(payload, ensure_ascii=False).encode()

    return Endpoint(
        summary=f"Translation with the rnnkit translator {info['model']}",
        info=info,
        request=TranslateRequest,
        response=TranslateResponse,
        example='{"texts": ["..."]}',
        body_limit=config.max_body_bytes,
        body_flags="--max-batch x --max-chars",
        counters=lambda: {
            "requests": translations.requests,
            "sentences": translations.sentences,
            "batches": translations.batches,
        },
        respond=respond,
        stop=translations.stop,
    )
