"""Documents to one token stream, and the stream to windows for truncated backpropagation
through time.

    stream  = <eod> d1 <eod> d2 <eod> ... dn <eod>     (token ids, int64)
    rows    = the stream cut into B equal rows, one per batch row (the tail that does not
              fill a row is left out in training)
    window  = rows[:, t : t + T] as inputs, rows[:, t + 1 : t + T + 1] as targets

Row b of window k continues row b of window k - 1, so the state is carried from window to
window; it is reset where an input is ``<eod>``. With ``variable`` windows (AWD-LSTM), each
epoch draws its window lengths: the base length, or half of it with probability 0.05, then
normal with standard deviation 5, at least 5 tokens; they are then scaled to cover the rows
in the same number of windows every epoch.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnnkit.errors import ConfigError
from rnnkit.text.units import EOD_ID, Units


def token_stream(documents: Iterable[str], units: Units, *, reverse: bool = False) -> np.ndarray:
    """``<eod> d1 <eod> d2 ... <eod>`` as int64 ids; with ``reverse``, the whole stream read
    backwards, which is each document read from its end (``<eod>`` brackets every one)."""
    parts = [np.array([EOD_ID], dtype=np.int64)]
    for ids in units.encode_batch(list(documents)):
        parts.append(np.asarray(ids, dtype=np.int64))
        parts.append(np.array([EOD_ID], dtype=np.int64))
    stream = np.concatenate(parts)
    return stream[::-1].copy() if reverse else stream


@dataclass(frozen=True)
class StreamBatch:
    """One window: ``inputs`` (tokens (T, B), targets (T, B), and whether it starts the rows,
    a boolean tensor)."""

    tokens: Tensor
    target: Tensor
    fresh: bool

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self.tokens, self.target, torch.tensor(self.fresh)

    @property
    def num_tokens(self) -> int:
        return self.target.numel()


def window_lengths(total: int, window: int, *, variable: bool, seed: int) -> list[int]:
    """Lengths of the windows that cover ``total`` steps: ``window`` each (the last shorter),
    or AWD-LSTM's random lengths, as many windows as fixed ones would need."""
    count = -(-total // window)
    if not variable or count == 1:
        return [min(window, total - start) for start in range(0, total, window)]
    rng = np.random.default_rng(seed)
    base = np.where(rng.random(count) < 0.95, window, window / 2)
    drawn = np.maximum(5.0, rng.normal(base, 5.0))
    cuts = np.round(np.cumsum(drawn) / drawn.sum() * total).astype(np.int64)
    lengths = np.diff(np.concatenate([[0], cuts]))
    return [int(n) for n in lengths if n > 0]


class StreamBatches:
    """Windows of ``batch_size`` rows of a token stream, in order (``epoch(e)`` may vary the
    window lengths by epoch); ``shard`` gives a process its rows for data-parallel training."""

    def __init__(
        self,
        stream: np.ndarray,
        *,
        batch_size: int,
        window: int,
        variable: bool = False,
        seed: int = 0,
        what: str = "the training text",
    ) -> None:
        if len(stream) - 1 < window:
            raise ConfigError(
                f"{what} has {len(stream) - 1:,} tokens, fewer than window {window}: lower it "
                "or give more text",
                field="window",
            )
        steps = (len(stream) - 1) // batch_size
        if steps < 2:
            raise ConfigError(
                f"{what} has {len(stream) - 1:,} tokens: too few for {batch_size} rows of at "
                f"least 2 tokens; use a smaller --batch-size or more text",
                field="batch_size",
            )
        if window < 1:
            raise ConfigError(f"window must be at least 1, got {window}", field="window")
        used = steps * batch_size
        self.rows = torch.from_numpy(np.ascontiguousarray(stream[: used + 1]))
        self.batch_size, self.steps = batch_size, steps
        self.window, self.variable, self.seed = window, variable, seed
        self._count = len(window_lengths(steps, window, variable=False, seed=0))
        self._columns = slice(None)  # the rows this process trains on (shard)
        self._processes = 1

    def __len__(self) -> int:
        return self._count

    @property
    def num_tokens(self) -> int:
        return self.steps * self.batch_size

    def _matrix(self) -> tuple[Tensor, Tensor]:
        """Inputs and targets as (steps, B): column b is row b of the stream."""
        n, b = self.steps, self.batch_size * self._processes
        inputs = self.rows[:-1].reshape(b, n).t()
        targets = self.rows[1:].reshape(b, n).t()
        return inputs[:, self._columns], targets[:, self._columns]

    def epoch(self, epoch: int) -> Iterator[StreamBatch]:
        inputs, targets = self._matrix()
        lengths = window_lengths(
            self.steps, self.window, variable=self.variable, seed=self.seed * 1009 + epoch
        )
        start = 0
        for number, length in enumerate(lengths):
            yield StreamBatch(
                inputs[start : start + length], targets[start : start + length], number == 0
            )
            start += length

    def shard(self, rank: int, size: int) -> StreamBatches:
        """This process's rows: every ``size``-th column from ``rank`` (each process carries
        its own rows' state)."""
        check_processes(self.batch_size, size)
        shard = copy.copy(self)
        shard._columns, shard._processes = slice(rank, None, size), size
        shard.batch_size = self.batch_size // size
        return shard


def check_processes(batch_size: int, processes: int) -> None:
    """Each of ``processes`` takes an equal share of the ``batch_size`` rows (``shard``)."""
    if batch_size % processes:
        raise ConfigError(
            f"--batch-size {batch_size} must be a multiple of the {processes} processes",
            field="batch_size",
        )


def eval_windows(
    stream: np.ndarray, *, batch_size: int, window: int
) -> Iterator[tuple[Tensor, Tensor, Sequence[int] | None]]:
    """Every target of the stream once, in windows: ``(tokens, targets, None)`` for the rows,
    then the tail left over by the rows as one more row, ``(tokens, targets, [last row])``
    continuing from the last row's state."""
    steps = (len(stream) - 1) // batch_size
    rows = batch_size
    if steps == 0:
        steps, rows = len(stream) - 1, 1
    ids = torch.from_numpy(np.ascontiguousarray(stream))
    used = steps * rows
    inputs = ids[:used].reshape(rows, steps).t()
    targets = ids[1 : used + 1].reshape(rows, steps).t()
    for start in range(0, steps, window):
        yield inputs[start : start + window], targets[start : start + window], None
    tail = len(stream) - 1 - used
    for start in range(0, tail, window):
        end = min(start + window, tail)
        yield (
            ids[used + start : used + end, None],
            ids[used + start + 1 : used + end + 1, None],
            [rows - 1],
        )
