"""Unigram subword units, learnt with Hugging Face ``tokenizers`` (the ``subword`` extra).

The unigram language model of Kudo (2018), as SentencePiece trains it: a vocabulary of pieces
chosen to maximise the likelihood of the corpus, each text split into its most likely pieces
(Viterbi). Spaces become the marker ``▁`` at the start of the piece that follows them, so that
decoding gives the text back:

    "Ein Hund."  ->  ▁Ein ▁Hund .  ->  "Ein Hund."

    ids = <pad> <unk> <eod> | the pieces, most useful first

A character the training text never held has no piece and reads as ``<unk>``, which decodes to
nothing; runs of spaces decode as single spaces. Byte-level BPE (:mod:`rnnkit.text.subword`)
has neither limit; unigram pieces follow word structure more closely.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sized
from typing import TYPE_CHECKING

from rnnkit.errors import ConfigError
from rnnkit.text.subword import DEFAULT_SIZE, TokenizerUnits, need_tokenizers
from rnnkit.text.units import SPECIALS
from rnnkit.text.vocab import UNK

if TYPE_CHECKING:
    from tokenizers import Tokenizer

MIN_SIZE = len(SPECIALS) + 1


class UnigramUnits(TokenizerUnits):
    """Unigram pieces over a ``tokenizers.Tokenizer`` (model Unigram, pre-tokenizer and
    decoder Metaspace)."""

    name = "unigram"

    def __init__(self, tokenizer: Tokenizer) -> None:
        data = json.loads(tokenizer.to_str())
        model = data.get("model") or {}
        pre = (data.get("pre_tokenizer") or {}).get("type")
        if model.get("type") != "Unigram" or pre != "Metaspace":
            raise ConfigError(
                "unigram units need a Unigram tokenizer with the Metaspace pre-tokenizer"
            )
        self.tokenizer = _unmatchable_specials(tokenizer)
        tokens = [*SPECIALS, *(piece for piece, _ in model["vocab"][len(SPECIALS) :])]
        super().__init__(tokens)

    @classmethod
    def train(
        cls, texts: Iterable[str], *, size: int = DEFAULT_SIZE, progress: bool = False
    ) -> UnigramUnits:
        """Learn at most ``size`` pieces (specials included) from ``texts``, read once as they
        come. The same texts give the same pieces, but not always in the same order or with
        the same scores: the EM of ``tokenizers``' trainer is not bit-reproducible (on 3,000
        Multi30k sentences, 61 of 1,500 encodings differed between two trainings), so unigram
        units make a seeded run repeatable only up to that; byte-level BPE is exact."""
        if size < MIN_SIZE:
            raise ConfigError(
                f"max_vocab must be at least {MIN_SIZE} for unigram units, got {size}",
                field="max_vocab",
            )
        need_tokenizers("unigram")
        from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

        tokenizer = Tokenizer(models.Unigram())
        tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
        tokenizer.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=size,
            special_tokens=list(SPECIALS),
            unk_token=UNK,
            show_progress=progress,
        )
        length = len(texts) if isinstance(texts, Sized) else None
        try:
            tokenizer.train_from_iterator(iter(texts), trainer, length=length)
        except Exception as error:  # tokenizers raises its own plain Exception
            if "not large enough" not in str(error):
                raise
            raise ConfigError(
                f"max_vocab {size} is too small for unigram units: every character of the "
                "training text needs a piece of its own; raise it above the number of "
                "distinct characters plus the 3 special tokens",
                field="max_vocab",
            ) from None
        return cls(tokenizer)

    @classmethod
    def learn(cls, texts: Iterable[str], size: int, min_freq: int) -> UnigramUnits:
        """``min_freq`` does not apply: the EM keeps the pieces that explain the text best."""
        return cls.train(texts, size=size)

    def unknown(self, text: str) -> list[str]:
        """The spans of ``text`` that no piece holds (each reads as one ``<unk>``)."""
        encoding = self.tokenizer.encode(text, add_special_tokens=False)
        unknown = (
            text[start:end]
            for token_id, (start, end) in zip(encoding.ids, encoding.offsets, strict=True)
            if token_id == 1
        )
        return list(dict.fromkeys(unknown))

    def decode(self, ids: Iterable[int]) -> str:
        kept = [i for i in ids if i >= len(SPECIALS)]
        return str(self.tokenizer.decode(kept, skip_special_tokens=False))


def _unmatchable_specials(tokenizer: Tokenizer) -> Tokenizer:
    """``tokenizer`` with its special pieces spelt with a leading space, which no text holds
    once the pre-tokenizer has turned spaces into ``▁``, and without added tokens: the text
    ``"<eod>"`` is read as characters, never as id 2 (which the Viterbi search would otherwise
    pick as one piece)."""
    from tokenizers import Tokenizer

    data = json.loads(tokenizer.to_str())
    vocab = data["model"]["vocab"]
    if not data.get("added_tokens") and all(vocab[i][0].startswith(" ") for i in range(3)):
        return tokenizer
    for i, name in enumerate(SPECIALS):
        vocab[i][0] = " " + name
    data["added_tokens"] = []
    return Tokenizer.from_str(json.dumps(data))
