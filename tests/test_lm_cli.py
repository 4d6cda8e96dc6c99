"""rnnkit lm train, rnnkit lm evaluate and rnnkit generate, run as real subprocesses."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.test_cli import assert_user_error, rnnkit

TEXT = (
    "It was the best of times, it was the worst of times, it was the age of wisdom,\n"
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of\n"
    "incredulity, it was the season of Light, it was the season of Darkness.\n\n"
)
SMALL = ["--hidden", "32", "--embed-dim", "16", "--batch-size", "4", "--window", "16"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("lm")
    corpus = folder / "dickens.txt"
    corpus.write_text(TEXT * 30)
    out = folder / "model"
    result = rnnkit(
        "lm",
        "train",
        str(corpus),
        "--out",
        str(out),
        *SMALL,
        "--max-steps",
        "40",
        "--document",
        "paragraph",
        "--valid-split",
        "0.1",
        "--json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    return corpus, out, json.loads(result.stdout.strip().splitlines()[-1])


def test_train_ends_with_the_validation_scores(trained: tuple[Path, Path, dict]) -> None:
    _, out, metrics = trained
    valid = metrics["valid"]
    assert set(valid) == {"loss", "perplexity", "bits_per_token", "tokens", "unit"}
    assert valid["unit"] == "char"
    assert valid["tokens"] > 0
    assert valid["perplexity"] == pytest.approx(2.718281828 ** valid["loss"], rel=1e-5)
    assert metrics["train_seconds"] > 0
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "language_model"
    assert config["vocab"]["unit"] == "char"


def test_evaluate_reports_loss_perplexity_and_bits(trained: tuple[Path, Path, dict]) -> None:
    corpus, out, _ = trained
    result = rnnkit("lm", "evaluate", str(out), str(corpus), "--json")
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    # 30 paragraphs (the model's --document), each its characters and its <eod>
    assert scores["tokens"] == 30 * (len(TEXT) - 2) + 30
    assert scores["bits_per_token"] == pytest.approx(scores["loss"] / 0.6931471805599453)
    text = rnnkit("lm", "evaluate", str(out), str(corpus))
    assert "nats per character" in text.stdout
    assert "bits per character" in text.stdout


def test_generate_streams_text_and_is_deterministic_for_a_seed(
    trained: tuple[Path, Path, dict],
) -> None:
    _, out, _ = trained
    args = ["generate", str(out), "--prompt", "it was", "--max-tokens", "30", "--seed", "3"]
    first, second = rnnkit(*args), rnnkit(*args)
    assert first.returncode == 0, first.stderr
    assert first.stdout == second.stdout
    assert first.stdout.startswith("it was")
    greedy = rnnkit(*args, "--temperature", "0")
    assert greedy.stdout == rnnkit(*args[:-1], "9", "--temperature", "0").stdout


def test_generate_json_has_one_object_per_sample(trained: tuple[Path, Path, dict]) -> None:
    _, out, _ = trained
    result = rnnkit(
        "generate",
        str(out),
        "--prompt",
        "it",
        "--max-tokens",
        "12",
        "--num-samples",
        "3",
        "--seed",
        "5",
        "--json",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
    )
    assert result.returncode == 0, result.stderr
    samples = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["seed"] for s in samples] == [5, 6, 7]
    alone = rnnkit(
        "generate",
        str(out),
        "--prompt",
        "it",
        "--max-tokens",
        "12",
        "--seed",
        "6",
        "--json",
        "--top-k",
        "5",
        "--top-p",
        "0.9",
    )
    assert json.loads(alone.stdout)["text"] == samples[1]["text"]


def test_a_prompt_with_unseen_characters_says_how_they_were_read(
    trained: tuple[Path, Path, dict],
) -> None:
    _, out, _ = trained
    result = rnnkit("generate", str(out), "--prompt", "Zoë", "--max-tokens", "3", "--seed", "0")
    assert result.returncode == 0
    assert "never saw ('Z', 'ë'); each reads as <unk>" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--temperature", "-0.5"], "--temperature must be 0 (greedy) or more"),
        (["--top-p", "0"], "--top-p must be in (0, 1]"),
        (["--top-p", "1.5"], "--top-p must be in (0, 1]"),
        (["--top-k", "0"], "--top-k must be at least 1"),
        (["--max-tokens", "0"], "--max-tokens must be at least 1"),
    ],
)
def test_bad_sampling_options_are_one_line_errors(
    trained: tuple[Path, Path, dict], options: list[str], message: str
) -> None:
    _, out, _ = trained
    assert_user_error(rnnkit("generate", str(out), *options), message)


def test_each_task_s_bundle_is_refused_by_the_other_s_commands(
    trained: tuple[Path, Path, dict],
) -> None:
    _, out, _ = trained
    classifier = Path(__file__).parent / "fixtures" / "format1" / "lstm-bi"
    assert_user_error(
        rnnkit("generate", str(classifier)),
        "rnnkit generate takes a language model, and this bundle holds a classifier",
    )
    assert_user_error(
        rnnkit("predict", str(out), "some text"),
        "rnnkit predict takes a classifier, and this bundle holds a language model",
    )


def test_a_corrupt_bundle_is_named(trained: tuple[Path, Path, dict], tmp_path: Path) -> None:
    import shutil

    _, out, _ = trained
    broken = tmp_path / "broken"
    shutil.copytree(out, broken)
    weights = broken / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-10])
    assert_user_error(rnnkit("generate", str(broken)), "model.safetensors")


def test_empty_and_too_short_corpora(tmp_path: Path) -> None:
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    out = tmp_path / "m"
    assert_user_error(rnnkit("lm", "train", str(empty), "--out", str(out)), "no text in")
    short = tmp_path / "short.txt"
    short.write_text("a few words\n")
    assert_user_error(
        rnnkit("lm", "train", str(short), "--out", str(out), "--window", "64"),
        "fewer than --window 64",
    )
    assert not out.exists()


def test_a_failed_run_keeps_the_model_already_there(
    trained: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    import shutil

    _, out, _ = trained
    kept = tmp_path / "kept"
    shutil.copytree(out, kept)
    before = (kept / "model.safetensors").read_bytes()
    short = tmp_path / "short.txt"
    short.write_text("tiny\n")
    result = rnnkit("lm", "train", str(short), "--out", str(kept), "--window", "64")
    assert result.returncode == 2
    assert (kept / "model.safetensors").read_bytes() == before


def test_lm_train_help_explains_the_corpus() -> None:
    result: subprocess.CompletedProcess[str] = rnnkit("lm", "train", "--help")
    assert result.returncode == 0
    for words in ("truncated", "ARCHIVE#FOLDER", "--window", "--softmax", "--max-minutes"):
        assert words in result.stdout


def test_lr_find_runs_on_a_language_model(trained: tuple[Path, Path, dict]) -> None:
    corpus, _, _ = trained
    result = rnnkit(
        "lm", "lr-find", str(corpus), *SMALL, "--steps", "20", "--max-lr", "0.5", "--json"
    )
    assert result.returncode == 0, result.stderr
    found = json.loads(result.stdout.strip().splitlines()[-1])
    assert len(found["lr"]) == 20
    assert found["suggested_lr"] > 0


def test_generate_through_onnx_runtime_writes_the_same_text(
    trained: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    import shutil

    _, out, _ = trained
    model = tmp_path / "model"
    shutil.copytree(out, model)
    args = ["generate", str(model), "--prompt", "it was", "--max-tokens", "25", "--seed", "2"]
    assert_user_error(rnnkit(*args, "--backend", "onnx"), "run rnnkit export")
    assert rnnkit("export", str(model)).returncode == 0
    onnx = rnnkit(*args, "--backend", "onnx", "--temperature", "0")
    assert onnx.returncode == 0, onnx.stderr
    assert onnx.stdout == rnnkit(*args, "--temperature", "0").stdout


def test_a_subword_model_trains_generates_and_round_trips_its_text(tmp_path: Path) -> None:
    pytest.importorskip("tokenizers", reason="the subword unit needs Hugging Face tokenizers")
    corpus = tmp_path / "text.txt"
    corpus.write_text(TEXT * 20)
    out = tmp_path / "subword"
    result = rnnkit(
        "lm",
        "train",
        str(corpus),
        "--out",
        str(out),
        *SMALL,
        "--unit",
        "subword",
        "--max-vocab",
        "300",
        "--max-steps",
        "10",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((out / "config.json").read_text())
    assert config["vocab"]["unit"] == "subword"
    assert "tokenizer" in config["vocab"]
    generated = rnnkit(
        "generate", str(out), "--prompt", "it was", "--max-tokens", "20", "--seed", "1"
    )
    assert generated.returncode == 0, generated.stderr
    assert generated.stdout.startswith("it was")


DATA_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


@pytest.mark.skipif(
    not (DATA_DIR / "tinyshakespeare" / "input.txt").is_file(),
    reason=f"Tiny Shakespeare not found in {DATA_DIR}",
)
def test_evaluate_scores_a_named_dataset_s_validation_split(
    trained: tuple[Path, Path, dict],
) -> None:
    _, out, _ = trained
    result = rnnkit(
        "lm", "evaluate", str(out), "tinyshakespeare", "--data-dir", str(DATA_DIR), "--json"
    )
    assert result.returncode == 0, result.stderr
    scores = json.loads(result.stdout)
    assert scores["split"] == "valid"  # it has no test split
    assert scores["tokens"] == 111_540 + 1  # its last 10% of characters, and the <eod>


def test_lab_generate_shows_samples_at_four_temperatures(tmp_path: Path) -> None:
    result = rnnkit(
        "lab",
        "generate",
        "--minutes",
        "0.05",
        "--max-tokens",
        "40",
        "--quiet",
        "--json",
        "--data-dir",
        str(tmp_path),  # no Tiny Shakespeare there: the standard library's text
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["source"] == "the Python standard library's docstrings"
    assert [s["temperature"] for s in report["samples"]] == [0.0, 0.5, 1.0, 1.5]
    for temperature in ("temperature 0:", "temperature 1.5:"):
        assert temperature in result.stdout


@pytest.mark.parametrize(
    "recipe",
    sorted((Path(__file__).resolve().parent.parent / "recipes" / "lm").glob("*.json")),
    ids=lambda path: path.stem,
)
def test_every_language_model_recipe_is_valid(recipe: Path) -> None:
    from rnnkit.tasks.language_model.estimator import LanguageModel

    LanguageModel.from_config(recipe).check_params()
    result = rnnkit("lm", "train", "--config", str(recipe), "--help")
    assert result.returncode == 0, result.stderr
