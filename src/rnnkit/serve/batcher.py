"""Dynamic batching: concurrent requests share one call of the model.

A request puts its texts on a queue and waits. One loop takes the first waiting request, then
everything else already waiting, and waits up to ``wait`` seconds more while the batch holds
fewer than ``max_batch`` texts; the model runs once on all of them (in a single worker thread,
so calls never compete for the cores) and each request gets its own rows back. Under load,
requests pile up while the model runs, so batches grow with the load; alone, a request waits at
most ``wait``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

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
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit-model")
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
        self.executor.shutdown(wait=True)

    async def predict(self, texts: list[str]) -> np.ndarray:
        """Probabilities (len(texts), C) for ``texts``, computed with other requests' texts."""
        if self._queue is None:
            return await self._run(texts)
        future: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        await self._queue.put((texts, future))
        return await future

    async def _run(self, texts: list[str]) -> np.ndarray:
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(self.executor, self.predict_fn, texts)
        self.batches += 1
        self.texts += len(texts)
        return result

    async def _collect(self, queue: asyncio.Queue[_Item]) -> list[_Item]:
        items = [await queue.get()]
        size = len(items[0][0])
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.wait
        while size < self.max_batch:
            try:
                item = queue.get_nowait()
            except asyncio.QueueEmpty:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
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
                probs = await self._run([text for texts, _ in items for text in texts])
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
