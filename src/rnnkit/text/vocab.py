"""Vocabulary: token strings to integer ids, with padding and unknown tokens, saved as JSON."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rnnkit.errors import ConfigError

PAD = "<pad>"
UNK = "<unk>"


class Vocabulary:
    """Maps tokens to ids: ``PAD`` is 0, ``UNK`` is 1, then tokens from most to least frequent."""

    pad_id = 0
    unk_id = 1

    def __init__(self, tokens: Sequence[str]) -> None:
        if list(tokens[:2]) != [PAD, UNK]:
            raise ConfigError(f"a vocabulary must start with {PAD!r} and {UNK!r}")
        self.tokens: list[str] = list(tokens)
        self.index: dict[str, int] = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ConfigError("a vocabulary must not list a token twice")

    @classmethod
    def build(
        cls, counts: Mapping[str, int], *, min_freq: int = 1, max_size: int | None = None
    ) -> Vocabulary:
        """Keep tokens seen at least ``min_freq`` times, the ``max_size`` most frequent at most
        (counting ``PAD`` and ``UNK``); ties are broken alphabetically, so the result is
        deterministic."""
        if min_freq < 1:
            raise ConfigError(f"min_freq must be at least 1, got {min_freq}")
        if max_size is not None and max_size < 3:
            raise ConfigError(
                f"max_vocab must be at least 3 (with {PAD} and {UNK}), got {max_size}"
            )
        kept = sorted(
            (
                token
                for token, count in counts.items()
                if count >= min_freq and token not in (PAD, UNK)
            ),
            key=lambda token: (-counts[token], token),
        )
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([PAD, UNK, *kept])

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: object) -> bool:
        return token in self.index

    def encode(self, tokens: Iterable[str]) -> list[int]:
        unk = self.unk_id
        return [self.index.get(token, unk) for token in tokens]

    def to_json(self) -> dict[str, Any]:
        return {"tokens": self.tokens}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Vocabulary:
        return cls(data["tokens"])
