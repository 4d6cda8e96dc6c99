"""Sampling and the streaming state: against direct implementations on fixed distributions and
against a plain loop over the model; memory per generated token constant."""

from __future__ import annotations

import math
import os

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.language_model.generation import check_sampling, filtered, probabilities, sample
from rnnkit.text.units import EOD_ID

TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom, it was "
    "the age of foolishness, it was the epoch of belief, it was the epoch of incredulity.\n"
)


@pytest.fixture(scope="module")
def lm() -> LanguageModel:
    model = LanguageModel(
        unit="char",
        hidden=24,
        embed_dim=12,
        layers=2,
        epochs=1,
        max_steps=15,
        batch_size=4,
        window=16,
        seed=0,
    )
    return model.fit([TEXT] * 20)


def _direct_top_k(probs: list[float], k: int) -> list[float]:
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])[:k]
    kept = [p if i in ranked else 0.0 for i, p in enumerate(probs)]
    return [p / sum(kept) for p in kept]


def _direct_top_p(probs: list[float], top_p: float) -> list[float]:
    ranked = sorted(range(len(probs)), key=lambda i: -probs[i])
    kept, mass = set(), 0.0
    for i in ranked:
        kept.add(i)
        mass += probs[i]
        if mass >= top_p:
            break
    values = [p if i in kept else 0.0 for i, p in enumerate(probs)]
    return [p / sum(values) for p in values]


DISTRIBUTIONS = [
    [0.0, 0.0, 0.05, 0.4, 0.25, 0.2, 0.1],
    [0.0, 0.0, 0.3, 0.12, 0.08, 0.45, 0.05],
]


@pytest.mark.parametrize("probs", DISTRIBUTIONS)
@pytest.mark.parametrize("k", [1, 2, 3, 5])
def test_top_k_against_a_direct_implementation(probs: list[float], k: int) -> None:
    scores = torch.tensor(probs).clamp_min(1e-30).log()[None]
    got = probabilities(scores, 1.0, top_k=k)[0]
    torch.testing.assert_close(got, torch.tensor(_direct_top_k(probs, k)))


@pytest.mark.parametrize("probs", DISTRIBUTIONS)
@pytest.mark.parametrize("top_p", [0.1, 0.42, 0.5, 0.7, 0.9, 1.0])
def test_top_p_against_a_direct_implementation(probs: list[float], top_p: float) -> None:
    scores = torch.tensor(probs).clamp_min(1e-30).log()[None]
    got = probabilities(scores, 1.0, top_p=top_p)[0]
    torch.testing.assert_close(got, torch.tensor(_direct_top_p(probs, top_p)))


def test_temperature_sharpens_and_flattens_and_zero_is_greedy() -> None:
    scores = torch.tensor([[-9.0, -9.0, 0.1, 1.0, 0.5]])
    cold, warm = probabilities(scores, 0.5)[0], probabilities(scores, 2.0)[0]
    assert cold[3] > probabilities(scores, 1.0)[0][3] > warm[3]
    expected = torch.softmax(scores[0] / 0.5, -1)
    expected[:2] = 0.0
    torch.testing.assert_close(cold, expected / expected.sum())
    assert probabilities(scores, 0.0)[0].tolist() == [0.0, 0.0, 0.0, 1.0, 0.0]
    assert sample(scores, 0.0).tolist() == [3]


def test_padding_and_unknown_are_never_drawn_but_end_of_document_is() -> None:
    scores = torch.tensor([[5.0, 5.0, 5.0, -5.0]])
    probs = probabilities(scores)[0]
    assert probs[0] == probs[1] == 0.0
    assert probs[EOD_ID] > 0.99
    assert filtered(scores, top_k=1).isinf().sum() == 3


@pytest.mark.parametrize(
    ("args", "field"),
    [
        ((-0.1,), "temperature"),
        ((1.0, 0), "top_k"),
        ((1.0, None, 0.0), "top_p"),
        ((1.0, None, 1.01), "top_p"),
        ((math.nan,), "temperature"),
    ],
)
def test_bad_sampling_options_name_their_field(args: tuple, field: str) -> None:
    with pytest.raises(ConfigError) as error:
        check_sampling(*args)
    assert error.value.fields == (field,) or field in error.value.fields


def test_seeded_sampling_equals_a_plain_reference_loop(lm: LanguageModel) -> None:
    """generate() against a loop written here: the whole prefix run through the model's
    forward pass at each step, torch.multinomial on softmax(scores / T) with the same seed."""
    prompt, steps, temperature = "it was", 30, 0.9
    text = lm.generate(prompt, max_tokens=steps, temperature=temperature, seed=7)[0]
    generator = torch.Generator().manual_seed(7)
    ids = lm.prompt_ids(prompt)
    out = []
    with torch.no_grad():
        for _ in range(steps):
            scores, _ = lm.model_(torch.tensor(ids)[:, None])
            last = scores[-1, 0].float()
            last[:2] = -math.inf
            probs = torch.softmax(last / temperature, -1)
            token = int(torch.multinomial(probs[None], 1, generator=generator)[0, 0])
            if token == EOD_ID:
                break
            ids.append(token)
            out.append(token)
    assert text == lm.units_.decode(out)
    assert text == lm.generate(prompt, max_tokens=steps, temperature=temperature, seed=7)[0]
    assert text != lm.generate(prompt, max_tokens=steps, temperature=temperature, seed=8)[0]


def test_streaming_state_equals_one_full_forward_pass(lm: LanguageModel) -> None:
    text = "it was the age of wisdom"
    state = lm.start("it")
    ids = lm.units_.encode(text[2:])
    full, _ = lm.model_(torch.tensor(lm.prompt_ids(text))[:, None])
    for i, token in enumerate(ids):
        expected = torch.softmax(full[1 + len("it") + i - 1, 0].float(), -1)
        expected[:2] = 0
        torch.testing.assert_close(state.next_probs()[0], expected / expected.sum())
        state.feed(token)


def test_several_streams_are_each_the_single_stream(lm: LanguageModel) -> None:
    state = lm.start("it was", streams=3)
    alone = lm.start("it was")
    torch.testing.assert_close(state.next_probs()[1], alone.next_probs()[0])
    state.feed(torch.tensor([5, 6, 7]))
    alone.feed(6)
    torch.testing.assert_close(state.next_probs()[1], alone.next_probs()[0])


def _resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc (Linux)")
def test_generation_memory_is_flat(lm: LanguageModel) -> None:
    """10,000 tokens use the same memory as 100: the state is all that is kept (one thread:
    steps this small only wait on a second one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _flat(lm)
    finally:
        torch.set_num_threads(threads)


def _flat(lm: LanguageModel) -> None:
    state = lm.start("it was")
    generator = torch.Generator().manual_seed(0)
    sizes = {tuple(s.shape) for s in state.state}
    for _ in range(100):
        state.sample(1.0, generator=generator)
    after_100 = _resident_bytes()
    for _ in range(9_900):
        state.sample(1.0, generator=generator)
    grown = _resident_bytes() - after_100
    assert grown < 2 * 2**20, f"{grown / 2**20:.1f} MiB more after 10,000 tokens than after 100"
    assert {tuple(s.shape) for s in state.state} == sizes


def test_stop_text_ends_a_sample_and_is_kept(lm: LanguageModel) -> None:
    full = lm.generate("it", max_tokens=40, temperature=0.0)[0]
    stop = full[6:8]
    text = lm.generate("it", max_tokens=40, temperature=0.0, stop=stop)[0]
    assert text == full[: full.index(stop) + len(stop)]
