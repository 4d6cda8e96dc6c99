"""Tokenized corpora, the token cache, splits and batches."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

import rnnkit.data.reading
from rnnkit.data.batching import (
    STEP_COST,
    Batches,
    _starts_large,
    _starts_small,
    cheapest_cuts,
)
from rnnkit.data.cache import load_corpus
from rnnkit.data.corpus import Corpus
from rnnkit.data.examples import ReadOptions
from rnnkit.data.splits import stratified_split
from rnnkit.errors import DataError
from rnnkit.text.vocab import UNK, Vocabulary

TEXTS = ["a good film", "a bad , bad film", "<br />", "good"]
LABELS = ["pos", "neg", "neg", "pos"]


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "cache"))


def tokens_of(corpus: Corpus, i: int) -> list[str]:
    return [corpus.types[t] for t in corpus.ids[corpus.offsets[i] : corpus.offsets[i + 1]]]


def test_corpus_from_texts_keeps_tokens_and_labels() -> None:
    corpus = Corpus.from_texts(TEXTS, LABELS)
    assert len(corpus) == 4
    assert tokens_of(corpus, 1) == ["a", "bad", ",", "bad", "film"]
    assert tokens_of(corpus, 2) == [UNK]  # a text without tokens still has one step
    assert corpus.lengths.tolist() == [3, 5, 1, 1]
    assert corpus.token_counts() == {"a": 2, "good": 2, "film": 2, "bad": 2, ",": 1, UNK: 1}


def test_subset_keeps_the_chosen_texts_in_order() -> None:
    corpus = Corpus.from_texts(TEXTS, LABELS)
    part = corpus.subset([3, 1])
    assert [tokens_of(part, 0), tokens_of(part, 1)] == [["good"], ["a", "bad", ",", "bad", "film"]]
    assert part.labels == ["pos", "neg"]


def test_encode_and_label_ids() -> None:
    corpus = Corpus.from_texts(TEXTS, LABELS)
    vocab = Vocabulary.build({"good": 5, "film": 3})
    ids = corpus.encode(vocab)
    assert ids[corpus.offsets[0] : corpus.offsets[1]].tolist() == [1, 2, 3]
    assert corpus.label_ids(["neg", "pos"]).tolist() == [1, 0, 0, 1]


def test_unknown_labels_are_reported_by_name() -> None:
    corpus = Corpus.from_texts(TEXTS, ["pos", "neg", "meh", "meh"], source="eval.csv")
    with pytest.raises(
        DataError,
        match=r"eval\.csv: labels the model was not trained on: "
        r"'meh' \(2 rows\); the model knows 'neg', 'pos'",
    ):
        corpus.label_ids(["neg", "pos"])


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    corpus = Corpus.from_texts(TEXTS, LABELS, source="x")
    corpus.save(tmp_path / "c.npz")
    again = Corpus.load(tmp_path / "c.npz")
    assert again.types == corpus.types
    assert again.labels == corpus.labels
    assert np.array_equal(again.ids, corpus.ids)
    assert np.array_equal(again.offsets, corpus.offsets)


def test_second_load_comes_from_the_cache_until_the_file_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "d.csv"
    path.write_text("text,label\ngood film,pos\n")
    options = ReadOptions()
    first = load_corpus(path, options)

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again")

    monkeypatch.setattr(rnnkit.data.reading, "read", no_reading)
    second = load_corpus(path, options)
    assert second.types == first.types
    assert second.labels == first.labels
    assert second.notes == first.notes  # the format guess is still reported
    path.write_text("text,label\ngood film,pos\nbad one,neg\n")
    with pytest.raises(AssertionError, match="read again"):
        load_corpus(path, options)


def test_stratified_split_is_seeded_and_keeps_every_class() -> None:
    generator_seed = 3
    labels = ["a"] * 50 + ["b"] * 10
    kept, held = stratified_split(labels, 0.1, seed=generator_seed)
    assert len(held) == 6
    assert sorted(labels[i] for i in held) == ["a"] * 5 + ["b"]
    assert set(kept) | set(held) == set(range(60))
    assert np.array_equal(held, stratified_split(labels, 0.1, seed=generator_seed)[1])
    assert not np.array_equal(held, stratified_split(labels, 0.1, seed=generator_seed + 1)[1])


def make_batches(lengths: list[int], **kwargs: object) -> Batches:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.arange(2, 2 + offsets[-1], dtype=np.int64)  # distinct nonzero ids
    return Batches(ids, offsets, np.arange(len(lengths)), **kwargs)  # type: ignore[arg-type]


def test_training_batches_cover_every_text_once_bucketed_and_seeded() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 60, size=500).tolist()
    batches = make_batches(lengths, batch_size=16, shuffle=True, seed=1, bucket=10)
    epoch0 = batches.order(0)
    assert sorted(np.concatenate(epoch0).tolist()) == list(range(500))
    assert len(epoch0) == len(batches) == 32
    spread = np.mean([np.ptp(np.asarray(lengths)[b]) for b in epoch0])
    assert spread < 10  # bucketing: texts of similar length share a batch (random: about 55)
    assert all(np.array_equal(a, b) for a, b in zip(epoch0, batches.order(0), strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(epoch0, batches.order(1), strict=True))


def test_batch_is_time_major_padded_with_zero_and_truncated() -> None:
    batches = make_batches([3, 1, 6], batch_size=3, max_len=4)
    (batch,) = list(batches.epoch())
    assert batch.index.tolist() == [1, 0, 2]  # inference order: by length
    assert batch.lengths.tolist() == [1, 3, 4]
    assert batch.tokens.shape == (4, 3)
    assert batch.tokens[:, 0].tolist() == [5, 0, 0, 0]
    assert batch.tokens[:, 1].tolist() == [2, 3, 4, 0]
    assert batch.tokens[:, 2].tolist() == [6, 7, 8, 9]  # the first 4 of 6 tokens
    assert batch.target.tolist() == [1, 0, 2]
    assert batch.num_tokens == 8


def all_cuts_cost(lengths: list[int], batch_size: int, call_cost: float) -> float:
    """The least cost over every way to cut ascending ``lengths`` (brute force)."""
    n, best = len(lengths), float("inf")
    for mask in range(2 ** (n - 1)):
        cuts = [0, *(i + 1 for i in range(n - 1) if mask >> i & 1), n]
        parts = [lengths[a:b] for a, b in itertools.pairwise(cuts)]
        if all(len(p) <= batch_size for p in parts):
            cost = sum(call_cost + max(p) * (len(p) + STEP_COST) for p in parts)
            best = min(best, cost)
    return best


@pytest.mark.parametrize("seed", range(20))
def test_cheapest_cuts_find_the_least_cost_of_all_cuts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = np.sort(rng.integers(1, 80, size=int(rng.integers(1, 10))))
    batch_size, call_cost = int(rng.integers(1, 6)), float(rng.choice([0.0, 5.0, 40.0, 500.0]))
    cuts = cheapest_cuts(lengths, batch_size, call_cost)
    parts = np.split(lengths, cuts)
    assert all(1 <= len(p) <= batch_size for p in parts)
    cost = sum(call_cost + p.max() * (len(p) + STEP_COST) for p in parts)
    assert cost == pytest.approx(all_cuts_cost(lengths.tolist(), batch_size, call_cost))


@pytest.mark.parametrize("seed", range(5))
def test_cheapest_cuts_of_large_inputs_agree_with_the_small_input_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lengths = np.sort(rng.integers(1, 400, size=int(rng.integers(40, 120))))
    batch_size = int(rng.integers(8, 64))
    small = _starts_small(lengths.tolist(), batch_size, 60.0)
    assert _starts_large(lengths, batch_size, 60.0) == small


def test_inference_batches_are_cut_where_padding_costs_more_than_a_call() -> None:
    lengths = [3, 60, 2, 3, 2, 61, 3, 2]
    cheap_calls = make_batches(lengths, batch_size=16, call_cost=20)
    assert [sorted(np.asarray(lengths)[b].tolist()) for b in cheap_calls.order()] == [
        [2, 2, 2, 3, 3, 3],
        [60, 61],
    ]
    assert len(cheap_calls) == 2
    assert len(list(cheap_calls)) == 2
    dear_calls = make_batches(lengths, batch_size=16, call_cost=1000)
    assert [len(b) for b in dear_calls.order()] == [8]
    capped = make_batches(lengths, batch_size=3, call_cost=1000)
    assert [len(b) for b in capped.order()] == [3, 3, 2]
    for batches in (cheap_calls, dear_calls, capped):
        assert sorted(np.concatenate(batches.order()).tolist()) == list(range(8))
