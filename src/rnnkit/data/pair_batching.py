"""Batches of sentence pairs for a translator, bucketed by source length.

    source     (S, B)  the source tokens, padded with 0, and their lengths (B,)
    target_in  (T, B)  <eod> y_1 ... y_n          what the decoder reads (teacher forcing)
    target     (T, B)  y_1 ... y_n <eod>          what it predicts; IGNORE_INDEX at padding

``T`` is the longest target plus one. The order is :class:`rnnkit.data.batching.Batches`'s
(a seeded shuffle cut into chunks, each sorted by source length and cut into batches, the
batches shuffled), so a batch holds sources of similar length; a data-parallel process takes
its contiguous share of every batch (:class:`rnnkit.data.batching.ShardedBatches`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.data.batching import IGNORE_INDEX, Batches, ShardedBatches
from rnnkit.text.units import EOD_ID


@dataclass(frozen=True)
class PairBatch:
    source: Tensor
    lengths: Tensor
    target_in: Tensor
    target: Tensor
    index: np.ndarray

    @property
    def inputs(self) -> tuple[Tensor, Tensor, Tensor]:
        return self.source, self.lengths, self.target_in

    @property
    def num_tokens(self) -> int:
        """The target tokens predicted (each sentence's end included)."""
        return int((self.target != IGNORE_INDEX).sum())


def flatten(sequences: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """Token id lists -> (flat int64 ids, offsets (n + 1,))."""
    lengths = np.fromiter((len(s) for s in sequences), np.int64, len(sequences))
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    flat = np.fromiter((i for s in sequences for i in s), np.int64, int(offsets[-1]))
    return flat, offsets


class PairBatches:
    """Training (``shuffle``) or evaluation batches over ``sources`` and ``targets`` (token id
    lists, aligned)."""

    def __init__(
        self,
        sources: list[list[int]],
        targets: list[list[int]],
        *,
        batch_size: int,
        shuffle: bool = False,
        seed: int = 0,
    ) -> None:
        if len(sources) != len(targets):
            raise ValueError(f"{len(sources)} sources and {len(targets)} targets")
        self.sources = Batches(*flatten(sources), batch_size=batch_size, shuffle=shuffle, seed=seed)
        self.targets = Batches(*flatten(targets), batch_size=batch_size)
        self.batch_size = batch_size

    def __len__(self) -> int:
        return len(self.sources)

    @property
    def num_pairs(self) -> int:
        return len(self.targets.lengths)

    @property
    def num_tokens(self) -> int:
        """Target tokens per epoch, each sentence's end included."""
        return self.targets.num_tokens + self.num_pairs

    def order(self, epoch: int = 0) -> list[np.ndarray]:
        return self.sources.order(epoch)

    def epoch(self, epoch: int = 0) -> Iterator[PairBatch]:
        for index in self.order(epoch):
            yield self.collate(index)

    def __iter__(self) -> Iterator[PairBatch]:
        return self.epoch(0)

    def collate(self, index: np.ndarray) -> PairBatch:
        source = self.sources.collate(index)
        lengths = torch.from_numpy(self.targets.lengths[index].astype(np.int64))
        steps = int(lengths.max()) + 1 if len(index) else 1
        body = torch.zeros((steps, len(index)), dtype=torch.long)
        if steps > 1:
            tokens = self.targets.collate(index).tokens  # (T - 1, B), padded with 0
            body[: tokens.shape[0]] = tokens
        target_in = torch.cat([torch.full((1, len(index)), EOD_ID), body[:-1]])
        position = torch.arange(steps)[:, None]
        target = torch.where(position < lengths[None], body, IGNORE_INDEX)
        target = torch.where(position == lengths[None], EOD_ID, target)
        return PairBatch(source.tokens, source.lengths, target_in, target, index)

    def shard(self, rank: int, size: int) -> ShardedBatches:
        return ShardedBatches(self, rank, size)  # type: ignore[arg-type]
