"""The trainer on synthetic problems: it learns, stops early with the best weights, schedules the
learning rate, and stops on a non-finite loss."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.train.config import TrainConfig
from rnnkit.train.precision import bf16_supported
from rnnkit.train.run import lr_factor
from rnnkit.train.trainer import Trainer


@dataclass
class Batch:
    inputs: tuple[Tensor, ...]
    target: Tensor
    num_tokens: int


class Blobs:
    """Two Gaussian blobs, as batches."""

    def __init__(self, n: int = 256, batch: int = 32) -> None:
        generator = torch.Generator().manual_seed(0)
        self.y = torch.randint(0, 2, (n,), generator=generator)
        self.x = torch.randn(n, 2, generator=generator) + 3 * self.y[:, None].float()
        self.batch = batch

    def __len__(self) -> int:
        return len(self.y) // self.batch

    def epoch(self, epoch: int) -> Iterator[Batch]:
        for i in range(0, len(self.y), self.batch):
            yield Batch((self.x[i : i + self.batch],), self.y[i : i + self.batch], self.batch)


def accuracy(model: nn.Module, data: Blobs) -> float:
    with torch.no_grad():
        return float((model(data.x).argmax(1) == data.y).float().mean())


def test_trainer_learns_a_separable_problem() -> None:
    torch.manual_seed(0)
    model, data = nn.Linear(2, 2), Blobs()
    history = Trainer(TrainConfig(epochs=20, lr=0.1)).fit(model, data)
    assert accuracy(model, data) > 0.95
    assert len(history.epochs) == 20
    assert history.tokens == 20 * 256
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]


def test_early_stopping_restores_the_best_epoch() -> None:
    torch.manual_seed(0)
    model, data = nn.Linear(2, 2), Blobs()
    scores = iter([0.5, 0.9, 0.7, 0.8, 0.95])
    weights_at: dict[int, Tensor] = {}

    def evaluate(m: nn.Module) -> dict[str, float]:
        weights_at[len(weights_at) + 1] = m.weight.detach().clone()
        return {"accuracy": next(scores), "loss": 0.0}

    history = Trainer(TrainConfig(epochs=5, patience=2)).fit(model, data, evaluate)
    assert history.stopped_early
    assert [record["epoch"] for record in history.epochs] == [1, 2, 3, 4]
    assert history.best_epoch == 2
    assert torch.equal(model.weight, weights_at[2])


def test_ties_in_accuracy_go_to_the_lower_loss() -> None:
    model, data = nn.Linear(2, 2), Blobs()
    results = iter(
        [
            {"accuracy": 0.8, "loss": 0.5},
            {"accuracy": 0.8, "loss": 0.4},
            {"accuracy": 0.8, "loss": 0.6},
        ]
    )
    history = Trainer(TrainConfig(epochs=3, patience=0)).fit(model, data, lambda m: next(results))
    assert history.best_epoch == 2


def test_learning_rate_warms_up_then_decays() -> None:
    config = TrainConfig(warmup=0.1, schedule="linear")
    factors = [lr_factor(step, 100, config) for step in range(100)]
    assert factors[0] == pytest.approx(0.1)
    assert factors[9] == pytest.approx(1.0)
    assert factors[55] == pytest.approx(0.5)
    assert factors[-1] < 0.02
    cosine = TrainConfig(warmup=0.0, schedule="cosine")
    assert lr_factor(50, 100, cosine) == pytest.approx(0.5)


def test_non_finite_loss_stops_with_step_and_learning_rate() -> None:
    model, data = nn.Linear(2, 2), Blobs()
    with torch.no_grad():
        model.weight.fill_(float("nan"))
    with pytest.raises(
        FloatingPointError,
        match=r"the training loss became nan at step 1 \(epoch 1, batch 1; "
        r"learning rate .*\); lower --lr",
    ):
        Trainer(TrainConfig(epochs=1)).fit(model, data)


def test_train_config_errors_name_the_option() -> None:
    with pytest.raises(ConfigError, match="epochs must be at least 1, got 0"):
        TrainConfig(epochs=0)
    with pytest.raises(ConfigError, match="unknown schedule 'step'"):
        TrainConfig(schedule="step")


def test_max_steps_stops_training_and_first_step_is_timed() -> None:
    model, data = nn.Linear(2, 2), Blobs()
    history = Trainer(TrainConfig(epochs=5, max_steps=10)).fit(model, data)
    assert history.steps == 10
    assert len(history.epochs) == 2  # 8 batches an epoch
    assert history.first_step_at is not None


@pytest.mark.skipif(not bf16_supported(), reason="this CPU has no native bfloat16")
def test_bf16_autocast_trains_with_float32_weights() -> None:
    torch.manual_seed(0)
    model, data = nn.Linear(2, 2), Blobs()
    Trainer(TrainConfig(epochs=20, lr=0.1, precision="bf16")).fit(model, data)
    assert model.weight.dtype == torch.float32
    assert accuracy(model, data) > 0.95


def test_bf16_without_cpu_support_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    config = TrainConfig(precision="bf16")  # a configuration may name it; the CPU refuses it
    with pytest.raises(ConfigError, match="precision bf16 needs a CPU with native bfloat16"):
        Trainer(config).fit(nn.Linear(2, 2), Blobs())
    with pytest.raises(ConfigError, match="unknown precision 'fp8'"):
        TrainConfig(precision="fp8")


def test_fp16_is_refused_on_the_cpu() -> None:
    with pytest.raises(ConfigError, match="precision fp16 runs on a GPU only"):
        Trainer(TrainConfig(precision="fp16")).fit(nn.Linear(2, 2), Blobs())
