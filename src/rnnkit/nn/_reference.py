"""The readable path: one layer, one direction, a Python loop over time using the cell steps.

This is the specification the fast path is tested against. At each time step the
cell from :mod:`rnnkit.nn.cells` computes the next state for the whole batch,
and sequences whose position ``t`` is padding keep their previous state. Walking
``t`` from the end backwards therefore starts the reverse direction of every
sequence at its own last real token.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial

import torch
from torch import Tensor

from rnnkit.nn.cells import gru_step, lstm_step, rnn_step
from rnnkit.nn.masking import Padding

State = tuple[Tensor, ...]
StepFn = Callable[[Tensor, State, Sequence[Tensor]], State]


def _rnn(x: Tensor, state: State, weights: Sequence[Tensor], *, nonlinearity: str) -> State:
    return (rnn_step(x, state[0], *weights, nonlinearity=nonlinearity),)  # type: ignore[arg-type]


def _lstm(x: Tensor, state: State, weights: Sequence[Tensor]) -> State:
    h, c = state
    return lstm_step(x, (h, c), *weights)


def _gru(x: Tensor, state: State, weights: Sequence[Tensor]) -> State:
    return (gru_step(x, state[0], *weights),)


STEPS: dict[str, StepFn] = {
    "RNN_TANH": partial(_rnn, nonlinearity="tanh"),
    "RNN_RELU": partial(_rnn, nonlinearity="relu"),
    "LSTM": _lstm,
    "GRU": _gru,
}


def unroll(
    mode: str,
    x: Tensor,
    state: State,
    padding: Padding | None,
    weights: Sequence[Tensor],
    *,
    reverse: bool,
) -> tuple[Tensor, State]:
    """Run one layer in one direction over ``x`` (T, B, I) from ``state`` (each (B, H)).

    Returns the outputs (T, B, H), zero at padding, and the state at each sequence's end.
    """
    step = STEPS[mode]
    time_steps = range(x.shape[0] - 1, -1, -1) if reverse else range(x.shape[0])
    outputs: list[Tensor] = [x] * x.shape[0]
    for t in time_steps:
        new_state = step(x[t], state, weights)
        if padding is None:
            state = new_state
            outputs[t] = state[0]
        else:
            real = padding.valid[t].unsqueeze(-1)  # (B, 1)
            state = tuple(
                torch.where(real, new, old) for new, old in zip(new_state, state, strict=True)
            )
            outputs[t] = torch.where(real, state[0], 0.0)
    return torch.stack(outputs), state


def layer(
    mode: str,
    x: Tensor,
    states: Sequence[State],
    padding: Padding | None,
    weights: Sequence[Sequence[Tensor]],
) -> tuple[Tensor, list[State]]:
    """One layer, each direction ``d`` from ``states[d]`` with ``weights[d]``; the second
    direction runs backwards. Returns the outputs (T, B, D * H) and the final states."""
    outputs, finals = [], []
    for direction, (state, direction_weights) in enumerate(zip(states, weights, strict=True)):
        out, final = unroll(mode, x, state, padding, direction_weights, reverse=direction == 1)
        outputs.append(out)
        finals.append(final)
    return torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0], finals
