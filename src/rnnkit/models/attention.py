"""Attention of a decoder state over the encoder's outputs, masked at source padding.

    score(s_t, m_j) = s_t . m_j                        dot       (Luong et al., 2015)
                    = s_t . (W_a m_j)                  general   (Luong et al., 2015)
                    = v . tanh(W_q s_t + W_k m_j)      additive  (Bahdanau et al., 2015)
    a_t             = softmax_j score(s_t, m_j)        over the source's own positions only
    c_t             = sum_j a_tj m_j                   the context

A padding position's score is -inf before the softmax, so its weight is exactly 0 and a
sentence's context never depends on the padding of its batch. The parts that depend on the
source alone (``W_a m``, ``W_k m``) are computed once per sentence (:meth:`Attention.keys`),
not once per decoder step.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass(frozen=True)
class Memory:
    """What the decoder attends to: the encoder's ``values`` (B, S, D) (the outputs ``m``),
    their ``keys`` (B, S, K) (``m``, ``W_a m`` or ``W_k m``) and ``mask`` (B, S), true at
    the source's own positions."""

    values: Tensor
    keys: Tensor
    mask: Tensor

    def select(self, rows: Tensor) -> Memory:
        """The memory of the sentences ``rows`` (an index into the batch), e.g. each sentence
        repeated once per hypothesis of a beam."""
        return Memory(self.values[rows], self.keys[rows], self.mask[rows])


class Attention(nn.Module):
    """``forward(query (B, T, D), memory) -> (context (B, T, D), weights (B, T, S))``."""

    def __init__(self, kind: str, size: int) -> None:
        super().__init__()
        self.kind = kind
        self.key: nn.Linear | None = None  # W_a (general) or W_k (additive)
        self.query: nn.Linear | None = None  # W_q (additive)
        self.v: nn.Linear | None = None  # v (additive)
        if kind == "general":
            self.key = nn.Linear(size, size, bias=False)
        elif kind == "additive":
            self.key = nn.Linear(size, size, bias=False)
            self.query = nn.Linear(size, size, bias=True)
            self.v = nn.Linear(size, 1, bias=False)
        elif kind != "dot":
            raise ValueError(f"unknown attention {kind!r}")

    def keys(self, values: Tensor) -> Tensor:
        """What the scores read of each source position (B, S, D)."""
        if self.key is None:
            return values
        keys: Tensor = self.key(values)
        return keys

    def memory(self, values: Tensor, mask: Tensor) -> Memory:
        return Memory(values, self.keys(values), mask)

    def scores(self, query: Tensor, memory: Memory) -> Tensor:
        """score(s_t, m_j) for every step t and position j (B, T, S), -inf at padding."""
        if self.kind == "additive":
            assert self.query is not None
            assert self.v is not None
            hidden = torch.tanh(self.query(query)[:, :, None] + memory.keys[:, None])  # B,T,S,D
            scores: Tensor = self.v(hidden).squeeze(-1)
        else:
            scores = torch.bmm(query, memory.keys.transpose(1, 2))
        return scores.masked_fill(~memory.mask[:, None], -torch.inf)

    def forward(self, query: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        scores = self.scores(query, memory)
        wide = scores.float() if scores.dtype in (torch.bfloat16, torch.float16) else scores
        weights = torch.softmax(wide, dim=-1).to(query.dtype)  # in float32 at least
        context = torch.bmm(weights, memory.values.to(weights.dtype))  # (B, T, D)
        return context, weights
