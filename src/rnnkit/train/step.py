"""One training step, the same for every task and for every caller (the trainer, the
learning-rate range test, the lab):

    outputs      = model(*batch.inputs)            on the model's device, under autocast at
                                                   ``precision``
    (sum, count) = loss(outputs, batch)            the task's loss summed over its targets
    theta       <- AdamW(theta, grad(scale * sum))  gradient norm clipped to ``clip_norm``

With ``fp16`` the loss is multiplied by a dynamic scale before backward and the gradients
divided by it before clipping; a step whose gradients overflowed is skipped and the scale
halved (torch's ``GradScaler``).

``scale`` is ``1 / count`` for the mean over the batch; in data-parallel training the trainer
passes ``processes / global count``, because DDP averages gradients over processes.
A loss knows the task: ``cross_entropy`` serves class labels (B,) with logits (B, C) and
per-step targets (T, B) with logits (T, B, C) alike; targets equal to ``IGNORE_INDEX`` (padding,
unlabelled positions) count neither in the sum nor in ``count``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.data.batching import IGNORE_INDEX
from rnnkit.train.device import model_device, to_device
from rnnkit.train.precision import autocast, grad_scaler

__all__ = ["IGNORE_INDEX", "BatchLike", "LossFn", "Objective", "Step", "adamw", "cross_entropy"]


class BatchLike(Protocol):
    @property
    def inputs(self) -> tuple[Tensor, ...]: ...

    @property
    def target(self) -> Tensor: ...

    @property
    def num_tokens(self) -> int: ...


LossFn = Callable[[Tensor, BatchLike], tuple[Tensor, int]]


def cross_entropy(label_smoothing: float = 0.0) -> LossFn:
    """``(sum over targets of -log p(target), number of targets)``, with label smoothing;
    logits (..., C) against targets (...), in float32 whatever the autocast precision."""

    def loss(outputs: Tensor, batch: BatchLike) -> tuple[Tensor, int]:
        target = batch.target.reshape(-1)
        total = F.cross_entropy(
            outputs.float().reshape(target.shape[0], -1),
            target,
            label_smoothing=label_smoothing,
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        return total, int((target != IGNORE_INDEX).sum())

    return loss


def each_member(loss: LossFn) -> LossFn:
    """``loss`` of each member's outputs (K, ...) of an ensemble, averaged over the K members:
    each member's gradient is its own loss's, divided by K."""

    def mean_loss(outputs: Tensor, batch: BatchLike) -> tuple[Tensor, int]:
        totals = [loss(member, batch) for member in outputs]
        return torch.stack([total for total, _ in totals]).mean(), totals[0][1]

    return mean_loss


@dataclass(frozen=True)
class Objective:
    """What training minimizes and what validation watches: the loss, the validation metric
    that chooses the best epoch, and whether higher is better (ties go to the lower loss)."""

    loss: LossFn
    monitor: str = "accuracy"
    higher_is_better: bool = True
    # what the progress bar shows beside the training loss, e.g. {"ppl": "123.4"}
    shown: Callable[[float], dict[str, str]] | None = None

    def key(self, metrics: dict[str, float]) -> tuple[float, float]:
        """Larger is better: the monitored metric signed by its direction, then -loss."""
        score = metrics[self.monitor]
        return (score if self.higher_is_better else -score, -metrics.get("loss", 0.0))


def adamw(parameters: list[Any], lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW with its fused kernel where this torch has one for these tensors (one pass over
    each parameter instead of several: a third of the time for a 50,000-word embedding).
    ``parameters``: tensors, or torch's parameter groups (dicts, each with its own ``lr``)."""
    try:
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.AdamW(parameters, lr=lr, weight_decay=weight_decay)


class Step:
    """``loss(batch) -> (sum, count)`` then ``update(sum, scale)``: one optimizer step of
    ``optimizer`` on ``parameters``. ``net`` is what runs the batch (the model, or its DDP
    wrapper)."""

    def __init__(
        self,
        net: nn.Module,
        loss: LossFn,
        optimizer: torch.optim.Optimizer,
        parameters: Iterable[nn.Parameter],
        *,
        precision: str = "fp32",
        clip_norm: float = 0.0,
    ) -> None:
        self.net, self.loss_fn, self.optimizer = net, loss, optimizer
        self.parameters = list(parameters)
        self.precision, self.clip_norm = precision, clip_norm
        self.device = model_device(net)
        self.scaler = grad_scaler(precision, self.device)

    def loss(self, batch: BatchLike) -> tuple[Tensor, int]:
        batch = to_device(batch, self.device)  # where it is already, as it is
        with autocast(self.precision, self.device):
            outputs = self.net(*batch.inputs)
        return self.loss_fn(outputs, batch)

    def update(self, loss_sum: Tensor, scale: float) -> None:
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss_sum * scale).backward()  # type: ignore[no-untyped-call]
        if self.clip_norm:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.parameters, self.clip_norm)
        self.scaler.step(self.optimizer)
        self.scaler.update()
