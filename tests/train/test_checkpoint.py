"""Checkpoints in the trainer: resuming replays the run exactly, a diverging loss leaves the
last good checkpoint intact, and damaged files are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from rnnkit.train.checkpoint import (
    CheckpointError,
    CheckpointPolicy,
    load_checkpoint,
    read_meta,
)
from rnnkit.train.config import TrainConfig
from rnnkit.train.trainer import Trainer
from tests.train.test_trainer import Blobs, accuracy

CONFIG = TrainConfig(epochs=4, lr=0.05, patience=0)


def noisy_model() -> nn.Module:
    """A model whose training draws random numbers (dropout), so the RNG state matters."""
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))


def evaluate(data: Blobs) -> object:
    return lambda model: {"accuracy": accuracy(model, data)}


class StopAfter(Blobs):
    """Blobs whose epoch ``epoch`` raises after ``batch`` batches: a run killed mid-epoch."""

    def __init__(self, epoch: int, batch: int) -> None:
        super().__init__()
        self.stop = (epoch, batch)

    def epoch(self, epoch: int):  # type: ignore[no-untyped-def]
        for i, batch in enumerate(super().epoch(epoch)):
            if (epoch, i) == self.stop:
                raise SystemExit("killed")
            yield batch


def test_a_run_resumed_mid_epoch_ends_with_the_same_weights(tmp_path: Path) -> None:
    data = Blobs()
    full = noisy_model()
    Trainer(CONFIG).fit(full, data, evaluate(data))  # type: ignore[arg-type]

    policy = CheckpointPolicy(tmp_path / "checkpoints", every=3)
    killed = noisy_model()
    with pytest.raises(SystemExit):
        Trainer(CONFIG, checkpoints=policy).fit(killed, StopAfter(2, 7), evaluate(data))  # type: ignore[arg-type]
    position = read_meta(policy.last)["position"]
    assert position == {"epoch": 2, "batch": 5, "steps": 2 * 8 + 5}  # 2 steps before the kill

    resumed = noisy_model()  # fresh weights: the checkpoint must bring everything back
    policy.resume = True
    history = Trainer(CONFIG, checkpoints=policy).fit(resumed, data, evaluate(data))  # type: ignore[arg-type]
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4]
    assert history.steps == 4 * 8
    for name, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0, msg=name)


def test_best_checkpoint_holds_the_best_epoch(tmp_path: Path) -> None:
    data = Blobs()
    policy = CheckpointPolicy(tmp_path / "c")
    history = Trainer(CONFIG, checkpoints=policy).fit(noisy_model(), data, evaluate(data))  # type: ignore[arg-type]
    best = read_meta(policy.best)
    assert best["position"]["epoch"] == history.best_epoch
    assert read_meta(policy.last)["position"]["epoch"] == 4
    assert sorted(p.name for p in policy.folder.iterdir()) == ["best", "last"]  # no leftovers


class Scripted:
    """Validation scores given in advance, one an epoch."""

    def __init__(self, *scores: float) -> None:
        self.scores = list(scores)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        return {"accuracy": self.scores.pop(0)}


@pytest.mark.parametrize(
    ("killed_at", "scores"), [(1, (0.6, 0.5, 0.5, 0.5)), (2, (0.5, 0.6, 0.55, 0.55))]
)
def test_a_run_killed_while_copying_its_best_checkpoint_resumes_with_the_best_weights(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, killed_at: int, scores: tuple[float, ...]
) -> None:
    """The process dies while it copies the new best epoch into ``best/`` (its first copy,
    leaving a staging file there, or a later one, leaving the previous best): ``best/`` does
    not count as someone else's files, and the resumed run ends with the best epoch's weights
    as the uninterrupted run does, not with the last or the previous best ones."""
    import rnnkit.train.resuming
    from rnnkit.bundle import foreign_entries

    data = Blobs()
    full = noisy_model()
    Trainer(CONFIG).fit(full, data, Scripted(*scores))  # type: ignore[arg-type]

    copy, copies = rnnkit.train.resuming.copy_checkpoint, []

    def dies_copying(source: Path, target: Path) -> Path:
        copies.append(target)
        if len(copies) == killed_at:
            target.mkdir(exist_ok=True)
            (target / ".state-1.safetensors.tmp-7-7").write_bytes(b"half")
            raise SystemExit("killed")
        return copy(source, target)

    policy = CheckpointPolicy(tmp_path / "out" / "checkpoints")
    monkeypatch.setattr(rnnkit.train.resuming, "copy_checkpoint", dies_copying)
    with pytest.raises(SystemExit):
        Trainer(CONFIG, checkpoints=policy).fit(noisy_model(), data, Scripted(*scores))  # type: ignore[arg-type]
    monkeypatch.setattr(rnnkit.train.resuming, "copy_checkpoint", copy)
    assert foreign_entries(tmp_path / "out") == []

    resumed = noisy_model()
    policy.resume = True
    rest = Scripted(*scores[killed_at:])
    history = Trainer(CONFIG, checkpoints=policy).fit(resumed, data, rest)  # type: ignore[arg-type]
    assert history.best_epoch == killed_at
    for name, value in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], value, rtol=0, atol=0, msg=name)
    assert read_meta(policy.best)["position"]["steps"] == killed_at * 8  # repaired
    assert ".state-1.safetensors.tmp-7-7" not in {p.name for p in policy.best.iterdir()}


class Poisoned(Blobs):
    """Blobs with a NaN input in batch ``at`` of the first epoch."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.x[at * self.batch] = float("nan")


def test_a_diverging_loss_names_step_rate_and_the_intact_checkpoint(tmp_path: Path) -> None:
    policy = CheckpointPolicy(tmp_path / "c", every=2)
    with pytest.raises(FloatingPointError) as caught:
        Trainer(CONFIG, checkpoints=policy).fit(noisy_model(), Poisoned(at=5))
    message = str(caught.value)
    assert "the training loss became nan at step 6 (epoch 1, batch 6; learning rate" in message
    assert (
        f"The last good checkpoint, {policy.last} (epoch 1, 4 batches into it, step 4)" in message
    )
    state = load_checkpoint(policy.last)
    assert all(torch.isfinite(v).all() for v in state.model.values())


def test_a_diverging_loss_does_not_offer_a_previous_runs_checkpoint(tmp_path: Path) -> None:
    policy = CheckpointPolicy(tmp_path / "c")
    Trainer(TrainConfig(epochs=1), checkpoints=policy).fit(noisy_model(), Blobs())
    assert read_meta(policy.last)["position"]["epoch"] == 1  # the earlier run's, in the folder
    with pytest.raises(FloatingPointError) as caught:  # a new run there, before its first one
        Trainer(CONFIG, checkpoints=policy).fit(noisy_model(), Poisoned(at=5))
    message = str(caught.value)
    assert message.endswith("lower --lr"), message
    assert "checkpoint" not in message


def test_damaged_checkpoints_are_named(tmp_path: Path) -> None:
    policy = CheckpointPolicy(tmp_path / "c")
    Trainer(TrainConfig(epochs=1), checkpoints=policy).fit(noisy_model(), Blobs())
    state = policy.last / read_meta(policy.last)["state_file"]
    data = state.read_bytes()
    state.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"\.safetensors: corrupted \(its SHA-256"):
        load_checkpoint(policy.last)
    state.write_bytes(data[:-1] + bytes([data[-1] ^ 1]))  # one bit flipped
    with pytest.raises(CheckpointError, match="corrupted"):
        load_checkpoint(policy.last)
    state.write_bytes(data)
    meta = policy.last / "checkpoint.json"
    meta.write_text(meta.read_text()[:50])
    with pytest.raises(CheckpointError, match=r"checkpoint.json: corrupted"):
        load_checkpoint(policy.last)
    meta.unlink()
    with pytest.raises(CheckpointError, match="no checkpoint here"):
        load_checkpoint(policy.last)


def test_each_checkpoint_replaces_the_last_with_one_rename(tmp_path: Path) -> None:
    policy = CheckpointPolicy(tmp_path / "c", every=1)
    Trainer(TrainConfig(epochs=1), checkpoints=policy).fit(noisy_model(), Blobs())
    files = sorted(p.name for p in policy.last.iterdir())
    assert files == ["checkpoint.json", read_meta(policy.last)["state_file"]]  # no leftovers
    assert load_checkpoint(policy.last).position["steps"] == 8


def test_resume_names_checkpoints_an_interrupted_bundle_save_left_aside(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from rnnkit.cli import main

    policy = CheckpointPolicy(tmp_path / ".model.tmp-abc" / "checkpoints")
    Trainer(TrainConfig(epochs=1), checkpoints=policy).fit(noisy_model(), Blobs())
    (tmp_path / "model").mkdir()
    assert main(["train", "--resume", str(tmp_path / "model")]) == 2
    message = capsys.readouterr().err
    assert f"an interrupted save left {policy.last}: move it back" in message


def _refuse(*args: object, **kwargs: object) -> None:
    raise AssertionError("the units were learnt again instead of taken from the checkpoint")


def test_a_resumed_translator_keeps_the_units_of_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit import Translator
    from rnnkit.train.checkpoint import CheckpointPolicy
    from tests.test_translator import TOY, reversal

    source, target = reversal(60, 10)
    options = {**TOY, "epochs": 2, "unit": "unigram", "vocab_size": 30}
    first = Translator(**options).fit(source, target, checkpoints=CheckpointPolicy(tmp_path))
    monkeypatch.setattr(Translator, "_units", _refuse)
    again = Translator(**options).fit(
        source, target, checkpoints=CheckpointPolicy(tmp_path, resume=True)
    )
    assert again.units_.source.tokens == first.units_.source.tokens


def test_a_resumed_language_model_keeps_the_units_of_its_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rnnkit.tasks.language_model.estimator
    from rnnkit import LanguageModel
    from rnnkit.train.checkpoint import CheckpointPolicy

    documents = ["the cat sat on the mat and the dog ran", "a dog and a cat"] * 20
    options = {"unit": "unigram", "max_vocab": 30, "hidden": 8, "embed_dim": 8, "epochs": 1}
    first = LanguageModel(**options).fit(documents, checkpoints=CheckpointPolicy(tmp_path))
    monkeypatch.setattr(rnnkit.tasks.language_model.estimator, "build_units", _refuse)
    again = LanguageModel(**options).fit(
        documents, checkpoints=CheckpointPolicy(tmp_path, resume=True)
    )
    assert again.units_.tokens == first.units_.tokens
