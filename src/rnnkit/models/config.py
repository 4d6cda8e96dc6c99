"""The configuration of a sequence classifier: plain data, saved as JSON beside its weights."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import ConfigError

CELLS = ("lstm", "gru", "rnn", "bag")
POOLINGS = ("last", "mean", "max", "attention")


@dataclass(frozen=True)
class ModelConfig:
    """Embedding -> recurrent encoder -> pooling -> dropout -> linear layer."""

    vocab_size: int
    num_classes: int
    cell: str = "lstm"  # lstm, gru, rnn (tanh), or bag: the mean of the embeddings, no order
    embed_dim: int = 128
    hidden_size: int = 128
    num_layers: int = 1
    bidirectional: bool = True
    dropout: float = 0.5  # on the embeddings, between recurrent layers, and on the pooled features
    word_dropout: float = 0.0  # in training, replace this fraction of tokens by the unknown token
    embed_dropout: float = 0.1  # in training, zero this fraction of word types in each batch
    locked_dropout: bool = True  # dropout on embeddings and between layers: one mask per text
    weight_dropout: float = 0.3  # DropConnect on the hidden-to-hidden matrices
    pooling: tuple[str, ...] = ("last", "max", "mean")  # concatenated
    freeze_embeddings: bool = False

    def __post_init__(self) -> None:
        if self.cell not in CELLS:
            raise ConfigError(f"unknown --cell {self.cell!r}: choose one of {', '.join(CELLS)}")
        unknown = [p for p in self.pooling if p not in POOLINGS]
        if unknown or not self.pooling:
            raise ConfigError(
                f"unknown --pooling {','.join(unknown) or '(none)'}: choose one or more of "
                f"{', '.join(POOLINGS)}, separated by commas"
            )
        for option, value in (
            ("--embed-dim", self.embed_dim),
            ("--hidden", self.hidden_size),
            ("--layers", self.num_layers),
            ("vocab_size", self.vocab_size),
            ("num_classes", self.num_classes),
        ):
            if value < 1:
                raise ConfigError(f"{option} must be at least 1, got {value}")
        for option, rate in (
            ("--dropout", self.dropout),
            ("--word-dropout", self.word_dropout),
            ("--embed-dropout", self.embed_dropout),
            ("--weight-dropout", self.weight_dropout),
        ):
            if not 0.0 <= rate < 1.0:
                raise ConfigError(f"{option} must be in [0, 1), got {rate}")

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ModelConfig:
        values = dict(data)
        values["pooling"] = tuple(values["pooling"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]
