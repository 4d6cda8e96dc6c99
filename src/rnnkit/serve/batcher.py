"""Dynamic batching: concurrent requests share one call of the model.

A request puts its texts on a queue and waits. One loop takes the first waiting request, lets
the event loop turn twice so that requests already received reach the queue, waits up to
``wait`` seconds more while the batch holds fewer than ``max_batch`` texts, and runs the model
once on everything taken; each request gets its own rows back. Under load, requests pile up
while the model runs, so batches grow with the load; alone, a request waits at most ``wait``.

The model runs in the event loop's own thread. A worker thread would let the loop parse
requests during a call, but both threads need the interpreter lock for most of their work, and
handing it back and forth served fewer requests per second under load (design.md, decision
22). The price: nothing else is answered while the model runs, at most one call of
``max_batch`` texts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import numpy as np

log = logging.getLogger(__name__)

Predict = Callable[[list[str]], np.ndarray]
_Item = tuple[list[str], "asyncio.Future[np.ndarray]"]


class Batcher:
    def __init__(self, predict: Predict, *, max_batch: int, wait: float, enabled: bool) -> None:
        self.predict_fn = predict
        self.max_batch = max_batch
        self.wait = wait
        self.enabled = enabled
        self.batches = 0  # model calls, for /health
        self.texts = 0
        self._queue: asyncio.Queue[_Item] | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.enabled:
            self._queue = asyncio.Queue()
            self._task = asyncio.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities (len(texts), C) for ``texts``, computed with other requests' texts."""
        if self._queue is None:
            return self._run(texts)
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait((texts, future))
        return await future

    def _run(self, texts: list[str]) -> np.ndarray:
        result = self.predict_fn(texts)
        self.batches += 1
        self.texts += len(texts)
        return result

    async def _collect(self, queue: asyncio.Queue[_Item]) -> list[_Item]:
        items = [await queue.get()]
        size = len(items[0][0])
        for _ in range(2):  # a request read now reaches the queue one turn later
            await asyncio.sleep(0)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while size < self.max_batch:
            if queue.empty():
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
            else:
                item = queue.get_nowait()
            items.append(item)
            size += len(item[0])
        return items

    async def _loop(self) -> None:
        assert self._queue is not None
        while True:
            items = await self._collect(self._queue)
            items = [(texts, future) for texts, future in items if not future.cancelled()]
            if not items:
                continue
            try:
                probs = self._run([text for texts, _ in items for text in texts])
            except Exception as error:  # the requests fail, the server stays up
                log.exception("prediction failed")
                for _, future in items:
                    if not future.done():
                        future.set_exception(error)
                continue
            start = 0
            for texts, future in items:
                if not future.done():
                    future.set_result(probs[start : start + len(texts)])
                start += len(texts)
