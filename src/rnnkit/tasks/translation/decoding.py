"""Greedy and beam search over a decoder's steps, batched.

Both search the same space: every output ``y`` of at most ``max_len`` tokens (each sentence its
own limit), followed by the end token, scored by its log-probability

    log p(y, </s> | x) = sum_t log p(y_t | y_<t, x)

Greedy takes the most likely token at each step. Beam search keeps the ``beam`` best prefixes
of each sentence; a prefix that the end token completes (among the ``beam`` best candidates of
its step) is a finished hypothesis, ranked by its log-probability over the length penalty of
Wu et al. (2016):

    lp(y) = ((5 + |y|) / 6) ** alpha          |y| counting the end token; alpha 0: none

A prefix that reaches ``max_len`` tokens can only end. A sentence is done once no prefix still
running can beat its best finished hypothesis: log-probabilities only fall as a prefix grows,
so the best running prefix's score over the largest penalty it could reach (that of the limit)
bounds what it can still become. (Stopping at ``beam`` finished hypotheses instead, as some
implementations do, can return a worse translation with a wider beam.) With a beam as wide as
the number of prefixes, beam search is exhaustive; with a beam of 1 and no length penalty it
is greedy search (both tested).

The decoder is any ``step(tokens (N,), state) -> (log-probabilities (N, V), state)`` whose state
has ``select(rows)``: PyTorch's :meth:`rnnkit.models.translator.TranslatorNet.step` or the
exported graph in ONNX Runtime. Rows of finished sentences are dropped as the search goes.
``search_batches`` runs either over many sources, batch by batch, with a :class:`Searcher`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from rnnkit.models.config import SearchConfig


class Selectable(Protocol):
    def select(self, rows: Tensor) -> Any: ...


class Searcher(Protocol):
    """An encoder-decoder as the searches run it: a batch of sources (S, B) of ``lengths``
    (B,) to a start state, then steps. PyTorch's network
    (:class:`rnnkit.models.translator.TranslatorNet`) or its graphs in ONNX Runtime
    (:class:`rnnkit.tasks.translation.runtime.OnnxTranslator`)."""

    def start_search(self, source: Tensor, lengths: Tensor) -> Any: ...

    def search_step(self, tokens: Tensor, search: Any) -> tuple[Tensor, Any]: ...


StepFn = Callable[[Tensor, Any], tuple[Tensor, Any]]
BLOCKED = 2  # ids below this (padding, unknown) are never written


@dataclass(frozen=True)
class Hypothesis:
    """An output (token ids, without the end token) and its log-probability with the end."""

    tokens: list[int]
    log_prob: float


SEARCH_ROWS = 640  # hypotheses searched side by side: 64 sentences with a beam of 10


def check_beam(beam: int, length_penalty: float = 0.0) -> None:
    """``ConfigError`` naming ``beam`` or ``length_penalty`` when out of range (the checks of
    :class:`rnnkit.models.config.SearchConfig`)."""
    SearchConfig(beam=beam, length_penalty=length_penalty)


def penalty(length: int, alpha: float) -> float:
    """Wu et al.'s length penalty of an output of ``length`` tokens (the end token counted)."""
    return float(((5.0 + length) / 6.0) ** alpha)


def greedy(
    step: StepFn, state: Selectable, max_len: Sequence[int], *, start: int, end: int
) -> list[Hypothesis]:
    """The most likely token at each step, for each sentence of the batch."""
    limits = torch.as_tensor(list(max_len), dtype=torch.long)
    rows = torch.arange(len(limits))  # the sentence of each row still running
    tokens = torch.full((len(limits),), start, dtype=torch.long)
    outputs: list[list[int]] = [[] for _ in rows]
    log_probs = [0.0] * len(outputs)
    for t in range(int(limits.max()) + 1 if len(limits) else 0):
        scores, state = step(tokens, state)
        scores = _allowed(scores, end, (t >= limits[rows]))
        best, chosen = scores.max(-1)
        running = []
        for row, (sentence, token, score) in enumerate(
            zip(rows.tolist(), chosen.tolist(), best.tolist(), strict=True)
        ):
            log_probs[sentence] += score
            if token == end:
                continue
            outputs[sentence].append(token)
            running.append(row)
        if not running:
            break
        keep = torch.tensor(running)
        rows, tokens = rows[keep], chosen[keep]
        if len(running) < len(chosen):
            state = state.select(keep)
    return [Hypothesis(o, p) for o, p in zip(outputs, log_probs, strict=True)]


def beam_search(
    step: StepFn,
    state: Selectable,
    max_len: Sequence[int],
    *,
    beam: int,
    start: int,
    end: int,
    length_penalty: float = 0.0,
) -> list[Hypothesis]:
    """The best finished hypothesis of each sentence (see the module's docstring). ``state``
    holds one row per sentence; it is repeated ``beam`` times here."""
    check_beam(beam, length_penalty)
    limits = list(max_len)
    count = len(limits)
    sentences = list(range(count))  # the sentences still searched, in row-block order
    rows = torch.arange(count).repeat_interleave(beam)
    state = state.select(rows)
    tokens = torch.full((count * beam,), start, dtype=torch.long)
    # each running sentence's prefixes: their tokens and log-probabilities (-inf: none yet)
    prefixes: list[list[list[int]]] = [[[] for _ in range(beam)] for _ in range(count)]
    scores = torch.full((count, beam), -math.inf)
    scores[:, 0] = 0.0
    finished: list[list[tuple[float, Hypothesis]]] = [[] for _ in range(count)]
    t = 0
    while sentences:
        log_probs, state = step(tokens, state)
        forced = torch.tensor([t >= limits[s] for s in sentences]).repeat_interleave(beam)
        log_probs = _allowed(log_probs, end, forced)
        vocab = log_probs.shape[-1]
        total = scores[:, :, None] + log_probs.view(len(sentences), beam, vocab)
        width = min(2 * beam, beam * vocab)
        top, index = total.view(len(sentences), -1).topk(width, dim=-1)
        top_list, index_list = top.tolist(), index.tolist()
        kept = []
        for block, sentence in enumerate(sentences):
            alive = _candidates(
                top_list[block],
                index_list[block],
                vocab,
                prefixes[block],
                finished[sentence],
                beam=beam,
                end=end,
                alpha=length_penalty,
            )
            best = max((ranked for ranked, _ in finished[sentence]), default=-math.inf)
            # done when no prefix still running can end above the best finished hypothesis:
            # its log-probability only falls, and the penalty is at most that of the limit
            if alive and alive[0][0] / penalty(limits[sentence] + 1, length_penalty) > best:
                kept.append((block, sentence, alive))
        next_rows, next_tokens, next_scores = [], [], []
        sentences = [sentence for _, sentence, _ in kept]
        new_prefixes = []
        for block, _, alive in kept:
            chosen = [prefixes[block][source] + [token] for _, source, token in alive]
            chosen += [[] for _ in range(beam - len(alive))]
            new_prefixes.append(chosen)
            for k in range(beam):
                score, source, token = alive[k] if k < len(alive) else (-math.inf, 0, end)
                next_rows.append(block * beam + source)
                next_tokens.append(token)
                next_scores.append(score)
        if not sentences:
            break
        prefixes = new_prefixes
        state = state.select(torch.tensor(next_rows))
        tokens = torch.tensor(next_tokens)
        scores = torch.tensor(next_scores).view(len(sentences), beam)
        t += 1
    return [max(found, key=lambda item: item[0])[1] for found in finished]


def _candidates(
    scores: list[float],
    flat: list[int],
    vocab: int,
    prefixes: list[list[int]],
    finished: list[tuple[float, Hypothesis]],
    *,
    beam: int,
    end: int,
    alpha: float,
) -> list[tuple[float, int, int]]:
    """One sentence's step: its best candidates (``scores`` descending, ``flat`` their
    prefix x vocabulary index) become finished hypotheses (the end token, among the ``beam``
    best, added to ``finished`` with their ranked score) or the ``beam`` prefixes that run on:
    (score, prefix, token), best first."""
    alive: list[tuple[float, int, int]] = []
    for rank, (score, index) in enumerate(zip(scores, flat, strict=True)):
        if score == -math.inf:
            break
        source, token = divmod(index, vocab)
        if token == end:
            if rank < beam:
                prefix = prefixes[source]
                ranked = score / penalty(len(prefix) + 1, alpha)
                finished.append((ranked, Hypothesis(list(prefix), score)))
        elif len(alive) < beam:
            alive.append((score, source, token))
    return alive


def _allowed(log_probs: Tensor, end: int, forced: Tensor) -> Tensor:
    """``log_probs`` (N, V) in float32 with padding and unknown never chosen, and only the end
    token where ``forced`` (N,) (the output has reached its limit)."""
    log_probs = log_probs.float().clone()
    log_probs[:, :BLOCKED] = -math.inf
    if bool(forced.any()):
        only_end = torch.full_like(log_probs[0], -math.inf)
        only_end[end] = 0.0
        log_probs[forced] = log_probs[forced] + only_end
    return log_probs


def search_batches(
    searcher: Searcher,
    sources: Sequence[Sequence[int]],
    max_len: Sequence[int],
    *,
    beam: int,
    start: int,
    end: int,
    length_penalty: float = 0.0,
    batch_size: int = 64,
) -> list[Hypothesis]:
    """The best output for each source (token ids, none empty), in their order: the sources
    sorted by length, cut into batches of ``batch_size`` (fewer for a beam over 10, so that a
    step holds at most ``SEARCH_ROWS`` rows of scores), padded, and searched greedily (``beam``
    1) or with beam search."""
    check_beam(beam, length_penalty)
    batch_size = max(1, min(batch_size, SEARCH_ROWS // beam))
    order = sorted(range(len(sources)), key=lambda i: len(sources[i]))
    found: dict[int, Hypothesis] = {}
    for first in range(0, len(order), batch_size):
        rows = order[first : first + batch_size]
        lengths = torch.tensor([len(sources[i]) for i in rows])
        tokens = torch.zeros((int(lengths.max()), len(rows)), dtype=torch.long)
        for column, row in enumerate(rows):
            tokens[: len(sources[row]), column] = torch.tensor(sources[row])
        state = searcher.start_search(tokens, lengths)
        limits = [max_len[i] for i in rows]
        if beam == 1:
            best = greedy(searcher.search_step, state, limits, start=start, end=end)
        else:
            best = beam_search(
                searcher.search_step,
                state,
                limits,
                beam=beam,
                start=start,
                end=end,
                length_penalty=length_penalty,
            )
        found.update(zip(rows, best, strict=True))
    return [found[i] for i in range(len(sources))]
