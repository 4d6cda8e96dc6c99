"""RecurrentBase.step (one time step of the stack, the cells' own steps) against the layer's
forward pass, which runs torch's fused kernel."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn import GRU, LSTM, RNN


@pytest.mark.parametrize("layers", [1, 3])
@pytest.mark.parametrize("layer", [LSTM, GRU, RNN])
def test_steps_equal_the_fused_forward_pass(layer: type, layers: int) -> None:
    """Through one stepper, made once as generation makes it (step makes one per call)."""
    torch.manual_seed(0)
    rnn = layer(5, 7, num_layers=layers).double().eval()
    step = rnn.stepper()
    x = torch.randn(6, 4, 5, dtype=torch.float64)
    expected, final = rnn(x)
    states = 2 if layer is LSTM else 1
    state = tuple(torch.zeros(layers, 4, 7, dtype=torch.float64) for _ in range(states))
    for t in range(6):
        out, state = step(x[t], state)
        torch.testing.assert_close(out, expected[t])
    finals = final if isinstance(final, tuple) else (final,)
    for got, want in zip(state, finals, strict=True):
        torch.testing.assert_close(got, want)


def test_step_runs_one_direction_only() -> None:
    rnn = LSTM(3, 4, bidirectional=True)
    with pytest.raises(ValueError, match="one direction"):
        rnn.step(torch.zeros(1, 3), (torch.zeros(2, 1, 4), torch.zeros(2, 1, 4)))


def test_step_is_the_stepper() -> None:
    torch.manual_seed(0)
    rnn = GRU(5, 7, num_layers=2).eval()
    x, state = torch.randn(4, 5), (torch.randn(2, 4, 7),)
    out, (h,) = rnn.step(x, state)
    want_out, (want_h,) = rnn.stepper()(x, state)
    assert torch.equal(out, want_out)
    assert torch.equal(h, want_h)
