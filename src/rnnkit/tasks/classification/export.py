"""ONNX export of a SequenceClassifier (or an ensemble of them), written node by node from the
model's equations with the shared pieces of :mod:`rnnkit.export.graph`.

The graph takes ``tokens`` (batch, time) int64, padded with 0, and ``lengths`` (batch,) int64,
both with dynamic sizes, and returns ``probs`` (batch, classes) and ``logits``. It computes what
``SequenceClassifier.forward`` computes in evaluation:

    x_t       = E[token_t] * [t < length]                      embedding, zero at padding
    Y, h_n    = LSTM | GRU | RNN(x, sequence_lens=length)      per layer, ONNX's own operator
    features  = [h_n of each direction | max_t Y | sum_t Y / length | attention]
    probs     = softmax(W features + b)

``quantize_int8`` applies ONNX Runtime's dynamic quantization to the recurrent (LSTM) and
linear weights: int8 weights, activations quantized per batch at run time.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from rnnkit.errors import ConfigError
from rnnkit.export.graph import Graph, check_export_target, recurrent_layer, save_graph
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.ensemble import Ensemble, classifiers
from rnnkit.tasks.classification import ONNX_FILES

log = logging.getLogger(__name__)

INPUTS = ("tokens", "lengths")
OUTPUTS = ("probs", "logits")


class _Inputs(NamedTuple):
    """The graph's inputs as every member reads them."""

    tokens: str  # (T, B) int64
    real: str  # (T, B, 1) bool: t < length
    mask: str  # (T, B, 1) float
    lengths_float: str  # (B, 1)
    axis0: str


def build_graph(model: SequenceClassifier | Ensemble, labels: list[str]) -> Any:
    """The ONNX ModelProto of ``model`` in evaluation; an ensemble's logits are
    ``log(mean_k softmax(logits_k))``, as ``Ensemble.forward`` computes them."""
    g = Graph()
    onnx, helper = g.onnx, g.onnx.helper
    config = model.config
    axis0 = g.constant("axis0", np.array([0], np.int64))
    axis1 = g.constant("axis1", np.array([1], np.int64))
    axis2 = g.constant("axis2", np.array([2], np.int64))

    tokens = g.op("Transpose", "tokens", perm=[1, 0])  # (T, B), as rnnkit runs time-major
    steps_count = g.op("Squeeze", g.op("Shape", "tokens", start=1, end=2), axis0)
    steps = g.op(
        "Range",
        g.constant("zero", np.array(0, np.int64)),
        steps_count,
        g.constant("one", np.array(1, np.int64)),
    )
    real = g.op("Less", g.op("Unsqueeze", steps, axis1), g.op("Unsqueeze", "lengths", axis0))
    real = g.op("Unsqueeze", real, axis2)  # (T, B, 1) bool
    mask = g.op("Cast", real, to=onnx.TensorProto.FLOAT)
    lengths_float = g.op("Unsqueeze", g.op("Cast", "lengths", to=onnx.TensorProto.FLOAT), axis1)
    inputs = _Inputs(tokens, real, mask, lengths_float, axis0)

    members = [_member_logits(g, member, inputs) for member in classifiers(model)]
    logits = members[0]
    if len(members) > 1:  # log of the mean probability: a log-sum-exp over the members
        stacked = g.op("Concat", *(g.op("Unsqueeze", m, axis0) for m in members), axis=0)
        log_p = g.op("LogSoftmax", stacked, axis=2)  # (K, B, C)
        logits = g.op(
            "Sub",
            g.op("ReduceLogSumExp", log_p, axis0, keepdims=0),
            g.constant("log_members", np.array(np.log(len(members)), np.float32)),
        )
    g.nodes.append(helper.make_node("Identity", [logits], ["logits"]))
    g.nodes.append(helper.make_node("Softmax", [logits], ["probs"], axis=1))

    classes = config.num_classes
    return g.model(
        "rnnkit_sequence_classifier",
        [
            helper.make_tensor_value_info("tokens", onnx.TensorProto.INT64, ["batch", "time"]),
            helper.make_tensor_value_info("lengths", onnx.TensorProto.INT64, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, ["batch", classes]),
            helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", classes]),
        ],
        "tokens (batch, time) int64 padded with 0, lengths (batch,) int64",
        {"labels": "\n".join(labels), "cell": config.cell},
    )


def _member_logits(g: Graph, model: SequenceClassifier, inputs: _Inputs) -> str:
    """The logits (B, C) of one classifier."""
    onnx, config = g.onnx, model.config
    tokens, real, mask, lengths_float, axis0 = inputs
    x = g.op("Gather", g.constant("embedding", model.encoder.embedding.weight), tokens)
    x = g.op("Mul", x, mask)  # (T, B, E), zero at padding
    if model.encoder.rnn is None:  # bag of embeddings: their mean
        features = [g.op("Div", g.op("ReduceSum", x, axis0, keepdims=0), lengths_float)]
    else:
        seq_lens = g.op("Cast", "lengths", to=onnx.TensorProto.INT32)
        for layer in range(config.num_layers):
            y, (h_n, *_) = recurrent_layer(g, model.encoder.rnn, layer, x, seq_lens)
            x = g.op("Mul", y, mask)
        features = []
        for method in config.pooling:
            if method == "last":  # (D, B, H) -> (B, D * H), forward then backward
                last = g.op("Transpose", h_n, perm=[1, 0, 2])
                features.append(
                    g.op("Reshape", last, g.constant("shape", np.array([0, -1], np.int64)))
                )
            elif method == "mean":
                features.append(g.op("Div", g.op("ReduceSum", x, axis0, keepdims=0), lengths_float))
            elif method == "max":
                minus_inf = g.constant("minus_inf", np.array(-np.inf, np.float32))
                masked = g.op("Where", real, x, minus_inf)
                features.append(g.op("ReduceMax", masked, axis0, keepdims=0))
            else:  # attention
                pooling = model.pooling
                hidden = g.op(
                    "Add",
                    g.op("MatMul", x, g.constant("attention_w", pooling.attention.weight.T)),
                    g.constant("attention_b", pooling.attention.bias),
                )
                query = g.constant("attention_q", pooling.query.weight.T)
                scores = g.op("MatMul", g.op("Tanh", hidden), query)  # (T, B, 1)
                minus_inf = g.constant("minus_inf", np.array(-np.inf, np.float32))
                weights = g.op("Softmax", g.op("Where", real, scores, minus_inf), axis=0)
                features.append(g.op("ReduceSum", g.op("Mul", weights, x), axis0, keepdims=0))
    feature = features[0] if len(features) == 1 else g.op("Concat", *features, axis=1)
    classifier = model.classifier
    logits = g.op(
        "Add",
        g.op("MatMul", feature, g.constant("classifier_w", classifier.weight.T)),
        g.constant("classifier_b", classifier.bias),
    )
    return str(logits)


def export_onnx(
    model: SequenceClassifier | Ensemble,
    labels: list[str],
    path: str | Path,
    *,
    quantize: str | None = None,
) -> Path:
    """Write ``model`` to ``path`` as ONNX, optionally with int8 weights (``quantize="int8"``);
    the file is written beside ``path`` and renamed into place (``OutputError`` when that
    fails, a full disk for one, with the previous file intact)."""
    path = Path(path)
    if quantize not in (None, "int8"):
        raise ConfigError(
            f"unknown quantize {quantize!r}: the only choice is int8", field="quantize"
        )
    int8 = (lambda staging: quantize_int8(staging, staging)) if quantize == "int8" else None
    save_graph(build_graph(model, labels), path, int8)
    log.debug("wrote %s (%s)", path, "int8 weights" if quantize else "float32")
    return path


def quantize_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the LSTM and MatMul weights with ONNX Runtime's tool.

    GRU and RNN nodes have no quantized kernel in ONNX Runtime and stay float32."""
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic
    except ImportError:
        raise ConfigError("--quantize needs onnxruntime: pip install 'rnnkit[onnx]'") from None
    logging.disable(logging.WARNING)  # its advice to pre-process applies to vision models
    try:
        quantize_dynamic(
            source,
            target,
            op_types_to_quantize=["LSTM", "MatMul"],
            weight_type=QuantType.QInt8,
        )
    finally:
        logging.disable(logging.NOTSET)


def export_bundle(model: Path, out: str | None, quantize: str | None) -> list[Path]:
    """``rnnkit export`` of a classifier's bundle: its graph, with int8 weights if
    ``quantize``, to ``out`` (default: ``MODEL/model.onnx``, or ``MODEL/model.int8.onnx``);
    an existing file is replaced only when it is an earlier export."""
    from rnnkit.tasks.classification.estimator import TextClassifier

    path = Path(out) if out else default_path(model, quantize)
    check_export_target(path)
    clf = TextClassifier.load(model)
    export_onnx(clf.model_, [str(c) for c in clf.classes_], path, quantize=quantize)
    return [path]


def default_path(model: str | Path, quantize: str | None) -> Path:
    """Where ``rnnkit export`` writes a classifier's graph, and ``predict --backend onnx``
    reads it, by default."""
    return Path(model) / ONNX_FILES[1 if quantize else 0]
