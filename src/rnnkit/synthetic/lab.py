"""Train a recurrent model on a synthetic sequence task and measure what it learned.

``SequenceModel`` is the smallest model for these tasks: one unidirectional ``rnnkit.nn`` layer
and a linear read-out of its last state (or of every state, for per-step tasks).
``train_task`` trains it with Adam and gradient clipping on fresh batches and scores it on a
held-out set; ``hidden_gradient_norms`` measures ``||dL/dh_t||`` at every step, the quantity
whose decay across time is the vanishing-gradient problem.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.nn import registry
from rnnkit.nn.layers import layer
from rnnkit.synthetic.sequences import SOLVED_MSE, SequenceTask
from rnnkit.train.device import model_device, resolve_device
from rnnkit.train.step import BatchLike, Step

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TensorBatch:
    """A batch of a generated task for :class:`rnnkit.train.step.Step`."""

    inputs: tuple[Tensor, ...]
    target: Tensor

    @property
    def num_tokens(self) -> int:
        return int(self.inputs[0].shape[0] * self.inputs[0].shape[1])


CELLS = registry.CellNames()  # the registered cells: lstm, gru, rnn, ...
SOLVED_ACCURACY = 0.99  # parity and copy memory (recall steps)
COPY_RECALL = 10


class SequenceModel(nn.Module):
    """``forward(x (T, B, F)) -> (B, C)`` from the last state, or (T, B, C) with ``per_step``."""

    def __init__(
        self, cell: str, input_size: int, hidden_size: int, outputs: int, *, per_step: bool
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ConfigError(
                f"unknown cell {cell!r}: choose one of {', '.join(CELLS)}", field="cell"
            )
        self.cell = cell
        self.per_step = per_step
        self.recurrent = layer(cell)(input_size, hidden_size)
        self.readout = nn.Linear(hidden_size, outputs)

    def forward(self, x: Tensor) -> Tensor:
        states, _ = self.recurrent(x)  # (T, B, H)
        return self.readout(states if self.per_step else states[-1])  # type: ignore[no-any-return]


@dataclass
class LabRun:
    """One model trained on one task: the test score and whether it solved the task, the
    training curve (step, training loss) and the time taken."""

    task: str
    model: str
    metric: str  # mse (lower is better) or accuracy
    score: float
    solved: bool
    seconds: float
    curve: list[tuple[int, float]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The run as a row of the demo's table (and its JSON)."""
        return {
            "task": self.task,
            "model": self.model,
            "metric": self.metric,
            "score": round(self.score, 4),
            "solved": self.solved,
            "seconds": round(self.seconds, 1),
        }


def _loss(task: SequenceTask, output: Tensor, target: Tensor) -> Tensor:
    if task.kind == "regression":
        return F.mse_loss(output.squeeze(-1), target)
    if task.kind == "per_step":  # output (T, B, C), target (B, T)
        return F.cross_entropy(output.permute(1, 2, 0), target)
    return F.cross_entropy(output, target)


def _score(task: SequenceTask, output: Tensor, target: Tensor) -> tuple[str, float, bool]:
    if task.kind == "regression":
        mse = float(F.mse_loss(output.squeeze(-1), target))
        return "mse", mse, mse < SOLVED_MSE
    if task.kind == "per_step":  # accuracy on the recall steps only
        predicted = output.argmax(-1).T[:, -COPY_RECALL:]
        accuracy = float((predicted == target[:, -COPY_RECALL:]).float().mean())
    else:
        accuracy = float((output.argmax(-1) == target).float().mean())
    return "accuracy", accuracy, accuracy >= SOLVED_ACCURACY


def _tensors(task: SequenceTask, device: torch.device | None = None) -> tuple[Tensor, Tensor]:
    """Inputs time-major (T, N, F) and targets, on ``device``."""
    inputs = torch.from_numpy(task.inputs).transpose(0, 1)
    return inputs.to(device), torch.from_numpy(task.targets).to(device)


def train_task(
    train: SequenceTask,
    test: SequenceTask,
    *,
    cell: str,
    hidden_size: int = 64,
    steps: int = 1000,
    batch_size: int = 64,
    lr: float = 1e-2,
    clip_norm: float = 1.0,
    seed: int = 0,
    eval_every: int = 50,
    device: str = "auto",
) -> tuple[LabRun, SequenceModel]:
    """Train a fresh ``SequenceModel`` on batches drawn from ``train``; score on ``test``; on
    ``device`` (auto: a GPU when torch sees one).

    Stops early once the test score counts as solved at an evaluation."""
    torch.manual_seed(seed)
    outputs = 1 if train.kind == "regression" else train.num_classes
    on = resolve_device(device)
    model = SequenceModel(
        cell, train.input_size, hidden_size, outputs, per_step=train.kind == "per_step"
    ).to(on)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)

    def loss_sum(output: Tensor, batch: BatchLike) -> tuple[Tensor, int]:
        count = batch.target.shape[0]  # sequences: each task's loss is a mean over them
        return _loss(train, output, batch.target) * count, count

    update = Step(model, loss_sum, optimizer, model.parameters(), clip_norm=clip_norm)
    x_train, y_train = _tensors(train, on)
    x_test, y_test = _tensors(test, on)
    generator = torch.Generator().manual_seed(seed)
    run = LabRun(test.name, cell, "", float("nan"), False, 0.0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        model.train()
        rows = torch.randint(0, x_train.shape[1], (batch_size,), generator=generator).to(on)
        total, count = update.loss(TensorBatch((x_train[:, rows],), y_train[rows]))
        update.update(total, 1.0 / count)
        loss = total.detach() / count
        if step % eval_every == 0 or step == steps:
            _evaluate(run, step, loss.item(), model, test, x_test, y_test)
            if run.solved:
                break
    run.seconds = time.perf_counter() - start
    model.eval()
    return run, model


def _evaluate(
    run: LabRun,
    step: int,
    loss: float,
    model: SequenceModel,
    test: SequenceTask,
    inputs: Tensor,
    targets: Tensor,
) -> None:
    """Record the training loss at ``step`` on the curve and the test score in ``run``."""
    run.curve.append((step, loss))
    model.eval()
    with torch.no_grad():
        run.metric, run.score, run.solved = _score(test, model(inputs), targets)
    log.info(
        "%s %s step %d: loss %.4f, test %s %.4f",
        test.name,
        run.model,
        step,
        loss,
        run.metric,
        run.score,
    )


def hidden_gradient_norms(model: SequenceModel, task: SequenceTask) -> np.ndarray:
    """``||dL/dh_t||`` for every step ``t`` (mean over the sequences of ``task``): the layer is
    unrolled step by step with its own weights (the readable path) and each ``h_t`` keeps its
    gradient. Returns shape (T,)."""
    layer = model.recurrent
    weights = layer.layer_weights(0, 0)
    step = layer.cell.step
    x, target = _tensors(task, model_device(model))
    batch = x.shape[1]
    state = tuple(x.new_zeros(batch, layer.hidden_size) for _ in range(layer.cell.num_states))
    hidden: list[Tensor] = []
    for t in range(x.shape[0]):
        state = step(x[t], state, weights)
        state[0].retain_grad()
        hidden.append(state[0])
    output = model.readout(torch.stack(hidden) if model.per_step else hidden[-1])
    loss = _loss(task, output, target)
    loss.backward()  # type: ignore[no-untyped-call]
    norms = [h_t.grad.norm(dim=-1).mean().item() for h_t in hidden]  # type: ignore[union-attr]
    model.zero_grad(set_to_none=True)
    return np.asarray(norms)
