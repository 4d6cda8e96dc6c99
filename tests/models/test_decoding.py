"""Greedy and beam search against their definitions: beam 1 is greedy, and a beam wide
enough to hold every prefix finds the best output of an exhaustive search."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.models.config import TranslatorConfig
from rnnkit.models.translator import Search, TranslatorNet
from rnnkit.tasks.translation.decoding import beam_search, check_beam, greedy, penalty
from rnnkit.text.units import EOD_ID


def tiny_net(target_vocab: int = 6, *, seed: int = 0, cell: str = "gru") -> TranslatorNet:
    torch.manual_seed(seed)
    config = TranslatorConfig(
        9,
        target_vocab,
        cell=cell,
        embed_dim=5,
        hidden_size=4,
        dropout=0.0,
        embed_dropout=0.0,
        weight_dropout=0.0,
    )
    net = TranslatorNet(config).double().eval()
    with torch.no_grad():  # larger weights: peaked, varied distributions
        for parameter in net.parameters():
            parameter.mul_(3.0)
    return net


def encoded(net: TranslatorNet, sources: list[list[int]]) -> Search:
    lengths = torch.tensor([len(s) for s in sources])
    tokens = torch.zeros(int(lengths.max()), len(sources), dtype=torch.long)
    for b, source in enumerate(sources):
        tokens[: len(source), b] = torch.tensor(source)
    memory, state = net.encode(tokens, lengths)
    return Search(state, memory)


def sequence_log_prob(net: TranslatorNet, source: list[int], output: list[int]) -> float:
    """log p(output, <eod> | source) by teacher forcing."""
    search = encoded(net, [source])
    target_in = torch.tensor([EOD_ID, *output])[:, None]
    scores = net.decode(search.memory, search.decoder, target_in).scores[:, 0].double()
    log_probs = torch.log_softmax(scores, dim=-1)
    return float(sum(log_probs[t, y] for t, y in enumerate([*output, EOD_ID])))


@torch.no_grad()
@pytest.mark.parametrize("alpha", [0.0, 1.0])
@pytest.mark.parametrize("seed", range(4))
def test_a_wide_beam_equals_exhaustive_search(seed: int, alpha: float) -> None:
    net = tiny_net(seed=seed)
    sources, max_len = [[3, 4, 5], [6, 7], [8, 3, 3, 4]], 3
    found = beam_search(
        net.search_step,
        encoded(net, sources),
        [max_len] * len(sources),
        beam=64,
        start=EOD_ID,
        end=EOD_ID,
        length_penalty=alpha,
    )
    real = range(3, 6)  # the target tokens a search may write
    for source, hypothesis in zip(sources, found, strict=True):
        candidates = [
            list(output)
            for length in range(max_len + 1)
            for output in itertools.product(real, repeat=length)
        ]
        scored = [
            (sequence_log_prob(net, source, c) / penalty(len(c) + 1, alpha), c) for c in candidates
        ]
        _, best = max(scored, key=lambda item: item[0])
        assert hypothesis.tokens == best
        assert hypothesis.log_prob == pytest.approx(
            sequence_log_prob(net, source, best), rel=1e-5, abs=1e-6
        )


# A decoder whose next-token probabilities depend on the output so far alone: ids 3 ("a") and
# 4 ("b"), 2 the end. Output -> probabilities of (end, a, b).
TABLE = {
    (): (0.30, 0.60, 0.10),
    (3,): (0.25 / 0.6, 0.0, 0.35 / 0.6),
    (3, 4): (1.0, 0.0, 0.0),
    (4,): (0.9, 0.05, 0.05),
}


class Outputs:
    """The state: each row's output so far (None before the start token is read)."""

    def __init__(self, rows: list[tuple[int, ...] | None]) -> None:
        self.rows = rows

    def select(self, index: torch.Tensor) -> Outputs:
        return Outputs([self.rows[i] for i in index.tolist()])


def scripted_step(tokens: torch.Tensor, state: Outputs) -> tuple[torch.Tensor, Outputs]:
    rows = [
        () if row is None else (*row, token)
        for row, token in zip(state.rows, tokens.tolist(), strict=True)
    ]
    probs = [[1e-12, 1e-12, *TABLE.get(row, (1.0, 0.0, 0.0))] for row in rows]
    return torch.tensor(probs).clamp_min(1e-12).log(), Outputs(rows)


def test_a_finished_hypothesis_does_not_stop_a_better_longer_one() -> None:
    # "</s>" (0.30) and "a </s>" (0.25) finish first, among the 2 best of their steps; "a b
    # </s>" (0.35) is still running then, and is the best output
    found = beam_search(scripted_step, Outputs([None]), [5], beam=2, start=EOD_ID, end=EOD_ID)
    assert found[0].tokens == [3, 4]
    assert found[0].log_prob == pytest.approx(math.log(0.35), rel=1e-6)


@torch.no_grad()
@pytest.mark.parametrize("cell", ["gru", "lstm"])
def test_beam_of_one_is_greedy(cell: str) -> None:
    net = tiny_net(12, seed=3, cell=cell)
    sources = [[3, 4, 5, 6], [7], [8, 8, 3], [4, 4, 4, 4, 5, 6]]
    limits = [5, 2, 7, 9]
    first = greedy(net.search_step, encoded(net, sources), limits, start=EOD_ID, end=EOD_ID)
    second = beam_search(
        net.search_step, encoded(net, sources), limits, beam=1, start=EOD_ID, end=EOD_ID
    )
    assert [h.tokens for h in first] == [h.tokens for h in second]
    assert [h.log_prob for h in first] == pytest.approx(
        [h.log_prob for h in second], rel=1e-5, abs=1e-6
    )
    for source, hypothesis, limit in zip(sources, first, limits, strict=True):
        assert len(hypothesis.tokens) <= limit
        expected = sequence_log_prob(net, source, hypothesis.tokens)
        assert hypothesis.log_prob == pytest.approx(expected, rel=1e-5, abs=1e-6)


@torch.no_grad()
def test_a_limit_of_zero_gives_the_empty_output() -> None:
    net = tiny_net()
    found = greedy(net.search_step, encoded(net, [[3, 4]]), [0], start=EOD_ID, end=EOD_ID)
    assert found[0].tokens == []
    assert found[0].log_prob == pytest.approx(
        sequence_log_prob(net, [3, 4], []), rel=1e-5, abs=1e-6
    )


@pytest.mark.parametrize("beam", [0, -1, True, 2.5])
def test_bad_beams_are_refused(beam: object) -> None:
    with pytest.raises(ConfigError, match="beam must be at least 1"):
        check_beam(beam)  # type: ignore[arg-type]
