"""The readers on the real benchmark datasets, and (slow) default training runs on them.

The data folder is ``$RNNKIT_DATA_DIR``, else ``../shared/data`` beside the repository; the tests
skip, saying so, when it is absent.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from rnnkit.data.datasets import load_dataset
from rnnkit.data.registry import DATASETS

ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = Path(os.environ.get("RNNKIT_DATA_DIR") or ROOT.parent / "shared" / "data")


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (DATA_DIR / name).is_dir(),
        reason=f"benchmark data {DATA_DIR / name} not found; set RNNKIT_DATA_DIR to the folder "
        "holding imdb/, sst2/, sst5/, trec/ and mr/",
    )


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=needs(n)) for n in ("sst2", "sst5", "trec", "mr", "imdb")]
)
def test_named_dataset_sizes_match_the_registry(name: str) -> None:
    splits = load_dataset(name, DATA_DIR)
    train, valid, test = DATASETS[name].sizes
    rows = len(splits.train) + len(splits.valid) + (0 if test else len(splits.test))
    assert rows == train + (valid or 0)  # without a test split, "train" counts every row
    if valid:
        assert len(splits.valid) == valid
    if test:
        assert len(splits.test) == test
    assert sorted(set(splits.train.labels)) == sorted(DATASETS[name].classes)
    assert set(splits.test.labels) <= set(DATASETS[name].classes)


def train_with_defaults(name: str, tmp_path: Path) -> tuple[dict[str, float], float]:
    start = time.perf_counter()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "train",
            name,
            "--data-dir",
            str(DATA_DIR),
            "--out",
            str(tmp_path / name),
            "--json",
            "--quiet",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stderr
    print(result.stdout)
    return json.loads(result.stdout.splitlines()[-1]), seconds


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "accuracy", "minutes"),
    [
        pytest.param("sst2", 0.82, 5, marks=needs("sst2")),
        pytest.param("trec", 0.88, 5, marks=needs("trec")),
        pytest.param("imdb", 0.88, 20, marks=needs("imdb")),
    ],
)
def test_defaults_reach_the_target_accuracy_in_time(
    name: str, accuracy: float, minutes: int, tmp_path: Path
) -> None:
    metrics, seconds = train_with_defaults(name, tmp_path)
    assert metrics["test"]["accuracy"] >= accuracy, metrics
    assert seconds < minutes * 60, f"{name} took {seconds:.0f} s"


def benchmark(name: str) -> Any:
    """The module benchmarks/NAME.py, imported as the benchmarks import each other."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(ROOT / "benchmarks"))


@needs("ud_english_ewt")
def test_the_held_out_genre_data_reads_as_the_treebank_holds_it() -> None:
    """benchmarks/pretrain.py's held-out check: every sentence of UD English-EWT, labelled
    with the genre its sent_id starts with."""
    data = benchmark("pretrain").heldout_texts(str(DATA_DIR))
    assert {split: len(texts) for split, (texts, _) in data.items()} == {
        "train": 12_544,
        "test": 2_077,
    }
    assert set(data["train"][1]) == {"answers", "email", "newsgroup", "reviews", "weblog"}
    assert data["test"][0][0] == "What if Google Morphed Into GoogleOS?"
    assert data["test"][1][0] == "weblog"


@needs("sst2")
def test_the_benchmarks_read_a_dev_split_only_where_the_dataset_has_one() -> None:
    """benchmarks/pretrain.py --valid dev validates on SST-2's own dev sentences."""
    load_texts = benchmark("peers").load_texts
    sst2 = load_texts("sst2", str(DATA_DIR))
    assert {split: len(texts) for split, (texts, _) in sst2.items()} == {
        "train": 6_920,
        "valid": 872,
        "test": 1_821,
    }
    if (DATA_DIR / "trec").is_dir():
        assert set(load_texts("trec", str(DATA_DIR))) == {"train", "test"}


def test_valid_dev_refuses_a_dataset_without_a_dev_split_before_any_work() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "pretrain.py"), "--data-dir", str(DATA_DIR),
         "--datasets", "sst2,trec", "--valid", "dev"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.endswith("--valid dev: trec has no validation split of its own")
    assert result.stdout == ""  # nothing measured, nothing written
