"""Dropout variants for recurrent networks (Gal and Ghahramani, 2016; Merity et al., 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def dropout_mask(
    shape: tuple[int, ...], p: float, *, dtype: torch.dtype, device: torch.device
) -> Tensor:
    """A dropout mask: 0 with probability ``p``, else 1 / (1 - p).

    Drawn as ``rand < 1 - p``: on this CPU about twice as fast as ``bernoulli_`` or
    ``F.dropout`` (295 against 677 us for a 512 x 128 matrix), which matters when a training
    step of a small model takes 20 ms and draws five masks.
    """
    keep = torch.rand(shape, device=device) < 1.0 - p
    return keep.to(dtype).mul_(1.0 / (1.0 - p))


def dropout(x: Tensor, p: float, *, training: bool = True) -> Tensor:
    """Ordinary dropout, a mask per element, as ``F.dropout`` but drawn by ``dropout_mask``."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return x * dropout_mask(tuple(x.shape), p, dtype=x.dtype, device=x.device)


def locked_dropout(x: Tensor, p: float, *, training: bool = True) -> Tensor:
    """Variational ("locked") dropout of a time-major ``x`` (T, B, F): one mask per sequence,
    the same at every time step, scaled by 1 / (1 - p) like ordinary dropout."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    return x * dropout_mask((1, x.shape[1], x.shape[2]), p, dtype=x.dtype, device=x.device)


def dropout_between_layers(x: Tensor, p: float, *, variational: bool, training: bool) -> Tensor:
    """Ordinary dropout (a mask per step), or locked dropout with ``variational``."""
    if variational:
        return locked_dropout(x, p, training=training)
    return F.dropout(x, p, training=training)
