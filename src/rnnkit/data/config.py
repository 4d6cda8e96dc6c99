"""Data configuration: how texts become token ids. Plain data, saved as JSON with a model.
Errors name the field (``min_freq``); the command line shows its flag instead."""

from __future__ import annotations

from dataclasses import dataclass

from rnnkit.errors import ConfigError, field_error
from rnnkit.text.tokenize import TOKENIZERS


@dataclass(frozen=True)
class DataConfig:
    tokenizer: str = "word"  # word or char
    min_freq: int = 2  # keep tokens seen at least this often (rarer ones train UNK's embedding)
    max_vocab: int | None = 50_000  # keep at most this many tokens (with padding and unknown)
    max_len: int | None = 400  # truncate texts to their first max_len tokens (None: no limit)
    valid_split: float = 0.1  # held out of training for validation when none is given

    def __post_init__(self) -> None:
        if self.tokenizer not in TOKENIZERS:
            raise ConfigError(
                f"unknown tokenizer {self.tokenizer!r}: choose one of {', '.join(TOKENIZERS)}",
                field="tokenizer",
            )
        if self.min_freq < 1:
            raise field_error("min_freq", "at least 1", self.min_freq)
        if self.max_vocab is not None and self.max_vocab < 3:
            raise field_error("max_vocab", "at least 3", self.max_vocab)
        if self.max_len is not None and self.max_len < 1:
            raise field_error("max_len", "at least 1", self.max_len)
        if not 0.0 <= self.valid_split < 1.0:
            raise field_error("valid_split", "in [0, 1)", self.valid_split)


UNIT_NAMES = ("char", "word", "subword", "unigram")
DOCUMENTS = ("line", "paragraph", "file")


@dataclass(frozen=True)
class StreamConfig:
    """How a language model's text becomes windows of a token stream."""

    unit: str = "char"  # char, word, subword (byte-level BPE) or unigram
    # None: text as written; word or char: read as the classifier's tokenizer of that name
    # reads it, so that a classifier can start from the model (the unit must be the same)
    tokenizer: str | None = None
    min_freq: int = 1  # keep tokens seen at least this often (rarer ones become <unk>)
    max_vocab: int | None = None  # at most this many tokens with the specials (subword: 8000)
    # what one document of a plain text file is: line, paragraph, file (None: line; for a
    # named dataset, its own documents)
    document: str | None = None
    window: int = 128  # tokens per window of truncated backpropagation through time
    variable_window: bool = False  # AWD-LSTM's random window lengths around ``window``
    valid_split: float = 0.0  # the tail of the training text held out when none is given
    reverse: bool = False  # read each document from its end: a backward language model

    def __post_init__(self) -> None:
        for name, choices in (("unit", UNIT_NAMES), ("document", DOCUMENTS)):
            if getattr(self, name) not in choices and not (
                name == "document" and self.document is None
            ):
                raise ConfigError(
                    f"unknown {name} {getattr(self, name)!r}: choose one of {', '.join(choices)}",
                    field=name,
                )
        if self.tokenizer is not None and self.tokenizer not in TOKENIZERS:
            raise ConfigError(
                f"unknown tokenizer {self.tokenizer!r}: choose one of {', '.join(TOKENIZERS)}",
                field="tokenizer",
            )
        if self.tokenizer is not None and self.tokenizer != self.unit:
            raise ConfigError(
                f"tokenizer {self.tokenizer} reads {self.tokenizer}s, and the unit is "
                f"{self.unit}: give unit {self.tokenizer} as well",
                field="tokenizer",
            )
        if self.min_freq < 1:
            raise field_error("min_freq", "at least 1", self.min_freq)
        if self.max_vocab is not None and self.max_vocab < 4:
            raise field_error("max_vocab", "at least 4", self.max_vocab)
        if self.window < 2:
            raise field_error("window", "at least 2", self.window)
        if not 0.0 <= self.valid_split < 1.0:
            raise field_error("valid_split", "in [0, 1)", self.valid_split)


@dataclass(frozen=True)
class PairConfig:
    """How a translator's sentence pairs become token ids."""

    unit: str = "subword"  # char, word, subword (byte-level BPE) or unigram
    joint: bool = True  # one vocabulary learnt from both languages, or one per language
    max_vocab: int = 8000  # pieces (or words, characters) per vocabulary, specials included
    min_freq: int = 1  # word and char units: keep tokens seen at least this often
    max_len: int = 100  # training pairs with a side longer than this (in tokens) are left out
    valid_split: float = 0.05  # held out of training for validation when none is given
    # the languages (or the CSV/TSV columns, the JSON Lines fields) the pairs were read from,
    # recorded so that a model is scored in its own direction; None: not named (files' order)
    source: str | None = None
    target: str | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNIT_NAMES:
            raise ConfigError(
                f"unknown unit {self.unit!r}: choose one of {', '.join(UNIT_NAMES)}",
                field="unit",
            )
        if self.max_vocab < 4:
            raise field_error("max_vocab", "at least 4", self.max_vocab)
        if self.min_freq < 1:
            raise field_error("min_freq", "at least 1", self.min_freq)
        if self.max_len < 1:
            raise field_error("max_len", "at least 1", self.max_len)
        if not 0.0 <= self.valid_split < 1.0:
            raise field_error("valid_split", "in [0, 1)", self.valid_split)
