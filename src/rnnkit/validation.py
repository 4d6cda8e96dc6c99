"""Checks of what users hand the estimator and what a bundle holds, each failing with a
message that names the argument, the row or the tensor."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rnnkit.data.corpus import Corpus
from rnnkit.errors import BundleError, ConfigError, DataError, PredictionError
from rnnkit.text.unicode import check_unicode

log = logging.getLogger(__name__)


def check_texts(X: Any, name: str, *, allow_empty: bool = False) -> list[str]:
    """``X`` as a list of texts: strings of valid Unicode (see ``check_unicode``)."""
    if isinstance(X, str):
        raise ConfigError(f"{name} must be a sequence of texts, got a single string")
    texts = list(X)
    bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
    if bad is not None:
        raise ConfigError(f"{name}[{bad}] is {type(texts[bad]).__name__}, expected str")
    if not texts and not allow_empty:
        raise ConfigError(f"{name} is empty")
    for i, text in enumerate(texts):
        check_unicode(text, f"{name}[{i}]")
    return texts


def check_pairs(
    source: Sequence[str], target: Sequence[str], first: str, second: str
) -> tuple[list[str], list[str]]:
    """Both sides checked as texts, and as many of one as of the other."""
    source, target = check_texts(source, first), check_texts(target, second)
    if len(source) != len(target):
        raise ConfigError(
            f"{len(source)} {first} sentences and {len(target)} {second} sentences: give one "
            "translation per sentence"
        )
    return source, target


def check_labels(y: Any) -> list[Any]:
    """The labels of ``fit``: strings or numbers, all of one kind, none missing."""
    if isinstance(y, str):
        raise ConfigError("y must be a sequence of labels, got a single string")
    labels = [v.item() if isinstance(v, np.generic) else v for v in y]
    kinds: dict[str, int] = {}
    for i, label in enumerate(labels):
        if label is None or (isinstance(label, float) and not np.isfinite(label)):
            raise ConfigError(f"y[{i}] is {label}; every text needs a label")
        if not isinstance(label, (str, int, float)):
            raise ConfigError(
                f"y[{i}] is {type(label).__name__}; labels must be strings or numbers"
            )
        kinds.setdefault("string" if isinstance(label, str) else "number", i)
    if len(kinds) > 1:
        first, second = sorted(kinds.values())
        raise ConfigError(
            f"y mixes strings and numbers (y[{first}] is {labels[first]!r}, y[{second}] is "
            f"{labels[second]!r}); give every label the same type"
        )
    return labels


def check_classes(train: Corpus) -> None:
    """At least two classes; a warning for labels that look alike but stay distinct."""
    counts: dict[str, int] = {}
    for label in train.labels:
        counts[label] = counts.get(label, 0) + 1
    where = train.source or "the training data"
    if len(counts) < 2:
        only = f"the label {next(iter(counts))!r}" if counts else "no label"
        raise DataError(
            f"{where}: every training text has {only}; a classifier needs at least two classes"
        )
    alike = similar_labels(list(counts))
    if alike:
        groups = "; ".join(" and ".join(map(repr, group)) for group in alike)
        log.warning(
            "%s: labels that differ only in case or in how a number is written stay distinct "
            "classes: %s; make them one label in the data if they mean the same",
            where,
            groups,
        )


def similar_labels(labels: Sequence[str]) -> list[list[str]]:
    """Groups of labels that are the same but for case, surrounding space or the spelling of a
    number ("Pos"/"pos", "1"/"1.0"/"01")."""

    def key(label: str) -> str:
        text = label.strip()
        try:
            number = float(text)
        except ValueError:
            return text.casefold()
        return repr(number) if np.isfinite(number) else text.casefold()

    groups: dict[str, list[str]] = {}
    for label in labels:
        groups.setdefault(key(label), []).append(label)
    return [sorted(group) for group in groups.values() if len(group) > 1]


def finite_rows(probabilities: np.ndarray, *, raise_error: bool = True) -> np.ndarray:
    """``probabilities`` with every row that holds NaN or infinity set to NaN; with
    ``raise_error``, such rows raise ``PredictionError`` instead."""
    bad = ~np.isfinite(probabilities).all(axis=1)
    if not bad.any():
        return probabilities
    rows = np.flatnonzero(bad).tolist()
    if raise_error:
        shown = ", ".join(map(str, rows[:5])) + (" ..." if len(rows) > 5 else "")
        raise PredictionError(
            f"the model gave NaN or infinite outputs for {len(rows)} of {len(bad)} texts (at "
            f"{shown}): its weights are damaged or its training diverged; retrain it",
            rows,
        )
    probabilities = probabilities.copy()
    probabilities[bad] = np.nan
    return probabilities


def check_weights(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """The weights in ``state`` against the model config.json describes: names, shapes and
    finite values, each disagreement named."""
    expected = model.state_dict()
    missing = [name for name in expected if name not in state]
    extra = [name for name in state if name not in expected]
    if missing or extra:
        parts = [
            f"missing {', '.join(missing)}" if missing else "",
            f"unexpected {', '.join(extra)}" if extra else "",
        ]
        raise BundleError(
            f"{path}: does not fit config.json ({'; '.join(p for p in parts if p)}); the files "
            "belong to different models"
        )
    for name in expected:  # in the model's order: the first layer that disagrees is named
        tensor = state[name]
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise BundleError(
                f"{path}: tensor {name} has shape {tuple(tensor.shape)}, but config.json "
                f"describes {tuple(expected[name].shape)}; the files belong to different models"
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise BundleError(
                f"{path}: tensor {name} holds NaN or infinite values; the model is damaged "
                "(retrain it, or restore the folder from a copy)"
            )


def natural_sorted(labels: set[str]) -> list[str]:
    """Numeric order when every label is an integer, else alphabetical."""
    if all(label.lstrip("-").isdigit() for label in labels):
        return sorted(labels, key=int)
    return sorted(labels)
