"""A translator records the languages it was trained on, and ``rnnkit translate evaluate``
scores it in that direction unless told otherwise, refuses the other one and says which it
scored."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit import Translator
from tests.robust.cli_batch import run_many
from tests.robust.conftest import Models
from tests.test_cli import assert_user_error, rnnkit
from tests.test_translator import reversal

DATA_DIR = Path(__file__).resolve().parents[3] / "shared" / "data"
SMALL = ["--unit", "word", "--vocab-size", "40", "--embed-dim", "8", "--hidden", "8"]


def test_the_languages_are_recorded_and_evaluate_scores_that_direction(
    tmp_path: Path,
) -> None:
    source, target = reversal(200, 0)
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text(
        "".join(json.dumps({"de": s, "en": t}) + "\n" for s, t in zip(source, target, strict=True))
    )
    model = tmp_path / "de-en"
    trained = rnnkit(
        *("translate", "train", str(pairs), "--source", "de", "--target", "en", *SMALL),
        *("--max-steps", "5", "--no-test", "--quiet", "--out", str(model)),
    )
    assert trained.returncode == 0, trained.stderr
    data = json.loads((model / "config.json").read_text())["data"]
    assert (data["source"], data["target"]) == ("de", "en")
    assert Translator.load(model).get_params()["source"] == "de"
    own, scored, backwards, half, agreeing = run_many(
        ["translate", "evaluate", str(model), str(pairs), "--json"],
        ["translate", "evaluate", str(model), str(pairs)],
        ["translate", "evaluate", str(model), str(pairs), "--source", "en", "--target", "de"],
        ["translate", "evaluate", str(model), str(pairs), "--target", "de"],
        ["translate", "evaluate", str(model), str(pairs), "--source", "de", "--json"],
    )
    assert own.returncode == 0, own.stderr  # the fields de and en, without --source/--target
    found = json.loads(own.stdout)
    assert (found["source"], found["target"], found["sentences"]) == ("de", "en", 200)
    assert scored.stdout.startswith(f"{pairs}, de to en: BLEU ")
    message = f"{model} translates de to en (recorded when it was trained), and --source en "
    assert_user_error(backwards, message + "--target de asks to score the other direction")
    assert_user_error(half, f"{model} translates de to en (recorded when it was trained), and "
                      "--target de asks to score the other direction")  # fmt: skip
    assert agreeing.returncode == 0, agreeing.stderr  # the other side is the model's
    assert json.loads(agreeing.stdout) == found


def test_a_csv_header_or_none_with_the_recorded_columns(models: Models, tmp_path: Path) -> None:
    source, target = reversal(20, 3)
    rows = [f"{s},{t}" for s, t in zip(source, target, strict=True)]
    named = tmp_path / "named.csv"
    named.write_text(
        "\n".join(["en,de", *(f"{t},{s}" for s, t in zip(source, target, strict=True))]) + "\n"
    )
    bare = tmp_path / "bare.csv"
    bare.write_text("\n".join(rows) + "\n")
    from_header, without = run_many(
        ["translate", "evaluate", str(models.translator), str(named), "--json"],
        ["translate", "evaluate", str(models.translator), str(bare), "--json"],
    )
    for result in (from_header, without):  # its de column is the source wherever it stands
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["sentences"] == 20
    assert json.loads(from_header.stdout)["bleu"] == json.loads(without.stdout)["bleu"]


@pytest.mark.skipif(
    not (DATA_DIR / "multi30k" / "val.de.gz").is_file(),
    reason=f"Multi30k not found in {DATA_DIR}",
)
def test_an_english_to_german_model_is_scored_english_to_german(tmp_path: Path) -> None:
    model = tmp_path / "en-de"
    trained = rnnkit(
        *("translate", "train", "multi30k", "--data-dir", str(DATA_DIR), "--source", "en"),
        *("--target", "de", *SMALL, "--max-steps", "2", "--no-test", "--quiet"),
        *("--out", str(model)),
    )
    assert trained.returncode == 0, trained.stderr
    scored, backwards = run_many(
        ["translate", "evaluate", str(model), "multi30k", "--data-dir", str(DATA_DIR),
         "--split", "valid", "--beam", "1"],
        ["translate", "evaluate", str(model), "multi30k", "--data-dir", str(DATA_DIR),
         "--source", "de", "--target", "en"],
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith("multi30k val, en to de: BLEU ")
    assert_user_error(backwards, "translates en to de (recorded when it was trained)")


@pytest.mark.skipif(
    not (DATA_DIR / "multi30k" / "val.de.gz").is_file(),
    reason=f"Multi30k not found in {DATA_DIR}",
)
def test_a_model_that_records_no_languages_is_scored_as_before_with_a_warning(
    tmp_path: Path,
) -> None:
    source, target = reversal(100, 0)
    pairs = tmp_path / "pairs.jsonl"  # the default fields, source and target: no languages
    rows = (json.dumps({"source": s, "target": t}) for s, t in zip(source, target, strict=True))
    pairs.write_text("\n".join(rows) + "\n")
    model = tmp_path / "model"
    trained = rnnkit(
        *("translate", "train", str(pairs), *SMALL, "--max-steps", "2", "--no-test"),
        *("--quiet", "--out", str(model)),
    )
    assert trained.returncode == 0, trained.stderr
    data = json.loads((model / "config.json").read_text())["data"]
    assert (data["source"], data["target"]) == (None, None)
    (scored,) = run_many(
        ["translate", "evaluate", str(model), "multi30k", "--data-dir", str(DATA_DIR),
         "--split", "valid", "--beam", "1"],
    )  # fmt: skip
    assert scored.returncode == 0, scored.stderr
    assert scored.stdout.startswith("multi30k val, de to en: BLEU ")
    assert (
        f"rnnkit: {model} does not record its languages (trained on files that do not name "
        "them, or before rnnkit recorded them); scoring de to en" in scored.stderr
    )
