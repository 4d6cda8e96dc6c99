"""Ensemble: K classifiers of one configuration, trained side by side, their probabilities
averaged.

    p(c | x) = 1/K  sum_k  softmax(f_k(x))_c

The members share the vocabulary, the batches and the validation split; they differ in their
random start (everything the vectors or language models do not give) and in every dropout
mask, which is where an ensemble's gain comes from (Lakshminarayanan et al., 2017, train deep
ensembles from random starts alone). Each member learns from its own loss: training returns
every member's logits and the loss is their mean (``rnnkit.train.step.each_member``), as if
each were trained alone; only evaluation combines them.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor, nn

from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import ModelConfig


class Ensemble(nn.Module):
    """``forward(tokens (T, B), lengths (B,))``: in evaluation, ``log p`` (B, C), the log of
    the members' mean probability (softmax turns it back into that mean, so everything that
    reads a classifier's logits reads an ensemble's); in training, each member's logits
    (K, B, C)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        member = replace(config, ensemble=1)
        self.members = nn.ModuleList(SequenceClassifier(member) for _ in range(config.ensemble))

    def flops_per_token(self) -> int:
        return sum(m.flops_per_token() for m in classifiers(self))

    def layer_groups(self) -> list[list[Tensor]]:
        """Each member's groups, level by level (the embeddings, each recurrent layer, the
        heads), so that discriminative rates and unfreezing treat every member alike."""
        levels = zip(*(m.layer_groups() for m in classifiers(self)), strict=True)
        return [[p for group in level for p in group] for level in levels]

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        logits = torch.stack([m(tokens, lengths) for m in self.members])  # (K, B, C)
        if self.training:
            return logits
        log_p = torch.log_softmax(logits.float(), -1)  # (K, B, C)
        return torch.logsumexp(log_p, 0) - math.log(len(self.members))  # (B, C)


def build_classifier(config: ModelConfig) -> SequenceClassifier | Ensemble:
    """The model ``config`` describes: one classifier, or an ensemble of ``config.ensemble``."""
    return SequenceClassifier(config) if config.ensemble == 1 else Ensemble(config)


def classifiers(model: nn.Module) -> list[SequenceClassifier]:
    """The classifiers of ``model``: its members, or the model itself."""
    if isinstance(model, Ensemble):
        return [m for m in model.members if isinstance(m, SequenceClassifier)]
    assert isinstance(model, SequenceClassifier)
    return [model]
