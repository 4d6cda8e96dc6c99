"""``rnnkit translate`` (train, MODEL TEXT, evaluate, lr-find) as real subprocesses: output,
files, interruption and resumption, data-parallel training, and every user error."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_cli import assert_user_error, rnnkit
from tests.test_translator import reversal

SMALL = [
    *("--unit", "word", "--vocab-size", "40", "--embed-dim", "16", "--hidden", "24"),
    *("--batch-size", "16", "--lr", "0.01", "--dropout", "0", "--label-smoothing", "0"),
    *("--threads", "1", "--seed", "0"),
]


def write_pairs(folder: Path, name: str, n: int, seed: int) -> tuple[Path, Path]:
    source, target = reversal(n, seed)
    paths = (folder / f"{name}.src", folder / f"{name}.tgt")
    for path, lines in zip(paths, (source, target), strict=True):
        path.write_text("\n".join(lines) + "\n")
    return paths


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict]:
    folder = tmp_path_factory.mktemp("translate")
    train = write_pairs(folder, "train", 400, 0)
    valid = write_pairs(folder, "valid", 40, 1)
    test = write_pairs(folder, "test", 40, 2)
    out = folder / "model"
    result = rnnkit(
        "translate",
        "train",
        *map(str, train),
        "--valid",
        *map(str, valid),
        "--test",
        *map(str, test),
        *SMALL,
        "--epochs",
        "15",
        "--beam",
        "2",
        "--out",
        str(out),
        "--json",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert "valid: BLEU" in result.stdout
    assert "test: BLEU" in result.stdout
    return folder, out, json.loads(result.stdout.strip().splitlines()[-1])


def test_train_writes_a_translator_and_its_scores(trained: tuple[Path, Path, dict]) -> None:
    _, out, metrics = trained
    assert metrics["valid"]["bleu"] > 80
    test = metrics["test"]
    assert test["bleu"] > 80
    assert test["beam"] == 2
    assert test["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a")
    assert "case:lc" in test["bleu_lc_signature"]
    config = json.loads((out / "config.json").read_text())
    assert config["task"] == "translation"
    assert config["vocab"]["joint"]["unit"] == "word"


def test_translate_texts_input_file_and_json(trained: tuple[Path, Path, dict]) -> None:
    folder, out, _ = trained
    result = rnnkit("translate", str(out), "ant bee cat", "dog eel")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["CAT BEE ANT", "EEL DOG"]
    lines = folder / "lines.txt"
    lines.write_text("ant bee cat\n\ndog eel\n")
    result = rnnkit("translate", str(out), "--input", str(lines), "--json", "--beam", "3")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["translation"] for r in rows] == ["CAT BEE ANT", "", "EEL DOG"]
    assert rows[0]["tokens"] == 3
    assert rows[0]["log_prob"] < 0
    assert rows[1]["log_prob"] is None
    piped = rnnkit("translate", "text", str(out), "--input", "-", stdin="gnu hen\n")
    assert piped.stdout == "HEN GNU\n"


def test_plot_attention_of_one_sentence(trained: tuple[Path, Path, dict]) -> None:
    folder, out, _ = trained
    image = folder / "attention.png"
    result = rnnkit("translate", str(out), "ant bee cat", "--plot-attention", str(image))
    assert result.returncode == 0, result.stderr
    assert image.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert_user_error(
        rnnkit("translate", str(out), "ant", "bee", "--plot-attention", str(image)),
        "--plot-attention draws one sentence's attention",
    )


def test_evaluate_prints_bleu_chrf_and_signatures(trained: tuple[Path, Path, dict]) -> None:
    folder, out, _ = trained
    test = [str(p) for p in (folder / "test.src", folder / "test.tgt")]
    result = rnnkit("translate", "evaluate", str(out), *test, "--beam", "1")
    assert result.returncode == 0, result.stderr
    assert "BLEU" in result.stdout
    assert "chrF" in result.stdout
    assert "tok:13a" in result.stdout
    scores = json.loads(rnnkit("translate", "evaluate", str(out), *test, "--json").stdout)
    assert scores["sentences"] == 40
    assert scores["bleu"] > 80
    assert {"bleu_lc", "chrf", "chrf_signature"} <= set(scores)


def test_lr_find_suggests_a_rate(trained: tuple[Path, Path, dict]) -> None:
    folder, _, _ = trained
    train = [str(p) for p in (folder / "train.src", folder / "train.tgt")]
    result = rnnkit("translate", "lr-find", *train, *SMALL, "--steps", "30")
    assert result.returncode == 0, result.stderr
    assert "suggested --lr" in result.stdout


def test_user_errors(trained: tuple[Path, Path, dict], tmp_path: Path) -> None:
    folder, out, _ = trained
    short = tmp_path / "short.tgt"
    short.write_text("ANT\n")
    assert_user_error(
        rnnkit(
            "translate",
            "train",
            str(folder / "train.src"),
            str(short),
            "--out",
            str(tmp_path / "m"),
        ),
        "has 400 lines and",
    )
    gap = tmp_path / "gap.tgt"
    gap.write_text("ANT\n\n" + "B\n" * 398)
    assert_user_error(
        rnnkit(
            "translate", "train", str(folder / "train.src"), str(gap), "--out", str(tmp_path / "m")
        ),
        "gap.tgt, line 2: the target sentence is empty",
    )
    assert_user_error(
        rnnkit("translate", str(out), "ant", "--beam", "0"), "--beam must be at least 1"
    )
    assert_user_error(
        rnnkit(
            "translate",
            "train",
            "multi30k",
            "--source",
            "fr",
            "--out",
            str(tmp_path / "m"),
            "--data-dir",
            str(tmp_path),
        ),
        "multi30k pairs de and en",
    )
    assert_user_error(
        rnnkit("predict", str(out), "ant"),
        "holds a translator (task 'translation'): use it with rnnkit translate",
    )
    assert_user_error(rnnkit("generate", str(out)), "holds a translator")
    assert_user_error(rnnkit("translate", str(out)), "nothing to translate")


def test_another_tasks_bundle_is_refused(tmp_path: Path) -> None:
    from tests.conftest import write_csv

    data = write_csv(tmp_path / "train.csv", 60)
    model = tmp_path / "clf"
    result = rnnkit(
        "train",
        str(data),
        "--out",
        str(model),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--embed-dim",
        "8",
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    assert_user_error(
        rnnkit("translate", str(model), "a text"),
        "rnnkit translate takes a translator, and this bundle holds a classifier",
    )


# -- interrupted, resumed, data-parallel -------------------------------------------------------

RESUMED = [*SMALL, "--epochs", "3", "--checkpoint-every", "10", "--dropout", "0.2"]


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(
    trained: tuple[Path, Path, dict], tmp_path: Path
) -> None:
    from tests.train.test_lm_runs import assert_same_model

    folder, _, _ = trained
    train = [str(p) for p in (folder / "train.src", folder / "train.tgt")]
    valid = [str(p) for p in (folder / "valid.src", folder / "valid.tgt")]
    full = tmp_path / "full"
    result = rnnkit(
        "translate",
        "train",
        *train,
        "--valid",
        *valid,
        *RESUMED,
        "--no-test",
        "--out",
        str(full),
        "--quiet",
    )
    assert result.returncode == 0, result.stderr
    out = tmp_path / "killed"
    command = [
        sys.executable,
        "-m",
        "rnnkit",
        "translate",
        "train",
        *train,
        "--valid",
        *valid,
        *RESUMED,
        "--no-test",
        "--out",
        str(out),
    ]
    with open(tmp_path / "log", "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    meta = out / "checkpoints" / "last" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, (tmp_path / "log").read_text()
        if meta.exists() and json.loads(meta.read_text())["position"]["epoch"] == 1:
            break
        time.sleep(0.005)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    result = rnnkit("translate", "train", "--resume", str(out))
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stderr
    assert_same_model(out, full)


@pytest.mark.slow  # two processes of torch: about 20 s more
def test_two_processes_train_like_one(trained: tuple[Path, Path, dict], tmp_path: Path) -> None:
    from tests.train.test_lm_runs import weights

    folder, _, _ = trained
    train = [str(p) for p in (folder / "train.src", folder / "train.tgt")]
    common = [*train, *SMALL, "--max-steps", "6", "--valid-split", "0", "--no-test", "--quiet"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert rnnkit("translate", "train", *common, "--out", str(one)).returncode == 0
    result = rnnkit("translate", "train", *common, "--out", str(two), "--nproc", "2")
    assert result.returncode == 0, result.stderr
    for name, value in weights(one).items():
        import torch

        torch.testing.assert_close(weights(two)[name], value, rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize(
    "recipe",
    sorted((Path(__file__).resolve().parent.parent / "recipes" / "translate").glob("*.json")),
    ids=lambda path: path.stem,
)
def test_every_translation_recipe_is_valid(recipe: Path) -> None:
    from rnnkit.tasks.translation.estimator import Translator

    Translator.from_config(recipe).check_params()
    result = rnnkit("translate", "train", "--config", str(recipe), "--help")
    assert result.returncode == 0, result.stderr
