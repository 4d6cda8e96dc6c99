"""The checks of a layer call's arguments: each says what it expected and what arrived.

``name`` is the layer's class name, which every message starts with. Shapes as in
:mod:`rnnkit.nn.layers`: input (T, B, I), state (L * D, B, H), lengths (B,).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Lengths = Tensor | Sequence[int]
State = tuple[Tensor, ...]


def check_input(
    name: str, input: Tensor, *, input_size: int, batch_first: bool
) -> tuple[Tensor, bool]:
    """Return the input as (T, B, I) and whether it came unbatched."""
    if not isinstance(input, Tensor):
        raise ValueError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
    layout = "(batch, time, input_size)" if batch_first else "(time, batch, input_size)"
    if input.dim() not in (2, 3):
        raise ValueError(
            f"{name}: expected input with 3 dimensions {layout} or 2 (time, input_size), "
            f"got {input.dim()} dimensions with shape {tuple(input.shape)}"
        )
    if input.shape[-1] != input_size:
        raise ValueError(
            f"{name}: expected input feature size {input_size} (input_size), "
            f"got {input.shape[-1]} in input of shape {tuple(input.shape)}"
        )
    if 0 in input.shape:
        raise ValueError(f"{name}: expected a non-empty input, got shape {tuple(input.shape)}")
    if not input.is_floating_point():
        raise ValueError(f"{name}: expected a floating-point input, got {input.dtype}")
    if input.dim() == 2:
        return input.unsqueeze(1), True
    return (input.transpose(0, 1) if batch_first else input), False


def check_state(
    name: str,
    hx: State | None,
    x: Tensor,
    unbatched: bool,
    *,
    rows: int,
    hidden_size: int,
    num_states: int,
) -> State:
    """Return the initial state as ``num_states`` tensors (rows = L * D, B, H), zeros when
    omitted."""
    batch = x.shape[1]
    if hx is None:
        zeros = x.new_zeros(rows, batch, hidden_size)
        return (zeros,) * num_states
    expected = (rows, hidden_size) if unbatched else (rows, batch, hidden_size)
    if num_states == 1:
        labels: tuple[str, ...] = ("hx",)
    elif num_states == 2:
        labels = ("h_0", "c_0")
    else:
        labels = tuple(f"hx[{k}]" for k in range(num_states))
    if len(hx) != num_states:
        raise ValueError(f"{name}: expected {num_states} initial state tensors, got {len(hx)}")
    for label, tensor in zip(labels, hx, strict=True):
        if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
            got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
            raise ValueError(
                f"{name}: expected {label} of shape {expected} "
                f"(num_layers * num_directions, batch, hidden_size), got {got}"
            )
        if tensor.dtype != x.dtype:
            raise ValueError(
                f"{name}: expected {label} of dtype {x.dtype} like the input, got {tensor.dtype}"
            )
    return tuple(t.unsqueeze(1) if unbatched else t for t in hx)


def check_lengths(
    name: str, lengths: Lengths, x: Tensor, unbatched: bool
) -> tuple[Tensor, int, int]:
    """Return ``lengths`` as int64 on the input's device (each in [1, T]), its min and max."""
    if unbatched:
        raise ValueError(
            f"{name}: lengths needs a batched input (3 dimensions), got an unbatched input "
            f"of shape {tuple(x.squeeze(1).shape)}"
        )
    if not isinstance(lengths, Tensor):
        lengths = torch.as_tensor(lengths)
    if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
        raise ValueError(f"{name}: lengths must be an integer tensor, got dtype {lengths.dtype}")
    batch, total_len = x.shape[1], x.shape[0]
    if tuple(lengths.shape) != (batch,):
        raise ValueError(
            f"{name}: expected lengths of shape ({batch},) (batch,), got {tuple(lengths.shape)}"
        )
    lengths = lengths.to(device=x.device, dtype=torch.int64)
    shortest, longest = (int(v) for v in lengths.aminmax())
    if shortest < 1:
        index = int(torch.argmin(lengths))
        raise ValueError(
            f"{name}: every sequence needs at least one step, got lengths[{index}] = {shortest}"
        )
    if longest > total_len:
        index = int(torch.argmax(lengths))
        raise ValueError(
            f"{name}: lengths[{index}] = {longest} is longer than the time dimension "
            f"of the input ({total_len})"
        )
    return lengths, shortest, longest
