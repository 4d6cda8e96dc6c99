"""The units a language model reads and writes: text to ids and ids back to text.

- ``char``: every character as written (case, white space and line breaks kept), so that
  ``decode(encode(text)) == text`` for any text of known characters;
- ``word``: each line split on white space, the line break itself a token (``"\\n"``), so a
  pre-tokenized corpus such as Penn Treebank reads as its usual stream (a line's end is its
  ``<eos>``); ``decode`` joins words with one space and lines with a line break;
- ``subword``: byte-level BPE trained on the corpus (Hugging Face ``tokenizers``): no text is
  unknown and ``decode(encode(text)) == text``.

``char`` and ``word`` can instead read text through a classifier's tokenizer
(:mod:`rnnkit.text.tokenize`: lower-cased, punctuation split, HTML line breaks removed), so
that a classifier fine-tuned from the model reads the same tokens; ``decode`` then joins words
with one space.

Ids 0, 1 and 2 are ``<pad>``, ``<unk>`` and ``<eod>`` (the end of a document, which is also the
start of the next one: the stream of a corpus begins with it) in every unit.

Generated text is shown as it comes through ``units.stream_decoder()``: ``add(id)`` returns the
text that id completes (for bytes, a character may take several ids) and ``flush()`` the rest.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.text.tokenize import Tokenizer, get_tokenizer
from rnnkit.text.vocab import PAD, UNK, Vocabulary

EOD = "<eod>"
EOD_ID = 2
UNITS = ("char", "word", "subword", "unigram")
SPECIALS = (PAD, UNK, EOD)


class Units(ABC):
    """Text to ids and back; ``tokens[i]`` is the text of id ``i`` (specials by name)."""

    name: str

    def __init__(self, tokens: list[str], *, tokenizer: str | None = None) -> None:
        if tuple(tokens[:3]) != SPECIALS:
            raise ConfigError(f"a unit vocabulary must start with {', '.join(SPECIALS)}")
        self.vocab = Vocabulary(tokens)
        self.tokenizer_name = tokenizer  # a classifier tokenizer's name, or None: text as written
        self._tokenize: Tokenizer | None = None if tokenizer is None else get_tokenizer(tokenizer)

    @property
    def tokens(self) -> list[str]:
        return self.vocab.tokens

    def __len__(self) -> int:
        return len(self.vocab)

    @abstractmethod
    def split(self, text: str) -> list[str]:
        """The token strings of ``text`` (unknown ones included, as written)."""

    def encode(self, text: str) -> list[int]:
        return self.vocab.encode(self.split(text))

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """``encode`` of each text (a unit with a faster batch path overrides it)."""
        return [self.encode(text) for text in texts]

    def unknown(self, text: str) -> list[str]:
        """The distinct tokens of ``text`` this vocabulary lacks, in order of appearance."""
        index = self.vocab.index
        return list(dict.fromkeys(t for t in self.split(text) if t not in index))

    @abstractmethod
    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (specials leave none)."""

    def piece(self, token_id: int) -> str:
        """The text one id adds when generated (specials add nothing)."""
        return "" if token_id < len(SPECIALS) else self.decode([token_id])

    def stream_decoder(self, after: str = "") -> StreamDecoder:
        """A fresh decoder of generated ids, one at a time, for text that continues
        ``after``."""
        return StreamDecoder(self)

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"unit": self.name, "tokens": self.tokens}
        if self.tokenizer_name is not None:
            data["tokenizer"] = self.tokenizer_name
        return data

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        max_size: int | None = None,
        min_freq: int = 1,
        tokenizer: str | None = None,
    ) -> Units:
        counts: Counter[str] = Counter()
        probe = cls([*SPECIALS], tokenizer=tokenizer)
        for text in texts:
            counts.update(probe.split(text))
        vocab = Vocabulary.build(counts, min_freq=min_freq, max_size=max_size)
        kept = [t for t in vocab.tokens[2:] if t != EOD]
        tokens = [*SPECIALS, *kept[: None if max_size is None else max_size - 3]]
        return cls(tokens, tokenizer=tokenizer)


class StreamDecoder:
    """Generated ids to text as they come: ``add(id)`` returns only complete text, here the
    id's ``piece``; a unit whose ids can end inside a character (bytes) holds such ids back
    until the character is complete, and ``flush()`` returns what is still held."""

    def __init__(self, units: Units) -> None:
        self.units = units

    def add(self, token_id: int) -> str:
        return self.units.piece(token_id)

    def flush(self) -> str:
        return ""


class CharUnits(Units):
    name = "char"

    def split(self, text: str) -> list[str]:
        return list(text) if self._tokenize is None else self._tokenize(text)

    def decode(self, ids: Iterable[int]) -> str:
        tokens = self.tokens
        return "".join(tokens[i] for i in ids if i >= len(SPECIALS))


class WordUnits(Units):
    name = "word"

    def split(self, text: str) -> list[str]:
        if self._tokenize is not None:
            return self._tokenize(text)
        lines = text.split("\n")
        tokens: list[str] = []
        for number, line in enumerate(lines):
            tokens += line.split()
            if number + 1 < len(lines):
                tokens.append("\n")
        return tokens

    def decode(self, ids: Iterable[int]) -> str:
        tokens, text = self.tokens, ""
        for i in ids:
            if i >= len(SPECIALS) or i == Vocabulary.unk_id:
                word = tokens[i]
                text += word if word == "\n" or not text or text[-1] == "\n" else " " + word
        return text

    def piece(self, token_id: int) -> str:
        word = self.tokens[token_id]
        if token_id == Vocabulary.unk_id:
            return " " + word
        return "" if token_id < len(SPECIALS) else word if word == "\n" else " " + word

    def stream_decoder(self, after: str = "") -> StreamDecoder:
        return WordStreamDecoder(self, at_line_start=not after or after.endswith("\n"))


class WordStreamDecoder(StreamDecoder):
    """Words as ``decode`` joins them: a space before each, except at a line's start."""

    def __init__(self, units: Units, *, at_line_start: bool) -> None:
        super().__init__(units)
        self.at_line_start = at_line_start

    def add(self, token_id: int) -> str:
        piece = self.units.piece(token_id)
        if self.at_line_start and piece.startswith(" "):
            piece = piece[1:]
        if piece:
            self.at_line_start = piece.endswith("\n")
        return piece
