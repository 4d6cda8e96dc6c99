"""--device on every command that runs a model, and --precision fp16, as a machine without a GPU
answers them: one line that names the option and the way out, status 2, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from tests.conftest import write_csv
from tests.robust.cli_batch import run_many
from tests.test_cli import TINY_OPTIONS, assert_user_error

pytestmark = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


def test_every_command_refuses_a_gpu_it_does_not_have(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 60)
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat.\n" * 50)
    pairs = tmp_path / "p.tsv"
    pairs.write_text("source\ttarget\n" + "ein haus\ta house\n" * 40)
    model, lm = tmp_path / "m", tmp_path / "lm"
    commands = [
        ["train", str(data), "--out", str(model), *TINY_OPTIONS, "--device", "cpu", "--quiet"],
        ["lm", "train", str(text), "--out", str(lm), "--unit", "char", "--hidden", "16",
         "--embed-dim", "8", "--epochs", "1", "--device", "cpu", "--quiet"],
        ["train", str(data), "--out", str(tmp_path / "x"), "--device", "cuda"],
        ["lr-find", str(data), "--device", "cuda:1"],
        ["lm", "train", str(text), "--out", str(tmp_path / "y"), "--device", "cuda"],
        ["translate", "train", str(pairs), "--out", str(tmp_path / "z"), "--device", "cuda"],
        ["predict", str(model), "a text", "--device", "cuda"],
        ["evaluate", str(model), str(data), "--device", "cuda"],
        ["generate", str(lm), "--device", "cuda"],
        ["lm", "evaluate", str(lm), str(text), "--device", "cuda"],
        ["serve", str(model), "--device", "cuda"],
        ["lab", "adding", "--device", "cuda"],
        ["demo", "--quick", "--no-plots", "--device", "cuda"],
        ["train", str(data), "--out", str(tmp_path / "w"), "--precision", "fp16"],
        ["predict", str(model), "a text", "--precision", "fp16"],
        ["train", str(data), "--out", str(tmp_path / "v"), "--device", "tpu"],
        ["predict", str(model), "a text", "--device", "cpu"],
    ]  # fmt: skip
    results = run_many(*commands)
    for trained in results[:2]:
        assert trained.returncode == 0, trained.stderr
    for argv, result in zip(commands[2:13], results[2:13], strict=True):
        device = argv[argv.index("--device") + 1]
        assert_user_error(result, f"--device {device}: ")
        assert result.stderr.strip().endswith("use --device cpu or auto"), argv
    for result in results[13:15]:
        assert_user_error(result, "--precision fp16 runs on a GPU only")
    assert_user_error(results[15], "unknown --device 'tpu': choose auto, cpu, cuda or cuda:N")
    assert results[16].returncode == 0, results[16].stderr
    assert '"label"' in results[16].stdout
    for name in "xyzwv":
        assert not (tmp_path / name).exists()
