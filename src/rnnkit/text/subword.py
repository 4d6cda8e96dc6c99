"""Byte-level BPE units, learnt with Hugging Face ``tokenizers`` (the ``subword`` extra).

Text is read as its UTF-8 bytes, each byte one of 256 base tokens, and the merges learnt from
the corpus join frequent byte sequences into one token (GPT-2's scheme): no text is unknown
and ``decode(encode(text)) == text`` for any text, line breaks and runs of spaces included.

    ids = <pad> <unk> <eod> | the 256 bytes | the merges, in the order they were learnt

Encoding never produces ids 0, 1 and 2: the text ``"<eod>"`` is read as its five characters.
A token is a byte sequence that need not end on a character boundary (``"é"`` may be two ids),
so ``piece(id)`` may hold part of a character, shown as U+FFFD; generated text is shown with
``stream_decoder()``, which holds such bytes back until their character is complete.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterable, Mapping, Sized
from typing import TYPE_CHECKING, Any, TypeVar

from rnnkit.errors import ConfigError
from rnnkit.text.units import SPECIALS, StreamDecoder, Units

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_SIZE = 8000  # pieces, when no max_vocab is given
MIN_SIZE = len(SPECIALS) + 256  # the specials and one token per byte


def byte_chars() -> list[str]:
    """The character that stands for each byte in a token (GPT-2's ``bytes_to_unicode``, the
    ``ByteLevel`` alphabet of ``tokenizers``): byte ``b`` is ``chr(b)`` where that is printable
    and not a space, and the others are ``chr(256)``, ``chr(257)``, ... in byte order."""
    printable = {*range(0x21, 0x7F), *range(0xA1, 0xAD), *range(0xAE, 0x100)}
    shifted = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(shifted)) for b in range(256)]


def need_tokenizers(unit: str = "subword") -> None:
    """``ConfigError`` saying how to install Hugging Face ``tokenizers`` when it is missing."""
    try:
        import tokenizers  # noqa: F401
    except ImportError:
        raise ConfigError(
            f"unit {unit} needs Hugging Face tokenizers: pip install 'rnnkit[subword]' "
            "(or pip install tokenizers)",
            field="unit",
        ) from None


T = TypeVar("T", bound="TokenizerUnits")


class TokenizerUnits(Units):
    """Units read by a Hugging Face ``tokenizers.Tokenizer`` (``self.tokenizer``), saved as
    its own JSON beside the tokens: what byte-level BPE and unigram pieces share."""

    tokenizer: Tokenizer

    def split(self, text: str) -> list[str]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).tokens)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def encode_batch(self, texts: Iterable[str]) -> list[list[int]]:
        """``encode`` of each text, the texts encoded in parallel by ``tokenizers``."""
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        return [list(encoding.ids) for encoding in encodings]

    @classmethod
    def build(
        cls: type[T],
        texts: Iterable[str],
        *,
        max_size: int | None = None,
        min_freq: int = 1,
        tokenizer: str | None = None,
    ) -> T:
        """``learn`` with ``Units.build``'s options: ``max_size`` pieces (8,000 if None). Text
        is read as written: no classifier ``tokenizer``."""
        if tokenizer is not None:
            raise ConfigError(
                f"{cls.name} units read text as written: no tokenizer", field="tokenizer"
            )
        return cls.learn(texts, max_size or DEFAULT_SIZE, min_freq)

    @classmethod
    def learn(cls: type[T], texts: Iterable[str], size: int, min_freq: int) -> T:
        """At most ``size`` pieces learnt from ``texts``."""
        raise NotImplementedError

    def to_json(self) -> dict[str, Any]:
        return {"unit": self.name, "tokens": self.tokens, "tokenizer": self.tokenizer.to_str()}

    @classmethod
    def from_json(cls: type[T], data: Mapping[str, Any]) -> T:
        """The units ``to_json`` saved: ``"tokenizer"`` is the tokenizer's own JSON, and
        ``"tokens"`` must be its vocabulary."""
        need_tokenizers(cls.name)
        from tokenizers import Tokenizer

        try:
            tokenizer = Tokenizer.from_str(data["tokenizer"])
        except Exception as error:  # a missing key, or tokenizers' own plain Exception
            raise ConfigError(f"{cls.name} units: no readable tokenizer JSON ({error})") from None
        units = cls(tokenizer)  # type: ignore[arg-type]  # a subclass takes its tokenizer
        if units.tokens != list(data.get("tokens", [])):
            raise ConfigError(
                f"{cls.name} units: the saved tokens are not the tokenizer's vocabulary"
            )
        return units


class SubwordUnits(TokenizerUnits):
    """Byte-level BPE over a ``tokenizers.Tokenizer``; ``tokens[i]`` is id ``i``'s bytes as
    ``byte_chars`` spells them (``"Ġthe"`` is the bytes of ``" the"``)."""

    name = "subword"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = _plain_byte_level(tokenizer)
        vocab = self.tokenizer.get_vocab(with_added_tokens=False)
        tokens = sorted(vocab, key=vocab.__getitem__)
        if [vocab[t] for t in tokens] != list(range(len(tokens))):
            raise ConfigError("a subword vocabulary must number its tokens 0, 1, 2, ... in turn")
        super().__init__(tokens)
        byte_of = {c: b for b, c in enumerate(byte_chars())}
        missing = sorted(set(byte_of) - set(tokens))
        unreadable = [t for t in tokens[len(SPECIALS) :] if not set(t) <= byte_of.keys()]
        if missing or unreadable:
            raise ConfigError(
                f"a subword vocabulary must hold the 256 bytes and only byte tokens: "
                f"{len(missing)} bytes missing, {len(unreadable)} tokens not bytes "
                f"{unreadable[:3]}"
            )
        self._bytes = [b""] * len(SPECIALS)
        self._bytes += [bytes(byte_of[c] for c in t) for t in tokens[len(SPECIALS) :]]

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        size: int = DEFAULT_SIZE,
        min_freq: int = 2,
        progress: bool = False,
    ) -> SubwordUnits:
        """Learn at most ``size`` tokens (specials and bytes included) from ``texts``, read
        once as they come (a generator over a large corpus is never held in memory), merging
        pairs seen at least ``min_freq`` times. The same texts give the same vocabulary."""
        if size < MIN_SIZE:
            raise ConfigError(
                f"max_vocab must be at least {MIN_SIZE} for subword units (the 3 specials and "
                f"the 256 bytes), got {size}",
                field="max_vocab",
            )
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}", field="min_freq")
        need_tokenizers()
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.BPE())
        tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tokenizer.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=size,
            min_frequency=min_freq,
            show_progress=progress,
            special_tokens=list(SPECIALS),
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
        length = len(texts) if isinstance(texts, Sized) else None
        tokenizer.train_from_iterator(iter(texts), trainer, length=length)
        return cls(tokenizer)

    @classmethod
    def learn(cls, texts: Iterable[str], size: int, min_freq: int) -> SubwordUnits:
        """Pairs are merged when seen twice at least (once would learn every pair of the
        corpus)."""
        return cls.train(texts, size=size, min_freq=max(min_freq, 2))

    def unknown(self, text: str) -> list[str]:
        return []  # every byte is a token

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids`` (specials add nothing; bytes that are no UTF-8 become U+FFFD)."""
        return b"".join(self._bytes[i] for i in ids).decode("utf-8", errors="replace")

    def piece_bytes(self, token_id: int) -> bytes:
        """The bytes one id adds when generated (specials add none)."""
        return self._bytes[token_id]

    def stream_decoder(self, after: str = "") -> StreamDecoder:
        return ByteStreamDecoder(self)


class ByteStreamDecoder(StreamDecoder):
    """Generated ids to text for byte units: ``add(id)`` returns the characters the id's bytes
    complete and holds back the bytes of a character not yet complete; ``flush()`` returns
    them as U+FFFD (a generation that stopped inside a character)."""

    def __init__(self, units: SubwordUnits) -> None:
        super().__init__(units)
        self._piece_bytes = units.piece_bytes
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def add(self, token_id: int) -> str:
        return self._utf8.decode(self._piece_bytes(token_id))

    def flush(self) -> str:
        return self._utf8.decode(b"", final=True)


def _plain_byte_level(tokenizer: Tokenizer) -> Tokenizer:
    """``tokenizer`` without added tokens (``tokenizers`` would read ``"<eod>"`` in a text as
    id 2), after checking that it reads text as bytes and nothing else."""
    from tokenizers import Tokenizer

    data = json.loads(tokenizer.to_str())
    pre = data.get("pre_tokenizer") or {}
    if (
        (data.get("model") or {}).get("type") != "BPE"
        or data.get("normalizer") is not None
        or pre.get("type") != "ByteLevel"
        or pre.get("add_prefix_space")
    ):
        raise ConfigError(
            "subword units need a BPE tokenizer with the ByteLevel pre-tokenizer "
            "(add_prefix_space=False) and no normalizer, so that decoding gives back the text"
        )
    if not data.get("added_tokens"):
        return tokenizer
    data["added_tokens"] = []
    return Tokenizer.from_str(json.dumps(data))
