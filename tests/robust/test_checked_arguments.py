"""Arguments checked where they enter: a generation's arguments, seeds in one range, a
temperature that underflows, an empty stop string, text that is not valid Unicode, a beam or
length penalty that cannot be computed, the pretraining's time budget. Each as the Python API
and as the command line meet it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from rnnkit import LanguageModel, Translator
from rnnkit.errors import ConfigError
from rnnkit.tasks.language_model.generation import probabilities
from tests.conftest import write_csv
from tests.robust.cli_batch import run_many
from tests.robust.conftest import Models
from tests.test_cli import assert_user_error


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"prompt": 5}, "prompt must be a text (str), got int 5"),
        ({"max_tokens": "3"}, "max_tokens must be a whole number, got '3'"),
        ({"max_tokens": 0}, "max_tokens must be at least 1, got 0"),
        ({"num_samples": 2.0}, "num_samples must be a whole number, got 2.0"),
        ({"temperature": "0.8"}, "temperature must be a number, 0 (greedy) or more, got '0.8'"),
        ({"temperature": float("inf")}, "temperature must be 0 (greedy) or more, and finite"),
        ({"top_k": 2.5}, "top_k must be a whole number, got 2.5"),
        ({"top_p": "0.9"}, "top_p must be in (0, 1], got '0.9'"),
        ({"seed": -1}, "seed must be a whole number in [0, 2**64), got -1"),
        ({"seed": 2**64}, "seed must be a whole number in [0, 2**64), got 18446744073709551616"),
        ({"seed": 1.5}, "seed must be a whole number in [0, 2**64), got 1.5"),
        ({"seed": 2**64 - 1, "num_samples": 2}, "(with 2 samples, seed + 1 too)"),
        ({"stop": ""}, "stop must be a non-empty text (a sample ends once it contains it)"),
        ({"stop": "\udcff"}, "stop: character 1 is a lone surrogate (U+DCFF)"),
        ({"prompt": "it \ud800"}, "prompt: character 4 is a lone surrogate (U+D800)"),
    ],
)
def test_generate_checks_its_arguments_first(
    models: Models, arguments: dict[str, object], message: str
) -> None:
    lm = LanguageModel.load(models.lm)
    with pytest.raises(ConfigError) as raised:
        lm.generate(**{"prompt": "it", **arguments})  # type: ignore[arg-type]
    assert message in str(raised.value)


def test_seeds_up_to_2_64_generate_and_the_cli_says_the_range(models: Models) -> None:
    lm = LanguageModel.load(models.lm)
    top = lm.generate("it", max_tokens=3, seed=2**64 - 1)  # torch.Generator's largest
    assert lm.generate("it", max_tokens=3, seed=2**64 - 1) == top
    generate = ["generate", str(models.lm), "--max-tokens", "2", "--json", "--seed"]
    low, high, over, two = run_many(
        [*generate, str(2**63 - 1)],
        [*generate, str(2**64 - 1)],
        [*generate, str(2**64)],
        [*generate, str(2**64 - 1), "--num-samples", "2"],
    )
    assert low.returncode == 0, low.stderr
    assert high.returncode == 0, high.stderr
    assert_user_error(over, "--seed must be a whole number in [0, 2**64), got 18446744073709551616")
    assert_user_error(two, "(with 2 samples, --seed + 1 too)")


def test_a_temperature_that_underflows_is_greedy(models: Models) -> None:
    scores = torch.tensor([[0.0, 0.0, 0.0, 1.5, -2.0, 3.0], [0.0, 0.0, -5.0, -1.0, -2.0, -3.0]])
    for temperature in (1e-300, 1e-45):  # 0 in float32; scores / T overflows
        probs = probabilities(scores, temperature)
        assert probs.tolist() == [[0, 0, 0, 0, 0, 1.0], [0, 0, 0, 1.0, 0, 0]]
    assert torch.isfinite(probabilities(scores, 1e-30, top_k=2, top_p=0.5)).all()
    lm = LanguageModel.load(models.lm)
    greedy = lm.generate("it was", max_tokens=12, temperature=0)
    assert greedy[0]  # not empty
    assert lm.generate("it was", max_tokens=12, temperature=1e-300, seed=1) == greedy
    tiny, zero = run_many(
        ["generate", str(models.lm), "--prompt", "it was", "--max-tokens", "12", "--json",
         "--temperature", "1e-300"],
        ["generate", str(models.lm), "--prompt", "it was", "--max-tokens", "12", "--json",
         "--temperature", "0"],
    )  # fmt: skip
    assert tiny.returncode == 0, tiny.stderr
    assert tiny.stdout.split('"seed"')[0] == zero.stdout.split('"seed"')[0]  # text and count


def test_an_empty_stop_string_is_refused(models: Models) -> None:
    (empty,) = run_many(["generate", str(models.lm), "--stop", ""])
    assert_user_error(empty, "--stop must be a non-empty text (a sample ends once it contains it)")
    broken = subprocess.run(
        [sys.executable, "-m", "rnnkit", "generate", str(models.lm), "--stop", b"\xff"],
        capture_output=True,
        check=False,
        timeout=120,
    )
    assert broken.returncode == 2
    assert b"--stop: character 1 is a lone surrogate (U+DCFF)" in broken.stderr


def test_text_that_is_not_unicode_is_a_one_line_error(models: Models) -> None:
    """Bytes that are not UTF-8 in an argument read as lone surrogates; no tokenizer takes
    them (the subword one aborted)."""
    with pytest.raises(ConfigError, match=r"texts\[1\]: character 1 is a lone surrogate"):
        Translator.load(models.translator).translate(["ein Hund", "\ud800"])
    for command in (
        [str(models.translator), b"\xff Hund"],
        ["text", str(models.translator), b"ein \xfe"],
        [b"--prompt", b"\xff"],
    ):
        argv = [sys.executable, "-m", "rnnkit"]
        if command[0] == b"--prompt":
            argv += ["generate", str(models.lm), *command]
        else:
            argv += ["translate", *command]
        result = subprocess.run(argv, capture_output=True, check=False, timeout=120)
        shown = subprocess.CompletedProcess(
            argv, result.returncode, result.stdout.decode(), result.stderr.decode()
        )
        assert_user_error(shown, "is a lone surrogate (U+DC")


def test_a_beam_or_length_penalty_that_cannot_be_computed_is_refused(models: Models) -> None:
    translator = Translator.load(models.translator)
    with pytest.raises(ConfigError, match="beam must be at most 100, got 100,000"):
        translator.translate(["ein Hund"], beam=100_000)
    with pytest.raises(ConfigError, match="length_penalty must be at most 10, got 1000"):
        translator.translate(["ein Hund"], length_penalty=1000)
    with pytest.raises(ConfigError, match="length_penalty must be a number, got '1'"):
        translator.translate(["ein Hund"], length_penalty="1")  # type: ignore[arg-type]
    with pytest.raises(
        ConfigError, match=r"beam must be at least 1 \(1: greedy\) and a whole number, got '5'"
    ):
        translator.translate(["ein Hund"], beam="5")  # type: ignore[arg-type]
    assert translator.translate(["ant bee"], beam=100, length_penalty=10)  # the limits work
    beam, penalty, ratio = run_many(
        ["translate", str(models.translator), "ant bee", "--beam", "100000"],
        ["translate", str(models.translator), "ant bee", "--length-penalty", "1e3"],
        ["translate", str(models.translator), "ant bee", "--max-ratio", "1e9"],
    )
    assert_user_error(beam, "--beam must be at most 100, got 100,000")
    assert_user_error(penalty, "--length-penalty must be at most 10, got 1000")
    assert_user_error(ratio, "--max-ratio must be in (0, 10], got 1000000000.0")


def test_a_bad_pretraining_budget_is_named_as_given(tmp_path: Path) -> None:
    from rnnkit import TextClassifier

    data = write_csv(tmp_path / "d.csv", 40)
    negative, zero = run_many(
        ["train", str(data), "--pretrain", "--pretrain-minutes", "-2", "--out", str(tmp_path)],
        ["train", str(data), "--pretrain", "--pretrain-minutes", "0", "--out", str(tmp_path)],
    )
    assert_user_error(negative, "--pretrain-minutes must be a positive, finite number, got -2.0")
    assert_user_error(zero, "--pretrain-minutes must be a positive, finite number, got 0.0")
    with pytest.raises(
        ConfigError, match="pretrain_minutes must be a positive, finite number, got -1"
    ):
        TextClassifier().fit(["a b"] * 4, ["x", "y"] * 2, unlabelled=[], pretrain_minutes=-1)
