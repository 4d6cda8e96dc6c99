"""Batches for training and inference: bucketed by length, padded, time-major, with lengths.

Training batches come from a seeded shuffle cut into chunks of ``bucket`` batches; each chunk is
sorted by length and cut into batches, and the batch order is shuffled again, so a batch holds
texts of similar length (little padding) while the epoch order stays random. Inference batches
are the texts sorted by length, with the indices that put the results back in order.

Inference batches of mixed lengths (a server's batch of requests) can be cut further where a
separate call costs less than the padding it saves. A batch of ``B`` texts padded to ``T`` steps
costs about ``call_cost + T * (B + STEP_COST)`` token positions: the positions the kernel
computes, a per-step overhead worth about half a text, and a fixed cost per model call; the
cheapest cuts of the sorted lengths under that model are found by dynamic programming.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import field_error

STEP_COST = 0.5  # per-step overhead of a recurrent kernel call, in texts (measured, design.md)


IGNORE_INDEX = -100  # a target that counts for nothing: torch's cross_entropy default


@dataclass(frozen=True)
class Batch:
    """``tokens`` (T, B) padded with 0, ``lengths`` (B,), ``index`` (B,) positions of the texts
    in their corpus, and ``target``: (B,) label ids, or (T, B) per-token target ids padded
    with ``IGNORE_INDEX`` like the tokens; ``IGNORE_INDEX`` where a text has no target."""

    tokens: Tensor
    lengths: Tensor
    target: Tensor
    index: np.ndarray

    @property
    def inputs(self) -> tuple[Tensor, Tensor]:
        return self.tokens, self.lengths

    @property
    def num_tokens(self) -> int:
        return int(self.index.size and self.lengths.sum())


class Batches:
    """Batches over numericalized texts ``ids`` (flat) split by ``offsets``, with per-text
    ``targets`` (n,) or per-token ``token_targets`` (flat, aligned with ``ids``), or neither
    (inference: every target ``IGNORE_INDEX``)."""

    def __init__(
        self,
        ids: np.ndarray,
        offsets: np.ndarray,
        targets: np.ndarray | None = None,
        *,
        token_targets: np.ndarray | None = None,
        batch_size: int,
        max_len: int | None = None,
        shuffle: bool = False,
        seed: int = 0,
        bucket: int = 50,
        call_cost: float | None = None,
    ) -> None:
        if batch_size < 1:
            raise field_error("batch_size", "at least 1", batch_size)
        if max_len is not None and max_len < 1:
            raise field_error("max_len", "at least 1", max_len)
        self.ids = ids
        self.starts = offsets[:-1]
        lengths = np.diff(offsets)
        self.lengths = np.minimum(lengths, max_len) if max_len else lengths
        if targets is not None and token_targets is not None:
            raise ValueError("give targets per text or per token, not both")
        if token_targets is not None and len(token_targets) != len(ids):
            raise ValueError(f"{len(token_targets)} token targets for {len(ids)} tokens")
        missing = np.full(len(lengths), IGNORE_INDEX, np.int64)
        self.targets = targets if targets is not None else missing
        self.token_targets = token_targets
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.seed = seed
        self.bucket = bucket
        self.call_cost = call_cost

    def __len__(self) -> int:
        if self.call_cost is not None and not self.shuffle:
            return len(self.order())
        return -(-len(self.lengths) // self.batch_size)

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())

    def order(self, epoch: int = 0) -> list[np.ndarray]:
        """The indices of each batch of ``epoch``."""
        n, size = len(self.lengths), self.batch_size
        if not self.shuffle:
            return list(self._sorted_order)
        rng = np.random.default_rng([self.seed, epoch])
        shuffled = rng.permutation(n)
        batches = []
        for start in range(0, n, size * self.bucket):
            chunk = shuffled[start : start + size * self.bucket]
            chunk = chunk[np.argsort(self.lengths[chunk], kind="stable")]
            batches += [chunk[i : i + size] for i in range(0, len(chunk), size)]
        return [batches[i] for i in rng.permutation(len(batches))]

    @functools.cached_property
    def _sorted_order(self) -> list[np.ndarray]:
        """Inference batches: the same in every epoch, so cut once."""
        ordered = np.argsort(self.lengths, kind="stable")
        size = self.batch_size
        if self.call_cost is not None:
            return np.split(ordered, cheapest_cuts(self.lengths[ordered], size, self.call_cost))
        return [ordered[i : i + size] for i in range(0, len(ordered), size)]

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        for index in self.order(epoch):
            yield self.collate(index)

    def __iter__(self) -> Iterator[Batch]:
        return self.epoch(0)

    def collate(self, index: np.ndarray) -> Batch:
        lengths = self.lengths[index]
        steps = np.arange(int(lengths.max()))[:, None]  # (T, 1)
        real = steps < lengths[None, :]  # (T, B)
        positions = np.where(real, self.starts[index][None, :] + steps, 0)
        tokens = np.where(real, self.ids[positions], 0)
        if self.token_targets is None:
            target = self.targets[index]  # (B,)
        else:
            target = np.where(real, self.token_targets[positions], IGNORE_INDEX)  # (T, B)
        return Batch(
            torch.from_numpy(tokens.astype(np.int64, copy=False)),
            torch.from_numpy(lengths.astype(np.int64)),
            torch.from_numpy(target.astype(np.int64, copy=False)),
            index,
        )

    def shard(self, rank: int, size: int) -> ShardedBatches:
        """Process ``rank`` of ``size``'s part of every batch (data-parallel training)."""
        return ShardedBatches(self, rank, size)


def cheapest_cuts(lengths: np.ndarray, batch_size: int, call_cost: float) -> list[int]:
    """Where to cut ascending ``lengths`` into batches of at most ``batch_size`` so that
    the total of ``call_cost + T * (B + STEP_COST)`` over the batches is least (``T`` the
    batch's longest length, ``B`` its size). ``best[j]``: the least cost of the first ``j``;
    ``start[j]``: where the last batch of the first ``j`` begins."""
    n = len(lengths)
    if n * min(n, batch_size) <= 1024:  # a server's batch: numpy's per-call cost would dominate
        start = _starts_small(lengths.tolist(), batch_size, call_cost)
    else:
        start = _starts_large(lengths, batch_size, call_cost)
    cuts, j = [], n
    while j > 0:
        j = start[j]
        cuts.append(j)
    return sorted(cuts)[1:]


def _starts_small(lengths: list[int], batch_size: int, call_cost: float) -> list[int]:
    best, start = [0.0], [0]
    for j in range(1, len(lengths) + 1):
        longest = lengths[j - 1]
        cost, begin = min(
            (best[i] + call_cost + longest * (j - i + STEP_COST), i)
            for i in range(max(0, j - batch_size), j)
        )
        best.append(cost)
        start.append(begin)
    return start


def _starts_large(lengths: np.ndarray, batch_size: int, call_cost: float) -> list[int]:
    n = len(lengths)
    best = np.zeros(n + 1)
    start = np.zeros(n + 1, dtype=np.int64)
    for j in range(1, n + 1):
        i = np.arange(max(0, j - batch_size), j)
        cost = best[i] + call_cost + lengths[j - 1] * (j - i + STEP_COST)
        k = int(cost.argmin())
        best[j], start[j] = cost[k], i[k]
    return [int(i) for i in start]


class ShardedBatches:
    """One process's share of ``batches``: each batch, sorted by length as bucketing left it,
    cut into ``size`` contiguous parts, so every process sees texts of similar length and the
    parts together are the single-process batch. A batch of fewer than ``size`` texts (at most
    the last of an epoch) is left out."""

    def __init__(self, batches: Batches, rank: int, size: int) -> None:
        if not 0 <= rank < size:
            raise ValueError(f"rank {rank} is not in [0, {size})")
        self.batches, self.rank, self.size = batches, rank, size

    def __len__(self) -> int:
        return sum(len(index) >= self.size for index in self.batches.order(0))

    def epoch(self, epoch: int = 0) -> Iterator[Batch]:
        for index in self.batches.order(epoch):
            if len(index) >= self.size:
                yield self.batches.collate(np.array_split(index, self.size)[self.rank])
