"""``rnnkit train`` killed with SIGKILL, or stopped with Ctrl-C (SIGINT), mid-epoch in a real
subprocess, then ``rnnkit train --resume``: the same final weights as a run left alone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.conftest import write_csv
from tests.test_cli import rnnkit

OPTIONS = [
    *("--embed-dim", "32", "--hidden", "48", "--epochs", "3", "--batch-size", "8"),
    *("--lr", "0.01", "--threads", "1", "--checkpoint-every", "10", "--seed", "3"),
]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("resume") / "train.csv", 3000)


@pytest.fixture(scope="module")
def uninterrupted(data: Path) -> Path:
    out = data.parent / "full"
    result = rnnkit("train", str(data), "--out", str(out), *OPTIONS, "--quiet")
    assert result.returncode == 0, result.stderr
    return out


def start(data: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    """``rnnkit train`` in the background, its output to the file ``log`` (a pipe nobody reads
    would fill up and stall it)."""
    with open(log, "wb") as stream:
        return subprocess.Popen(
            [sys.executable, "-m", "rnnkit", "train", str(data), "--out", str(out), *OPTIONS],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )


def wait_for_checkpoint(process: subprocess.Popen[bytes], out: Path, epoch: int) -> dict[str, int]:
    """Poll until the last checkpoint lies inside ``epoch`` (0-based), past its start."""
    meta = out / "checkpoints" / "last" / "checkpoint.json"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        assert process.poll() is None, "the run ended before it could be interrupted"
        if meta.exists():
            position: dict[str, int] = json.loads(meta.read_text())["position"]
            if position["epoch"] == epoch and position["batch"] >= 40:
                return position
        time.sleep(0.005)
    raise AssertionError("no checkpoint inside the epoch")


def weights(folder: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


def assert_same_model(folder: Path, reference: Path) -> None:
    ours, theirs = weights(folder), weights(reference)
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, msg=name)
    metrics = json.loads((folder / "metrics.json").read_text())
    expected = json.loads((reference / "metrics.json").read_text())
    for key in ("valid", "epochs_run", "best_epoch"):
        assert metrics[key] == expected[key], key


def test_sigkill_mid_epoch_then_resume_matches_an_uninterrupted_run(
    data: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    process = start(data, out, tmp_path / "log")
    at = wait_for_checkpoint(process, out, epoch=1)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (out / "model.safetensors").exists()  # killed before the bundle
    result = rnnkit("train", "--resume", str(out))
    assert result.returncode == 0, result.stderr
    assert "resuming from" in result.stderr
    assert f"resuming from {out / 'checkpoints' / 'last'}: epoch 2, " in result.stderr
    assert at["batch"] > 0
    assert_same_model(out, uninterrupted)


def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(
    data: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stopped"
    process = start(data, out, tmp_path / "log")
    wait_for_checkpoint(process, out, epoch=0)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    stderr = (tmp_path / "log").read_text()
    assert "stopped by Ctrl-C at epoch 1, after batch" in stderr
    assert f"resume with: rnnkit train --resume {out}" in stderr
    assert "Traceback" not in stderr
    position = json.loads((out / "checkpoints/last/checkpoint.json").read_text())["position"]
    assert position["epoch"] == 0
    assert position["batch"] > 0
    result = rnnkit("train", "--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert_same_model(out, uninterrupted)


def test_resume_refuses_damaged_checkpoints_and_changed_options(
    data: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    import shutil

    from tests.test_cli import assert_user_error

    out = tmp_path / "copy"
    shutil.copytree(uninterrupted, out)
    assert_user_error(
        rnnkit("train", "--resume", str(out), "--hidden", "8"),
        "leave out --hidden (only --lr, --threads",
    )
    last = out / "checkpoints" / "last"
    state = last / json.loads((last / "checkpoint.json").read_text())["state_file"]
    state.write_bytes(state.read_bytes()[:1000])
    assert_user_error(rnnkit("train", "--resume", str(out)), f"{state}: corrupted (its SHA-256")
    assert_user_error(rnnkit("train", str(data)), "DATA and --out are required")
