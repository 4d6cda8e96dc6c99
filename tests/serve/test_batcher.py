"""The dynamic batcher on its own, with a stand-in model that records its calls."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from rnnkit.serve.batcher import Batcher


def run(coroutine: object) -> object:
    return asyncio.run(coroutine)  # type: ignore[arg-type]


class Recorder:
    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        if self.fail_on in texts:
            raise ValueError("model failure")
        return np.array([[len(t), 0.0] for t in texts])


async def burst(batcher: Batcher, requests: list[list[str]]) -> list[object]:
    await batcher.start()
    try:
        return await asyncio.gather(*(batcher.predict(r) for r in requests), return_exceptions=True)
    finally:
        await batcher.stop()


def test_waiting_requests_share_one_call_and_get_their_own_rows() -> None:
    model = Recorder()
    batcher = Batcher(model, max_batch=100, wait=0.05, enabled=True)
    requests = [["a"], ["bb", "ccc"], ["dddd"]]
    results = run(burst(batcher, requests))
    assert model.calls == [["a", "bb", "ccc", "dddd"]]
    assert [r[:, 0].tolist() for r in results] == [[1], [2, 3], [4]]  # type: ignore[attr-defined,union-attr]
    assert (batcher.batches, batcher.texts) == (1, 4)


def test_a_batch_stops_growing_at_max_batch() -> None:
    model = Recorder()
    run(burst(Batcher(model, max_batch=3, wait=0.05, enabled=True), [["a"]] * 7))
    assert [len(call) for call in model.calls] == [3, 3, 1]


def test_without_batching_each_request_is_one_call() -> None:
    model = Recorder()
    run(burst(Batcher(model, max_batch=100, wait=0.05, enabled=False), [["a"], ["b"], ["c"]]))
    assert sorted(model.calls) == [["a"], ["b"], ["c"]]


def test_a_failing_batch_fails_its_requests_and_the_next_batch_still_runs() -> None:
    model = Recorder(fail_on="boom")

    async def scenario() -> tuple[list[object], np.ndarray]:
        batcher = Batcher(model, max_batch=100, wait=0.01, enabled=True)
        await batcher.start()
        try:
            failed = await asyncio.gather(
                batcher.predict(["ok"]), batcher.predict(["boom"]), return_exceptions=True
            )
            return failed, await batcher.predict(["later"])
        finally:
            await batcher.stop()

    failed, later = run(scenario())  # type: ignore[misc]
    assert all(isinstance(r, ValueError) for r in failed)
    assert later[:, 0].tolist() == [5]
    with pytest.raises(ValueError, match="model failure"):
        raise failed[0]
