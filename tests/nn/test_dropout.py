"""Locked (variational) dropout and weight dropout, against torch.nn layers given the same masks."""

from __future__ import annotations

import pytest
import torch

from rnnkit.nn.dropout import dropout, dropout_between_layers, dropout_mask, locked_dropout
from tests.nn.twins import MODES, make_pair, random_lengths, run_torch

T, B, I, H = 7, 5, 3, 4
IMPLS = ("reference", "fused")


def test_locked_dropout_keeps_one_mask_per_sequence_for_all_steps() -> None:
    torch.manual_seed(0)
    x = torch.ones(50, 8, 16)
    y = locked_dropout(x, 0.5)
    assert torch.equal(y, y[:1].expand_as(y))  # the same at every step
    assert set(y.unique().tolist()) == {0.0, 2.0}  # dropped, or kept and scaled by 1 / (1 - p)
    assert 0.3 < (y[0] == 0).float().mean().item() < 0.7


def test_locked_dropout_is_the_identity_in_evaluation_and_at_zero() -> None:
    x = torch.randn(4, 3, 2)
    assert locked_dropout(x, 0.5, training=False) is x
    assert locked_dropout(x, 0.0) is x
    assert torch.equal(locked_dropout(x, 1.0), torch.zeros_like(x))


def test_ordinary_dropout_between_layers_draws_a_mask_per_step() -> None:
    torch.manual_seed(0)
    y = dropout_between_layers(torch.ones(50, 8, 16), 0.5, variational=False, training=True)
    assert not torch.equal(y, y[:1].expand_as(y))


def _dropped_weights(
    module: torch.nn.Module, p: float, names: list[str]
) -> dict[str, torch.Tensor]:
    return {
        name: param * dropout_mask(param.shape, p, dtype=param.dtype, device=param.device)
        if name.startswith("weight_hh")
        else param
        for name, param in ((n, getattr(module, n)) for n in names)
    }


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", list(MODES))
def test_weight_dropout_equals_torch_with_the_dropped_matrices(
    mode: str, impl: str, generator: torch.Generator
) -> None:
    theirs, ours = make_pair(
        mode, I, H, dtype=torch.float64, num_layers=2, bidirectional=True, impl=impl
    )
    ours.weight_dropout = 0.5
    ours.train()
    x = torch.randn(T, B, I, generator=generator, dtype=torch.float64)
    lengths = random_lengths(B, T, generator)
    torch.manual_seed(7)
    output, state = ours(x, lengths=lengths)

    torch.manual_seed(7)  # the same masks, in the same (layer, direction) order
    names = [name for name, _ in theirs.named_parameters()]
    weights = _dropped_weights(theirs, 0.5, names)
    with torch.no_grad():
        for name, value in weights.items():
            getattr(theirs, name).copy_(value)
    expected, expected_state = run_torch(theirs, x, None, lengths, batch_first=False)
    torch.testing.assert_close(output, expected)
    h_n = state[0] if isinstance(state, tuple) else state
    expected_h = expected_state[0] if isinstance(expected_state, tuple) else expected_state
    torch.testing.assert_close(h_n, expected_h)


@pytest.mark.parametrize("mode", list(MODES))
def test_weight_dropout_changes_nothing_in_evaluation(
    mode: str, generator: torch.Generator
) -> None:
    theirs, ours = make_pair(mode, I, H, dtype=torch.float64, bidirectional=True)
    ours.weight_dropout = 0.5
    ours.eval()
    x = torch.randn(T, B, I, generator=generator, dtype=torch.float64)
    lengths = random_lengths(B, T, generator)
    output, _ = ours(x, lengths=lengths)
    expected, _ = run_torch(theirs, x, None, lengths, batch_first=False)
    torch.testing.assert_close(output, expected)


@pytest.mark.parametrize("padded", [True, False])
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("mode", list(MODES))
def test_locked_dropout_between_layers_equals_torch_layers_with_that_mask(
    mode: str, impl: str, padded: bool, generator: torch.Generator
) -> None:
    p = 0.5
    _, ours = make_pair(
        mode, I, H, dtype=torch.float64, num_layers=2, bidirectional=True, dropout=p, impl=impl
    )
    ours.variational = True
    ours.train()
    x = torch.randn(T, B, I, generator=generator, dtype=torch.float64)
    lengths = random_lengths(B, T, generator) if padded else torch.full((B,), T)
    torch.manual_seed(3)
    output, _ = ours(x, lengths=lengths)

    # The same computation from torch.nn single layers and one mask drawn as rnnkit draws it.
    _, torch_cls, extra = MODES[mode]
    layers = []
    for layer in range(2):
        single = torch_cls(I if layer == 0 else 2 * H, H, bidirectional=True, **extra)
        single = single.to(torch.float64)
        state = {
            name.replace(f"_l{layer}", "_l0"): value
            for name, value in ours.state_dict().items()
            if f"_l{layer}" in name
        }
        single.load_state_dict(state)
        layers.append(single)
    torch.manual_seed(3)
    mask = dropout_mask((1, B, 2 * H), p, dtype=torch.float64, device=torch.device("cpu"))
    hidden, _ = run_torch(layers[0], x, None, lengths, batch_first=False)
    expected, _ = run_torch(layers[1], hidden * mask, None, lengths, batch_first=False)
    torch.testing.assert_close(output, expected)


@pytest.mark.parametrize("mode", list(MODES))
def test_regularized_paths_agree_in_values_and_gradients(
    mode: str, generator: torch.Generator
) -> None:
    """Weight dropout and locked dropout together: the fused path against the readable one."""
    x = torch.randn(T, B, I, generator=generator, dtype=torch.float64)
    lengths = random_lengths(B, T, generator)
    results = []
    for impl in IMPLS:
        _, ours = make_pair(
            mode,
            I,
            H,
            dtype=torch.float64,
            num_layers=2,
            bidirectional=True,
            dropout=0.3,
            impl=impl,
        )
        ours.variational, ours.weight_dropout = True, 0.4
        ours.train()
        leaf = x.clone().requires_grad_(True)
        torch.manual_seed(11)
        output, _ = ours(leaf, lengths=lengths)
        (
            output * torch.linspace(-1, 1, output.numel(), dtype=torch.float64).view_as(output)
        ).sum().backward()
        grads = {name: p.grad for name, p in ours.named_parameters()}
        results.append((output.detach(), leaf.grad, grads))
    (out_r, gx_r, grads_r), (out_f, gx_f, grads_f) = results
    torch.testing.assert_close(out_f, out_r)
    torch.testing.assert_close(gx_f, gx_r)
    for name, grad in grads_r.items():
        torch.testing.assert_close(grads_f[name], grad, msg=name)


def test_weight_dropout_is_checked() -> None:
    from rnnkit.nn import LSTM

    with pytest.raises(ValueError, match="weight_dropout"):
        LSTM(3, 4, weight_dropout=1.5)


def test_dropout_mask_zeroes_a_fraction_p_and_scales_the_rest() -> None:
    torch.manual_seed(0)
    mask = dropout_mask((200, 500), 0.3, dtype=torch.float32, device=torch.device("cpu"))
    values = mask.unique()
    assert values[0] == 0
    assert len(values) == 2
    assert values[1].item() == pytest.approx(1 / 0.7)
    assert abs((mask == 0).float().mean().item() - 0.3) < 0.01
    assert abs(mask.mean().item() - 1.0) < 0.02


def test_ordinary_dropout_masks_each_element_and_keeps_the_mean() -> None:
    torch.manual_seed(0)
    x = torch.ones(300, 400)
    y = dropout(x, 0.4)
    assert abs((y == 0).float().mean().item() - 0.4) < 0.01
    assert abs(y.mean().item() - 1.0) < 0.02
    assert dropout(x, 0.4, training=False) is x
    assert torch.equal(dropout(x, 1.0), torch.zeros_like(x))
