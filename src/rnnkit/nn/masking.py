"""Helpers for padded batches of variable-length sequences.

All functions here are time-major: a batch is (T, B, ...) and ``lengths`` is a
(B,) integer tensor with ``1 <= lengths[b] <= T``. Position ``t`` of sequence
``b`` is real when ``t < lengths[b]`` and padding otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def length_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(T, B) boolean mask, true at real positions: ``mask[t, b] = t < lengths[b]``."""
    steps = torch.arange(max_len, device=lengths.device)
    return steps.unsqueeze(1) < lengths.unsqueeze(0)


def reverse_index(lengths: Tensor, max_len: int) -> Tensor:
    """(T, B) time index that reverses each sequence within its own length.

    ``index[t, b] = lengths[b] - 1 - t`` at real positions and ``t`` at padding,
    so padding stays where it is. The permutation is its own inverse.
    """
    steps = torch.arange(max_len, device=lengths.device).unsqueeze(1)  # (T, 1)
    flipped = lengths.unsqueeze(0) - 1 - steps  # (T, B)
    return torch.where(flipped >= 0, flipped, steps)


def reverse_padded(x: Tensor, index: Tensor) -> Tensor:
    """Reverse each sequence of ``x`` (T, B, F) within its length, given ``reverse_index``."""
    return x.gather(0, index.unsqueeze(-1).expand_as(x))


def last_step(x: Tensor, lengths: Tensor) -> Tensor:
    """``x[lengths[b] - 1, b]`` for each ``b``: (T, B, F) -> (B, F)."""
    index = (lengths - 1).view(1, -1, 1).expand(1, x.shape[1], x.shape[2])
    return x.gather(0, index).squeeze(0)


@dataclass(frozen=True)
class Padding:
    """What the recurrent paths need to know about a padded batch, computed once per call."""

    lengths: Tensor  # (B,) int64, 1 <= lengths <= T
    valid: Tensor  # (T, B) bool, true at real positions
    reverse: Tensor  # (T, B) int64, see reverse_index

    @classmethod
    def of(cls, lengths: Tensor, max_len: int) -> Padding:
        return cls(lengths, length_mask(lengths, max_len), reverse_index(lengths, max_len))
