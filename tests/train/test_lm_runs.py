"""``rnnkit lm train`` as a real subprocess: killed with SIGKILL or stopped with Ctrl-C mid-epoch
then resumed, data-parallel in two gloo processes, diverging, and refused bf16 on a CPU without
it; as ``test_resume_cli`` and ``test_distributed`` do for the classifier."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from tests.test_cli import assert_user_error, rnnkit

SMALL = [
    *("--hidden", "32", "--embed-dim", "16", "--batch-size", "4", "--window", "16"),
    *("--threads", "1", "--valid-split", "0.1", "--seed", "3"),
]
# Everything a resumed run must bring back: dropout masks (the torch random state), random
# window lengths (the epoch's draw), and the state carried across the window at which it stops.
RESUMED = [
    *SMALL,
    *("--epochs", "3", "--checkpoint-every", "20", "--lr", "0.01"),
    *("--variable-window", "--dropout", "0.1", "--embed-dropout", "0.1", "--weight-dropout", "0.1"),
]

SUBJECTS = ["the cat", "a sailor", "my aunt", "the old clock", "every river", "the baker", "Anna"]
VERBS = ["watched", "carried", "forgot", "painted", "followed", "mended", "counted", "sang to"]
OBJECTS = ["the lantern", "7 boats", "a letter", "the hill", "some bread", "an owl", "the bridge"]
TAILS = ["before dawn", "in the rain", "without a word", "twice", "near the harbour", "at 12"]


def write_corpus(path: Path, lines: int = 300, seed: int = 0) -> Path:
    """``lines`` short sentences, one document each."""
    rng = random.Random(seed)
    text = []
    for _ in range(lines):
        words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
        if rng.random() < 0.6:
            words.append(rng.choice(TAILS))
        sentence = " ".join(words)
        text.append(sentence[0].upper() + sentence[1:] + rng.choice(".!?;"))
    path.write_text("\n".join(text) + "\n")
    return path


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("lm-runs") / "corpus.txt")


@pytest.fixture(scope="module")
def uninterrupted(corpus: Path) -> Path:
    out = corpus.parent / "full"
    result = rnnkit("lm", "train", str(corpus), "--out", str(out), *RESUMED, "--quiet")
    assert result.returncode == 0, result.stderr
    return out


def start(corpus: Path, out: Path, log: Path) -> subprocess.Popen[bytes]:
    """``rnnkit lm train`` in the background, its output to the file ``log``."""
    command = [sys.executable, "-m", "rnnkit", "lm", "train", str(corpus), "--out", str(out)]
    with open(log, "wb") as stream:
        return subprocess.Popen(
            [*command, *RESUMED],
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
            if position["epoch"] == epoch and position["batch"] >= 20:
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
    corpus: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    process = start(corpus, out, tmp_path / "log")
    at = wait_for_checkpoint(process, out, epoch=1)
    process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL
    assert not (out / "model.safetensors").exists()  # killed before the bundle
    result = rnnkit("lm", "train", "--resume", str(out))
    assert result.returncode == 0, result.stderr
    assert f"resuming from {out / 'checkpoints' / 'last'}: epoch 2, " in result.stderr
    assert at["batch"] > 0
    assert_same_model(out, uninterrupted)


@pytest.mark.slow  # covered in CI by the classifier's test of the same machinery
def test_ctrl_c_writes_a_checkpoint_and_says_how_to_resume(
    corpus: Path, uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "stopped"
    process = start(corpus, out, tmp_path / "log")
    wait_for_checkpoint(process, out, epoch=0)
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 130
    stderr = (tmp_path / "log").read_text()
    assert "stopped by Ctrl-C at epoch 1, after batch" in stderr
    assert f"resume with: rnnkit lm train --resume {out}" in stderr
    assert "Traceback" not in stderr
    position = json.loads((out / "checkpoints/last/checkpoint.json").read_text())["position"]
    assert position["epoch"] == 0
    assert position["batch"] > 0
    result = rnnkit("lm", "train", "--resume", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert_same_model(out, uninterrupted)


def test_a_diverging_loss_names_the_step_and_leaves_the_bundle_in_out(
    uninterrupted: Path, tmp_path: Path
) -> None:
    out = tmp_path / "model"
    shutil.copytree(uninterrupted, out)
    bundle = ("model.safetensors", "metrics.json", "config.json")
    before = {name: (out / name).read_bytes() for name in bundle}
    corpus = json.loads(before["metrics.json"])["data"]
    diverging = ["--lr", "1e30", "--warmup", "0", "--checkpoint-every", "1"]
    result = rnnkit("lm", "train", corpus, "--out", str(out), *SMALL, *diverging)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert lines[-1].startswith("rnnkit: error: the training loss became nan at step 2 (epoch 1"), (
        lines[-1]
    )
    assert "lower --lr" in lines[-1]
    last = out / "checkpoints" / "last"
    assert f"The last good checkpoint, {last} (epoch 1, 1 batches into it, step 1)" in lines[-1]
    assert {name: (out / name).read_bytes() for name in before} == before
    assert "wrote" not in result.stdout


PARALLEL = [
    *SMALL,
    *("--epochs", "1", "--lr", "0.02"),
    # No random masks: the two runs draw different random numbers.
    *("--dropout", "0", "--embed-dropout", "0", "--weight-dropout", "0"),
]


@pytest.mark.skipif(
    not torch.distributed.is_available(), reason="this torch has no torch.distributed"
)
@pytest.mark.slow  # covered in CI by the classifier's test of the same machinery
def test_two_gloo_processes_train_like_one_with_the_same_rows(corpus: Path, tmp_path: Path) -> None:
    one, two, five = (str(tmp_path / name) for name in ("one", "two", "five"))
    single = rnnkit("lm", "train", str(corpus), "--out", one, *PARALLEL, "--max-steps", "6")
    assert single.returncode == 0, single.stderr
    result = rnnkit(
        "lm", "train", str(corpus), "--out", two, *PARALLEL, "--max-steps", "6", "--nproc", "2"
    )
    assert result.returncode == 0, result.stderr
    assert "process 0 of 2 (gloo backend)" in result.stderr
    assert result.stderr.count("training on 270 documents") == 1  # only rank 0 speaks
    assert result.stdout.count("wrote") == 1
    ours, theirs = weights(Path(two)), weights(Path(one))
    assert ours.keys() == theirs.keys()
    for name, value in theirs.items():
        torch.testing.assert_close(ours[name], value, rtol=1e-4, atol=1e-5, msg=name)
    # The tolerance is far below what one step changes: the comparison can fail.
    shorter = rnnkit("lm", "train", str(corpus), "--out", five, *PARALLEL, "--max-steps", "5")
    assert shorter.returncode == 0, shorter.stderr
    fewer = weights(Path(five))
    assert max(float((fewer[k] - theirs[k]).abs().max()) for k in theirs) > 1e-3


def test_a_batch_the_processes_cannot_share_is_refused_before_they_start(
    corpus: Path, tmp_path: Path
) -> None:
    out = tmp_path / "odd"
    options = [*SMALL, "--batch-size", "3", "--nproc", "2"]
    result = rnnkit("lm", "train", str(corpus), "--out", str(out), *options)
    assert_user_error(result, "--batch-size 3 must be a multiple of the 2 processes")
    assert "process 0 of 2" not in result.stderr  # refused before torchrun starts them
    assert not out.exists()


def test_bf16_on_a_cpu_without_it_is_refused(corpus: Path, tmp_path: Path) -> None:
    from rnnkit.train.precision import bf16_supported

    if bf16_supported():
        pytest.skip("this CPU has native bfloat16")
    out = tmp_path / "bf16"
    result = rnnkit("lm", "train", str(corpus), "--out", str(out), *SMALL, "--precision", "bf16")
    assert_user_error(result, "--precision bf16 needs a CPU with native bfloat16")
    assert not out.exists()
