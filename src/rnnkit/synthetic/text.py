"""Negation sentiment: generated two-clause sentences in which exactly one clause is negated.

Each sentence pairs a positive and a negative sentiment word, one per clause, and puts ``not``
before one of them; the clauses always agree, and the label is their common polarity:

    "the plot was not good and the acting was dull"   -> negative
    "the plot was good and the acting was not dull"   -> positive

The two sentences hold the same words, so a model that ignores order cannot tell them apart.
Both splits consist of such twins, and no sentence is in both: on either split an order-blind
model gives both twins the same answer, so it scores exactly 0.5, while a model that reads
``not`` as applying to the next word can score 1.0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError

SUBJECTS = ("the plot", "the acting", "the music", "the ending", "the cast", "the script")
VERBS = ("was", "is", "seemed", "felt")
POSITIVE = ("good", "great", "superb", "moving", "fine", "brilliant", "clever", "charming")
NEGATIVE = ("bad", "dull", "awful", "boring", "weak", "poor", "clumsy", "tedious")
JOINERS = ("and", "while", "but also")
LABELS = ("negative", "positive")


@dataclass(frozen=True)
class NegationSplits:
    train_texts: list[str]
    train_labels: list[str]
    test_texts: list[str]
    test_labels: list[str]


def _clause(subject: str, verb: str, word: str, negated: bool) -> str:
    return f"{subject} {verb} {'not ' if negated else ''}{word}"


def negation(n_train: int = 2000, n_test: int = 500, *, seed: int = 0) -> NegationSplits:
    """``n_train`` training and ``n_test`` test sentences (both even: twins come in pairs),
    labelled ``negative`` or ``positive``, shuffled."""
    if n_train < 2 or n_test < 2 or n_train % 2 or n_test % 2:
        raise ConfigError(
            f"negation: n_train and n_test must be even and at least 2, got {n_train}, {n_test}"
        )
    rng = np.random.default_rng(seed)
    seen: set[tuple[int, ...]] = set()
    pairs: list[list[tuple[str, str]]] = []
    while len(pairs) < (n_train + n_test) // 2:
        s1, s2 = rng.choice(len(SUBJECTS), 2, replace=False)
        v1, v2 = rng.integers(len(VERBS), size=2)
        p, q = rng.integers(len(POSITIVE)), rng.integers(len(NEGATIVE))
        positive_first = bool(rng.integers(2))
        joiner = int(rng.integers(len(JOINERS)))
        key = (int(s1), int(s2), int(v1), int(v2), int(p), int(q), int(positive_first), joiner)
        if key in seen:
            continue
        seen.add(key)
        words = [POSITIVE[p], NEGATIVE[q]] if positive_first else [NEGATIVE[q], POSITIVE[p]]
        twins = []
        for negate_first in (True, False):
            first = _clause(SUBJECTS[s1], VERBS[v1], words[0], negate_first)
            second = _clause(SUBJECTS[s2], VERBS[v2], words[1], not negate_first)
            # Negating the positive word makes both clauses negative, and the other way round.
            positive = (words[0] in POSITIVE) != negate_first
            twins.append((f"{first} {JOINERS[joiner]} {second}", LABELS[positive]))
        pairs.append(twins)
    train = [twin for pair in pairs[: n_train // 2] for twin in pair]
    test = [twin for pair in pairs[n_train // 2 :] for twin in pair]
    train = [train[i] for i in rng.permutation(len(train))]
    test = [test[i] for i in rng.permutation(len(test))]
    return NegationSplits(
        [t for t, _ in train], [y for _, y in train], [t for t, _ in test], [y for _, y in test]
    )


def vocabulary() -> list[str]:
    """Every word the generator uses."""
    phrases = itertools.chain(SUBJECTS, VERBS, POSITIVE, NEGATIVE, JOINERS, ["not"])
    return sorted({word for phrase in phrases for word in phrase.split()})
