"""What a training run carries from step to step: the history it reports, the running
epoch's totals, the best weights so far, and the learning-rate schedule."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from rnnkit.train.config import SLANTED_RATIO, TrainConfig


@dataclass
class History:
    """What happened: one record per epoch, the best epoch and the training time."""

    epochs: list[dict[str, Any]] = field(default_factory=list)
    planned_epochs: int = 0
    steps: int = 0
    first_step_at: float | None = None  # time.perf_counter() when the first step finished
    best_epoch: int = 0
    best_score: float | None = None
    stopped_early: bool = False
    seconds: float = 0.0
    tokens: int = 0
    out_of_time: bool = False  # stopped by max_minutes

    @property
    def tokens_per_second(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    def summary(self) -> dict[str, Any]:
        """What an estimator's ``metrics_`` records of its training: the best epoch's
        validation scores, time, speed, epochs run and the best epoch."""
        best = self.epochs[self.best_epoch - 1] if self.epochs and self.best_epoch else {}
        return {
            "valid": best.get("valid"),
            "train_seconds": self.seconds,
            "train_tokens_per_second": self.tokens_per_second,
            "epochs_run": len(self.epochs),
            "best_epoch": self.best_epoch,
        }


UNLIMITED_EPOCHS = 1_000_000  # with a time budget and no --epochs
TIME_STEPS = 100_000  # a time budget's schedule: its fraction elapsed, as steps of this many


def lr_factor(step: int, total: int, config: TrainConfig) -> float:
    """Multiplier of the peak learning rate at ``step`` of ``total`` (with ``max_minutes``:
    ``step`` of ``TIME_STEPS`` is the fraction of the time spent)."""
    warmup = int(config.warmup * total)
    if config.schedule == "slanted":  # ULMFiT: up from and down to the peak / SLANTED_RATIO
        rise = (step + 1) / warmup if step < warmup else None
        height = rise if rise is not None else 1 - (step - warmup) / max(1, total - warmup)
        return (1 + max(0.0, height) * (SLANTED_RATIO - 1)) / SLANTED_RATIO
    if step < warmup:
        return (step + 1) / warmup
    if config.schedule == "constant":
        return 1.0
    progress = (step - warmup) / max(1, total - warmup)
    if config.schedule == "cosine":
        return 0.5 * (1.0 + math.cos(math.pi * progress))
    return max(0.0, 1.0 - progress)


@dataclass
class Progress:
    """The running epoch's totals (this process's share)."""

    loss_sum: float = 0.0
    seen: int = 0  # targets the loss counted
    tokens: int = 0
    seconds: float = 0.0


@dataclass
class RunState:
    """Everything ``fit`` carries from step to step, and what a checkpoint saves."""

    history: History
    epoch: int = 0  # the epoch running
    batch: int = 0  # batches done in it
    progress: Progress = field(default_factory=Progress)
    best_state: dict[str, Tensor] | None = None
    best_key: tuple[float, float] | None = None
    waited: int = 0


def describe_epoch(record: dict[str, Any], monitor: str) -> str:
    """``epoch 2: train loss 0.4123, 30,000 tokens/s, 12.0 s; valid accuracy 0.8100, loss
    0.4400`` (the validation loss once when it is the score monitored); an epoch that a step
    or time limit cut short says how far it went."""
    done = record.get("batches")
    part = f" ({done[0]:,} of {done[1]:,} batches)" if done and done[0] < done[1] else ""
    text = (
        f"epoch {record['epoch']}{part}: train loss {record['train_loss']:.4f}, "
        f"{record['tokens_per_second']:,.0f} tokens/s, {record['seconds']:.1f} s"
    )
    if "valid" in record:
        valid = record["valid"]
        text += f"; valid {monitor} {valid[monitor]:.4f}"
        if "loss" in valid and monitor != "loss":
            text += f", loss {valid['loss']:.4f}"
    return text
