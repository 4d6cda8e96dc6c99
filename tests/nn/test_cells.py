"""Cells against torch.nn's cells, gradcheck, state dicts and error messages."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import rnnkit.nn

# name -> (rnnkit cell, torch cell, extra keywords, number of state tensors)
CELLS: dict[str, tuple[type[torch.nn.Module], type[torch.nn.Module], dict[str, Any], int]] = {
    "rnn_tanh": (rnnkit.nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "tanh"}, 1),
    "rnn_relu": (rnnkit.nn.RNNCell, torch.nn.RNNCell, {"nonlinearity": "relu"}, 1),
    "lstm": (rnnkit.nn.LSTMCell, torch.nn.LSTMCell, {}, 2),
    "gru": (rnnkit.nn.GRUCell, torch.nn.GRUCell, {}, 1),
}
I, H, B = 3, 5, 4


def twin_cells(name: str, *, bias: bool = True) -> tuple[torch.nn.Module, torch.nn.Module]:
    ours_cls, torch_cls, extra, _ = CELLS[name]
    torch.manual_seed(0)
    theirs = torch_cls(I, H, bias=bias, **extra).double()
    ours = ours_cls(I, H, bias=bias, **extra).double()
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def call(cell: torch.nn.Module, x: torch.Tensor, state: Any) -> tuple[torch.Tensor, ...]:
    out = cell(x, state)
    return tuple(out) if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("batched", [True, False], ids=["batched", "unbatched"])
@pytest.mark.parametrize("with_state", [True, False], ids=["state", "no-state"])
@pytest.mark.parametrize("name", list(CELLS))
def test_cell_matches_torch(name: str, with_state: bool, batched: bool, bias: bool) -> None:
    ours, theirs = twin_cells(name, bias=bias)
    n_states = CELLS[name][3]
    lead = (B,) if batched else ()
    x = torch.randn(*lead, I, dtype=torch.double)
    states = [torch.randn(*lead, H, dtype=torch.double) for _ in range(n_states)]
    results = []
    for cell in (ours, theirs):
        xs = x.clone().requires_grad_(True)
        ss = [s.clone().requires_grad_(True) for s in states]
        state: Any = None
        if with_state:
            state = tuple(ss) if n_states == 2 else ss[0]
        outputs = call(cell, xs, state)
        sum(o.square().sum() for o in outputs).backward()  # type: ignore[union-attr]
        grads = [xs.grad] + ([s.grad for s in ss] if with_state else [])
        grads += [p.grad for p in cell.parameters()]
        results.append((outputs, grads))
    (our_out, our_grads), (their_out, their_grads) = results
    for got, expected in zip(
        our_out + tuple(our_grads), their_out + tuple(their_grads), strict=True
    ):
        torch.testing.assert_close(got, expected, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("name", list(CELLS))
def test_cell_gradcheck(name: str) -> None:
    ours, _ = twin_cells(name)
    n_states = CELLS[name][3]
    x = torch.randn(B, I, dtype=torch.double, requires_grad=True)
    states = [torch.randn(B, H, dtype=torch.double, requires_grad=True) for _ in range(n_states)]
    params = list(ours.parameters())
    names = [n for n, _ in ours.named_parameters()]

    def fn(x: torch.Tensor, *rest: torch.Tensor) -> tuple[torch.Tensor, ...]:
        state_parts, weights = rest[:n_states], rest[n_states:]
        state = tuple(state_parts) if n_states == 2 else state_parts[0]
        out = torch.func.functional_call(ours, dict(zip(names, weights, strict=True)), (x, state))
        return tuple(out) if isinstance(out, tuple) else (out,)

    assert torch.autograd.gradcheck(fn, (x, *states, *params))
    assert torch.autograd.gradgradcheck(fn, (x, *states, *params))


@pytest.mark.parametrize("name", list(CELLS))
def test_state_dict_loads_both_ways(name: str) -> None:
    ours_cls, torch_cls, extra, _ = CELLS[name]
    ours, theirs = ours_cls(I, H, **extra), torch_cls(I, H, **extra)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    for (n1, p1), (n2, p2) in zip(
        ours.state_dict().items(), theirs.state_dict().items(), strict=True
    ):
        assert n1 == n2
        assert p1.shape == p2.shape


def test_cell_errors() -> None:
    cell = rnnkit.nn.LSTMCell(I, H)
    with pytest.raises(
        ValueError, match=r"LSTMCell: expected input feature size 3 \(input_size\), got 7"
    ):
        cell(torch.randn(B, 7))
    with pytest.raises(
        ValueError, match=r"LSTMCell: expected input of shape \(batch, input_size\)"
    ):
        cell(torch.randn(2, B, I))
    with pytest.raises(ValueError, match=r"LSTMCell: expected c of shape \(4, 5\), got \(4, 6\)"):
        cell(torch.randn(B, I), (torch.zeros(B, H), torch.zeros(B, 6)))
    with pytest.raises(ValueError, match=r"GRUCell: expected h of shape \(5,\), got \(4, 5\)"):
        rnnkit.nn.GRUCell(I, H)(torch.randn(I), torch.zeros(B, H))
    with pytest.raises(
        ValueError, match="RNNCell: nonlinearity must be 'tanh' or 'relu', got 'gelu'"
    ):
        rnnkit.nn.RNNCell(I, H, nonlinearity="gelu")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="GRUCell: hidden_size must be a positive integer, got 0"):
        rnnkit.nn.GRUCell(I, 0)
