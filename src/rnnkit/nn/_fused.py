"""The fast path: PyTorch's fused recurrent kernels on plain padded tensors, made exact.

On CPU, ``torch.lstm`` on a padded tensor runs oneDNN's fused LSTM, while the same
layer on a ``PackedSequence`` falls back to a slower loop (measured about 7x
slower in training, see docs/design.md). So this path never packs. It runs each
layer and direction as one kernel call over the padded batch and restores exact
variable-length semantics around it:

- forward direction: position ``t`` depends only on positions ``<= t``, so the
  outputs at real positions are already exact; padding comes after them;
- reverse direction: each sequence is reversed within its own length before the
  call and the outputs are reversed back after it, so the direction starts at
  the sequence's last real token (padding stays in place, and again comes last);
- ``h_n`` is gathered from the outputs at each sequence's last real step, and
  outputs at padding are set to zero;
- LSTM ``c_n`` is not among the kernel's outputs. One extra input feature, 1 at
  padding and 0 elsewhere, with weight ``+S`` on the forget gate and ``-S`` on
  the input gate, saturates them to exactly f = 1 and i = 0 in floating point,
  so ``c`` stays at each sequence's own final value through the padding and the
  kernel's final ``c`` is exact. At real positions the feature is 0 and changes
  nothing. The same feature with ``-S`` on every row keeps a relu RNN's state at
  zero in padding, so it cannot overflow there. Which feature a cell needs is its
  ``CellSpec.padding_feature`` (:mod:`rnnkit.nn.registry`); the GRU and the tanh RNN
  need none.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from rnnkit.nn.masking import Padding, last_step, reverse_padded
from rnnkit.nn.registry import CellSpec, Kernel

State = tuple[Tensor, ...]

# sigmoid(+S + a) == 1.0 and sigmoid(-S + a) == 0.0 exactly, in float16 up to float64,
# for any pre-activation |a| < 9,000; S itself fits in float16.
_SATURATE = 1e4


def kernel(
    cell: CellSpec,
    x: Tensor,
    state: State,
    weights: Sequence[Tensor],
    *,
    num_layers: int,
    dropout: float,
    training: bool,
    bidirectional: bool,
) -> tuple[Tensor, State]:
    """PyTorch's fused kernel on a time-major batch ``x`` (T, B, I); state entries (L*D, B, H)."""
    if cell.kernel is None:
        raise ValueError(f"the {cell.mode} cell has no fused kernel: use impl='reference'")
    return cell.kernel(
        x,
        state,
        list(weights),
        has_biases=len(weights) // (num_layers * (2 if bidirectional else 1)) == 4,
        num_layers=num_layers,
        dropout=dropout,
        training=training,
        bidirectional=bidirectional,
    )


def _padding_column(signs: tuple[int, ...], weight_ih: Tensor) -> Tensor:
    """The weight column of the padding feature: (gates * H, 1), ``signs[k] * S`` on the rows
    of gate block ``k`` (LSTM: -S on the input gate, +S on the forget gate)."""
    hidden = weight_ih.shape[0] // len(signs)
    column = weight_ih.new_zeros(weight_ih.shape[0], 1)
    for block, sign in enumerate(signs):  # one fill per saturated gate, as before the registry
        if sign:
            column[block * hidden : (block + 1) * hidden] = sign * _SATURATE
    return column


def layer(
    cell: CellSpec,
    x: Tensor,
    states: Sequence[State],
    padding: Padding,
    weights: Sequence[Sequence[Tensor]],
    *,
    training: bool,
) -> tuple[Tensor, list[State]]:
    """Run one layer over ``x`` (T, B, I), zero at padding, in each direction ``d`` from
    ``states[d]`` (each (B, H)) with ``weights[d]``.

    Returns the outputs (T, B, D * H), zero at padding, and each direction's state at each
    sequence's own end.
    """
    valid = padding.valid.unsqueeze(-1)  # (T, B, 1)
    signs = cell.padding_feature
    if signs is not None:  # the feature is the same in both directions: add it once
        x = torch.cat([x, (~valid).to(x.dtype)], dim=-1)  # (T, B, I + 1)
    outputs, finals = [], []
    for direction, (state, direction_weights) in enumerate(zip(states, weights, strict=True)):
        reverse = direction == 1
        flat = list(direction_weights)
        if signs is not None:
            flat[0] = torch.cat([flat[0], _padding_column(signs, flat[0])], dim=1)
        out, final = kernel(
            cell,
            reverse_padded(x, padding.reverse) if reverse else x,
            tuple(s.unsqueeze(0) for s in state),
            flat,
            num_layers=1,
            dropout=0.0,
            training=training,
            bidirectional=False,
        )
        h_n = last_step(out, padding.lengths)  # (B, H)
        out = torch.where(valid, out, 0.0)  # one pass; masked_fill would clone first
        outputs.append(reverse_padded(out, padding.reverse) if reverse else out)
        finals.append((h_n, *(s.squeeze(0) for s in final[1:])))
    return torch.cat(outputs, dim=-1) if len(outputs) > 1 else outputs[0], finals


# -- torch's fused kernels in the calling convention of ``CellSpec.kernel`` (the registry names
# them)


def torch_kernel(function: Callable[..., tuple[Tensor, ...]], *, num_states: int = 1) -> Kernel:
    """Wrap ``torch.lstm`` (state (h, c), passed as a list) or ``torch.gru``, ``torch.rnn_tanh``,
    ``torch.rnn_relu`` (state (h,)): they return the outputs, then the final states."""

    def kernel(
        x: Tensor,
        state: State,
        weights: list[Tensor],
        *,
        has_biases: bool,
        num_layers: int,
        dropout: float,
        training: bool,
        bidirectional: bool,
    ) -> tuple[Tensor, State]:
        args = (weights, has_biases, num_layers, dropout, training, bidirectional, False)
        out, *final = function(x, list(state) if num_states > 1 else state[0], *args)
        return out, tuple(final)

    return kernel


torch_lstm = torch_kernel(torch.lstm, num_states=2)
torch_gru = torch_kernel(torch.gru)
torch_rnn_tanh = torch_kernel(torch.rnn_tanh)
torch_rnn_relu = torch_kernel(torch.rnn_relu)
