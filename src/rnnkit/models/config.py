"""Model configurations: plain data, saved as JSON beside the weights.

``EncoderConfig`` is what every task shares (embedding, its dropouts, the recurrent stack);
a task's model configuration extends it with its head, so one JSON object holds both and an
encoder can move between models whose encoder configurations agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from rnnkit.errors import ConfigError, field_error

CELLS = ("lstm", "gru", "rnn", "bag")
POOLINGS = ("last", "mean", "max", "attention")


@dataclass(frozen=True)
class EncoderConfig:
    """Embedding (with word, embedding and locked dropout) -> recurrent stack."""

    vocab_size: int
    cell: str = field(default="lstm", kw_only=True)  # lstm, gru, rnn (tanh), or bag: no order
    embed_dim: int = field(default=128, kw_only=True)
    hidden_size: int = field(default=128, kw_only=True)
    num_layers: int = field(default=1, kw_only=True)
    bidirectional: bool = field(default=True, kw_only=True)
    # on the embeddings, between recurrent layers, and on the head's input
    dropout: float = field(default=0.5, kw_only=True)
    # in training, replace this fraction of tokens by the unknown token
    word_dropout: float = field(default=0.0, kw_only=True)
    # in training, zero this fraction of word types in each batch
    embed_dropout: float = field(default=0.1, kw_only=True)
    # dropout on embeddings and between layers: one mask per text for all its steps
    locked_dropout: bool = field(default=True, kw_only=True)
    # DropConnect on the hidden-to-hidden matrices
    weight_dropout: float = field(default=0.3, kw_only=True)
    freeze_embeddings: bool = field(default=False, kw_only=True)

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(
                f"unknown cell {self.cell!r}: choose one of {', '.join(CELLS)}", field="cell"
            )
        for name in ("embed_dim", "hidden_size", "num_layers", "vocab_size"):
            if getattr(self, name) < 1:
                raise field_error(name, "at least 1", getattr(self, name))
        for name in ("dropout", "word_dropout", "embed_dropout", "weight_dropout"):
            if not 0.0 <= getattr(self, name) < 1.0:
                raise field_error(name, "in [0, 1)", getattr(self, name))

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def encoder(self) -> EncoderConfig:
        """The encoder part of a model's configuration."""
        return EncoderConfig(
            self.vocab_size, **{f.name: getattr(self, f.name) for f in fields(EncoderConfig)[1:]}
        )


@dataclass(frozen=True)
class ModelConfig(EncoderConfig):
    """A sequence classifier: encoder -> pooling -> dropout -> linear layer."""

    num_classes: int
    pooling: tuple[str, ...] = field(default=("last", "max", "mean"), kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        unknown = [p for p in self.pooling if p not in POOLINGS]
        if unknown or not self.pooling:
            raise ConfigError(
                f"unknown pooling {','.join(unknown) or '(none)'}: choose one or more of "
                f"{', '.join(POOLINGS)}, separated by commas",
                field="pooling",
            )
        if self.num_classes < 1:
            raise field_error("num_classes", "at least 1", self.num_classes)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ModelConfig:
        values = dict(data)
        values["pooling"] = tuple(values["pooling"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
