"""Units chosen by name: learnt from a corpus, or read back from the JSON a bundle keeps
(``char`` and ``word`` in :mod:`rnnkit.text.units`, ``subword`` (byte-level BPE) in
:mod:`rnnkit.text.subword`, ``unigram`` in :mod:`rnnkit.text.unigram`)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.text.subword import SubwordUnits
from rnnkit.text.unigram import UnigramUnits
from rnnkit.text.units import UNITS, CharUnits, Units, WordUnits


def build_units(
    unit: str,
    texts: Iterable[str],
    *,
    max_size: int | None = None,
    min_freq: int = 1,
    tokenizer: str | None = None,
) -> Units:
    """Units of kind ``unit`` learnt from ``texts``: the ``max_size`` most frequent characters
    or words seen at least ``min_freq`` times (read through the classifier ``tokenizer`` when
    one is named), or a BPE or unigram vocabulary of ``max_size`` pieces."""
    if unit == "subword":
        return SubwordUnits.build(texts, max_size=max_size, min_freq=min_freq)
    if unit == "unigram":
        return UnigramUnits.build(texts, max_size=max_size, tokenizer=tokenizer)
    return _unit_class(unit).build(texts, max_size=max_size, min_freq=min_freq, tokenizer=tokenizer)


def units_from_json(data: Mapping[str, Any]) -> Units:
    unit = data.get("unit")
    if unit == "subword":
        return SubwordUnits.from_json(data)
    if unit == "unigram":
        return UnigramUnits.from_json(data)
    return _unit_class(str(unit))(list(data["tokens"]), tokenizer=data.get("tokenizer"))


def _unit_class(unit: str) -> type[Units]:
    classes: dict[str, type[Units]] = {"char": CharUnits, "word": WordUnits}
    if unit not in classes:
        raise ConfigError(f"unknown unit {unit!r}: choose one of {', '.join(UNITS)}", field="unit")
    return classes[unit]


def dumps(units: Units) -> str:
    return json.dumps(units.to_json(), ensure_ascii=False)


class PairUnits:
    """A translator's units: ``source`` and ``target``, one object when ``joint``."""

    def __init__(self, source: Units, target: Units) -> None:
        self.source, self.target = source, target

    @property
    def joint(self) -> bool:
        return self.source is self.target

    def __len__(self) -> int:
        return len(self.source)

    def to_json(self) -> dict[str, Any]:
        if self.joint:
            return {"joint": self.source.to_json()}
        return {"source": self.source.to_json(), "target": self.target.to_json()}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PairUnits:
        if "joint" in data:
            units = units_from_json(data["joint"])
            return cls(units, units)
        return cls(units_from_json(data["source"]), units_from_json(data["target"]))
