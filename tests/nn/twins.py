"""torch.nn twins of rnnkit layers and random padded batches, for the recurrent-core tests."""

from __future__ import annotations

from typing import Any

import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

import rnnkit.nn

# mode -> (rnnkit class, torch class, extra constructor keywords)
MODES: dict[str, tuple[type[rnnkit.nn.RecurrentBase], type[torch.nn.Module], dict[str, Any]]] = {
    "lstm": (rnnkit.nn.LSTM, torch.nn.LSTM, {}),
    "gru": (rnnkit.nn.GRU, torch.nn.GRU, {}),
    "rnn_tanh": (rnnkit.nn.RNN, torch.nn.RNN, {"nonlinearity": "tanh"}),
    "rnn_relu": (rnnkit.nn.RNN, torch.nn.RNN, {"nonlinearity": "relu"}),
}


def make_pair(
    mode: str,
    input_size: int,
    hidden_size: int,
    *,
    dtype: torch.dtype,
    seed: int = 0,
    **options: Any,
) -> tuple[torch.nn.Module, rnnkit.nn.RecurrentBase]:
    """A torch.nn layer and an rnnkit layer holding the same weights."""
    ours_cls, torch_cls, extra = MODES[mode]
    impl = options.pop("impl", "auto")
    torch.manual_seed(seed)
    theirs = torch_cls(input_size, hidden_size, **extra, **options).to(dtype)
    ours = ours_cls(input_size, hidden_size, **extra, **options, impl=impl).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return theirs, ours


def random_lengths(batch: int, total_len: int, generator: torch.Generator) -> torch.Tensor:
    """Random lengths in [1, T] that include both 1 and T."""
    lengths = torch.randint(1, total_len + 1, (batch,), generator=generator)
    lengths[0], lengths[1] = total_len, 1
    return lengths[torch.randperm(batch, generator=generator)]


def run_torch(
    module: torch.nn.Module,
    x: torch.Tensor,
    hx: Any,
    lengths: torch.Tensor | None,
    *,
    batch_first: bool,
) -> tuple[torch.Tensor, Any]:
    """torch.nn on a packed sequence when lengths are given, else on the padded tensor."""
    if lengths is None:
        return module(x, hx)  # type: ignore[no-any-return]
    packed = pack_padded_sequence(x, lengths, batch_first=batch_first, enforce_sorted=False)
    output, state = module(packed, hx)
    total_len = x.shape[1] if batch_first else x.shape[0]
    output, _ = pad_packed_sequence(output, batch_first=batch_first, total_length=total_len)
    return output, state
