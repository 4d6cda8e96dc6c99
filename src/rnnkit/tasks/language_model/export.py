"""ONNX export of a language model's step: ``LanguageModelNet.step`` in evaluation, one graph.

The graph takes ``tokens`` (batch,) int64 and the state, ``h`` (layers, batch, hidden) float32
and for an LSTM ``c`` alike, with a dynamic batch; it returns ``scores`` (batch, vocab) and the
next state ``h_n`` (and ``c_n``). It computes what ``step`` computes:

    h, c      = 0 where token is <eod>, else h, c          a document starts: the state resets
    x         = E[token]
    y, h', c' = LSTM | GRU | RNN(x, initial_h=h[l], initial_c=c[l])   per layer l, one step
    z         = P y + b_P                                   where the model has a projection
    scores    = z E^T + b (tied) | W z + b (untied) | log_prob(z) (adaptive softmax)

The reset is the one ``run_segments`` makes in a window of one step: a row whose token is
``<eod>`` starts from zeros. The recurrent layers are ``rnnkit.export.graph``'s, from each
cell's ``CellSpec``. The adaptive softmax's log-probabilities are torch's ``log_prob``:

    head      = log_softmax(W_h z [+ b_h])                  shortlist, then one entry per cluster
    scores    = [head[:shortlist] | head[shortlist + i] + log_softmax(W_i2 W_i1 z), each i]

The metadata records the task, cell, vocabulary size and a SHA-256 of the weights, so that
``rnnkit.tasks.language_model.runtime.OnnxStep`` can refuse a graph exported from other weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.export.graph import Graph, check_export_target, linear, recurrent_layer, save_graph
from rnnkit.export.graph import state_names as cell_states
from rnnkit.models.language_model import LanguageModelNet
from rnnkit.tasks.language_model import ONNX_FILE
from rnnkit.tasks.language_model.options import NAME
from rnnkit.text.units import EOD_ID

log = logging.getLogger(__name__)


def state_names(net: LanguageModelNet) -> tuple[str, ...]:
    """The graph's state inputs, in the order of the model's state: ``h`` (and ``c``)."""
    return cell_states(net.config.cell)


def _columns(g: Graph, x: str, start: int, stop: int) -> str:
    """``x[:, start:stop]``."""
    bounds = [
        g.constant(stem, np.array([v], np.int64))
        for stem, v in (("start", start), ("stop", stop), ("axis", 1))
    ]
    return str(g.op("Slice", x, *bounds))


def _adaptive_log_prob(g: Graph, z: str, adaptive: nn.AdaptiveLogSoftmaxWithLoss) -> str:
    """torch's ``AdaptiveLogSoftmaxWithLoss.log_prob`` of ``z`` (B, in) -> (B, V)."""
    head = g.op("LogSoftmax", linear(g, z, adaptive.head, "head"), axis=1)
    shortlist = adaptive.shortlist_size
    parts = [_columns(g, head, 0, shortlist)]
    for i, tail in enumerate(adaptive.tail):  # each Linear(in, small) then Linear(small, size)
        cluster = z
        for layer in (m for m in tail.modules() if isinstance(m, nn.Linear)):
            cluster = linear(g, cluster, layer, f"tail{i}")
        cluster = g.op("LogSoftmax", cluster, axis=1)
        parts.append(g.op("Add", cluster, _columns(g, head, shortlist + i, shortlist + i + 1)))
    return str(g.op("Concat", *parts, axis=1))


def _scores(g: Graph, net: LanguageModelNet, h: str, embedding: str) -> str:
    """``net.logits`` of the last layer's outputs ``h`` (B, H) -> (B, V)."""
    z = h if net.projection is None else linear(g, h, net.projection, "projection")
    if net.adaptive is not None:
        return _adaptive_log_prob(g, z, net.adaptive)
    if net.decoder is not None:
        return linear(g, z, net.decoder, "decoder")
    assert net.output_bias is not None  # tied: the embedding's initializer, transposed by Gemm
    bias = g.constant("output_b", net.output_bias)
    return str(g.op("Gemm", z, embedding, bias, transB=1))


def build_step_graph(net: LanguageModelNet) -> Any:
    """The ONNX ModelProto of ``net.step`` in evaluation."""
    g = Graph()
    onnx, helper = g.onnx, g.onnx.helper
    config = net.config
    float_type = onnx.TensorProto.FLOAT
    names = state_names(net)

    # The reset: each state zeroed in the rows whose token is <eod>.
    is_eod = g.op("Equal", "tokens", g.constant("eod", np.array(EOD_ID, np.int64)))
    is_eod = g.op("Unsqueeze", is_eod, g.constant("axes", np.array([0, 2], np.int64)))
    zero = g.constant("zero", np.array(0.0, np.float32))
    states = [g.op("Where", is_eod, zero, name) for name in names]  # each (L, B, H)
    if config.num_layers > 1:
        ones = g.constant("split", np.ones(config.num_layers, np.int64))
        per_layer = [g.op("Split", s, ones, axis=0, outputs=config.num_layers) for s in states]
    else:
        per_layer = [[s] for s in states]

    embedding = g.constant("embedding", net.encoder.embedding.weight)
    axis0 = g.constant("axis0", np.array([0], np.int64))
    x = g.op("Unsqueeze", g.op("Gather", embedding, "tokens"), axis0)  # (1, B, E)
    rnn = net.encoder.rnn
    assert rnn is not None  # the configuration refuses bag
    finals: list[list[str]] = [[] for _ in names]
    for layer in range(config.num_layers):
        initial = tuple(layers[layer] for layers in per_layer)
        x, final = recurrent_layer(g, rnn, layer, x, "", initial)  # (1, B, H)
        for kept, state in zip(finals, final, strict=True):
            kept.append(state)
    scores = _scores(g, net, g.op("Squeeze", x, axis0), embedding)
    g.nodes.append(helper.make_node("Identity", [scores], ["scores"]))
    for name, layers in zip(names, finals, strict=True):
        stacked = layers[0] if len(layers) == 1 else g.op("Concat", *layers, axis=0)
        g.nodes.append(helper.make_node("Identity", [stacked], [f"{name}_n"]))

    L, H, V = config.num_layers, config.hidden_size, config.vocab_size
    inputs = [helper.make_tensor_value_info("tokens", onnx.TensorProto.INT64, ["batch"])]
    outputs = [helper.make_tensor_value_info("scores", float_type, ["batch", V])]
    for name in names:
        inputs.append(helper.make_tensor_value_info(name, float_type, [L, "batch", H]))
        outputs.append(helper.make_tensor_value_info(f"{name}_n", float_type, [L, "batch", H]))
    return g.model(
        "rnnkit_language_model_step",
        inputs,
        outputs,
        f"one step: tokens (batch,) int64 and the state {', '.join(names)} (layers, batch, "
        "hidden) -> scores (batch, vocab) and the next state; the state is reset where the "
        "token is <eod>",
        {"task": NAME, "cell": config.cell, "vocab_size": str(V)},
        net,
    )


def export_language_model(
    net: LanguageModelNet, path: str | Path, *, quantize: str | None = None
) -> Path:
    """Write the step graph of ``net`` to ``path`` as ONNX, beside it first and renamed into
    place (``OutputError`` when that fails, with the previous file intact). float32 only."""
    path = Path(path)
    if quantize is not None:
        raise ConfigError(
            "quantize is for classifiers: a language model is exported in float32",
            field="quantize",
        )
    save_graph(build_step_graph(net), path)
    log.debug("wrote %s (the step of a %s language model)", path, net.config.cell)
    return path


def export_bundle(model: Path, out: str | None, quantize: str | None) -> list[Path]:
    """``rnnkit export`` of a language model's bundle: its step graph to ``out`` (default:
    ``MODEL/model.onnx``), float32; an existing file is replaced only when it is an earlier
    export."""
    from rnnkit.tasks.language_model.estimator import LanguageModel

    if quantize:
        raise ConfigError(
            "--quantize int8 is for classifiers: a language model is exported in float32"
        )
    path = Path(out) if out else Path(model) / ONNX_FILE
    check_export_target(path)
    lm = LanguageModel.load(model, command="rnnkit export")
    export_language_model(lm.model_, path)
    return [path]
