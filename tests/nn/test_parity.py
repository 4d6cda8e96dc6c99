"""rnnkit.nn.{RNN, LSTM, GRU} equal torch.nn in values and gradients, for both implementations.

With ``lengths`` the reference is torch.nn on ``pack_padded_sequence(..., enforce_sorted=False)``
input, the semantics rnnkit reproduces without packing.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch

from tests.nn.twins import MODES, make_pair, random_lengths, run_torch

T, B, I, H = 6, 5, 3, 4


def forward_backward(
    module: torch.nn.Module,
    x: torch.Tensor,
    hx: Any,
    lengths: torch.Tensor | None,
    loss_weights: dict[str, torch.Tensor],
    *,
    batch_first: bool,
    ours: bool,
) -> dict[str, torch.Tensor]:
    """Outputs, final states and the gradients of a fixed random loss, by name."""
    module.zero_grad()
    x = x.clone().requires_grad_(True)
    leaves: list[torch.Tensor] = [x]
    if hx is not None:
        hx = (
            tuple(h.clone().requires_grad_(True) for h in hx)
            if isinstance(hx, tuple)
            else (hx.clone().requires_grad_(True))
        )
        leaves += list(hx) if isinstance(hx, tuple) else [hx]
    if ours:
        output, state = module(x, hx, lengths=lengths)
    else:
        output, state = run_torch(module, x, hx, lengths, batch_first=batch_first)
    states = state if isinstance(state, tuple) else (state,)
    results = {"output": output, "h_n": states[0]}
    if len(states) == 2:
        results["c_n"] = states[1]
    loss = sum((tensor * loss_weights[name]).sum() for name, tensor in results.items())
    assert isinstance(loss, torch.Tensor)
    loss.backward()
    results = {name: tensor.detach() for name, tensor in results.items()}
    for name, leaf in zip(("grad_input", "grad_h_0", "grad_c_0"), leaves, strict=False):
        assert leaf.grad is not None
        results[name] = leaf.grad
    for name, parameter in module.named_parameters():
        assert parameter.grad is not None, name
        results[f"grad_{name}"] = parameter.grad.clone()
    return results


@pytest.mark.parametrize(
    ("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize("with_lengths", [False, True], ids=["full", "lengths"])
@pytest.mark.parametrize("with_hx", [False, True], ids=["no-hx", "hx"])
@pytest.mark.parametrize("batch_first", [False, True], ids=["time-major", "batch-first"])
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2, 3], ids=["1-layer", "2-layer", "3-layer"])
@pytest.mark.parametrize("mode", list(MODES))
def test_matches_torch_nn(
    mode: str,
    num_layers: int,
    bidirectional: bool,
    batch_first: bool,
    with_hx: bool,
    with_lengths: bool,
    dtype: torch.dtype,
    tol: float,
    generator: torch.Generator,
) -> None:
    theirs, ours = make_pair(
        mode,
        I,
        H,
        dtype=dtype,
        num_layers=num_layers,
        bidirectional=bidirectional,
        batch_first=batch_first,
    )

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype)

    x = randn(B, T, I) if batch_first else randn(T, B, I)
    lengths = random_lengths(B, T, generator) if with_lengths else None
    state_shape = (num_layers * (2 if bidirectional else 1), B, H)
    hx: Any = None
    if with_hx:
        hx = (randn(*state_shape), randn(*state_shape)) if mode == "lstm" else randn(*state_shape)
    output_shape = (*x.shape[:2], H * (2 if bidirectional else 1))
    loss_weights = {
        "output": randn(*output_shape),
        "h_n": randn(*state_shape),
        "c_n": randn(*state_shape),
    }

    expected = forward_backward(
        theirs, x, hx, lengths, loss_weights, batch_first=batch_first, ours=False
    )
    for impl in ("reference", "fused"):
        ours.impl = impl  # type: ignore[assignment]
        got = forward_backward(
            ours, x, hx, lengths, loss_weights, batch_first=batch_first, ours=True
        )
        assert got.keys() == expected.keys()
        for name, tensor in expected.items():
            torch.testing.assert_close(
                got[name], tensor, atol=tol, rtol=tol, msg=lambda m, n=name, i=impl: f"{i} {n}: {m}"
            )
