"""Numeric precision of training and inference: float32, bfloat16 autocast (CPUs with native
bf16, GPUs with bf16), or float16 autocast with a gradient scaler (GPUs).

With ``bf16`` or ``fp16``, matrix multiplies and the fused recurrent kernels run in half
precision under ``torch.autocast`` while the weights, the optimizer state and the loss stay
float32. float16's narrow range needs the loss scaled up before backward (and the gradients
unscaled before clipping and the step): :func:`grad_scaler`. torch's CPU kernels have no
float16 LSTM, so ``fp16`` is for CUDA only.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from rnnkit.errors import ConfigError

if TYPE_CHECKING:
    import torch

PRECISIONS = ("fp32", "bf16", "fp16")
PRECISION_HELP = (
    "fp32; bf16: bfloat16 autocast (CPUs with native bf16, GPUs); fp16: float16 autocast with "
    "a gradient scaler (GPUs)"
)


def bf16_supported() -> bool:
    """Whether this CPU runs bfloat16 natively (AVX512-BF16 or AMX), as oneDNN reports it."""
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def check_precision(precision: str, device: torch.device | None = None) -> None:
    """``ConfigError`` for an unknown precision, or one that ``device`` (default: the CPU)
    cannot run well."""
    if precision not in PRECISIONS:
        raise ConfigError(
            f"unknown precision {precision!r}: choose one of {', '.join(PRECISIONS)}",
            field="precision",
        )
    on_gpu = device is not None and device.type == "cuda"
    if precision == "bf16" and not on_gpu and not bf16_supported():
        raise ConfigError(
            "precision bf16 needs a CPU with native bfloat16 (AVX512-BF16 or AMX); this one "
            "has neither, and emulated bf16 would be slower than fp32: use precision fp32",
            field="precision",
        )
    if precision == "bf16" and on_gpu:
        import torch

        if not torch.cuda.is_bf16_supported():
            raise ConfigError(
                f"precision bf16: {torch.cuda.get_device_name(device)} has no bfloat16; use "
                "precision fp16",
                field="precision",
            )
    if precision == "fp16" and not on_gpu:
        raise ConfigError(
            "precision fp16 runs on a GPU only (torch's CPU kernels have no float16 LSTM): on "
            "the CPU use bf16 or fp32",
            field="precision",
        )


def autocast(
    precision: str, device: torch.device | str = "cpu"
) -> contextlib.AbstractContextManager[object]:
    """The context to run a forward pass in at ``precision`` on ``device``."""
    if precision == "fp32":
        return contextlib.nullcontext()
    import torch

    kind = device if isinstance(device, str) else device.type
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(kind, dtype=dtype)


def grad_scaler(precision: str, device: torch.device | str = "cpu") -> torch.amp.GradScaler:
    """torch's dynamic loss scaler, enabled for ``fp16`` only (disabled, it passes through)."""
    import torch

    kind = device if isinstance(device, str) else device.type
    return torch.amp.GradScaler(kind, enabled=precision == "fp16")
