"""The readable path: one layer, one direction, a Python loop over time using the cell steps.

This is the specification the fast path is tested against. At each time step the
cell's step (``CellSpec.step``, see :mod:`rnnkit.nn.registry`) computes the next
state for the whole batch, and sequences whose position ``t`` is padding keep their
previous state. Walking ``t`` from the end backwards therefore starts the reverse
direction of every sequence at its own last real token. Every registered cell runs
here, including those without a fused kernel.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from rnnkit.nn.masking import Padding
from rnnkit.nn.registry import CellSpec

State = tuple[Tensor, ...]


def unroll(
    cell: CellSpec,
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
    step = cell.step
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
    cell: CellSpec,
    x: Tensor,
    states: Sequence[State],
    padding: Padding | None,
    weights: Sequence[Sequence[Tensor]],
) -> tuple[Tensor, list[State]]:
    """One layer, each direction ``d`` from ``states[d]`` with ``weights[d]``; the second
    direction runs backwards. Returns the outputs (T, B, D * H) and the final states."""
    outputs, finals = [], []
    for direction, (state, direction_weights) in enumerate(zip(states, weights, strict=True)):
        out, final = unroll(cell, x, state, padding, direction_weights, reverse=direction == 1)
        outputs.append(out)
        finals.append(final)
    return torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0], finals
