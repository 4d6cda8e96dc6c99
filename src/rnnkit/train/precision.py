"""Numeric precision of training and inference: float32, or bfloat16 autocast on CPUs with bf16.

With ``bf16``, matrix multiplies and the fused LSTM run in bfloat16 under
``torch.autocast("cpu")`` while the weights, the optimizer state and the loss stay float32.
"""

from __future__ import annotations

import contextlib

from rnnkit.errors import ConfigError

PRECISIONS = ("fp32", "bf16")


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 natively (AVX512-BF16 or AMX), as oneDNN reports it."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}",
            field="precision",
        )
    if precision == "bf16" and not bf16_supported():
        raise ConfigError(
            "precision bf16 needs a CPU with native bfloat16 (AVX512-BF16 or AMX); this one "
            "has neither, and emulated bf16 would be slower than fp32: use precision fp32",
            field="precision",
        )


def autocast(precision: str) -> contextlib.AbstractContextManager[object]:
    """The context to run a forward pass in at ``precision``."""
    if precision == "bf16":
        import torch

        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()
