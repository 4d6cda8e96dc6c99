"""The encoder every task shares: token ids to per-step outputs and final states.

    x_t            = E[token_t]                        embedding (trained or pretrained)
    outputs, state = RNN(dropout(x), lengths)          the ``rnnkit.nn`` stack, exact per length

A task's model is this encoder and a head: pooling and a linear layer for classification, a
projection to the vocabulary for a language model. Its weights can be saved, loaded into
another model with the same vocabulary, and frozen or unfrozen layer by layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

import rnnkit.nn
from rnnkit.models.config import BAG, EncoderConfig
from rnnkit.nn.dropout import dropout, dropout_mask, locked_dropout
from rnnkit.nn.layers import layer
from rnnkit.text.vocab import Vocabulary


@dataclass(frozen=True)
class Encoded:
    """What the encoder returns. ``outputs`` (T, B, D * H) are zero at padding (for ``bag``:
    the embedded tokens (T, B, E)); ``state`` holds the final states, each (L * D, B, H), at
    every sequence's own end (``(h_n,)``, or ``(h_n, c_n)`` for an LSTM; empty for ``bag``)."""

    outputs: Tensor
    state: tuple[Tensor, ...]

    @property
    def h_n(self) -> Tensor:
        return self.state[0] if self.state else self.outputs[:0]


class Encoder(nn.Module):
    """``forward(tokens (T, B), lengths (B,), state=None) -> Encoded``; token id 0 is padding.

    In training, before the recurrent stack: ``word_dropout`` replaces token occurrences by
    the unknown token; ``embed_dropout`` zeroes every occurrence of a fraction of the word
    types in the batch and scales the rest by 1 / (1 - p) (AWD-LSTM's embedding dropout);
    ``dropout`` then acts on the embedded tokens, with one mask per text for all its steps if
    ``locked_dropout``. The stack applies ``dropout`` between layers (locked likewise) and
    ``weight_dropout`` to its hidden-to-hidden matrices. With ``cell="bag"`` there is no
    recurrent stack: the outputs are the embedded tokens.
    """

    def __init__(self, config: EncoderConfig) -> None:
        super().__init__()
        self.config = config.encoder
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        self.rnn: rnnkit.nn.RecurrentBase | None = None
        if config.cell != BAG:
            options: dict[str, Any] = {
                "num_layers": config.num_layers,
                "bidirectional": config.bidirectional,
            }
            if config.num_layers > 1:
                options["dropout"] = config.dropout
                options["variational"] = config.locked_dropout
            if config.weight_dropout > 0:
                options["weight_dropout"] = config.weight_dropout
            self.rnn = layer(config.cell)(config.embed_dim, config.hidden_size, **options)

    @property
    def output_size(self) -> int:
        """Features per step of ``outputs``: D * H, or E for ``bag``."""
        config = self.config
        return config.embed_dim if self.rnn is None else config.num_directions * config.hidden_size

    def flops_per_token(self) -> int:
        """FLOPs of the recurrent matrix products per token, directions summed, at inference:
        2 x gates x hidden x (input + hidden) per layer and direction."""
        config = self.config
        if self.rnn is None:
            return config.embed_dim
        directions, flops, size = config.num_directions, 0, config.embed_dim
        for _ in range(config.num_layers):
            flops += 2 * self.rnn.num_gates * config.hidden_size * (size + config.hidden_size)
            size = directions * config.hidden_size
        return flops * directions

    def embed(self, tokens: Tensor) -> Tensor:
        """Token ids (T, B) to the recurrent stack's input (T, B, E), dropouts included."""
        config = self.config
        if self.training and config.word_dropout > 0:
            dropped = torch.rand(tokens.shape, device=tokens.device) < config.word_dropout
            tokens = tokens.masked_fill(dropped & (tokens != 0), Vocabulary.unk_id)
        x = self.embedding(tokens)  # (T, B, E)
        if self.training and config.embed_dropout > 0:
            keep = dropout_mask(
                (config.vocab_size, 1), config.embed_dropout, dtype=x.dtype, device=x.device
            )
            x = x * keep[tokens]  # the same for every occurrence of a word in this batch
        if config.locked_dropout:
            return locked_dropout(x, config.dropout, training=self.training)
        return dropout(x, config.dropout, training=self.training)

    def forward(
        self, tokens: Tensor, lengths: Tensor, state: tuple[Tensor, ...] | None = None
    ) -> Encoded:
        x = self.embed(tokens)
        if self.rnn is None:  # bag: embeddings are zero at padding, as mean pooling needs
            return Encoded(x, ())
        hx: Any = None if state is None else (state if len(state) > 1 else state[0])
        outputs, final = self.rnn(x, hx, lengths=lengths)  # (T, B, D * H)
        return Encoded(outputs, final if isinstance(final, tuple) else (final,))

    # -- layer by layer --------------------------------------------------------------------

    def groups(self) -> list[list[Tensor]]:
        """The parameters layer by layer: the embedding, then each recurrent layer (both
        directions) from the bottom up; what ``freeze`` and ``unfreeze`` count."""
        groups = [[self.embedding.weight]]
        if self.rnn is not None:
            for layer in range(self.config.num_layers):
                suffix = f"_l{layer}"
                groups.append(
                    [
                        p
                        for name, p in self.rnn.named_parameters()
                        if name.endswith(suffix) or name.endswith(suffix + "_reverse")
                    ]
                )
        return groups

    def freeze(self, count: int | None = None) -> None:
        """Stop training the lowest ``count`` groups of ``groups()`` (all with None)."""
        for group in self._selected(count):
            for parameter in group:
                parameter.requires_grad_(False)

    def unfreeze(self, count: int | None = None) -> None:
        """Train the highest ``count`` groups of ``groups()`` again (all with None)."""
        for group in self._selected(count, top=True):
            for parameter in group:
                parameter.requires_grad_(True)

    def _selected(self, count: int | None, *, top: bool = False) -> Iterator[list[Tensor]]:
        """The lowest (or with ``top`` the highest) ``count`` groups; all with None."""
        groups = self.groups()
        if count is None:
            count = len(groups)
        if not 0 <= count <= len(groups):
            raise ValueError(f"count must be in [0, {len(groups)}] (the groups), got {count}")
        yield from (groups[len(groups) - count :] if top else groups[:count])

    def transfer(self, source: Encoder, vocab: Vocabulary, source_vocab: Vocabulary) -> None:
        """Load ``source``'s weights (an encoder of another model) into this one; both must
        have the same shapes (cell, sizes, layers, directions) and vocabulary, or the
        embedding rows would mean other words (``ValueError`` says which differs). Dropouts
        may differ: fine-tuning often regularizes otherwise than pretraining."""
        shape = ("vocab_size", "cell", "embed_dim", "hidden_size", "num_layers", "bidirectional")
        differ = [f for f in shape if getattr(source.config, f) != getattr(self.config, f)]
        if differ:
            pairs = ", ".join(
                f"{f} {getattr(source.config, f)} against {getattr(self.config, f)}" for f in differ
            )
            raise ValueError(f"the encoders differ in configuration: {pairs}")
        if source_vocab.tokens != vocab.tokens:
            raise ValueError(
                "the encoders' vocabularies differ; load an encoder into a model built with "
                "the vocabulary it was trained with"
            )
        self.load_state_dict(source.state_dict())
