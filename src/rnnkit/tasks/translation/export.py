"""ONNX export of a translator: its encoder and one step of its decoder, two graphs written
node by node from :class:`rnnkit.models.translator.TranslatorNet` in evaluation.

The ENCODER graph takes ``source`` (time, batch) int64, padded with 0, and ``lengths`` (batch,)
int64; it returns what ``TranslatorNet.start_search`` starts a search with:

    x_t       = E[source_t] * [t < length]                 embedding, zero at padding
    Y, h_n    = LSTM | GRU(x, sequence_lens=length)        per layer, padding masked between
    values    = Y (batch, time, D), zero at padding        D = directions x hidden
    keys      = values | values W_a^T | values W_k^T       dot | general | additive
    mask      = [t < length] (batch, time) bool
    h         = tanh(W_b [h_n fwd; h_n bwd] + b_b)         (layers, batch, D), the bridge
    c         = W_b' [c_n fwd; c_n bwd] + b_b'             an LSTM's cell state, likewise
    feed      = 0 (batch, D)                               no attentional vector yet

The DECODER graph is one step, what ``TranslatorNet.step`` computes: it takes ``tokens``
(batch,) int64, the state ``h`` (and ``c``), ``feed`` (batch, D) and the memory ``values``,
``keys`` (batch, time, D) and ``mask`` (batch, time), and returns

    x         = [F[token]; feed] | F[token]                with or without input feeding
    s, h', c' = LSTM | GRU(x, initial_h=h[l], initial_c=c[l])     per layer l, one step
    score_j   = s . k_j | v . tanh(W_q s + b_q + k_j)      -inf where mask_j is false
    weights   = softmax_j score_j                          (batch, time)
    feed_n    = tanh(W_c [sum_j weights_j values_j; s])    the attentional vector h~
    log_probs = log_softmax(F P feed_n + b | W feed_n + b) tied (P where D != E) | untied

with the outputs ``log_probs`` (batch, V), ``h_n`` (and ``c_n``), ``feed_n`` and ``weights``.
Without input feeding ``feed`` is read by nothing, but every decoder graph takes the same
inputs, so that whoever runs it need not know the configuration.
The recurrent layers are :mod:`rnnkit.export.graph`'s, from each cell's ``CellSpec``; ONNX's
``sequence_lens`` gives each source its own end, as in ``rnnkit.nn``. Each file records the
task, the cell, which graph it is and a SHA-256 of the weights, so that
:class:`rnnkit.tasks.translation.runtime.OnnxTranslator` refuses graphs of other weights.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.errors import ConfigError, OutputError
from rnnkit.export.graph import Graph, check_export_target, linear, recurrent_layer, save_graph
from rnnkit.export.graph import state_names as cell_states
from rnnkit.models.translator import TranslatorNet
from rnnkit.tasks.translation import ONNX_FILES
from rnnkit.tasks.translation.options import NAME

log = logging.getLogger(__name__)

ENCODER, DECODER = "encoder", "decoder"  # the graphs, as their metadata names them
TOLERANCE = 1e-4  # the largest difference from PyTorch an export may show before it is written


def state_names(net: TranslatorNet) -> tuple[str, ...]:
    """The decoder's recurrent states, in the order of ``DecoderState.hidden``."""
    return cell_states(net.config.cell)


def _axes(g: Graph, *axes: int) -> str:
    return g.constant("axes", np.array(axes, np.int64))


def _matmul(g: Graph, x: str, weight: Any, stem: str) -> str:
    """``x W^T`` for an input ``x`` (..., in) of any rank and a (out, in) weight."""
    return str(g.op("MatMul", x, g.constant(stem, weight.T)))


def _per_layer(g: Graph, state: str, layers: int) -> list[str]:
    """A state (L, B, D) as L states (1, B, D), what each layer's operator starts from."""
    if layers == 1:
        return [state]
    split = g.constant("split", np.ones(layers, np.int64))
    return list(g.op("Split", state, split, axis=0, outputs=layers))


def _finish(
    g: Graph,
    net: TranslatorNet,
    graph: str,
    inputs: list[Any],
    outputs: list[Any],
    doc: str,
) -> Any:
    """The checked ModelProto of the nodes of ``g``, with rnnkit's metadata."""
    config = net.config
    return g.model(
        f"rnnkit_translator_{graph}",
        inputs,
        outputs,
        doc,
        {
            "task": NAME,
            "graph": graph,
            "cell": config.cell,
            "attention": config.attention,
            "target_vocab_size": str(config.target_vocab_size),
        },
        net,
    )


def _bridge(g: Graph, net: TranslatorNet, finals: list[list[str]]) -> dict[str, str]:
    """The decoder's first ``h`` (and ``c``), each (L, B, D), from the encoder's final states:
    ``finals`` holds each state's layers, each (1, B, D) with both directions side by side."""
    made = {}
    for number, (name, layers, bridge) in enumerate(
        zip(state_names(net), finals, net.bridge, strict=True)
    ):
        joined = layers[0] if len(layers) == 1 else g.op("Concat", *layers, axis=0)  # (L, B, D)
        state = g.op(
            "Add",
            _matmul(g, joined, bridge.weight, f"bridge{number}_w"),
            g.constant(f"bridge{number}_b", bridge.bias),
        )
        made[name] = str(g.op("Tanh", state)) if number == 0 else str(state)  # tanh for h only
    return made


def build_encoder_graph(net: TranslatorNet) -> Any:
    """The ONNX ModelProto of ``net.start_search`` in evaluation (see the module's docstring)."""
    g = Graph()
    onnx, helper = g.onnx, g.onnx.helper
    config, rnn = net.config, net.encoder.rnn
    assert rnn is not None  # the configuration refuses bag
    float_type, zero_i = onnx.TensorProto.FLOAT, g.constant("zero", np.array(0, np.int64))
    time = g.op("Squeeze", g.op("Shape", "source", start=0, end=1), _axes(g, 0))
    steps = g.op("Range", zero_i, time, g.constant("one", np.array(1, np.int64)))
    real = g.op(
        "Less", g.op("Unsqueeze", steps, _axes(g, 1)), g.op("Unsqueeze", "lengths", _axes(g, 0))
    )
    present = g.op("Cast", g.op("Unsqueeze", real, _axes(g, 2)), to=float_type)  # (T, B, 1)

    x = g.op("Gather", g.constant("embedding", net.encoder.embedding.weight), "source")
    x = g.op("Mul", x, present)  # (T, B, E), zero at padding
    seq_lens = g.op("Cast", "lengths", to=onnx.TensorProto.INT32)
    finals: list[list[str]] = [[] for _ in state_names(net)]  # each layer's (B, D) per state
    for layer in range(config.num_layers):
        y, final = recurrent_layer(g, rnn, layer, x, seq_lens)  # (T, B, D), each (dirs, B, H)
        x = g.op("Mul", y, present)
        for kept, state in zip(finals, final, strict=True):
            joined = g.op("Transpose", state, perm=[1, 0, 2])  # (B, dirs, H): fwd, then bwd
            joined = g.op("Reshape", joined, g.constant("shape", np.array([0, -1], np.int64)))
            kept.append(g.op("Unsqueeze", joined, _axes(g, 0)))  # (1, B, D)
    values = g.op("Transpose", x, perm=[1, 0, 2])  # (B, T, D)
    attention = net.attention
    keys = values if attention.key is None else _matmul(g, values, attention.key.weight, "key")
    outputs = {"values": values, "keys": keys, "mask": g.op("Transpose", real, perm=[1, 0])}
    outputs.update(_bridge(g, net, finals))
    D = config.decoder_size
    shape = g.op(
        "Concat", g.op("Shape", "lengths"), g.constant("D", np.array([D], np.int64)), axis=0
    )
    zero = helper.make_tensor("value", float_type, [1], [0.0])
    outputs["feed"] = g.op("ConstantOfShape", shape, value=zero)  # (B, D)
    for name, node in outputs.items():
        g.nodes.append(helper.make_node("Identity", [node], [name]))

    L = config.num_layers
    shapes = {
        "values": (float_type, ["batch", "time", D]),
        "keys": (float_type, ["batch", "time", D]),
        "mask": (onnx.TensorProto.BOOL, ["batch", "time"]),
        **{name: (float_type, [L, "batch", D]) for name in state_names(net)},
        "feed": (float_type, ["batch", D]),
    }
    return _finish(
        g,
        net,
        ENCODER,
        [
            helper.make_tensor_value_info("source", onnx.TensorProto.INT64, ["time", "batch"]),
            helper.make_tensor_value_info("lengths", onnx.TensorProto.INT64, ["batch"]),
        ],
        [helper.make_tensor_value_info(name, *shapes[name]) for name in outputs],
        "source (time, batch) int64 padded with 0, lengths (batch,) int64 -> the memory "
        "(values, keys, mask) and the decoder's first state",
    )


def _attention(g: Graph, net: TranslatorNet, s: str) -> tuple[str, str]:
    """The weights (B, S) and the context (B, D) of the decoder's output ``s`` (B, D) over
    the memory inputs ``values``, ``keys`` and ``mask``."""
    attention = net.attention
    if attention.query is not None and attention.v is not None:  # additive
        query = g.op(
            "Add",
            _matmul(g, s, attention.query.weight, "query_w"),
            g.constant("query_b", attention.query.bias),
        )
        hidden = g.op("Tanh", g.op("Add", g.op("Unsqueeze", query, _axes(g, 1)), "keys"))
        scores = g.op("MatMul", hidden, g.constant("v", attention.v.weight.T))  # B,S,1
    else:  # dot and general: the keys already hold W_a m
        scores = g.op("MatMul", "keys", g.op("Unsqueeze", s, _axes(g, 2)))  # (B, S, 1)
    scores = g.op("Squeeze", scores, _axes(g, 2))
    minus_inf = g.constant("minus_inf", np.array(-np.inf, np.float32))
    weights = g.op("Softmax", g.op("Where", "mask", scores, minus_inf), axis=1)  # (B, S)
    context = g.op("MatMul", g.op("Unsqueeze", weights, _axes(g, 1)), "values")  # (B, 1, D)
    return weights, g.op("Squeeze", context, _axes(g, 1))


def _log_probs(g: Graph, net: TranslatorNet, attentional: str, embedding: str) -> str:
    """``log_softmax(net.scores(attentional))`` (B, V) of the attentional vectors (B, D)."""
    if net.output is not None:
        scores = linear(g, attentional, net.output, "output")
    else:
        assert net.output_bias is not None  # tied: the embedding's initializer, transposed
        z = attentional
        if net.projection is not None:
            z = linear(g, z, net.projection, "projection")
        bias = g.constant("output_b", net.output_bias)
        scores = g.op("Gemm", z, embedding, bias, transB=1)
    return str(g.op("LogSoftmax", scores, axis=1))


def build_decoder_graph(net: TranslatorNet) -> Any:
    """The ONNX ModelProto of one ``net.step`` in evaluation (see the module's docstring)."""
    g = Graph()
    onnx, helper = g.onnx, g.onnx.helper
    config, names = net.config, state_names(net)
    L = config.num_layers
    embedding = g.constant("target_embedding", net.target_embedding.weight)
    x = g.op("Gather", embedding, "tokens")  # (B, E)
    if config.input_feeding:
        x = g.op("Concat", x, "feed", axis=1)  # (B, E + D)
    x = g.op("Unsqueeze", x, _axes(g, 0))  # (1, B, E [+ D]): one time step
    per_layer = [_per_layer(g, name, L) for name in names]
    finals: list[list[str]] = [[] for _ in names]
    for layer in range(L):
        initial = tuple(layers[layer] for layers in per_layer)
        x, final = recurrent_layer(g, net.decoder, layer, x, "", initial)  # (1, B, D)
        for kept, state in zip(finals, final, strict=True):
            kept.append(state)
    s = g.op("Squeeze", x, _axes(g, 0))  # (B, D)
    weights, context = _attention(g, net, s)
    joined = g.op("Concat", context, s, axis=1)  # (B, 2D)
    attentional = g.op("Tanh", _matmul(g, joined, net.combine.weight, "combine"))
    outputs = {"log_probs": _log_probs(g, net, attentional, embedding)}
    for name, layers in zip(names, finals, strict=True):
        outputs[f"{name}_n"] = layers[0] if L == 1 else g.op("Concat", *layers, axis=0)
    outputs["feed_n"], outputs["weights"] = attentional, weights
    for name, node in outputs.items():
        g.nodes.append(helper.make_node("Identity", [node], [name]))

    float_type, D, V = onnx.TensorProto.FLOAT, config.decoder_size, config.target_vocab_size
    state_shape: list[int | str] = [L, "batch", D]
    inputs = [
        helper.make_tensor_value_info("tokens", onnx.TensorProto.INT64, ["batch"]),
        *(helper.make_tensor_value_info(name, float_type, state_shape) for name in names),
        helper.make_tensor_value_info("feed", float_type, ["batch", D]),
        helper.make_tensor_value_info("values", float_type, ["batch", "time", D]),
        helper.make_tensor_value_info("keys", float_type, ["batch", "time", D]),
        helper.make_tensor_value_info("mask", onnx.TensorProto.BOOL, ["batch", "time"]),
    ]
    shapes = {
        "log_probs": ["batch", V],
        **{f"{name}_n": state_shape for name in names},
        "feed_n": ["batch", D],
        "weights": ["batch", "time"],
    }
    return _finish(
        g,
        net,
        DECODER,
        inputs,
        [helper.make_tensor_value_info(name, float_type, shapes[name]) for name in outputs],
        "one step: tokens (batch,) int64, the state, feed and the encoder's memory -> "
        "log_probs (batch, vocab), the next state, feed_n and the attention weights",
    )


def export_translator(net: TranslatorNet, folder: str | Path) -> tuple[Path, Path]:
    """Write the encoder and decoder graphs of ``net`` into ``folder`` as
    ``ONNX_FILES``, each beside its place first and renamed into it (``OutputError``
    when that fails, with the previous file intact). Both graphs are first run in ONNX Runtime
    on a made-up batch and compared with ``net``: nothing is written when they differ by more
    than ``TOLERANCE``."""
    from rnnkit.tasks.translation.runtime import largest_difference

    was_training = net.training
    net.eval()
    try:
        graphs = build_encoder_graph(net), build_decoder_graph(net)
        found = largest_difference(net, *(graph.SerializeToString() for graph in graphs))
    finally:
        net.train(was_training)
    if not found <= TOLERANCE:
        raise ConfigError(
            f"the exported translator differs from the PyTorch model by {found:.3g} (at most "
            f"{TOLERANCE:g} expected) on a made-up batch; nothing was written"
        )
    paths = tuple(Path(folder) / name for name in ONNX_FILES)
    for graph, path in zip(graphs, paths, strict=True):
        save_graph(graph, path)
    log.debug("wrote %s and %s (largest difference from PyTorch %.2g)", *paths, found)
    return paths[0], paths[1]


def export_bundle(model: Path, out: str | None, quantize: str | None) -> list[Path]:
    """``rnnkit export`` of a translator's bundle: its two graphs into the model's folder (or
    ``out``), each replacing only an earlier export; ``export_translator`` compares them with
    PyTorch before writing."""
    from rnnkit.tasks.translation.estimator import Translator

    if quantize:
        raise ConfigError("--quantize int8 is for classifiers: a translator is exported in float32")
    folder = Path(out) if out else Path(model)
    if folder.exists() and not folder.is_dir():
        raise OutputError(
            f"--out {folder}: is a file; a translator's graphs ({' and '.join(ONNX_FILES)}) "
            "are written into a folder"
        )
    for name in ONNX_FILES:
        check_export_target(folder / name)
    translator = Translator.load(model, command="rnnkit export")
    return list(export_translator(translator.model_, folder))
