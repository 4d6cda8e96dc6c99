"""Synthetic sequence tasks with known answers, batch-first NumPy arrays.

- adding problem (Hochreiter and Schmidhuber, 1997): each step holds a value ``u ~ U(0, 1)`` and
  a marker; two steps are marked, one in each half; the target is the sum of the two marked
  values. Predicting the mean, 1, gives a mean squared error of Var(u1 + u2) = 1/6, about
  0.167; the task counts as solved below 0.01.
- copy memory (Arjovsky et al., 2016): ten symbols from an alphabet of 8, ``T`` blanks, a
  delimiter, then the model must output the ten symbols. Outputting blanks and then guessing
  gives a cross-entropy of ``10 log 8 / (T + 20)`` per step.
- parity: the XOR of ``T`` random bits; guessing scores 0.5.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnkit.errors import ConfigError

KINDS = ("regression", "classification", "per_step")
SOLVED_MSE = 0.01  # the adding problem's usual threshold
COPY_SYMBOLS, COPY_LENGTH = 8, 10  # alphabet 1..8; 0 is the blank, 9 the delimiter


@dataclass(frozen=True)
class SequenceTask:
    """``inputs`` (N, T, F) float32; ``targets`` (N,) float32 for regression, (N,) int64 for
    classification of the whole sequence, (N, T) int64 for a class at every step."""

    name: str
    inputs: np.ndarray
    targets: np.ndarray
    kind: str
    num_classes: int  # 0 for regression
    baseline: float  # the loss or accuracy of the best prediction that ignores the input

    @property
    def input_size(self) -> int:
        return int(self.inputs.shape[2])

    @property
    def length(self) -> int:
        return int(self.inputs.shape[1])


def _check(name: str, n: int, length: int, shortest: int) -> None:
    if n < 1:
        raise ConfigError(f"{name}: the number of sequences must be at least 1, got {n}")
    if length < shortest:
        raise ConfigError(f"{name}: the length must be at least {shortest}, got {length}")


def adding(n: int, length: int, *, seed: int = 0) -> SequenceTask:
    """``n`` sequences of ``length`` (value, marker) pairs; target: the sum of the marked values."""
    _check("adding", n, length, 2)
    rng = np.random.default_rng(seed)
    values = rng.random((n, length), dtype=np.float32)
    half = length // 2
    first = rng.integers(0, half, n)
    second = rng.integers(half, length, n)
    markers = np.zeros((n, length), dtype=np.float32)
    rows = np.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    inputs = np.stack([values, markers], axis=-1)  # (N, T, 2)
    return SequenceTask(f"adding-{length}", inputs, targets, "regression", 0, 1.0 / 6.0)


def copy_memory(n: int, blanks: int, *, seed: int = 0) -> SequenceTask:
    """``n`` sequences of ``blanks + 2 * 10`` one-hot steps over 10 classes (blank, 8 symbols,
    delimiter); the target at each step is blank except the last ten, which repeat the first."""
    _check("copy", n, blanks, 1)
    rng = np.random.default_rng(seed)
    total = blanks + 2 * COPY_LENGTH
    symbols = rng.integers(1, COPY_SYMBOLS + 1, (n, COPY_LENGTH))
    ids = np.zeros((n, total), dtype=np.int64)
    ids[:, :COPY_LENGTH] = symbols
    ids[:, COPY_LENGTH + blanks - 1] = COPY_SYMBOLS + 1  # the delimiter: "now recall"
    targets = np.zeros((n, total), dtype=np.int64)
    targets[:, -COPY_LENGTH:] = symbols
    inputs = np.eye(COPY_SYMBOLS + 2, dtype=np.float32)[ids]  # (N, T, 10)
    baseline = COPY_LENGTH * math.log(COPY_SYMBOLS) / total
    return SequenceTask(f"copy-{blanks}", inputs, targets, "per_step", COPY_SYMBOLS + 2, baseline)


def parity(n: int, length: int, *, seed: int = 0) -> SequenceTask:
    """``n`` strings of ``length`` random bits; target: 1 if an odd number are set."""
    _check("parity", n, length, 1)
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 2, (n, length))
    targets = (bits.sum(axis=1) % 2).astype(np.int64)
    inputs = bits.astype(np.float32)[..., None]  # (N, T, 1)
    return SequenceTask(f"parity-{length}", inputs, targets, "classification", 2, 0.5)
