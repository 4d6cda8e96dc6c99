"""Messages that say what happened and what to do: a run resumed by another task's command,
an image in a folder that does not exist yet, options that do not apply, an unknown option,
options named by their flags, and log lines that count right."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import write_csv
from tests.robust.cli_batch import run_many
from tests.robust.conftest import DICKENS, Models
from tests.test_cli import TINY_OPTIONS, assert_user_error
from tests.test_translator import reversal

LM = ["--hidden", "8", "--embed-dim", "8", "--batch-size", "4", "--window", "16"]
TRANSLATOR = ["--unit", "word", "--vocab-size", "40", "--embed-dim", "8", "--hidden", "8"]


@pytest.fixture(scope="module")
def runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[dict[str, Path], dict[str, subprocess.CompletedProcess[str]]]:
    """Runs of each training command (the first two cut short by --max-steps; the language
    model's on one document), with their checkpoints, and what each printed."""
    folder = tmp_path_factory.mktemp("runs")
    corpus, data = folder / "dickens.txt", write_csv(folder / "d.csv", 60)
    corpus.write_text(DICKENS)
    source, target = reversal(100, 0)
    (folder / "p.src").write_text("\n".join(source) + "\n")
    (folder / "p.tgt").write_text("\n".join(target) + "\n")
    runs = {name: folder / name for name in ("lm", "translator", "classifier")}
    results = run_many(
        ["lm", "train", str(corpus), *LM, "--max-steps", "5", "--valid-split", "0.1",
         "--document", "file", "--out", str(runs["lm"])],
        ["translate", "train", str(folder / "p.src"), str(folder / "p.tgt"), *TRANSLATOR,
         "--max-steps", "5", "--no-test", "--out", str(runs["translator"])],
        ["train", str(data), *TINY_OPTIONS, "--epochs", "2", "--out", str(runs["classifier"])],
    )  # fmt: skip
    for result in results:
        assert result.returncode == 0, result.stderr
    return runs, dict(zip(runs, results, strict=True))


def test_a_run_resumed_by_another_task_s_command_names_the_right_one(
    runs: tuple[dict[str, Path], dict[str, subprocess.CompletedProcess[str]]],
) -> None:
    lm, translator, classifier = (str(runs[0][name]) for name in ("lm", "translator", "classifier"))
    by_lm, by_translate, by_train, own = run_many(
        ["lm", "train", "--resume", translator],
        ["translate", "train", "--resume", lm],
        ["train", "--resume", lm],
        ["train", "--resume", classifier, "--quiet"],
    )
    assert_user_error(
        by_lm,
        f"--resume {translator}: that run trains a translator, and rnnkit lm train trains a "
        f"language model; resume it with: rnnkit translate train --resume {translator}",
    )
    assert_user_error(by_translate, f"resume it with: rnnkit lm train --resume {lm}")
    assert_user_error(by_train, "and rnnkit train trains a classifier; resume it with: rnnkit lm")
    assert own.returncode == 0, own.stderr  # its own command resumes it (it had finished)


def test_log_lines_count_right(
    runs: tuple[dict[str, Path], dict[str, subprocess.CompletedProcess[str]]],
) -> None:
    lm, translator = runs[1]["lm"], runs[1]["translator"]
    epoch = next(line for line in lm.stderr.splitlines() if "valid loss " in line)
    assert ", loss " not in epoch.split("valid loss ", 1)[1]  # the loss once, not twice
    assert epoch.startswith("rnnkit: epoch 1 (5 of ")  # the epoch --max-steps cut short
    assert "rnnkit: training on 1 document (" in lm.stderr  # --document file: one
    assert lm.stdout.splitlines()[-1].startswith("trained 5 of the ")
    assert "one joint vocabulary of " in translator.stderr
    assert "vocabularies" not in translator.stderr
    last = translator.stdout.splitlines()[-1]  # 95 pairs: 2 batches an epoch, 5 steps
    assert last.startswith("trained 2 epochs and 1 of the 2 batches of epoch 3 in ")


def test_an_attention_plot_goes_where_asked_and_a_bad_place_is_refused_first(
    models: Models, tmp_path: Path
) -> None:
    pytest.importorskip("matplotlib")
    image = tmp_path / "not" / "yet" / "a.png"
    written, refused = run_many(
        ["translate", str(models.translator), "ant bee", "--plot-attention", str(image)],
        ["translate", str(models.translator), "ant bee", "--plot-attention", "/proc/x/a.png"],
    )
    assert written.returncode == 0, written.stderr
    assert image.is_file()
    assert_user_error(refused, "--plot-attention /proc/x/a.png: cannot write in /proc")
    assert refused.stdout == ""  # refused before translating


def test_options_that_do_not_apply_and_unknown_ones_are_said(
    models: Models, tmp_path: Path
) -> None:
    pytest.importorskip("onnxruntime")
    model = tmp_path / "classifier"
    shutil.copytree(models.classifier, model)
    warning = (
        "rnnkit: warning: --precision {} does not apply to --backend onnx (ONNX Runtime runs "
        "the exported float32 graph); ignored"
    )
    onnx = ["predict", str(model), "a text", "--backend", "onnx", "--precision"]
    exported, half, float32, onnx_lm, onnx_translator, unknown, unknown_lm = run_many(
        ["export", str(model)],
        [*onnx, "bf16"],  # this CPU need not have bf16: it does not apply
        [*onnx, "fp32"],
        ["generate", str(models.lm), "--backend", "onnx", "--precision", "fp16"],
        ["translate", str(models.translator), "ant", "--backend", "onnx", "--precision", "bf16"],
        ["predict", str(models.classifier), "a text", "--bogus"],
        ["lm", "train", "x.txt", "--bogus"],
    )
    assert exported.returncode == 0, exported.stderr
    assert half.returncode == 0, half.stderr
    assert half.stderr.strip() == warning.format("bf16")
    assert float32.returncode == 0, float32.stderr
    assert float32.stderr == ""  # what ONNX Runtime runs anyway
    for result, precision in ((onnx_lm, "fp16"), (onnx_translator, "bf16")):
        assert warning.format(precision) in result.stderr  # then: no exported graph there
        assert "needs a GPU" not in result.stderr
        assert "native bfloat16" not in result.stderr
    assert unknown.returncode == unknown_lm.returncode == 2
    assert unknown.stderr.startswith("usage: rnnkit predict ")
    assert unknown_lm.stderr.startswith("usage: rnnkit lm train ")
    assert "rnnkit lm train: error: unrecognized arguments: --bogus" in unknown_lm.stderr


def test_messages_name_the_flags_of_the_task(tmp_path: Path) -> None:
    source, target = reversal(30, 0)
    pairs = tmp_path / "p.tsv"
    pairs.write_text("".join(f"{s}\t{t}\n" for s, t in zip(source, target, strict=True)))
    vocab, length = run_many(
        ["translate", "train", str(pairs), "--unit", "subword", "--vocab-size", "60", "--out",
         str(tmp_path / "a")],
        ["translate", "train", str(pairs), *TRANSLATOR, "--max-len", "1", "--out",
         str(tmp_path / "b")],
    )  # fmt: skip
    assert_user_error(vocab, "--vocab-size must be at least 259 for subword units")
    assert_user_error(length, "no training pair is within --max-len 1 tokens")
    assert "longer than --max-len 1 tokens" in length.stderr  # the warning before it too
    assert "max_len" not in length.stderr
