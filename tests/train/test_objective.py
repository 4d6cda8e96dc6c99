"""The trainer serves any task: per-step targets with an ignore index, a loss given as
``(outputs, batch) -> (sum, count)``, and a monitored metric where lower is better."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.train.config import TrainConfig
from rnnkit.train.step import IGNORE_INDEX, Objective, cross_entropy
from rnnkit.train.trainer import Trainer
from tests.train.test_trainer import Batch


class Echo:
    """Per-step targets: at each step, the class of the input token (a tagging task), the
    last steps of half the sequences padded with IGNORE_INDEX."""

    def __init__(self, n: int = 128, steps: int = 6, batch: int = 32) -> None:
        generator = torch.Generator().manual_seed(0)
        self.tokens = torch.randint(0, 4, (steps, n), generator=generator)  # (T, N)
        self.target = self.tokens % 2
        self.target[-2:, ::2] = IGNORE_INDEX
        self.batch = batch

    def __len__(self) -> int:
        return self.tokens.shape[1] // self.batch

    def epoch(self, epoch: int) -> Iterator[Batch]:
        for i in range(0, self.tokens.shape[1], self.batch):
            part = slice(i, i + self.batch)
            yield Batch((self.tokens[:, part],), self.target[:, part], self.batch)


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(4, 2)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.embedding(tokens)  # (T, B, 2) logits per step


def test_cross_entropy_counts_only_real_targets_and_matches_torch() -> None:
    data = Echo()
    batch = next(iter(data.epoch(0)))
    logits = torch.randn(*batch.target.shape, 2)
    total, count = cross_entropy()(logits, batch)
    real = batch.target != IGNORE_INDEX
    assert count == int(real.sum()) < batch.target.numel()
    expected = F.cross_entropy(logits[real], batch.target[real], reduction="sum")
    torch.testing.assert_close(total, expected)


def test_the_trainer_learns_per_step_targets_monitoring_a_loss_lower_is_better() -> None:
    torch.manual_seed(0)
    model, data = Tagger(), Echo()
    scores = iter([3.0, 2.0, 2.5, 4.0, 5.0, 6.0])  # validation "loss": best at epoch 2

    def evaluate(model: nn.Module) -> dict[str, float]:
        return {"perplexity": next(scores)}

    objective = Objective(cross_entropy(), monitor="perplexity", higher_is_better=False)
    history = Trainer(TrainConfig(epochs=6, lr=0.1, patience=0)).fit(
        model, data, evaluate, objective
    )
    assert history.best_epoch == 2
    assert history.best_score == 2.0
    assert history.epochs[-1]["train_loss"] < history.epochs[0]["train_loss"]


def test_a_custom_loss_is_used_as_given() -> None:
    torch.manual_seed(0)
    seen: list[int] = []

    def squared(outputs: Tensor, batch: Batch) -> tuple[Tensor, int]:
        seen.append(batch.target.shape[0])
        return ((outputs[:, 0] - batch.target.float()) ** 2).sum(), batch.target.shape[0]

    from tests.train.test_trainer import Blobs

    model = nn.Linear(2, 1)
    Trainer(TrainConfig(epochs=2, lr=0.05)).fit(model, Blobs(), objective=Objective(squared))
    assert seen == [32] * 16
