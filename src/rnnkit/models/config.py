"""Model configurations: plain data, saved as JSON beside the weights.

``EncoderConfig`` is what every task shares (embedding, its dropouts, the recurrent stack);
a task's model configuration extends it with its head, so one JSON object holds both and an
encoder can move between models whose encoder configurations agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

from rnnkit.errors import ConfigError, field_error
from rnnkit.nn import registry

BAG = "bag"  # no recurrence: the mean of the embeddings, an order-blind baseline
CELLS = registry.CellNames(BAG)  # the registered cells (rnnkit.nn.registry), and bag
POOLINGS = ("last", "mean", "max", "attention")


@dataclass(frozen=True)
class EncoderConfig:
    """Embedding (with word, embedding and locked dropout) -> recurrent stack."""

    vocab_size: int
    cell: str = field(default="lstm", kw_only=True)  # a registered cell's name, or bag: no order
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
    """A sequence classifier: encoder -> pooling -> dropout -> linear layer; ``ensemble`` of
    them, trained side by side, whose probabilities are averaged."""

    num_classes: int
    pooling: tuple[str, ...] = field(default=("last", "max", "mean"), kw_only=True)
    ensemble: int = field(default=1, kw_only=True)

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
        if self.ensemble < 1:
            raise field_error("ensemble", "at least 1", self.ensemble)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> ModelConfig:
        values = dict(data)
        values["pooling"] = tuple(values["pooling"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


SOFTMAXES = ("full", "adaptive")


def auto_cutoffs(vocab_size: int) -> tuple[int, ...]:
    """The adaptive softmax's cluster boundaries when none are given: the most frequent 2,000
    words in the head, then 10,000 and 50,000 where the vocabulary is larger (with a
    vocabulary of 2,000 words or fewer, the head holds half of it)."""
    cuts = tuple(c for c in (2_000, 10_000, 50_000) if c < vocab_size - 1)
    return cuts or (max(1, vocab_size // 2),)


@dataclass(frozen=True)
class LanguageModelConfig(EncoderConfig):
    """A language model: encoder (one direction) -> dropout -> [projection to the embedding
    size] -> output layer over the vocabulary, tied to the embedding, or an adaptive softmax."""

    bidirectional: bool = field(default=False, kw_only=True)
    tie_weights: bool = field(default=True, kw_only=True)  # with the full softmax
    softmax: str = field(default="full", kw_only=True)  # full or adaptive
    cutoffs: tuple[int, ...] = field(default=(), kw_only=True)  # (): auto_cutoffs
    # activation regularization: alpha * mean of the squared last-layer outputs (dropped)
    activation_reg: float = field(default=0.0, kw_only=True)
    # temporal activation regularization: beta * mean squared change between steps
    temporal_reg: float = field(default=0.0, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cell == BAG:
            raise ConfigError("a language model needs a recurrent cell, not bag", field="cell")
        if self.bidirectional:
            raise ConfigError(
                "a language model reads in one direction: it predicts each token from the ones "
                "before it",
                field="bidirectional",
            )
        if self.softmax not in SOFTMAXES:
            raise ConfigError(
                f"unknown softmax {self.softmax!r}: choose one of {', '.join(SOFTMAXES)}",
                field="softmax",
            )
        cuts = self.cutoffs
        if cuts and (list(cuts) != sorted(set(cuts)) or cuts[0] < 1 or cuts[-1] >= self.vocab_size):
            raise ConfigError(
                f"cutoffs must increase strictly and lie in [1, {self.vocab_size - 1}] (the "
                f"vocabulary has {self.vocab_size} tokens), got {','.join(map(str, cuts))}",
                field="cutoffs",
            )
        for name in ("activation_reg", "temporal_reg"):
            if not 0.0 <= getattr(self, name) < float("inf"):
                raise field_error(name, "zero or positive", getattr(self, name))

    @property
    def output_size(self) -> int:
        """The width the output layer reads: the embedding size after a projection, else the
        hidden size."""
        return self.embed_dim if self.projected else self.hidden_size

    @property
    def projected(self) -> bool:
        """Whether a linear projection maps the hidden size to the embedding size."""
        tied = self.tie_weights and self.softmax == "full"
        return (tied or self.softmax == "adaptive") and self.hidden_size != self.embed_dim

    @property
    def clusters(self) -> tuple[int, ...]:
        return self.cutoffs or auto_cutoffs(self.vocab_size)

    @classmethod
    def from_json(cls, data: dict[str, object]) -> LanguageModelConfig:
        values = dict(data)
        cuts = values.get("cutoffs", ())
        values["cutoffs"] = tuple(cuts) if isinstance(cuts, (list, tuple)) else ()
        return cls(**values)  # type: ignore[arg-type]


ATTENTIONS = ("dot", "general", "additive")


@dataclass(frozen=True)
class TranslatorConfig(EncoderConfig):
    """An encoder-decoder with attention. The encoder is the shared one over the source
    vocabulary (``vocab_size``); the decoder is an embedding of the target vocabulary and a
    one-direction stack of the same cell and depth, of ``decoder_size`` = directions x hidden
    units (the encoder's output width, so that dot attention compares them directly), its
    first state made from the encoder's final states; attention over the encoder's outputs
    (Luong's dot or general score, or Bahdanau's additive one), input feeding, and an output
    layer tied to the target embedding."""

    target_vocab_size: int
    attention: str = field(default="general", kw_only=True)  # dot, general or additive
    # the previous step's attentional vector joins the decoder's input (Luong et al.)
    input_feeding: bool = field(default=True, kw_only=True)
    # the output layer is the target embedding (with a projection from decoder_size)
    tie_weights: bool = field(default=True, kw_only=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.cell == BAG:
            raise ConfigError("a translator needs a recurrent cell, not bag", field="cell")
        if self.attention not in ATTENTIONS:
            raise ConfigError(
                f"unknown attention {self.attention!r}: choose one of {', '.join(ATTENTIONS)}",
                field="attention",
            )
        if self.target_vocab_size < 4:
            raise field_error("target_vocab_size", "at least 4", self.target_vocab_size)

    @property
    def decoder_size(self) -> int:
        """The decoder's hidden size: the width of the encoder's outputs."""
        return self.num_directions * self.hidden_size

    @property
    def num_states(self) -> int:
        return registry.named(self.cell).num_states

    @classmethod
    def from_json(cls, data: dict[str, object]) -> TranslatorConfig:
        return cls(**data)  # type: ignore[arg-type]


EXTRA_TOKENS = 10  # an output has at most max_ratio x (source tokens) + this many tokens
MAX_BEAM = 100  # the widest beam: memory grows as beam x vocabulary per sentence
MAX_LENGTH_PENALTY = 10.0  # ((5 + length) / 6) ** alpha stays finite for any output length
MAX_RATIO = 10.0  # outputs at most 10 times their source: a model that never ends stops soon


@dataclass(frozen=True)
class SearchConfig:
    """How a translator searches for its output (:mod:`rnnkit.tasks.translation.decoding`),
    saved with it so that the settings it was trained and tuned with are what it translates
    with."""

    beam: int = 5  # beam width; 1: greedy search
    length_penalty: float = 1.0  # alpha of ((5 + length) / 6) ** alpha; 0: none
    max_ratio: float = 2.0  # an output has at most max_ratio x (source tokens) + EXTRA_TOKENS

    def __post_init__(self) -> None:
        if isinstance(self.beam, bool) or not isinstance(self.beam, int):
            raise field_error("beam", "at least 1 (1: greedy) and a whole number", repr(self.beam))
        if self.beam < 1:
            raise field_error("beam", "at least 1 (1: greedy)", self.beam)
        if self.beam > MAX_BEAM:
            raise ConfigError(
                f"beam must be at most {MAX_BEAM}, got {self.beam:,} (each hypothesis kept "
                "scores every token of the vocabulary at each step; wider than 10 seldom gains)",
                field="beam",
            )
        number = isinstance(self.length_penalty, (int, float))
        if isinstance(self.length_penalty, bool) or not number:
            raise field_error("length_penalty", "a number", repr(self.length_penalty))
        if not 0.0 <= self.length_penalty < float("inf"):
            raise field_error("length_penalty", "zero or positive", self.length_penalty)
        if self.length_penalty > MAX_LENGTH_PENALTY:
            raise ConfigError(
                f"length_penalty must be at most {MAX_LENGTH_PENALTY:g}, got "
                f"{self.length_penalty:g}: the penalty, (5 + length) / 6 raised to it, overflows "
                "long before it helps (0.6 to 2 are usual)",
                field="length_penalty",
            )
        if isinstance(self.max_ratio, bool) or not isinstance(self.max_ratio, (int, float)):
            raise field_error("max_ratio", "a number", repr(self.max_ratio))
        if not 0.0 < self.max_ratio <= MAX_RATIO:
            raise field_error("max_ratio", f"in (0, {MAX_RATIO:g}]", self.max_ratio)
