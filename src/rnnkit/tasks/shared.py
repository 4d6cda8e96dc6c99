"""What the tasks' option tables share: the helpers that place an option in its section and
--help group, and the options every task's training has in the same words."""

from __future__ import annotations

from typing import Any

from rnnkit.options import Option
from rnnkit.train.config import SCHEDULES
from rnnkit.train.precision import PRECISIONS

GROUPS = {"model": "model", "text": "text", "training": "training"}  # --help sections


def model_option(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="model", group="model", **kw)


def text_option(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="data", group="text", **kw)


def training_option(param: str, help: str, **kw: Any) -> Option:
    return Option(param, help, section="training", group="training", **kw)


SCHEDULE_HELP = (
    "learning-rate decay after warm-up: linear or cosine to 0, constant, or slanted (ULMFiT's "
    "slanted triangle: up from and down to a 32nd of the peak)"
)
PRECISION = training_option(
    "precision",
    "fp32; bf16: bfloat16 autocast (CPUs with native bf16, GPUs); fp16: float16 autocast with a "
    "gradient scaler (GPUs)",
    choices=PRECISIONS,
)
DETERMINISTIC = training_option(
    "deterministic",
    "deterministic kernels (torch, cuDNN, cuBLAS): runs with one seed on one machine give "
    "identical weights, somewhat slower on a GPU",
    type=bool,
    switch="set",
)
DEVICE_HELP = "where to run: auto (a GPU when torch sees one), cpu, cuda or cuda:N"
DEVICE = Option(
    "device",
    f"{DEVICE_HELP}; bundles and checkpoints load on any device",
    group="training",
    default="auto",
    listed_before="precision",
    metavar="DEVICE",
)
MAX_MINUTES = training_option(
    "max_minutes",
    "train for this many minutes (the validation not counted), the learning-rate schedule "
    "running over that time; without --epochs, as many epochs as fit",
    type=float,
    optional=True,
    shown="no limit",
    metavar="M",
)
THREADS = Option(
    "threads",
    "CPU threads for torch",
    group="training",
    type=int,
    default=None,
    optional=True,
    shown="all cores",
    listed_before="precision",
    metavar="N",
)


def optimizer_options(**defaults: Any) -> list[Option]:
    """lr, weight_decay, warmup, schedule and clip_norm in the same words for every task;
    ``defaults`` where the task's differ from its configuration's."""

    given = {param: {"default": value} for param, value in defaults.items()}
    return [
        training_option(
            "lr", "peak learning rate of AdamW", type=float, metavar="X", **given.get("lr", {})
        ),
        training_option(
            "weight_decay",
            "AdamW weight decay",
            type=float,
            metavar="X",
            **given.get("weight_decay", {}),
        ),
        training_option(
            "warmup",
            "fraction of steps warming the learning rate up",
            type=float,
            metavar="F",
            **given.get("warmup", {}),
        ),
        training_option("schedule", SCHEDULE_HELP, choices=SCHEDULES, **given.get("schedule", {})),
        training_option(
            "clip_norm", "clip the gradient norm to this (0: off)", type=float, metavar="X"
        ),
    ]


def run_options(
    seed: str, max_steps: str = "stop after this many optimizer steps, for quick checks"
) -> list[Option]:
    """The options of a run that every task has: its seed (``seed``: what it decides),
    precision, deterministic kernels, its limits of steps and minutes, threads and device."""
    return [
        training_option("seed", f"random seed ({seed})", type=int, metavar="N"),
        PRECISION,
        DETERMINISTIC,
        training_option(
            "max_steps", max_steps, type=int, optional=True, shown="no limit", metavar="N"
        ),
        MAX_MINUTES,
        THREADS,
        DEVICE,
    ]
