"""Layer behaviour beyond the parity grid: padding invariance, state dicts, dropout, errors."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import rnnkit.nn
from tests.nn.twins import MODES, make_pair, run_torch

IMPLS = ("reference", "fused")


def states_of(state: Any) -> tuple[torch.Tensor, ...]:
    return tuple(state) if isinstance(state, tuple) else (state,)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", list(MODES))
def test_result_does_not_depend_on_batch_or_padding(
    mode: str, impl: str, bidirectional: bool, generator: torch.Generator
) -> None:
    """A sequence alone equals itself inside a batch of longer ones, NaN padding and all."""
    _, layer = make_pair(
        mode, 3, 4, dtype=torch.float64, num_layers=2, bidirectional=bidirectional, impl=impl
    )
    length, total_len = 4, 9
    alone = torch.randn(length, 1, 3, generator=generator, dtype=torch.float64)
    batch = torch.randn(total_len, 3, 3, generator=generator, dtype=torch.float64)
    batch[:length, 1] = alone[:, 0]
    batch[length:, 1] = float("nan")  # padding must never leak into a result
    lengths = torch.tensor([total_len, length, 7])

    out_alone, state_alone = layer(alone, lengths=torch.tensor([length]))
    batch.requires_grad_(True)
    out_batch, state_batch = layer(batch, lengths=lengths)

    torch.testing.assert_close(out_batch[:length, 1], out_alone[:, 0], atol=1e-12, rtol=1e-12)
    assert torch.equal(out_batch[length:, 1], torch.zeros_like(out_batch[length:, 1]))
    for got, expected in zip(states_of(state_batch), states_of(state_alone), strict=True):
        torch.testing.assert_close(got[:, 1], expected[:, 0], atol=1e-12, rtol=1e-12)

    loss = out_batch.sum() + sum(s.sum() for s in states_of(state_batch))
    loss.backward()  # type: ignore[union-attr]
    assert batch.grad is not None
    assert torch.equal(batch.grad[length:, 1], torch.zeros_like(batch.grad[length:, 1]))
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None
        assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("impl", IMPLS)
def test_relu_state_cannot_overflow_in_long_padding(impl: str) -> None:
    """A relu RNN whose state would grow 9x per padded step keeps finite values and gradients."""
    layer = rnnkit.nn.RNN(1, 3, nonlinearity="relu", impl=impl)  # type: ignore[arg-type]
    with torch.no_grad():
        layer.weight_ih_l0.fill_(1.0)
        layer.weight_hh_l0.fill_(3.0)
        layer.bias_ih_l0.fill_(0.1)
        layer.bias_hh_l0.zero_()
    x = torch.full((400, 2, 1), -10.0)  # keeps the long sequence's own state at zero
    x.requires_grad_(True)
    out, h_n = layer(x, lengths=torch.tensor([400, 1]))
    (out.sum() + h_n.sum()).backward()
    assert torch.isfinite(out).all()
    assert torch.isfinite(h_n).all()
    for parameter in layer.parameters():
        assert parameter.grad is not None
        assert torch.isfinite(parameter.grad).all()


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "no-bias"])
@pytest.mark.parametrize("mode", list(MODES))
def test_state_dict_loads_both_ways(mode: str, bias: bool) -> None:
    ours_cls, torch_cls, extra = MODES[mode]
    options = {"num_layers": 2, "bidirectional": True, "bias": bias, **extra}
    ours, theirs = ours_cls(3, 4, **options), torch_cls(3, 4, **options)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert "weight_hh_l1_reverse" in ours.state_dict()
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(5, 2, 3)
    torch.testing.assert_close(ours(x)[0], theirs(x)[0])
    theirs.load_state_dict(ours.state_dict())
    assert [p.shape for p in ours.parameters()] == [p.shape for p in theirs.parameters()]


@pytest.mark.parametrize("mode", list(MODES))
def test_no_bias_matches_torch(mode: str, generator: torch.Generator) -> None:
    theirs, ours = make_pair(mode, 3, 4, dtype=torch.float64, bias=False, bidirectional=True)
    x = torch.randn(6, 3, 3, generator=generator, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    expected, _ = run_torch(theirs, x, None, lengths, batch_first=False)
    for impl in IMPLS:
        ours.impl = impl  # type: ignore[assignment]
        torch.testing.assert_close(ours(x, lengths=lengths)[0], expected, atol=1e-12, rtol=1e-12)


@pytest.mark.parametrize("mode", list(MODES))
def test_unbatched_input_matches_torch(mode: str) -> None:
    theirs, ours = make_pair(mode, 3, 4, dtype=torch.float64, num_layers=2, bidirectional=True)
    x = torch.randn(5, 3, dtype=torch.float64)
    expected_out, expected_state = theirs(x)
    for impl in IMPLS:
        ours.impl = impl  # type: ignore[assignment]
        out, state = ours(x)
        assert out.shape == expected_out.shape == (5, 8)
        torch.testing.assert_close(out, expected_out)
        for got, expected in zip(states_of(state), states_of(expected_state), strict=True):
            assert got.shape == expected.shape == (4, 4)
            torch.testing.assert_close(got, expected)


@pytest.mark.parametrize("mode", list(MODES))
def test_dropout_between_layers_matches_torch_when_it_drops_everything(mode: str) -> None:
    """With p = 1 the second layer's input is all zeros in torch and here: a deterministic check
    that dropout is applied between layers, in training mode only, and not after the last."""
    theirs, ours = make_pair(mode, 3, 4, dtype=torch.float64, num_layers=2, dropout=1.0)
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    theirs.train()
    ours.train()
    expected, _ = run_torch(theirs, x, None, lengths, batch_first=False)
    expected_full, _ = theirs(x)
    for impl in IMPLS:
        ours.impl = impl  # type: ignore[assignment]
        torch.testing.assert_close(ours(x, lengths=lengths)[0], expected)
        torch.testing.assert_close(ours(x)[0], expected_full)
    theirs.eval()
    ours.eval()
    expected_eval, _ = run_torch(theirs, x, None, lengths, batch_first=False)
    assert not torch.allclose(expected_eval, expected)
    for impl in IMPLS:
        ours.impl = impl  # type: ignore[assignment]
        torch.testing.assert_close(ours(x, lengths=lengths)[0], expected_eval)


def test_dropout_masks_are_the_same_in_both_implementations() -> None:
    _, layer = make_pair(
        "lstm", 3, 4, dtype=torch.float64, num_layers=3, dropout=0.5, bidirectional=True
    )
    layer.train()
    x = torch.randn(6, 3, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 2, 4])
    outputs = []
    for impl in IMPLS:
        layer.impl = impl  # type: ignore[assignment]
        torch.manual_seed(7)
        outputs.append(layer(x, lengths=lengths)[0])
    torch.testing.assert_close(outputs[0], outputs[1], atol=1e-12, rtol=1e-12)
    torch.manual_seed(8)
    assert not torch.allclose(layer(x, lengths=lengths)[0], outputs[0])


def test_dropout_with_one_layer_warns() -> None:
    with pytest.warns(UserWarning, match=r"LSTM: dropout=0.3 has no effect with num_layers=1"):
        rnnkit.nn.LSTM(3, 4, dropout=0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rnnkit.nn.LSTM(3, 4, num_layers=2, dropout=0.3)


def test_auto_runs_the_fused_path() -> None:
    _, layer = make_pair("gru", 3, 4, dtype=torch.float32, bidirectional=True)
    x = torch.randn(6, 3, 3)
    lengths = torch.tensor([6, 2, 4])
    auto = layer(x, lengths=lengths)[0]
    layer.impl = "fused"
    assert torch.equal(auto, layer(x, lengths=lengths)[0])


def test_output_keeps_the_input_time_dimension() -> None:
    layer = rnnkit.nn.LSTM(3, 4, batch_first=True, bidirectional=True)
    x = torch.randn(2, 9, 3)
    out, (h_n, c_n) = layer(x, lengths=torch.tensor([3, 5]))
    assert out.shape == (2, 9, 8)
    assert h_n.shape == c_n.shape == (2, 2, 4)
    assert torch.equal(out[:, 5:], torch.zeros(2, 4, 8))
    assert torch.equal(out[0, 3:], torch.zeros(6, 8))


def test_lengths_may_be_a_list_or_live_on_another_device() -> None:
    layer = rnnkit.nn.GRU(3, 4)
    x = torch.randn(5, 2, 3)
    expected = layer(x, lengths=torch.tensor([5, 3]))[0]
    torch.testing.assert_close(layer(x, lengths=[5, 3])[0], expected)  # type: ignore[arg-type]
    torch.testing.assert_close(
        layer(x, lengths=torch.tensor([5, 3], dtype=torch.int32))[0], expected
    )


ERRORS = [
    (
        {"input": torch.randn(5, 2, 3, 1)},
        r"LSTM: expected input with 3 dimensions \(time, batch, input_size\) "
        r"or 2 \(time, input_size\), "
        r"got 4 dimensions with shape \(5, 2, 3, 1\)",
    ),
    (
        {"input": torch.randn(5, 2, 7)},
        r"LSTM: expected input feature size 3 \(input_size\), got 7 in input of shape \(5, 2, 7\)",
    ),
    (
        {"input": torch.zeros(5, 2, 3, dtype=torch.long)},
        r"LSTM: expected a floating-point input, got torch.int64",
    ),
    ({"input": torch.randn(0, 2, 3)}, r"LSTM: expected a non-empty input, got shape \(0, 2, 3\)"),
    (
        {"lengths": torch.tensor([5, 3, 1])},
        r"LSTM: expected lengths of shape \(2,\) \(batch,\), got \(3,\)",
    ),
    (
        {"lengths": torch.tensor([[5, 3]])},
        r"LSTM: expected lengths of shape \(2,\) \(batch,\), got \(1, 2\)",
    ),
    (
        {"lengths": torch.tensor([5.0, 3.0])},
        r"LSTM: lengths must be an integer tensor, got dtype torch.float32",
    ),
    (
        {"lengths": torch.tensor([5, 0])},
        r"LSTM: every sequence needs at least one step, got lengths\[1\] = 0",
    ),
    (
        {"lengths": torch.tensor([6, 3])},
        r"LSTM: lengths\[0\] = 6 is longer than the time dimension of the input \(5\)",
    ),
    (
        {"input": torch.randn(5, 3), "lengths": torch.tensor([5])},
        r"LSTM: lengths needs a batched input \(3 dimensions\), "
        r"got an unbatched input of shape \(5, 3\)",
    ),
    (
        {"hx": (torch.zeros(2, 2, 4), torch.zeros(1, 2, 4))},
        r"LSTM: expected c_0 of shape \(2, 2, 4\) "
        r"\(num_layers \* num_directions, batch, hidden_size\), "
        r"got \(1, 2, 4\)",
    ),
    ({"hx": torch.zeros(2, 2, 4)}, r"LSTM: expected hx to be a tuple \(h_0, c_0\), got Tensor"),
    (
        {"hx": (torch.zeros(2, 2, 4, dtype=torch.float64), torch.zeros(2, 2, 4))},
        r"LSTM: expected h_0 of dtype torch.float32 like the input, got torch.float64",
    ),
]


@pytest.mark.parametrize(("call", "message"), ERRORS)
def test_bad_input_is_rejected_with_a_clear_message(call: dict[str, Any], message: str) -> None:
    layer = rnnkit.nn.LSTM(3, 4, bidirectional=True)
    kwargs = {"input": torch.randn(5, 2, 3), "hx": None, "lengths": None, **call}
    with pytest.raises(ValueError, match=message):
        layer(kwargs["input"], kwargs["hx"], lengths=kwargs["lengths"])


def test_gru_hx_shape_error_names_hx() -> None:
    layer = rnnkit.nn.GRU(3, 4, num_layers=2)
    with pytest.raises(ValueError, match=r"GRU: expected hx of shape \(2, 2, 4\)"):
        layer(torch.randn(5, 2, 3), torch.zeros(1, 2, 4))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"hidden_size": 0}, "LSTM: hidden_size must be a positive integer, got 0"),
        ({"num_layers": 1.5}, "LSTM: num_layers must be a positive integer, got 1.5"),
        ({"dropout": 1.5}, r"LSTM: dropout must be a number in \[0, 1\], got 1.5"),
        (
            {"impl": "cuda"},
            r"LSTM: impl must be one of \('auto', 'reference', 'fused'\), got 'cuda'",
        ),
    ],
)
def test_bad_options_are_rejected(options: dict[str, Any], message: str) -> None:
    arguments = {"input_size": 3, "hidden_size": 4, **options}
    input_size, hidden_size = arguments.pop("input_size"), arguments.pop("hidden_size")
    with pytest.raises(ValueError, match=message):
        rnnkit.nn.LSTM(input_size, hidden_size, **arguments)


def test_rnn_rejects_unknown_nonlinearity() -> None:
    with pytest.raises(ValueError, match="RNN: nonlinearity must be 'tanh' or 'relu', got 'gelu'"):
        rnnkit.nn.RNN(3, 4, nonlinearity="gelu")  # type: ignore[arg-type]
