"""The task generators: their definitions checked step by step, seeds, and the twin property
that makes the negation task order-sensitive."""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

from rnnkit.errors import ConfigError
from rnnkit.synthetic import adding, copy_memory, negation, parity
from rnnkit.synthetic.text import NEGATIVE, POSITIVE


def _polarity(text: str) -> str:
    """The label by the task's rule, read independently: a clause is positive if its sentiment
    word is positive and not negated, or negative and negated; the clauses agree."""
    words = text.split()
    votes = set()
    for i, word in enumerate(words):
        if word in POSITIVE or word in NEGATIVE:
            negated = i > 0 and words[i - 1] == "not"
            votes.add((word in POSITIVE) != negated)
    assert len(votes) == 1, text  # both clauses agree
    return "positive" if votes.pop() else "negative"


def test_negation_labels_follow_the_negator() -> None:
    splits = negation(400, 100, seed=3)
    assert len(splits.train_texts) == 400
    assert len(splits.test_texts) == 100
    for texts, labels in (
        (splits.train_texts, splits.train_labels),
        (splits.test_texts, splits.test_labels),
    ):
        assert [_polarity(t) for t in texts] == labels
        assert sum(label == "positive" for label in labels) == len(labels) // 2
        assert all(t.split().count("not") == 1 for t in texts)


def test_negation_splits_are_twins_that_no_bag_of_words_can_separate() -> None:
    splits = negation(400, 100, seed=3)
    assert not set(splits.train_texts) & set(splits.test_texts)
    for texts, labels in (
        (splits.train_texts, splits.train_labels),
        (splits.test_texts, splits.test_labels),
    ):
        by_words: dict[tuple[str, ...], list[str]] = defaultdict(list)
        for text, label in zip(texts, labels, strict=True):
            by_words[tuple(sorted(text.split()))].append(label)
        # Every multiset of words occurs as often with each label: any order-blind model, which
        # gives the same answer to all of them, scores exactly 0.5.
        for group in by_words.values():
            assert group.count("positive") == group.count("negative")


def test_negation_is_seeded_and_checks_its_sizes() -> None:
    assert negation(20, 10, seed=1) == negation(20, 10, seed=1)
    assert negation(20, 10, seed=1) != negation(20, 10, seed=2)
    with pytest.raises(ConfigError, match="must be even and at least 2"):
        negation(21, 10)


def test_adding_marks_one_step_in_each_half_and_sums_their_values() -> None:
    task = adding(500, 40, seed=0)
    assert task.inputs.shape == (500, 40, 2)
    assert task.inputs.dtype == np.float32
    values, markers = task.inputs[..., 0], task.inputs[..., 1]
    assert (markers[:, :20].sum(1) == 1).all()
    assert (markers[:, 20:].sum(1) == 1).all()
    np.testing.assert_allclose(task.targets, (values * markers).sum(1), rtol=1e-6)
    # Predicting the mean misses by Var(u1 + u2) = 1/6.
    assert np.mean((task.targets - 1.0) ** 2) == pytest.approx(task.baseline, abs=0.02)
    assert (task.kind, task.name, task.length, task.input_size) == (
        "regression",
        "adding-40",
        40,
        2,
    )


def test_copy_memory_recalls_the_first_ten_symbols_after_the_delimiter() -> None:
    task = copy_memory(50, 30, seed=0)
    ids = task.inputs.argmax(-1)
    assert ids.shape == task.targets.shape == (50, 50)
    assert (task.inputs.sum(-1) == 1).all()  # one-hot
    assert ((ids[:, :10] >= 1) & (ids[:, :10] <= 8)).all()
    assert (ids[:, 39] == 9).all()  # the delimiter, then blanks
    assert (np.delete(ids[:, 10:], 29, axis=1) == 0).all()
    assert (task.targets[:, :40] == 0).all()
    np.testing.assert_array_equal(task.targets[:, 40:], ids[:, :10])
    assert task.baseline == pytest.approx(10 * np.log(8) / 50)


def test_parity_is_the_xor_of_the_bits() -> None:
    task = parity(300, 12, seed=0)
    bits = task.inputs[..., 0].astype(int)
    expected = np.bitwise_xor.reduce(bits, axis=1)
    np.testing.assert_array_equal(task.targets, expected)
    assert 0.4 < task.targets.mean() < 0.6


def test_sequence_tasks_are_seeded_and_check_their_arguments() -> None:
    np.testing.assert_array_equal(adding(5, 10, seed=4).inputs, adding(5, 10, seed=4).inputs)
    assert not np.array_equal(adding(5, 10, seed=4).inputs, adding(5, 10, seed=5).inputs)
    with pytest.raises(ConfigError, match="adding: the length must be at least 2, got 1"):
        adding(5, 1)
    with pytest.raises(ConfigError, match="parity: the number of sequences must be at least 1"):
        parity(0, 5)
