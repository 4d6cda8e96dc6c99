"""Fine-tuning's parameter groups: discriminative learning rates per layer (``lr_decay``) and
gradual unfreezing from the top (ULMFiT), from a model's ``layer_groups()``."""

from __future__ import annotations

from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.train.config import TrainConfig


def layer_groups(model: nn.Module, config: TrainConfig) -> list[tuple[list[Tensor], float]]:
    """The trainable parameters in groups, each with its multiplier of the learning rate:
    one group at 1 by default; with ``lr_decay`` or gradual unfreezing, the model's
    ``layer_groups()`` from the bottom up (embedding, each recurrent layer, the head), the top
    at 1 and each one below at the rate above / ``lr_decay``."""
    trainable: list[Tensor] = [p for p in model.parameters() if p.requires_grad]
    if config.lr_decay == 1.0 and config.unfreeze == "none":
        return [(trainable, 1.0)]
    groups_of = getattr(model, "layer_groups", None)
    if groups_of is None:
        raise ConfigError(
            f"{type(model).__name__} has no layer groups: lr_decay and unfreeze need a model "
            "made of layers (a classifier)",
            field="lr_decay" if config.lr_decay != 1.0 else "unfreeze",
        )
    wanted = {id(p) for p in trainable}
    groups = [[p for p in group if id(p) in wanted] for group in groups_of()]
    depth = len(groups) - 1
    return [(group, config.lr_decay ** -(depth - i)) for i, group in enumerate(groups) if group]


def unfreeze_top(groups: list[list[Tensor]], count: int) -> None:
    """Train the top ``count`` groups and freeze the others (their gradients stay None, so
    AdamW leaves them, weight decay included)."""
    for i, group in enumerate(groups):
        for parameter in group:
            parameter.requires_grad_(i >= len(groups) - count)
