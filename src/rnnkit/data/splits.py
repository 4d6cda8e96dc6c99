"""Seeded, stratified hold-out splits."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rnnkit.errors import ConfigError


def stratified_split(
    labels: Sequence[str], fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices ``(kept, held_out)``: about ``fraction`` of each label's rows held out, chosen by a
    generator seeded with ``seed``; both parts keep file order."""
    if not 0.0 < fraction < 1.0:
        raise ConfigError(f"a hold-out fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    label_array = np.asarray(labels)
    held: list[np.ndarray] = []
    single: list[str] = []
    for label in sorted(set(labels)):
        rows = np.flatnonzero(label_array == label)
        if len(rows) == 1:
            single.append(label)
        count = round(fraction * len(rows))
        if len(rows) > 1:
            count = min(max(count, 1), len(rows) - 1)
        held.append(rng.permutation(rows)[:count])
    held_out = np.sort(np.concatenate(held))
    if len(held_out) == 0 and single:
        examples = ", ".join(map(repr, single[:3])) + (", ..." if len(single) > 3 else "")
        raise ConfigError(
            f"cannot hold out {fraction:.0%} of {len(label_array)} rows for validation: "
            f"{len(single)} of the {len(set(labels))} classes have a single row ({examples}), "
            "and a class needs at least two rows to be split; give a validation file with "
            "--valid, or --valid-split 0 to train without validation"
        )
    if len(held_out) == 0 or len(held_out) == len(label_array):
        raise ConfigError(
            f"cannot hold out {fraction:.0%} of {len(label_array)} rows for validation: too "
            "few rows; give a validation file with --valid, or --valid-split 0"
        )
    kept = np.setdiff1d(np.arange(len(label_array)), held_out)
    return kept, held_out
