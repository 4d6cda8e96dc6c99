"""SequenceClassifier: token ids to class scores through an embedding, a recurrent encoder,
pooling and a linear layer."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import rnnkit.nn
from rnnkit.models.config import ModelConfig
from rnnkit.models.pooling import Pooling
from rnnkit.nn.dropout import dropout, dropout_mask, locked_dropout
from rnnkit.text.vocab import Vocabulary

_ENCODERS: dict[str, type[rnnkit.nn.RecurrentBase]] = {
    "lstm": rnnkit.nn.LSTM,
    "gru": rnnkit.nn.GRU,
    "rnn": rnnkit.nn.RNN,
}


class SequenceClassifier(nn.Module):
    """``forward(tokens (T, B), lengths (B,)) -> logits (B, C)``; token id 0 is padding.

    With ``cell="bag"`` there is no encoder: the features are the mean of the embedded tokens,
    a model that cannot see word order (the baseline of ``rnnkit demo``).

    In training, before the encoder: ``word_dropout`` replaces token occurrences by the
    unknown token; ``embed_dropout`` zeroes every occurrence of a fraction of the word types in
    the batch and scales the rest by 1 / (1 - p) (AWD-LSTM's embedding dropout); ``dropout``
    then acts on the embedded tokens, with one mask per text for all its steps if
    ``locked_dropout``. The encoder applies ``dropout`` between layers (locked likewise) and
    ``weight_dropout`` to its hidden-to-hidden matrices; ``dropout`` acts again on the pooled
    features.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        directions = 2 if config.bidirectional else 1
        self.embedding = nn.Embedding(config.vocab_size, config.embed_dim, padding_idx=0)
        self.embedding.weight.requires_grad_(not config.freeze_embeddings)
        options: dict[str, Any] = {
            "num_layers": config.num_layers,
            "bidirectional": config.bidirectional,
        }
        if config.num_layers > 1:
            options["dropout"] = config.dropout
            options["variational"] = config.locked_dropout
        if config.weight_dropout > 0:
            options["weight_dropout"] = config.weight_dropout
        self.encoder: rnnkit.nn.RecurrentBase | None = None
        if config.cell == "bag":  # order-blind baseline: the mean of the embedded tokens
            self.pooling = Pooling(("mean",), config.embed_dim, 1)
        else:
            encoder = _ENCODERS[config.cell]
            self.encoder = encoder(config.embed_dim, config.hidden_size, **options)
            self.pooling = Pooling(config.pooling, directions * config.hidden_size, directions)
        self.classifier = nn.Linear(self.pooling.output_size, config.num_classes)

    def flops_per_token(self) -> int:
        """FLOPs of the encoder's matrix products per token and direction summed, at inference:
        2 x gates x hidden x (input + hidden) per layer and direction."""
        config = self.config
        if self.encoder is None:
            return config.embed_dim
        gates = self.encoder.cell.num_gates  # from rnnkit.nn.registry
        directions = 2 if config.bidirectional else 1
        flops, size = 0, config.embed_dim
        for _ in range(config.num_layers):
            flops += 2 * gates * config.hidden_size * (size + config.hidden_size) * directions
            size = directions * config.hidden_size
        return flops

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        if self.training and self.config.word_dropout > 0:
            dropped = torch.rand(tokens.shape, device=tokens.device) < self.config.word_dropout
            tokens = tokens.masked_fill(dropped & (tokens != 0), Vocabulary.unk_id)
        x = self.embedding(tokens)  # (T, B, E)
        if self.training and self.config.embed_dropout > 0:
            keep = dropout_mask(
                (self.config.vocab_size, 1),
                self.config.embed_dropout,
                dtype=x.dtype,
                device=x.device,
            )
            x = x * keep[tokens]  # the same for every occurrence of a word in this batch
        if self.config.locked_dropout:
            x = locked_dropout(x, self.config.dropout, training=self.training)
        else:
            x = dropout(x, self.config.dropout, training=self.training)
        if self.encoder is None:  # bag: embeddings are zero at padding, as mean pooling needs
            features = self.pooling(x, x[:0], lengths)  # (B, E)
        else:
            outputs, state = self.encoder(x, lengths=lengths)  # (T, B, D * H)
            h_n = state[0] if isinstance(state, tuple) else state  # (L * D, B, H)
            features = self.pooling(outputs, h_n, lengths)  # (B, P * D * H)
        features = dropout(features, self.config.dropout, training=self.training)
        return self.classifier(features)  # type: ignore[no-any-return]
