"""The translator network against a direct reference computation on copied weights: torch.nn's
recurrent layers and cells, one sentence at a time, attention written out position by
position; and the properties a padded batch must keep."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.config import TranslatorConfig
from rnnkit.models.translator import TranslatorNet
from rnnkit.text.units import EOD_ID

SOURCE_VOCAB, TARGET_VOCAB = 13, 11


def make_net(**kw: object) -> TranslatorNet:
    values: dict[str, object] = {
        "cell": "lstm",
        "embed_dim": 5,
        "hidden_size": 3,
        "num_layers": 1,
        "dropout": 0.0,
        "embed_dropout": 0.0,
        "weight_dropout": 0.0,
    }
    values.update(kw)
    torch.manual_seed(0)
    config = TranslatorConfig(SOURCE_VOCAB, TARGET_VOCAB, **values)  # type: ignore[arg-type]
    net = TranslatorNet(config).double()
    with torch.no_grad():  # biases too, so that every term of the equations counts
        for parameter in net.parameters():
            parameter.uniform_(-0.8, 0.8)
    return net


def batch(seed: int = 1) -> tuple[Tensor, Tensor, Tensor, list[list[int]], list[list[int]]]:
    """Three pairs of different lengths, padded: source (S, B), lengths, target_in (T, B),
    and the unpadded sentences."""
    generator = torch.Generator().manual_seed(seed)
    source_lengths, target_lengths = [5, 2, 4], [3, 6, 1]
    sources = [
        torch.randint(3, SOURCE_VOCAB, (n,), generator=generator).tolist() for n in source_lengths
    ]
    targets = [
        torch.randint(3, TARGET_VOCAB, (n,), generator=generator).tolist() for n in target_lengths
    ]
    source = torch.zeros(max(source_lengths), 3, dtype=torch.long)
    target_in = torch.zeros(max(target_lengths) + 1, 3, dtype=torch.long)
    for b in range(3):
        source[: source_lengths[b], b] = torch.tensor(sources[b])
        target_in[: target_lengths[b] + 1, b] = torch.tensor([EOD_ID, *targets[b]])
    return source, torch.tensor(source_lengths), target_in, sources, targets


class Reference(nn.Module):
    """The same model from torch.nn's layers and cells, for one unpadded sentence."""

    def __init__(self, net: TranslatorNet) -> None:
        super().__init__()
        config = net.config
        self.config = config
        layer = {"lstm": nn.LSTM, "gru": nn.GRU}[config.cell]
        cell = {"lstm": nn.LSTMCell, "gru": nn.GRUCell}[config.cell]
        self.source_embedding = nn.Embedding.from_pretrained(
            net.encoder.embedding.weight.detach().clone(), freeze=False
        )
        self.encoder = layer(
            config.embed_dim,
            config.hidden_size,
            num_layers=config.num_layers,
            bidirectional=config.bidirectional,
        ).double()
        assert net.encoder.rnn is not None
        self.encoder.load_state_dict(net.encoder.rnn.state_dict())
        self.target_embedding = nn.Embedding.from_pretrained(
            net.target_embedding.weight.detach().clone(), freeze=False
        )
        D = config.decoder_size
        width = config.embed_dim + (D if config.input_feeding else 0)
        self.cells = nn.ModuleList(
            cell(width if layer_ == 0 else D, D).double() for layer_ in range(config.num_layers)
        )
        for number, reference_cell in enumerate(self.cells):
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                weight = getattr(net.decoder, f"{kind}_l{number}").detach().clone()
                setattr(reference_cell, kind, nn.Parameter(weight))
        self.bridge = [_copy(b) for b in net.bridge]
        self.combine = _copy(net.combine)
        self.attention = {
            n: _copy(getattr(net.attention, n))
            for n in ("key", "query", "v")
            if getattr(net.attention, n) is not None
        }
        self.projection = _copy(net.projection) if net.projection is not None else None
        self.output = _copy(net.output) if net.output is not None else None
        bias = net.output_bias
        self.output_bias = nn.Parameter(bias.detach().clone()) if bias is not None else None

    def score(self, s: Tensor, m: Tensor) -> Tensor:
        """score(s, m_j) for each source position j, one at a time."""
        kind = self.config.attention
        values = []
        for j in range(m.shape[0]):
            if kind == "dot":
                values.append(s @ m[j])
            elif kind == "general":
                values.append(s @ self.attention["key"](m[j]))
            else:
                hidden = torch.tanh(self.attention["query"](s) + self.attention["key"](m[j]))
                values.append(self.attention["v"](hidden)[0])
        return torch.stack(values)

    def forward(self, source: list[int], target_in: list[int]) -> tuple[Tensor, Tensor]:
        """Logits (T, V) and attention weights (T, S) of one sentence."""
        config = self.config
        x = self.source_embedding(torch.tensor(source))[:, None]  # (S, 1, E)
        m, final = self.encoder(x)
        m = m[:, 0]  # (S, D)
        finals = final if isinstance(final, tuple) else (final,)
        D, directions = config.decoder_size, config.num_directions
        states = []
        for number, (state, bridge) in enumerate(zip(finals, self.bridge, strict=True)):
            per_layer = [
                bridge(torch.cat([state[layer * directions + d, 0] for d in range(directions)]))
                for layer in range(config.num_layers)
            ]
            states.append([torch.tanh(h) if number == 0 else h for h in per_layer])
        feed = torch.zeros(D, dtype=m.dtype)
        logits, weights = [], []
        for token in target_in:
            x = self.target_embedding(torch.tensor(token))
            if config.input_feeding:
                x = torch.cat([x, feed])
            for layer, reference_cell in enumerate(self.cells):
                if config.cell == "lstm":
                    h, c = reference_cell(x, (states[0][layer], states[1][layer]))
                    states[0][layer], states[1][layer] = h, c
                else:
                    h = reference_cell(x, states[0][layer])
                    states[0][layer] = h
                x = h
            a = torch.softmax(self.score(x, m), dim=0)
            context = sum(a[j] * m[j] for j in range(m.shape[0]))
            feed = torch.tanh(self.combine(torch.cat([context, x])))  # type: ignore[list-item]
            weights.append(a)
            if self.output is not None:
                logits.append(self.output(feed))
            else:
                z = self.projection(feed) if self.projection is not None else feed
                logits.append(self.target_embedding.weight @ z + self.output_bias)
        return torch.stack(logits), torch.stack(weights)


def _copy(layer: nn.Linear) -> nn.Linear:
    copy = nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None)
    copy = copy.double()
    copy.load_state_dict(layer.state_dict())
    return copy


GRID = [
    {"cell": "lstm", "attention": "general"},
    {"cell": "gru", "attention": "dot"},
    {"cell": "lstm", "attention": "additive", "num_layers": 2},
    {"cell": "gru", "attention": "general", "input_feeding": False, "num_layers": 2},
    {"cell": "lstm", "attention": "dot", "tie_weights": False},
    {"cell": "gru", "attention": "additive", "bidirectional": False},
    {"cell": "lstm", "attention": "general", "embed_dim": 6},  # no projection: D == E
]


@pytest.mark.parametrize("options", GRID, ids=lambda o: "-".join(map(str, o.values())))
def test_teacher_forced_scores_loss_and_gradients_equal_the_reference(
    options: dict[str, object],
) -> None:
    net = make_net(**options)
    reference = Reference(net)
    source, lengths, target_in, sources, targets = batch()
    scores = net(source, lengths, target_in)  # (T, B, V)
    loss = torch.zeros((), dtype=torch.float64)
    expected_loss = torch.zeros((), dtype=torch.float64)
    for b, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        logits, _ = reference(src, [EOD_ID, *tgt])
        steps = len(tgt) + 1
        torch.testing.assert_close(scores[:steps, b], logits, rtol=1e-9, atol=1e-9)
        gold = torch.tensor([*tgt, EOD_ID])
        loss = loss + F.cross_entropy(scores[:steps, b], gold, reduction="sum")
        expected_loss = expected_loss + F.cross_entropy(logits, gold, reduction="sum")
    torch.testing.assert_close(loss, expected_loss, rtol=1e-10, atol=1e-10)
    loss.backward()  # type: ignore[no-untyped-call]
    expected_loss.backward()  # type: ignore[no-untyped-call]
    pairs = [
        (net.encoder.embedding.weight, reference.source_embedding.weight),
        (net.target_embedding.weight, reference.target_embedding.weight),
        (net.combine.weight, reference.combine.weight),
    ]
    assert net.encoder.rnn is not None
    for name, weight in net.encoder.rnn.named_parameters():
        pairs.append((weight, getattr(reference.encoder, name)))
    for number, reference_cell in enumerate(reference.cells):
        for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            pairs.append((getattr(net.decoder, f"{kind}_l{number}"), getattr(reference_cell, kind)))
    for ours, theirs in zip(net.bridge, reference.bridge, strict=True):
        pairs += [(ours.weight, theirs.weight), (ours.bias, theirs.bias)]
    for name, layer in reference.attention.items():
        pairs.append((getattr(net.attention, name).weight, layer.weight))
    if net.projection is not None:
        assert reference.projection is not None
        pairs += [(net.projection.weight, reference.projection.weight)]
    if net.output is not None:
        assert reference.output is not None
        pairs += [(net.output.weight, reference.output.weight)]
    else:
        assert net.output_bias is not None
        pairs += [(net.output_bias, reference.output_bias)]
    for ours, theirs in pairs:
        assert ours.grad is not None
        torch.testing.assert_close(ours.grad, theirs.grad, rtol=1e-8, atol=1e-9)


@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
def test_attention_sums_to_one_and_is_exactly_zero_at_padding(attention: str) -> None:
    net = make_net(attention=attention).eval()
    source, lengths, target_in, _, _ = batch()
    source[source == 0] = 7  # padding with real tokens: still masked by the lengths
    memory, state = net.encode(source, lengths)
    weights = net.decode(memory, state, target_in).weights  # (B, T, S)
    torch.testing.assert_close(weights.sum(-1), torch.ones(weights.shape[:2], dtype=weights.dtype))
    for b, length in enumerate(lengths.tolist()):
        assert bool((weights[b, :, length:] == 0).all())
        assert bool((weights[b, :, :length] > 0).all())


@pytest.mark.parametrize("options", GRID[:4], ids=lambda o: "-".join(map(str, o.values())))
def test_a_sentence_alone_equals_the_same_sentence_in_a_padded_batch(
    options: dict[str, object],
) -> None:
    net = make_net(**options).eval()
    source, lengths, target_in, sources, targets = batch()
    together = net(source, lengths, target_in)
    for b, (src, tgt) in enumerate(zip(sources, targets, strict=True)):
        alone = net(
            torch.tensor(src)[:, None],
            torch.tensor([len(src)]),
            torch.tensor([EOD_ID, *tgt])[:, None],
        )
        torch.testing.assert_close(together[: len(tgt) + 1, b], alone[:, 0], rtol=0, atol=1e-12)


def test_step_by_step_decoding_equals_teacher_forcing() -> None:
    net = make_net(cell="gru", num_layers=2, attention="additive").eval()
    source, lengths, target_in, _, _ = batch()
    search = net.start_search(source, lengths)
    scores = torch.log_softmax(net(source, lengths, target_in), dim=-1)
    for t in range(target_in.shape[0]):
        log_probs, search = net.search_step(target_in[t], search)
        torch.testing.assert_close(log_probs, scores[t].float(), rtol=1e-5, atol=1e-6)
