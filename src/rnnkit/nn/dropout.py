"""Dropout variants for recurrent networks (Gal and Ghahramani, 2016; Merity et al., 2018)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def locked_dropout(x: Tensor, p: float, *, training: bool = True) -> Tensor:
    """Variational ("locked") dropout of a time-major ``x`` (T, B, F): one mask per sequence,
    the same at every time step, scaled by 1 / (1 - p) like ordinary dropout."""
    if not training or p == 0.0:
        return x
    if p == 1.0:
        return x * 0.0
    keep = torch.empty(1, x.shape[1], x.shape[2], dtype=x.dtype, device=x.device)
    return x * keep.bernoulli_(1.0 - p).div_(1.0 - p)


def dropout_between_layers(x: Tensor, p: float, *, variational: bool, training: bool) -> Tensor:
    """Ordinary dropout (a mask per step), or locked dropout with ``variational``."""
    if variational:
        return locked_dropout(x, p, training=training)
    return F.dropout(x, p, training=training)
