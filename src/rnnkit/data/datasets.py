"""Named datasets as corpora: each split of a dataset found by :mod:`rnnkit.data.download`,
read as :mod:`rnnkit.data.registry` says, tokenized and cached."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.cache import cached, file_signature
from rnnkit.data.corpus import Corpus
from rnnkit.data.download import locate
from rnnkit.data.examples import LabeledTexts
from rnnkit.data.registry import HOLD_OUT, SPLIT_SEED, dataset_info
from rnnkit.data.splits import stratified_split


@dataclass
class Splits:
    train: Corpus
    valid: Corpus
    test: Corpus | None
    classes: tuple[str, ...]


def load_dataset(
    name: str,
    explicit_dir: str | Path | None = None,
    tokenizer: str = "word",
    *,
    cache: bool = True,
    download: bool = True,
) -> Splits:
    """Train, validation and test corpora of a named dataset, tokenized and cached."""
    info = dataset_info(name)
    folder = locate(name, explicit_dir, download=download)
    key = {
        "kind": "dataset",
        "name": name,
        "files": file_signature(folder),
        "tokenizer": tokenizer,
        "seed": SPLIT_SEED,
        "hold_out": HOLD_OUT,
    }
    parts: dict[str, LabeledTexts] = {}

    def split(which: str) -> Corpus:
        def build() -> Corpus:
            if not parts:
                parts.update(info.read(folder))
                if "valid" not in parts:
                    train = parts["train"]
                    if train.labels is None:  # every named dataset is labelled
                        raise ValueError(f"{name}: no labels to split by")
                    kept, held = stratified_split(train.labels, HOLD_OUT, SPLIT_SEED)
                    parts["train"], parts["valid"] = train.subset(kept), train.subset(held)
            corpus = Corpus.from_labeled(parts[which], tokenizer)
            corpus.source = f"{name} {which}"
            return corpus

        return cached({**key, "split": which}, build, enabled=cache)

    return Splits(split("train"), split("valid"), split("test"), info.classes)
