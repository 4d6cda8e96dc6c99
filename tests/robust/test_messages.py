"""Tracebacks turned into one-line messages, and advice that works when it is followed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit import TextClassifier
from rnnkit.errors import ConfigError
from tests.conftest import TINY, make_texts, write_csv
from tests.robust.cli_batch import run_many
from tests.test_cli import TINY_OPTIONS, assert_user_error, rnnkit


def test_a_model_too_large_for_memory_says_how_much_it_needs(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 60)
    result = rnnkit("train", str(data), "--out", str(tmp_path / "m"), "--hidden", "1000000")
    assert_user_error(result, "the model would have 8,001,052,")
    assert "parameters (--hidden 1000000, --embed-dim 128, --layers 1, vocabulary" in result.stderr
    assert "training needs at least 128.0 TB for its weights, gradients and optimizer" in (
        result.stderr
    )


@pytest.mark.parametrize(
    ("labels", "message"),
    [
        (["pos", None, "neg"], r"y\[1\] is None; every text needs a label"),
        (["pos", float("nan"), "neg"], r"y\[1\] is nan; every text needs a label"),
        (["pos", 3, "neg"], r"y mixes strings and numbers \(y\[0\] is 'pos', y\[1\] is 3\)"),
        (["pos", ["a"], "neg"], r"y\[1\] is list; labels must be strings or numbers"),
    ],
)
def test_fit_names_a_bad_label(labels: list[object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        TextClassifier(**TINY).fit(["a b", "c d", "e f"], labels)


def test_fit_takes_labels_as_numpy_would_and_checks_parameter_types() -> None:
    from rnnkit.errors import DataError

    with pytest.raises(DataError, match=r"every training text has the label '1\.0'"):
        TextClassifier(**TINY).fit(["a b", "c d"] * 5, [1, 1.0] * 5)  # one class: the number 1
    clf = TextClassifier(**{**TINY, "epochs": 1}, valid_split=0)
    clf.fit(["a b", "c d", "e f"] * 4, [True, 1, 0] * 4)
    assert clf.classes_.tolist() == [0, 1]
    for name, value, message in (
        ("embed_dim", 16.5, "embed_dim must be a whole number, got 16.5"),
        ("batch_size", 8.0, "batch_size must be a whole number, got 8.0"),
        ("lr", "0.1", "lr must be a number, got '0.1'"),
        ("hidden", None, "hidden must be a whole number, got None"),
    ):
        with pytest.raises(ConfigError, match=message):
            TextClassifier(**{**TINY, name: value}).fit(["a b", "c d"], ["x", "y"])


def test_deeply_nested_json_is_a_400_and_the_server_stays_up(tmp_path: Path) -> None:
    pytest.importorskip("fastapi")
    from tests.serve.server import Server

    model = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60)).save(tmp_path / "m")
    server = Server(model)
    try:
        deep = b"[" * 100_000 + b"]" * 100_000
        for _ in range(3):
            assert server.request("POST", "/predict", deep) == (
                400,
                {"detail": "invalid JSON: nested too deeply"},
            )
        digits = b'{"texts": ["good"], "top_k": ' + b"9" * 5000 + b"}"
        status, body = server.request("POST", "/predict", digits)
        assert status == 400
        assert body["detail"].startswith("invalid JSON: Exceeds the limit")
        for top_k in (True, "1"):
            status, body = server.request("POST", "/predict", {"texts": ["a"], "top_k": top_k})
            assert status == 422, body
            assert body["detail"].startswith("top_k: Input should be a valid integer")
        assert server.request("POST", "/predict", {"texts": ["a fine film"]})[0] == 200
    finally:
        log = server.stop()
    assert "Traceback" not in log
    assert "RecursionError" not in log


def test_jsonl_without_the_text_field_suggests_text_col(tmp_path: Path) -> None:
    data = tmp_path / "r.jsonl"
    data.write_text(
        "".join(json.dumps({"review": f"a film {i}", "stars": i % 2}) + "\n" for i in range(40))
    )
    out = str(tmp_path / "m")
    train = ["train", str(data), "--out", out]
    result, skipped, followed = run_many(
        train,
        [*train, "--skip-bad-rows"],
        [*train, "--text-col", "review", "--label-col", "stars", *TINY_OPTIONS, "--epochs", "1"],
    )
    assert_user_error(
        result,
        f"{data}, line 1: no field 'text' (fields: review, stars); name the text field(s) with "
        "--text-col and the label field with --label-col",
    )
    assert "--skip-bad-rows" not in result.stderr
    assert_user_error(skipped, "every row (40) was bad and skipped; the first: line 1: no field")
    assert followed.returncode == 0, followed.stderr


def test_predict_input_folder_says_what_predict_wants(tmp_path: Path) -> None:
    model = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60)).save(tmp_path / "m")
    result = rnnkit("predict", str(model), "--input", str(tmp_path))
    assert_user_error(result, f"--input {tmp_path}: is a folder; give a file with one text a line")
    assert "--format" not in result.stderr


def test_a_corrupt_last_checkpoint_gives_a_resume_command_that_works(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 200)
    out = tmp_path / "run"
    first = rnnkit("train", str(data), "--out", str(out), *TINY_OPTIONS, "--epochs", "3")
    assert first.returncode == 0, first.stderr
    state = next((out / "checkpoints" / "last").glob("state-*.safetensors"))
    damaged = bytearray(state.read_bytes())
    damaged[len(damaged) // 2] ^= 0xFF
    state.write_bytes(bytes(damaged))
    best = out / "checkpoints" / "best"
    # What the message says to run, then resuming the run again (through its checkpoints
    # folder, with --quiet given again): last is whole again, so that starts from last.
    result, followed, resumed_again = run_many(
        ["train", "--resume", str(out)],
        ["train", "--resume", str(best)],
        ["train", "--resume", str(out / "checkpoints"), "--quiet"],
    )
    assert_user_error(
        result,
        f"{state}: corrupted (its SHA-256 does not match checkpoint.json); continue from the "
        f"best epoch's checkpoint (after epoch",
    )
    assert result.stderr.strip().split("with: ")[-1] == f"rnnkit train --resume {best}"
    assert followed.returncode == 0, followed.stderr
    assert f"resuming from {best}: epoch" in followed.stderr
    assert resumed_again.returncode == 0, resumed_again.stderr
    assert resumed_again.stderr == ""
    TextClassifier.load(out)


def test_a_checkpoint_version_written_as_a_string_is_explained(tmp_path: Path) -> None:
    from rnnkit.train.checkpoint import CheckpointError, read_meta

    folder = tmp_path / "last"
    folder.mkdir()
    (folder / "checkpoint.json").write_text(
        '{"format": "rnnkit-checkpoint", "format_version": "1"}'
    )
    with pytest.raises(CheckpointError, match="format version '1' is a string; this rnnkit reads"):
        read_meta(folder)


def test_classes_of_one_row_are_named_as_the_reason_no_split_is_possible(tmp_path: Path) -> None:
    data = tmp_path / "many.csv"
    data.write_text("text,label\n" + "".join(f"text number {i},c{i}\n" for i in range(500)))
    result = rnnkit("train", str(data), "--out", str(tmp_path / "m"), *TINY_OPTIONS)
    assert_user_error(
        result,
        "cannot hold out 10% of 500 rows for validation: 500 of the 500 classes have a single "
        "row ('c0', 'c1', 'c10', ...), and a class needs at least two rows to be split; give a "
        "validation file with --valid, or --valid-split 0",
    )
