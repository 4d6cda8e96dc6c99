"""A classifier's encoder started from language models (ULMFiT; Howard and Ruder, 2018).

With language models ``1 .. D`` (one: a forward classifier; two: the second read its text
backwards and starts the reverse direction), each of embedding size ``E`` and hidden size ``H``:

    E_clf[w]          = [E_1[w], ..., E_D[w]]       a word the models know (D * E columns)
    E_clf[w]          = [mean E_1, ..., mean E_D]   a word they lack (means over their words)
    W_ih(l=0, d)      = W_ih^d on the columns of block d of the embedding, zeros elsewhere
    W_ih(l>0, d)      = W_ih^d on the columns of block d of the layer below (D * H), zeros
    W_hh, b_ih, b_hh  = those of model d

so that, before fine-tuning, direction ``d`` of the classifier computes exactly what language
model ``d`` computes on the same text (the reverse direction reads it from the end, as the
backward model was trained to). Rows are matched by token string, so the classifier's
vocabulary may order its words otherwise and hold more of them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.encoder import Encoder
from rnnkit.text.units import SPECIALS as UNIT_SPECIALS
from rnnkit.text.vocab import PAD, UNK, Vocabulary

SPECIALS = len(UNIT_SPECIALS)  # a language model's <pad>, <unk>, <eod> come first
SHAPE = ("cell", "embed_dim", "hidden_size", "num_layers")


@dataclass(frozen=True)
class Pretrained:
    """One language model as a bundle holds it: where it came from (for messages), its
    configuration, its tokens (``tokens[i]`` is row ``i`` of its embedding) and weights."""

    source: str
    config: LanguageModelConfig
    tokens: list[str]
    state: Mapping[str, Tensor]


def check_pair(models: Sequence[Pretrained]) -> None:
    """``ValueError`` unless the models (one, or a forward and a backward one) can start one
    encoder: the same cell, sizes, layers and tokens."""
    if not 1 <= len(models) <= 2:
        raise ValueError(f"an encoder starts from one or two language models, got {len(models)}")
    if len(models) == 2:
        first, second = models
        differ = [f for f in SHAPE if getattr(first.config, f) != getattr(second.config, f)]
        if differ:
            pairs = ", ".join(
                f"{f} {getattr(first.config, f)} against {getattr(second.config, f)}"
                for f in differ
            )
            raise ValueError(f"{first.source} and {second.source} differ: {pairs}")
        if first.tokens != second.tokens:
            raise ValueError(
                f"{first.source} and {second.source} have different vocabularies: train both "
                "on the same text with the same options (the second with --reverse)"
            )


def merged_vocabulary(models: Sequence[Pretrained], own: Vocabulary) -> tuple[Vocabulary, int]:
    """The language models' words, then those of ``own`` (the classifier's training words)
    they lack; and how many were added."""
    known = models[0].tokens[SPECIALS:]
    index = set(known)
    added = [t for t in own.tokens[2:] if t not in index]
    return Vocabulary([PAD, UNK, *known, *added]), len(added)


def encoder_fields(models: Sequence[Pretrained]) -> dict[str, Any]:
    """The classifier's encoder fields the language models decide."""
    config = models[0].config
    return {
        "cell": config.cell,
        "embed_dim": len(models) * config.embed_dim,
        "hidden_size": config.hidden_size,
        "num_layers": config.num_layers,
        "bidirectional": len(models) == 2,
    }


@torch.no_grad()
def load_encoder(encoder: Encoder, vocab: Vocabulary, models: Sequence[Pretrained]) -> None:
    """Copy the language models' weights into ``encoder`` as the module docstring says;
    ``encoder`` must have the shape ``encoder_fields`` gives and ``vocab`` must hold every
    word of the models (``merged_vocabulary``)."""
    check_pair(models)
    config = models[0].config
    E, H = config.embed_dim, config.hidden_size
    expected = encoder_fields(models)
    actual = {f: getattr(encoder.config, f) for f in expected}
    if actual != expected:
        raise ValueError(f"the encoder is {actual}; the language models need {expected}")
    weight = encoder.embedding.weight
    weight.zero_()
    for d, model in enumerate(models):
        lm = model.state["encoder.embedding.weight"]
        rows = {token: i for i, token in enumerate(model.tokens)}
        block = weight[:, d * E : (d + 1) * E]
        block[2:] = lm[SPECIALS:].mean(0)  # the words the model lacks; known ones follow
        block[1] = lm[rows[UNK]]
        found = [(i, rows[t]) for i, t in enumerate(vocab.tokens[2:], start=2) if t in rows]
        if found:
            ours, theirs = (torch.tensor(side) for side in zip(*found, strict=True))
            block[ours] = lm[theirs]
    rnn = encoder.rnn
    assert rnn is not None
    for d, model in enumerate(models):
        suffix = "_reverse" if d == 1 else ""
        for layer in range(config.num_layers):
            width = E if layer == 0 else H
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                name = f"{kind}_l{layer}"
                source = model.state.get(f"encoder.rnn.{name}")
                if source is None:  # a cell without biases
                    continue
                target = getattr(rnn, name + suffix)
                if kind == "weight_ih":
                    target.zero_()
                    target[:, d * width : (d + 1) * width] = source
                else:
                    target.copy_(source)
