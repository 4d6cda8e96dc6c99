"""ULMFiT's fine-tuning schedule in the trainer: discriminative learning rates per layer group,
gradual unfreezing from the top, and the slanted triangular schedule."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.train import trainer as trainer_module
from rnnkit.train.config import SLANTED_RATIO, TrainConfig
from rnnkit.train.run import lr_factor
from rnnkit.train.trainer import Trainer


@dataclass
class Batch:
    inputs: tuple[Tensor, ...]
    target: Tensor
    num_tokens: int


class Data:
    def __init__(self) -> None:
        generator = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 4, generator=generator)
        self.y = (self.x.sum(1) > 0).long()

    def __len__(self) -> int:
        return 4

    def epoch(self, epoch: int) -> Iterator[Batch]:
        for i in range(0, 64, 16):
            yield Batch((self.x[i : i + 16],), self.y[i : i + 16], 16)


class Layered(nn.Module):
    """Three layers and a head, with the layer groups a classifier has."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([nn.Linear(4, 4) for _ in range(3)])
        self.head = nn.Linear(4, 2)

    def forward(self, x: Tensor) -> Tensor:
        for layer in self.layers:
            x = torch.tanh(layer(x))
        return self.head(x)  # type: ignore[no-any-return]

    def layer_groups(self) -> list[list[Tensor]]:
        return [list(layer.parameters()) for layer in self.layers] + [list(self.head.parameters())]


def trained_states(config: TrainConfig, monkeypatch: pytest.MonkeyPatch) -> tuple[Any, list[Any]]:
    """The optimizer's parameter groups, and per epoch which groups trained and whether each
    parameter moved."""
    made: list[torch.optim.Optimizer] = []
    real = trainer_module.adamw

    def recording(*args: Any, **kw: Any) -> torch.optim.Optimizer:
        made.append(real(*args, **kw))
        return made[-1]

    monkeypatch.setattr(trainer_module, "adamw", recording)
    torch.manual_seed(0)
    model = Layered()
    before = [[p.detach().clone() for p in g] for g in model.layer_groups()]
    epochs: list[Any] = []

    def evaluate(m: nn.Module) -> dict[str, float]:
        nonlocal before
        groups = m.layer_groups()  # type: ignore[operator]
        moved = [
            any(not torch.equal(p, q) for p, q in zip(g, old, strict=True))
            for g, old in zip(groups, before, strict=True)
        ]
        epochs.append(([all(p.requires_grad for p in g) for g in groups], moved))
        before = [[p.detach().clone() for p in g] for g in groups]
        return {"accuracy": 0.5, "loss": 1.0}

    Trainer(config).fit(model, Data(), evaluate)
    return made[0].param_groups, epochs


def test_discriminative_rates_divide_by_lr_decay_per_layer_below_the_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    groups, _ = trained_states(
        TrainConfig(epochs=1, lr=0.01, lr_decay=2.6, patience=0), monkeypatch
    )
    assert [g["initial_lr"] for g in groups] == pytest.approx(
        [0.01 / 2.6**3, 0.01 / 2.6**2, 0.01 / 2.6, 0.01]
    )


def test_gradual_unfreezing_trains_one_more_group_each_epoch_from_the_top(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _, epochs = trained_states(
        TrainConfig(epochs=5, lr=0.01, unfreeze="gradual", patience=0), monkeypatch
    )
    trainable = [states for states, _ in epochs]
    assert trainable == [
        [False, False, False, True],
        [False, False, True, True],
        [False, True, True, True],
        [True, True, True, True],
        [True, True, True, True],
    ]
    for states, moved in epochs:  # frozen groups do not move, weight decay included
        assert moved == states


def test_one_group_without_the_options(monkeypatch: pytest.MonkeyPatch) -> None:
    groups, epochs = trained_states(TrainConfig(epochs=2, lr=0.01, patience=0), monkeypatch)
    assert len(groups) == 1
    assert all(states == [True] * 4 for states, _ in epochs)


def test_a_model_without_layer_groups_is_refused() -> None:
    with pytest.raises(ConfigError, match="no layer groups") as error:
        Trainer(TrainConfig(epochs=1, lr_decay=2.0)).fit(nn.Linear(4, 2), Data())
    assert error.value.field == "lr_decay"


def test_the_slanted_triangle_rises_and_falls_between_a_32nd_of_the_peak_and_the_peak() -> None:
    """ULMFiT's eq. 3: cut = cut_frac * T; p = t / cut before it, 1 - (t - cut) / (T - cut)
    after; lr = peak * (1 + p (ratio - 1)) / ratio."""
    config, total = TrainConfig(schedule="slanted", warmup=0.1), 1000
    cut = 100

    def expected(t: int) -> float:
        p = (t + 1) / cut if t < cut else 1 - (t - cut) / (total - cut)
        return (1 + p * (SLANTED_RATIO - 1)) / SLANTED_RATIO

    for t in (0, 50, 99, 100, 400, 999, 1000):
        assert lr_factor(t, total, config) == pytest.approx(expected(t))
    assert lr_factor(99, total, config) == pytest.approx(1.0)
    assert lr_factor(1000, total, config) == pytest.approx(1 / SLANTED_RATIO)


def test_fine_tuning_options_are_checked() -> None:
    with pytest.raises(ConfigError) as error:
        TrainConfig(lr_decay=0.5)
    assert error.value.field == "lr_decay"
    with pytest.raises(ConfigError, match="unknown unfreeze"):
        TrainConfig(unfreeze="sometimes")
