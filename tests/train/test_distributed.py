"""Data-parallel training: two CPU processes with gloo against one process, same global batch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.data.batching import Batches
from tests.conftest import write_csv
from tests.test_cli import rnnkit

pytest.importorskip("torch.distributed", reason="this torch has no torch.distributed")

OPTIONS = [
    *("--epochs", "1", "--max-steps", "6", "--batch-size", "16", "--threads", "1"),
    *("--embed-dim", "16", "--hidden", "16", "--seed", "1", "--lr", "0.02"),
    # No random masks: the two runs draw different random numbers.
    *("--dropout", "0", "--embed-dropout", "0", "--weight-dropout", "0"),
]


def test_shards_split_every_batch_in_contiguous_parts_by_length() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 30, 203)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    batches = Batches(
        np.arange(offsets[-1]), offsets, batch_size=16, shuffle=True, seed=4, bucket=3
    )
    shards = [batches.shard(rank, 3) for rank in range(3)]
    assert len(shards[0]) == len(batches)  # 203 = 12 x 16 + 11: every batch has >= 3 texts
    for whole, *parts in zip(batches.epoch(2), *(s.epoch(2) for s in shards), strict=True):
        joined = np.concatenate([p.index for p in parts])
        np.testing.assert_array_equal(joined, whole.index)
        assert max(len(p.index) for p in parts) - min(len(p.index) for p in parts) <= 1
    tiny = Batches(np.arange(5), np.array([0, 1, 2, 3, 4, 5]), batch_size=4)
    assert len(tiny.shard(0, 2)) == 1  # the last batch of one text is left out


def test_two_gloo_processes_train_like_one_with_the_same_global_batch(tmp_path: Path) -> None:
    from safetensors.torch import load_file

    data = write_csv(tmp_path / "train.csv", 400)
    single = rnnkit("train", str(data), "--out", str(tmp_path / "one"), *OPTIONS)
    assert single.returncode == 0, single.stderr
    result = rnnkit("train", str(data), "--out", str(tmp_path / "two"), "--nproc", "2", *OPTIONS)
    assert result.returncode == 0, result.stderr
    assert "process 0 of 2 (gloo backend)" in result.stderr
    assert result.stderr.count("reading as csv") == 1  # only rank 0 speaks
    assert result.stdout.count("wrote") == 1
    ours = load_file(tmp_path / "two" / "model.safetensors")
    theirs = load_file(tmp_path / "one" / "model.safetensors")
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, rtol=1e-4, atol=1e-5, msg=name)
    # The tolerance is far below what one step changes: the comparison can fail.
    options = [
        *OPTIONS[: OPTIONS.index("--max-steps") + 1],
        "5",
        *OPTIONS[OPTIONS.index("--max-steps") + 2 :],
    ]
    shorter = rnnkit("train", str(data), "--out", str(tmp_path / "five"), *options)
    assert shorter.returncode == 0, shorter.stderr
    five = load_file(tmp_path / "five" / "model.safetensors")
    assert max(float((five[k] - theirs[k]).abs().max()) for k in theirs) > 1e-3
