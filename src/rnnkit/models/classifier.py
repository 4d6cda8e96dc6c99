"""SequenceClassifier: token ids to class scores through the shared encoder, pooling and a
linear layer."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

from rnnkit.models.config import ModelConfig
from rnnkit.models.encoder import Encoder
from rnnkit.models.pooling import Pooling
from rnnkit.nn.dropout import dropout

# State-dict names before the encoder was its own module (bundle format 1, and checkpoints
# of that release): old prefix -> new prefix.
LEGACY_NAMES = (("embedding.", "encoder.embedding."), ("encoder.", "encoder.rnn."))


class SequenceClassifier(nn.Module):
    """``forward(tokens (T, B), lengths (B,)) -> logits (B, C)``; token id 0 is padding.

        features = pooling(encoder(tokens, lengths))      last, mean, max, attention
        logits   = W dropout(features) + b

    With ``cell="bag"`` the encoder has no recurrent stack and the features are the mean of
    the embedded tokens, a model that cannot see word order (the baseline of ``rnnkit demo``).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        if self.encoder.rnn is None:
            self.pooling = Pooling(("mean",), config.embed_dim, 1)
        else:
            size, directions = self.encoder.output_size, config.num_directions
            self.pooling = Pooling(config.pooling, size, directions)
        self.classifier = nn.Linear(self.pooling.output_size, config.num_classes)
        self.register_load_state_dict_pre_hook(_rename_legacy)  # type: ignore[no-untyped-call]

    def flops_per_token(self) -> int:
        return self.encoder.flops_per_token()

    def layer_groups(self) -> list[list[Tensor]]:
        """The parameters from the bottom up: the encoder's groups (embedding, each recurrent
        layer), then the head (pooling and the output layer); what discriminative learning
        rates and gradual unfreezing count."""
        head: list[Tensor] = [*self.pooling.parameters(), *self.classifier.parameters()]
        return [*self.encoder.groups(), head]

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        encoded = self.encoder(tokens, lengths)
        features = self.pooling(encoded.outputs, encoded.h_n, lengths)  # (B, P * D * H)
        features = dropout(features, self.config.dropout, training=self.training)
        return self.classifier(features)  # type: ignore[no-any-return]


def rename_legacy(state: dict[str, Any]) -> dict[str, Any]:
    """``state`` with the names of bundle format 1 renamed to today's (in place)."""
    _rename_legacy(None, state, "")
    return state


def _rename_legacy(module: Any, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """Load-state-dict hook: format-1 names (``embedding.weight``, ``encoder.weight_ih_l0``)
    become the encoder's (``encoder.embedding.weight``, ``encoder.rnn.weight_ih_l0``)."""
    if not any(name.startswith(prefix + "embedding.") for name in state):
        return
    for name in list(state):
        if not name.startswith(prefix):
            continue
        for old, new in LEGACY_NAMES:
            if name.startswith(prefix + old):
                state[prefix + new + name[len(prefix + old) :]] = state.pop(name)
                break
