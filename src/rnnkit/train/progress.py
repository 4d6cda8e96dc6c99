"""An epoch's progress as the trainer shows it: on a terminal a progress bar, its loss and
speed updated every ten batches; elsewhere (a log file, a pipe) a log line every
:data:`PROGRESS_LINE_SECONDS` instead of a stream of carriage-return updates."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from rnnkit.train.run import UNLIMITED_EPOCHS, RunState
from rnnkit.train.step import BatchLike, Objective

log = logging.getLogger("rnnkit.train.trainer")  # the trainer's lines, under its name

PROGRESS_LINE_SECONDS = 10.0  # without a terminal, a progress line this often


class EpochProgress:
    """The batches of epoch ``run.epoch`` (``total`` in all, ``run.batch`` of them done), shown
    as they are taken when ``shown``; :meth:`update` after each step."""

    def __init__(
        self,
        batches: Iterable[BatchLike],
        run: RunState,
        epochs: int,
        total: int,
        objective: Objective,
        shown: bool,
    ) -> None:
        from tqdm import tqdm

        self.run, self.epochs, self.total, self.objective = run, epochs, total, objective
        self.shown = shown
        self.lines = shown and not is_terminal(sys.stderr)
        self.bar = tqdm(
            batches,
            initial=run.batch,
            total=total,
            desc=f"epoch {self.epoch}",
            disable=not shown or self.lines,
            leave=False,
            unit="batch",
            dynamic_ncols=True,
        )
        self.next_line = time.perf_counter() + PROGRESS_LINE_SECONDS

    @property
    def epoch(self) -> str:
        """``3/10``, or ``3`` in a run without a planned number of epochs."""
        shown = self.run.epoch + 1
        return f"{shown}/{self.epochs}" if self.epochs < UNLIMITED_EPOCHS else str(shown)

    def __iter__(self) -> Iterator[BatchLike]:
        return iter(self.bar)

    def update(self) -> None:
        """Show the progress after batch ``run.batch``."""
        if not self.shown:
            return
        progress, index = self.run.progress, self.run.batch - 1
        loss = progress.loss_sum / max(progress.seen, 1)
        speed = f"{progress.tokens / max(progress.seconds, 1e-9):,.0f}"
        if not self.lines and index % 10 == 0:
            extra = self.objective.shown(loss) if self.objective.shown else {}
            self.bar.set_postfix(loss=f"{loss:.4f}", **extra, tok_s=speed)
        if self.lines and time.perf_counter() >= self.next_line:
            self.next_line = time.perf_counter() + PROGRESS_LINE_SECONDS
            log.info(
                "epoch %s: batch %d/%d, loss %.4f, %s tokens/s",
                self.epoch,
                index + 1,
                self.total,
                loss,
                speed,
            )


def is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False
