"""Sentence pairs: every reader on good and bad input with its message, Multi30k from the
shared data, and the batches a translator trains on."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

import pytest
import torch

from rnnkit.data.batching import IGNORE_INDEX
from rnnkit.data.pair_batching import PairBatches
from rnnkit.data.pairs import hold_out, load_pairs, read_pairs
from rnnkit.errors import ConfigError, DataError
from rnnkit.text.units import EOD_ID

DATA = Path(os.environ.get("RNNKIT_DATA_DIR", Path(__file__).parents[3] / "shared" / "data"))


def write(path: Path, text: str) -> Path:
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text, encoding="utf-8")
    return path


def test_two_aligned_files_gzip_included(tmp_path: Path) -> None:
    source = write(tmp_path / "train.de.gz", "Ein Hund.\nZwei Katzen.\n")
    target = write(tmp_path / "train.en", "A dog.\r\nTwo cats.\r\n")
    pairs = read_pairs([source, target])
    assert pairs.source == ["Ein Hund.", "Zwei Katzen."]
    assert pairs.target == ["A dog.", "Two cats."]


def test_aligned_files_of_different_lengths_name_both_counts(tmp_path: Path) -> None:
    source = write(tmp_path / "a.de", "eins\nzwei\ndrei\n")
    target = write(tmp_path / "a.en", "one\ntwo\n")
    with pytest.raises(DataError, match=r"a\.de has 3 lines and .*a\.en has 2"):
        read_pairs([source, target])


def test_an_empty_side_names_file_and_line_or_is_skipped(tmp_path: Path) -> None:
    source = write(tmp_path / "a.de", "eins\nzwei\ndrei\n")
    target = write(tmp_path / "a.en", "one\n  \nthree\n")
    with pytest.raises(DataError, match=r"a\.en, line 2: the target sentence is empty.*"
                       r"--skip-bad-rows"):  # fmt: skip
        read_pairs([source, target])
    pairs = read_pairs([source, target], skip_bad_rows=True)
    assert (pairs.source, pairs.skipped) == (["eins", "drei"], 1)


def test_tsv_without_header_and_csv_with_named_columns(tmp_path: Path) -> None:
    tsv = write(tmp_path / "p.tsv", "Hallo Welt\tHello world\nJa\tYes\n")
    assert read_pairs([tsv]).target == ["Hello world", "Yes"]
    csv = write(tmp_path / "p.csv", 'id,en,de\n1,"Hello, world",Hallo Welt\n2,Yes,Ja\n')
    pairs = read_pairs([csv], source="de", target="en")
    assert pairs.source == ["Hallo Welt", "Ja"]
    assert pairs.target == ["Hello, world", "Yes"]


def test_a_row_of_the_wrong_width_is_named(tmp_path: Path) -> None:
    tsv = write(tmp_path / "p.tsv", "a\tb\nc\td\te\n")
    with pytest.raises(DataError, match=r"p\.tsv, line 2: expected 2 columns .*found 3"):
        read_pairs([tsv])


def test_json_lines_with_named_fields(tmp_path: Path) -> None:
    rows = [{"de": "Ein Hund.", "en": "A dog."}, {"de": "Eine Katze.", "en": "A cat."}]
    path = write(tmp_path / "p.jsonl", "\n".join(json.dumps(r) for r in rows) + "\n")
    pairs = read_pairs([path], source="de", target="en")
    assert pairs.source == ["Ein Hund.", "Eine Katze."]
    with pytest.raises(DataError, match=r"p\.jsonl, line 1: no field 'source'; name the fields"):
        read_pairs([path])


def test_three_files_or_an_unknown_format_are_refused(tmp_path: Path) -> None:
    one = write(tmp_path / "x.txt", "a\n")
    with pytest.raises(DataError, match="give two line-aligned files"):
        read_pairs([one])
    with pytest.raises(ConfigError, match="got 3"):
        read_pairs([one, one, one])


def test_hold_out_is_seeded_and_disjoint() -> None:
    source = [f"s{i}" for i in range(100)]
    target = [f"t{i}" for i in range(100)]
    (train, valid) = hold_out(source, target, 0.1, seed=3)
    assert len(valid[0]) == 10
    assert len(train[0]) == 90
    assert not set(train[0]) & set(valid[0])
    assert [s[1:] for s in valid[0]] == [t[1:] for t in valid[1]]  # still aligned
    assert hold_out(source, target, 0.1, seed=3) == (train, valid)


@pytest.mark.skipif(not (DATA / "multi30k").is_dir(), reason="the shared data is absent")
def test_multi30k_both_directions() -> None:
    splits = load_pairs(["multi30k"], data_dir=DATA)
    assert (len(splits.train), len(splits.valid or []), len(splits.test or [])) == (
        29_000,
        1_014,
        1_000,
    )
    assert splits.train.source[0].startswith("Zwei junge weiße Männer")
    reverse = load_pairs(["multi30k"], source="en", target="de", data_dir=DATA)
    assert reverse.train.source[0] == splits.train.target[0]
    with pytest.raises(ConfigError, match="multi30k pairs de and en"):
        load_pairs(["multi30k"], source="fr", target="en", data_dir=DATA)


def test_batches_shift_the_target_by_one_and_cover_each_pair_once() -> None:
    sources = [[3, 4, 5], [6], [7, 8], [9, 9, 9, 9]]
    targets = [[10, 11], [12, 13, 14], [15], [16, 17]]
    batches = PairBatches(sources, targets, batch_size=3, shuffle=True, seed=1)
    seen = []
    for batch in batches.epoch(0):
        seen += batch.index.tolist()
        for column, pair in enumerate(batch.index.tolist()):
            length = batch.lengths[column]
            assert batch.source[:length, column].tolist() == sources[pair]
            assert bool((batch.source[length:, column] == 0).all())
            body = targets[pair]
            assert batch.target_in[: len(body) + 1, column].tolist() == [EOD_ID, *body]
            assert batch.target[: len(body) + 1, column].tolist() == [*body, EOD_ID]
            assert bool((batch.target[len(body) + 1 :, column] == IGNORE_INDEX).all())
        assert batch.num_tokens == sum(len(targets[p]) + 1 for p in batch.index.tolist())
    assert sorted(seen) == [0, 1, 2, 3]
    assert batches.num_tokens == sum(len(t) + 1 for t in targets)
    again = PairBatches(sources, targets, batch_size=3, shuffle=True, seed=1)
    orders = [
        [b.tolist() for b in source.order(epoch)] for source in (batches, again) for epoch in (0, 1)
    ]
    assert orders[0] == orders[2]  # the same seed and epoch, the same batches
    assert orders[1] == orders[3]


def test_shards_split_each_batch() -> None:
    sources = [[3] * n for n in range(1, 9)]
    targets = [[4] * n for n in range(1, 9)]
    batches = PairBatches(sources, targets, batch_size=4, shuffle=True, seed=0)
    whole = [b.index.tolist() for b in batches.epoch(2)]
    parts = [[b.index.tolist() for b in batches.shard(r, 2).epoch(2)] for r in range(2)]
    for batch, first, second in zip(whole, *parts, strict=True):
        assert batch == first + second
    assert isinstance(next(iter(batches)).source, torch.Tensor)
