"""Training on the synthetic tasks, and the per-step gradient norms."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.synthetic import adding, copy_memory, parity
from rnnkit.synthetic.lab import SequenceModel, _loss, _tensors, hidden_gradient_norms, train_task


def test_lstm_solves_a_short_adding_problem_and_reports_its_curve() -> None:
    run, _ = train_task(
        adding(2000, 10, seed=0), adding(500, 10, seed=1), cell="lstm", hidden_size=32, steps=1500
    )
    assert run.metric == "mse"
    assert run.solved
    assert run.score < 0.01
    steps = [step for step, _ in run.curve]
    assert steps == sorted(steps)
    assert run.curve[-1][1] < run.curve[0][1]


@pytest.mark.parametrize(
    ("make", "metric"),
    [
        (lambda seed: parity(200, 3, seed=seed), "accuracy"),
        (lambda seed: copy_memory(200, 3, seed=seed), "accuracy"),
    ],
)
def test_classification_tasks_are_scored_by_accuracy(make, metric) -> None:  # type: ignore[no-untyped-def]
    run, _ = train_task(make(0), make(1), cell="gru", hidden_size=16, steps=20, eval_every=10)
    assert run.metric == metric
    assert 0.0 <= run.score <= 1.0
    assert len(run.curve) == 2


def test_unknown_cell_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown cell 'tree'"):
        SequenceModel("tree", 2, 4, 1, per_step=False)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_norms_unroll_the_same_model(cell: str) -> None:
    task = adding(16, 12, seed=0)
    torch.manual_seed(0)
    model = SequenceModel(cell, 2, 8, 1, per_step=False).double()
    task_x, target = _tensors(task)
    norms = hidden_gradient_norms(model.float(), task)
    assert norms.shape == (12,)
    # The last state's gradient is the read-out's, which the fused model gives directly.
    x = task_x.clone()
    states, _ = model.recurrent(x)
    last = states[-1].detach().requires_grad_(True)
    _loss(task, model.readout(last), target).backward()
    assert norms[-1] == pytest.approx(last.grad.norm(dim=-1).mean().item(), rel=1e-4)


def test_a_contracting_rnn_forgets_and_an_lstm_with_open_forget_gates_does_not() -> None:
    task = adding(32, 60, seed=0)
    torch.manual_seed(0)
    rnn = SequenceModel("rnn", 2, 16, 1, per_step=False)
    with torch.no_grad():
        rnn.recurrent.weight_hh_l0.mul_(0.3)
    lstm = SequenceModel("lstm", 2, 16, 1, per_step=False)
    with torch.no_grad():
        lstm.recurrent.bias_ih_l0[16:32] = 5.0  # forget gate ~1
    rnn_norms, lstm_norms = hidden_gradient_norms(rnn, task), hidden_gradient_norms(lstm, task)
    assert rnn_norms[0] < 1e-6 * rnn_norms[-1]  # orders of magnitude lost across 60 steps
    assert lstm_norms[0] > 1e-2 * lstm_norms[-1]
    assert np.all(np.isfinite(rnn_norms))
