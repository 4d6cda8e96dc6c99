"""The language model against direct computations with torch.nn on copied weights: the loss,
the state reset at document boundaries, and truncated BPTT with the state carried."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from rnnkit.data.stream import StreamBatches, eval_windows, window_lengths
from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.language_model import Carried, LanguageModelNet
from rnnkit.text.units import EOD_ID

V = 23


def _config(**kw: object) -> LanguageModelConfig:
    values: dict[str, object] = {
        "embed_dim": 6,
        "hidden_size": 6,
        "num_layers": 2,
        "dropout": 0.0,
        "embed_dropout": 0.0,
        "weight_dropout": 0.0,
    }
    values.update(kw)
    return LanguageModelConfig(V, **values)  # type: ignore[arg-type]


def _cells(net: LanguageModelNet) -> list[nn.Module]:
    """torch.nn cells with the net's weights, one per layer."""
    config, rnn = net.config, net.rnn
    kind = {"lstm": nn.LSTMCell, "gru": nn.GRUCell, "rnn": nn.RNNCell}[config.cell]
    cells = []
    for layer in range(config.num_layers):
        size = config.embed_dim if layer == 0 else config.hidden_size
        cell = kind(size, config.hidden_size).double()
        with torch.no_grad():
            for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                getattr(cell, name).copy_(getattr(rnn, f"{name}_l{layer}"))
        cells.append(cell)
    return cells


def _reference_loss(
    net: LanguageModelNet, tokens: torch.Tensor, targets: torch.Tensor, window: int
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """One pass over (T, B) with torch.nn cells, in float64: the state zeroed before an <eod>
    input and detached every ``window`` steps; the loss summed over all targets, and the
    gradients of the cells' and the embedding's and output layer's copies."""
    config = net.config
    cells = _cells(net)
    embedding = net.encoder.embedding.weight.detach().double().clone().requires_grad_()
    if net.decoder is not None:
        weight = net.decoder.weight.detach().double().clone().requires_grad_()
        bias = net.decoder.bias.detach().double().clone().requires_grad_()
    else:
        weight, bias = embedding, net.output_bias.detach().double().clone().requires_grad_()
    projection = None
    if net.projection is not None:
        projection = nn.Linear(config.hidden_size, config.embed_dim).double()
        projection.load_state_dict({k: v.double() for k, v in net.projection.state_dict().items()})
    rows = tokens.shape[1]
    lstm = config.cell == "lstm"
    zeros = torch.zeros(rows, config.hidden_size, dtype=torch.float64)
    h = [zeros] * config.num_layers
    c = [zeros] * config.num_layers
    total = torch.zeros((), dtype=torch.float64)
    for t in range(tokens.shape[0]):
        if t % window == 0:
            h, c = [x.detach() for x in h], [x.detach() for x in c]
        keep = (tokens[t] != EOD_ID).double()[:, None]
        h, c = [x * keep for x in h], [x * keep for x in c]
        x = embedding[tokens[t]]
        for layer, cell in enumerate(cells):
            if lstm:
                h[layer], c[layer] = cell(x, (h[layer], c[layer]))
            else:
                h[layer] = cell(x, h[layer])
            x = h[layer]
        if projection is not None:
            x = projection(x)
        total = total + F.cross_entropy(x @ weight.t() + bias, targets[t], reduction="sum")
    total.backward()
    grads = [cell.weight_hh.grad for cell in cells] + [embedding.grad, bias.grad]
    return total, grads


def _net_grads(net: LanguageModelNet) -> list[torch.Tensor]:
    rnn = net.rnn
    hh = [getattr(rnn, f"weight_hh_l{layer}").grad for layer in range(net.config.num_layers)]
    bias = net.decoder.bias if net.decoder is not None else net.output_bias
    return [*hh, net.encoder.embedding.weight.grad, bias.grad]


def _stream(length: int, rows: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, V, (length * rows + 1,), generator=generator)
    ids[torch.randint(0, len(ids), (length * rows // 6,), generator=generator)] = EOD_ID
    ids[0] = EOD_ID
    inputs = ids[:-1].reshape(rows, length).t()
    targets = ids[1:].reshape(rows, length).t()
    return inputs, targets


@pytest.mark.parametrize(
    ("cell", "tie", "embed"),
    [("lstm", True, 6), ("lstm", False, 6), ("gru", True, 4), ("rnn", False, 6)],
)
def test_loss_equals_torch_nn_on_copied_weights(cell: str, tie: bool, embed: int) -> None:
    torch.manual_seed(0)
    net = LanguageModelNet(_config(cell=cell, tie_weights=tie, embed_dim=embed)).double()
    tokens = torch.randint(3, V, (9, 4))
    targets = torch.randint(3, V, (9, 4))
    scored = net.score(tokens, targets)
    # one window, no boundaries: torch.nn's layer in one call
    layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell](embed, 6, num_layers=2).double()
    layer.load_state_dict(net.rnn.state_dict())
    out, _ = layer(net.encoder.embedding.weight[tokens])
    if net.projection is not None:
        out = net.projection(out)
    weight = net.decoder.weight if net.decoder is not None else net.encoder.embedding.weight
    bias = net.decoder.bias if net.decoder is not None else net.output_bias
    expected = F.cross_entropy(
        (out @ weight.t() + bias).reshape(-1, V), targets.reshape(-1), reduction="sum"
    )
    torch.testing.assert_close(scored.loss_sum, expected)
    assert scored.count == 36


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_windows_with_carried_state_equal_one_truncated_pass(cell: str) -> None:
    """Loss and gradients of a stream cut into windows, the state carried and reset at each
    <eod>, equal one pass over the whole stream with the gradient cut at the window edges."""
    torch.manual_seed(1)
    net = LanguageModelNet(_config(cell=cell, embed_dim=5 if cell == "gru" else 6)).double()
    tokens, targets = _stream(40, 3)
    assert int((tokens == EOD_ID).sum()) > 3  # boundaries inside windows
    window = 7
    carried, total = Carried(net), torch.zeros((), dtype=torch.float64)
    for start in range(0, 40, window):
        loss, _count = carried(
            tokens[start : start + window], targets[start : start + window], start == 0
        )
        loss.backward()
        total = total + loss.detach()
    expected, grads = _reference_loss(net, tokens, targets, window)
    torch.testing.assert_close(total, expected)
    for got, want in zip(_net_grads(net), grads, strict=True):
        torch.testing.assert_close(got, want)


def test_state_resets_do_not_depend_on_the_rows_around() -> None:
    """A row's loss is the same alone and beside other rows (segments share one batch)."""
    torch.manual_seed(2)
    net = LanguageModelNet(_config()).double()
    tokens, _targets = _stream(30, 4, seed=3)
    together = net(tokens)[0]
    for row in range(4):
        alone = net(tokens[:, row : row + 1])[0]
        torch.testing.assert_close(together[:, row : row + 1], alone)


def test_adaptive_softmax_scores_are_log_probabilities() -> None:
    torch.manual_seed(3)
    net = LanguageModelNet(_config(softmax="adaptive", cutoffs=(8,), hidden_size=10)).double()
    tokens, targets = _stream(10, 2)
    scores, _ = net(tokens)
    torch.testing.assert_close(scores.exp().sum(-1), torch.ones(10, 2, dtype=torch.float64))
    expected = -scores.gather(-1, targets[..., None]).sum()
    torch.testing.assert_close(net.score(tokens, targets).loss_sum, expected)


@pytest.mark.parametrize("softmax", ["full", "adaptive"])
def test_bf16_autocast_scores_close_to_float32(softmax: str) -> None:
    from rnnkit.train.precision import autocast, bf16_supported

    if not bf16_supported():
        pytest.skip("this CPU has no native bfloat16")
    torch.manual_seed(5)
    net = LanguageModelNet(_config(softmax=softmax, cutoffs=(8,), hidden_size=10))
    tokens, targets = _stream(20, 3)
    exact = net.score(tokens, targets).loss_sum
    with autocast("bf16"):
        scored = net.score(tokens, targets)
        scores, _ = net(tokens)
    assert scored.loss_sum.dtype == torch.float32
    torch.testing.assert_close(scored.loss_sum, exact, rtol=0.02, atol=0.0)
    scored.loss_sum.backward()  # type: ignore[no-untyped-call]
    assert all(p.grad is not None for p in net.parameters() if p.requires_grad)
    assert scores.shape == (20, 3, V)
    carried = Carried(net)  # the next window starts from the state this one left
    with autocast("bf16"):
        for window in (slice(0, 10), slice(10, 20)):
            loss_sum, _ = carried(tokens[window], targets[window], window.start == 0)
    assert torch.isfinite(loss_sum)


def test_step_equals_the_full_forward_pass() -> None:
    torch.manual_seed(4)
    net = LanguageModelNet(_config()).double().eval()
    tokens, _ = _stream(12, 2)
    full, final = net(tokens)
    state = net.zero_state(2)
    for t in range(12):
        scores, state = net.step(tokens[t], state)
        torch.testing.assert_close(scores, full[t])
    for a, b in zip(state, final, strict=True):
        torch.testing.assert_close(a, b)


def test_activation_regularizers_add_their_means() -> None:
    torch.manual_seed(5)
    net = LanguageModelNet(_config(activation_reg=2.0, temporal_reg=1.0, num_layers=1)).double()
    tokens = torch.randint(3, V, (6, 2))
    scored = net.score(tokens, tokens)
    _, raw, _ = net.hidden(tokens)
    expected = 2.0 * raw.pow(2).mean() * 12 + (raw[1:] - raw[:-1]).pow(2).mean() * 12
    torch.testing.assert_close(scored.penalty, expected)
    assert float(net.eval().score(tokens, tokens).penalty) == 0.0


def test_stream_batches_cover_the_rows_in_order() -> None:
    stream = np.arange(101, dtype=np.int64)
    batches = StreamBatches(stream, batch_size=4, window=7)
    windows = list(batches.epoch(0))
    assert len(windows) == len(batches) == 4
    tokens = torch.cat([w.tokens for w in windows])
    assert tokens[:, 1].tolist() == list(range(25, 50))
    assert torch.equal(torch.cat([w.target for w in windows]), tokens + 1)
    assert [w.fresh for w in windows] == [True, False, False, False]
    shard = batches.shard(1, 2)
    assert torch.equal(next(iter(shard.epoch(0))).tokens, windows[0].tokens[:, 1::2])


def test_variable_windows_keep_their_count_and_cover_everything() -> None:
    for seed in range(5):
        lengths = window_lengths(1000, 70, variable=True, seed=seed)
        assert sum(lengths) == 1000
        assert len(lengths) == len(window_lengths(1000, 70, variable=False, seed=0))
    assert window_lengths(1000, 70, variable=True, seed=1) != window_lengths(
        1000, 70, variable=True, seed=2
    )


def test_eval_windows_score_every_target_once() -> None:
    stream = np.arange(53, dtype=np.int64)
    seen = [
        t
        for _, targets, _ in eval_windows(stream, batch_size=4, window=5)
        for t in targets.flatten().tolist()
    ]
    assert sorted(seen) == list(range(1, 53))
