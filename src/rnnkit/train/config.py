"""Training configuration: plain data, saved as JSON beside the weights."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rnnkit.errors import ConfigError, field_error
from rnnkit.train.precision import PRECISIONS

SCHEDULES = ("linear", "cosine", "constant", "slanted")
SLANTED_RATIO = 32  # the slanted triangular schedule's lowest rate: the peak over this
UNFREEZE = ("none", "gradual")
STEP_BUDGET = 1500  # optimizer steps that epochs=None aims at
MIN_EPOCHS, MAX_EPOCHS = 2, 20


def auto_epochs(batches_per_epoch: int) -> int:
    """Epochs for about ``STEP_BUDGET`` optimizer steps, within [MIN_EPOCHS, MAX_EPOCHS]: small
    datasets get more passes, large ones fewer (SST-2 with batch 64: 14; IMDB: 4)."""
    return min(MAX_EPOCHS, max(MIN_EPOCHS, round(STEP_BUDGET / max(1, batches_per_epoch))))


@dataclass(frozen=True)
class TrainConfig:
    """AdamW with warm-up and decay, gradient clipping, and early stopping on validation."""

    epochs: int | None = None  # None: auto_epochs(batches per epoch)
    batch_size: int = 64
    lr: float = 5e-3
    weight_decay: float = 0.1
    warmup: float = 0.1  # fraction of all steps spent warming up linearly from 0
    schedule: str = "linear"  # decay after warm-up: linear or cosine to 0, or constant
    clip_norm: float = 1.0  # maximum gradient norm (0: no clipping)
    patience: int = 5  # epochs without a better validation score before stopping (0: never)
    label_smoothing: float = 0.0
    seed: int = 0
    # fp32, bf16 or fp16 (autocast; what the device supports is checked where it is known)
    precision: str = "fp32"
    # deterministic kernels (torch's, cuDNN's, cuBLAS's): two runs with one seed on one
    # machine give identical weights, at some cost in speed on a GPU
    deterministic: bool = False
    max_steps: int | None = None  # stop after this many optimizer steps (None: no limit)
    # stop after this many minutes of training steps, the learning-rate schedule (warm-up and
    # decay) running over that time instead of over the steps; epochs then default to no limit
    max_minutes: float | None = None
    # discriminative learning rates: each layer group below the top one (a model's
    # layer_groups: embedding, recurrent layers, head) trains at the rate of the one above
    # divided by this (ULMFiT: 2.6); 1: one rate for all
    lr_decay: float = 1.0
    # gradual: epoch e trains the top e + 1 layer groups only (ULMFiT's gradual unfreezing)
    unfreeze: str = "none"

    def __post_init__(self) -> None:
        checks = [
            ("epochs", self.epochs is None or self.epochs >= 1, "at least 1"),
            ("batch_size", self.batch_size >= 1, "at least 1"),
            ("lr", 0 < self.lr < math.inf, "positive and finite"),
            ("weight_decay", 0 <= self.weight_decay < math.inf, "zero or positive"),
            ("warmup", 0 <= self.warmup < 1, "in [0, 1)"),
            ("clip_norm", 0 <= self.clip_norm < math.inf, "zero or positive"),
            ("patience", self.patience >= 0, "zero or positive"),
            ("label_smoothing", 0 <= self.label_smoothing < 1, "in [0, 1)"),
            ("max_steps", self.max_steps is None or self.max_steps >= 1, "at least 1"),
            ("seed", 0 <= self.seed < 2**32, "in [0, 2**32)"),
            (
                "max_minutes",
                self.max_minutes is None or 0 < self.max_minutes < math.inf,
                "positive",
            ),
            ("lr_decay", 1 <= self.lr_decay < math.inf, "at least 1"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise field_error(name, expected, getattr(self, name))
        for name, choices in (
            ("schedule", SCHEDULES),
            ("unfreeze", UNFREEZE),
            ("precision", PRECISIONS),
        ):
            if getattr(self, name) not in choices:
                raise ConfigError(
                    f"unknown {name} {getattr(self, name)!r}: choose one of {', '.join(choices)}",
                    field=name,
                )
