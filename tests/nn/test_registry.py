"""The cell registry: a new cell is one entry, and the layers run it exactly.

The toy cell is IndRNN (Li et al., 2018), registered here and nowhere else:

    h_t = tanh(W x_t + b_ih + u * h_{t-1} + b_hh)

with ``u`` a vector (H,) (each unit recurs only on itself) and no fused kernel.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import rnnkit.nn
from rnnkit.nn import _fused, registry
from rnnkit.nn.registry import CellSpec

BUILT_IN = ("GRU", "LSTM", "RNN_RELU", "RNN_TANH")
I, H = 3, 4


def indrnn_step(x: Tensor, state: tuple[Tensor, ...], weights: Sequence[Tensor]) -> tuple[Tensor]:
    weight_ih, u, bias_ih, bias_hh = weights
    return (torch.tanh(F.linear(x, weight_ih, bias_ih) + u * state[0] + bias_hh),)


@pytest.fixture
def indrnn() -> Iterator[type[rnnkit.nn.RecurrentBase]]:
    """A layer class for IndRNN, registered for the test only."""
    registry.register(
        CellSpec("INDRNN", num_gates=1, step=indrnn_step, hh_shape=lambda hidden: (hidden,))
    )

    class IndRNN(rnnkit.nn.RecurrentBase):
        mode = "INDRNN"

    try:
        yield IndRNN
    finally:
        registry.unregister("INDRNN")


def loop_per_sequence(
    weights: dict[str, Tensor], x: Tensor, lengths: Tensor, num_layers: int
) -> tuple[Tensor, Tensor]:
    """Bidirectional IndRNN written out: each sequence alone, for its own length, one step
    at a time. Returns outputs (T, B, 2H), zero at padding, and h_n (2 * num_layers, B, H)."""
    total_len, batch, _ = x.shape
    outputs = x.new_zeros(total_len, batch, 2 * H)
    finals = []
    for b in range(batch):
        length = int(lengths[b])
        seq = [x[t, b] for t in range(length)]  # each (I,)
        h_n = []
        for layer in range(num_layers):
            directions = []
            for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
                w, u = weights["weight_ih" + suffix], weights["weight_hh" + suffix]
                b_ih, b_hh = weights["bias_ih" + suffix], weights["bias_hh" + suffix]
                steps = range(length) if "reverse" not in suffix else range(length - 1, -1, -1)
                h = x.new_zeros(H)
                out: list[Tensor] = [h] * length
                for t in steps:
                    h = torch.tanh(w @ seq[t] + b_ih + u * h + b_hh)
                    out[t] = h
                directions.append(out)
                h_n.append(h)
            seq = [torch.cat([f, r]) for f, r in zip(*directions, strict=True)]
        outputs[:length, b] = torch.stack(seq)
        finals.append(torch.stack(h_n))
    return outputs, torch.stack(finals, dim=1)


def test_a_registered_cell_runs_in_the_layers_as_written(
    indrnn: type[rnnkit.nn.RecurrentBase], generator: torch.Generator
) -> None:
    """Values and gradients of a stacked bidirectional IndRNN on a padded batch equal a plain
    loop over each sequence on copies of the weights."""
    layer = indrnn(I, H, num_layers=2, bidirectional=True).double()
    assert layer.weight_hh_l0.shape == (H,)
    assert layer.weight_ih_l1.shape == (H, 2 * H)
    lengths = torch.tensor([5, 1, 3, 5])
    x = torch.randn(6, 4, I, generator=generator, dtype=torch.float64)
    x_copy = x.clone().requires_grad_(True)
    x.requires_grad_(True)
    copies = {n: p.detach().clone().requires_grad_(True) for n, p in layer.named_parameters()}

    out, h_n = layer(x, lengths=lengths)
    expected_out, expected_h_n = loop_per_sequence(copies, x_copy, lengths, num_layers=2)

    torch.testing.assert_close(out, expected_out, atol=1e-12, rtol=1e-12)
    torch.testing.assert_close(h_n, expected_h_n, atol=1e-12, rtol=1e-12)
    g_out = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    g_h = torch.randn(h_n.shape, generator=generator, dtype=torch.float64)
    ((out * g_out).sum() + (h_n * g_h).sum()).backward()
    ((expected_out * g_out).sum() + (expected_h_n * g_h).sum()).backward()
    assert x.grad is not None
    assert x_copy.grad is not None
    torch.testing.assert_close(x.grad, x_copy.grad, atol=1e-12, rtol=1e-12)
    for name, parameter in layer.named_parameters():
        torch.testing.assert_close(parameter.grad, copies[name].grad, atol=1e-12, rtol=1e-12)


def test_a_registered_cell_does_not_depend_on_batch_or_padding(
    indrnn: type[rnnkit.nn.RecurrentBase], generator: torch.Generator
) -> None:
    layer = indrnn(I, H, num_layers=2, bidirectional=True).double()
    length, total_len = 4, 9
    alone = torch.randn(length, 1, I, generator=generator, dtype=torch.float64)
    batch = torch.randn(total_len, 3, I, generator=generator, dtype=torch.float64)
    batch[:length, 1] = alone[:, 0]
    batch[length:, 1] = float("nan")  # padding must never leak into a result
    batch.requires_grad_(True)

    out_alone, h_alone = layer(alone, lengths=torch.tensor([length]))
    out_batch, h_batch = layer(batch, lengths=torch.tensor([total_len, length, 7]))

    torch.testing.assert_close(out_batch[:length, 1], out_alone[:, 0], atol=1e-12, rtol=1e-12)
    assert torch.equal(out_batch[length:, 1], torch.zeros_like(out_batch[length:, 1]))
    torch.testing.assert_close(h_batch[:, 1], h_alone[:, 0], atol=1e-12, rtol=1e-12)
    (out_batch.sum() + h_batch.sum()).backward()
    assert batch.grad is not None
    assert torch.equal(batch.grad[length:, 1], torch.zeros_like(batch.grad[length:, 1]))
    for name, parameter in layer.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name


def test_auto_runs_the_reference_path_for_a_cell_without_a_kernel(
    indrnn: type[rnnkit.nn.RecurrentBase],
    generator: torch.Generator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_fused_path(*args: object, **kwargs: object) -> None:
        raise AssertionError("the fused path ran for a cell without a kernel")

    monkeypatch.setattr(_fused, "kernel", no_fused_path)
    monkeypatch.setattr(_fused, "layer", no_fused_path)
    options = {"num_layers": 2, "bidirectional": True, "dropout": 0.5, "variational": True}
    auto = indrnn(I, H, **options)
    reference = indrnn(I, H, **options, impl="reference")
    reference.load_state_dict(auto.state_dict())
    x = torch.randn(5, 3, I, generator=generator)
    for training in (False, True):  # in training, locked dropout goes layer by layer
        auto.train(training)
        reference.train(training)
        for lengths in (None, torch.tensor([5, 2, 4]), torch.tensor([5, 5, 5])):
            torch.manual_seed(0)
            ours = auto(x, lengths=lengths)[0]
            torch.manual_seed(0)
            assert torch.equal(ours, reference(x, lengths=lengths)[0])


def test_fused_is_refused_for_a_cell_without_a_kernel(
    indrnn: type[rnnkit.nn.RecurrentBase],
) -> None:
    message = r"IndRNN: impl='fused' needs a fused kernel and the INDRNN cell has none"
    with pytest.raises(ValueError, match=message):
        indrnn(I, H, impl="fused")
    layer = indrnn(I, H)
    layer.impl = "fused"
    with pytest.raises(ValueError, match=message):
        layer(torch.randn(5, 2, I))


def test_the_registry_names_what_it_knows(indrnn: type[rnnkit.nn.RecurrentBase]) -> None:
    assert registry.names() == ("GRU", "INDRNN", "LSTM", "RNN_RELU", "RNN_TANH")
    with pytest.raises(ValueError, match=r"a cell 'INDRNN' is already registered"):
        registry.register(registry.get("INDRNN"))
    with pytest.raises(
        ValueError,
        match=r"unknown cell 'NOPE': the registered cells are GRU, INDRNN, LSTM, RNN_RELU",
    ):
        registry.get("NOPE")

    class Nope(rnnkit.nn.RecurrentBase):
        mode = "NOPE"

    with pytest.raises(ValueError, match=r"Nope: unknown cell 'NOPE'"):
        Nope(I, H)


def test_the_registry_is_restored_after_a_test() -> None:
    assert registry.names() == BUILT_IN


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"num_gates": 0}, r"CellSpec 'X': num_gates must be a positive integer, got 0"),
        (
            {"padding_feature": (1, 1)},
            r"CellSpec 'X': padding_feature must hold one sign \(-1, 0 or 1\) per gate block",
        ),
        ({"onnx_operator": "RNN"}, r"give both onnx_operator and onnx_gate_order, or neither"),
        (
            {"onnx_operator": "RNN", "onnx_gate_order": (1,)},
            r"onnx_gate_order must be a permutation of range\(1\), got \(1,\)",
        ),
    ],
)
def test_a_spec_is_checked_when_made(options: dict[str, object], message: str) -> None:
    spec: dict[str, object] = {"num_gates": 1, "step": indrnn_step, **options}
    with pytest.raises(ValueError, match=message):
        CellSpec("X", **spec)  # type: ignore[arg-type]


def test_the_built_in_layers_take_their_cell_from_the_registry() -> None:
    lstm = rnnkit.nn.LSTM(I, H, num_layers=2, bidirectional=True)
    assert lstm.cell is registry.get("LSTM")
    assert (lstm.num_gates, lstm.num_states) == (4, 2)
    assert rnnkit.nn.RNN(I, H, nonlinearity="relu").cell is registry.get("RNN_RELU")
    assert rnnkit.nn.GRU(I, H).num_gates == 3
    names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    weights = lstm.layer_weights(1, 1)
    assert len(weights) == 4
    assert all(w is getattr(lstm, f"{n}_l1_reverse") for w, n in zip(weights, names, strict=True))
    with pytest.raises(ValueError, match=r"LSTM: direction must be in \[0, 2\), got 2"):
        lstm.layer_weights(0, 2)
    with pytest.raises(ValueError, match=r"LSTM: layer must be in \[0, 2\), got 2"):
        lstm.layer_weights(2, 0)
