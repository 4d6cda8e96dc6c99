"""ONNX export of a SequenceClassifier, written node by node from the model's equations.

The graph takes ``tokens`` (batch, time) int64, padded with 0, and ``lengths`` (batch,) int64,
both with dynamic sizes, and returns ``probs`` (batch, classes) and ``logits``. It computes what
``SequenceClassifier.forward`` computes in evaluation:

    x_t       = E[token_t] * [t < length]                      embedding, zero at padding
    Y, h_n    = LSTM | GRU | RNN(x, sequence_lens=length)      per layer, ONNX's own operator
    features  = [h_n of each direction | max_t Y | sum_t Y / length | attention]
    probs     = softmax(W features + b)

Variable length stays exact because ONNX's recurrent operators take ``sequence_lens``: each
sequence stops at its own end, and the reverse direction starts there, as in ``rnnkit.nn``.
(``torch.onnx.export`` traces the padded fused kernel instead, which would carry padding into
the states.) The operator, its attributes and the order of the gate blocks come from the cell's
``CellSpec`` (:mod:`rnnkit.nn.registry`): LSTM i, f, g, o becomes i, o, f, c; GRU r, z, n
becomes z, r, h, with ``linear_before_reset=1`` as PyTorch computes it.

``quantize_int8`` applies ONNX Runtime's dynamic quantization to the recurrent (LSTM) and
linear weights: int8 weights, activations quantized per batch at run time.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.files import write_file
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.ensemble import Ensemble, classifiers
from rnnkit.nn.base import RecurrentBase

log = logging.getLogger(__name__)

OPSET = 18
INPUTS = ("tokens", "lengths")
OUTPUTS = ("probs", "logits")


def _require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ConfigError(
            "ONNX export needs the onnx package: pip install 'rnnkit[onnx]'"
        ) from None
    return onnx


class _Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.onnx = _require_onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: np.ndarray) -> str:
        name = self.name(stem)
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes: Any) -> Any:
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names


def _array(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()  # type: ignore[no-any-return]


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of the model's weights (names, shapes and float32 values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        values = np.ascontiguousarray(_array(tensor))
        digest.update(f"{name}:{values.shape};".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def linear(g: _Graph, x: str, layer: nn.Linear, stem: str) -> str:
    """``x W^T + b`` for a (B, in) input ``x``."""
    inputs = [x, g.constant(f"{stem}_w", _array(layer.weight))]
    if layer.bias is not None:
        inputs.append(g.constant(f"{stem}_b", _array(layer.bias)))
    return str(g.op("Gemm", *inputs, transB=1))


def _gates(matrix: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Reorder the gate blocks of a (G * H, ...) weight or (G * H,) bias for ONNX."""
    blocks = np.split(matrix, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def _recurrent_layer(
    g: _Graph,
    encoder: RecurrentBase,
    layer: int,
    x: str,
    seq_lens: str,
    initial: tuple[str, ...] = (),
) -> tuple[str, list[str]]:
    """Layer ``layer`` of the stack ``encoder`` (both directions where it has two), from the
    initial states ``initial`` (h, and c for an LSTM; zeros without them), on all steps
    (``seq_lens`` empty) or on each sequence's own: returns its outputs (T, B, D * H) and
    final states (each (D, B, H))."""
    cell, H = encoder.cell, encoder.hidden_size
    operator, order = cell.onnx_operator, cell.onnx_gate_order
    if operator is None or order is None:
        raise ConfigError(f"ONNX export: the {cell.mode} cell has no ONNX operator")
    suffixes = ["", "_reverse"] if encoder.bidirectional else [""]
    W, R, B = [], [], []
    for suffix in suffixes:
        w_ih, w_hh, b_ih, b_hh = (
            _gates(_array(getattr(encoder, f"{kind}_l{layer}{suffix}")), order)
            for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        )
        W.append(w_ih)
        R.append(w_hh)
        B.append(np.concatenate([b_ih, b_hh]))
    attributes: dict[str, Any] = {
        "hidden_size": H,
        "direction": "bidirectional" if encoder.bidirectional else "forward",
        **dict(cell.onnx_attributes),
    }
    if cell.onnx_activations:
        attributes["activations"] = list(cell.onnx_activations) * len(suffixes)
    results = g.op(
        operator,
        x,
        g.constant(f"W_l{layer}", np.stack(W)),
        g.constant(f"R_l{layer}", np.stack(R)),
        g.constant(f"B_l{layer}", np.stack(B)),
        seq_lens,
        *initial,
        outputs=1 + cell.num_states,  # Y, then Y_h (and Y_c)
        **attributes,
    )
    y = g.op("Transpose", results[0], perm=[0, 2, 1, 3])  # (T, D, B, H) -> (T, B, D, H)
    y = g.op("Reshape", y, g.constant("shape", np.array([0, 0, -1], np.int64)))
    return y, list(results[1:])


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
    g = _Graph()
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
    graph = helper.make_graph(
        g.nodes,
        "rnnkit_sequence_classifier",
        [
            helper.make_tensor_value_info("tokens", onnx.TensorProto.INT64, ["batch", "time"]),
            helper.make_tensor_value_info("lengths", onnx.TensorProto.INT64, ["batch"]),
        ],
        [
            helper.make_tensor_value_info("probs", onnx.TensorProto.FLOAT, ["batch", classes]),
            helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, ["batch", classes]),
        ],
        g.initializers,
    )
    proto = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="rnnkit",
        doc_string="tokens (batch, time) int64 padded with 0, lengths (batch,) int64",
    )
    helper.set_model_props(proto, {"labels": "\n".join(labels), "cell": config.cell})
    onnx.checker.check_model(proto, full_check=True)
    return proto


def _member_logits(g: _Graph, model: SequenceClassifier, inputs: _Inputs) -> str:
    """The logits (B, C) of one classifier."""
    onnx, config = g.onnx, model.config
    tokens, real, mask, lengths_float, axis0 = inputs
    x = g.op("Gather", g.constant("embedding", _array(model.encoder.embedding.weight)), tokens)
    x = g.op("Mul", x, mask)  # (T, B, E), zero at padding
    if model.encoder.rnn is None:  # bag of embeddings: their mean
        features = [g.op("Div", g.op("ReduceSum", x, axis0, keepdims=0), lengths_float)]
    else:
        seq_lens = g.op("Cast", "lengths", to=onnx.TensorProto.INT32)
        for layer in range(config.num_layers):
            y, (h_n, *_) = _recurrent_layer(g, model.encoder.rnn, layer, x, seq_lens)
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
                    g.op(
                        "MatMul", x, g.constant("attention_w", _array(pooling.attention.weight).T)
                    ),
                    g.constant("attention_b", _array(pooling.attention.bias)),
                )
                query = g.constant("attention_q", _array(pooling.query.weight).T)
                scores = g.op("MatMul", g.op("Tanh", hidden), query)  # (T, B, 1)
                minus_inf = g.constant("minus_inf", np.array(-np.inf, np.float32))
                weights = g.op("Softmax", g.op("Where", real, scores, minus_inf), axis=0)
                features.append(g.op("ReduceSum", g.op("Mul", weights, x), axis0, keepdims=0))
    feature = features[0] if len(features) == 1 else g.op("Concat", *features, axis=1)
    classifier = model.classifier
    logits = g.op(
        "Add",
        g.op("MatMul", feature, g.constant("classifier_w", _array(classifier.weight).T)),
        g.constant("classifier_b", _array(classifier.bias)),
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
    onnx = _require_onnx()
    path = Path(path)
    if quantize not in (None, "int8"):
        raise ConfigError(
            f"unknown quantize {quantize!r}: the only choice is int8", field="quantize"
        )
    graph = build_graph(model, labels)

    def write(staging: Path) -> None:
        onnx.save_model(graph, staging)
        if quantize == "int8":
            quantize_int8(staging, staging)

    write_file(path, write, what="the ONNX model")
    log.debug("wrote %s (%s)", path, "int8 weights" if quantize else "float32")
    return path


def not_rnnkit_onnx(path: Path) -> list[str]:
    """Why the existing file ``path`` is not an ONNX model that ``export_onnx`` wrote (and so
    must not be replaced), or nothing when it is one."""
    onnx = _require_onnx()
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # onnx raises protobuf's own untyped errors for other files
        return ["is not an ONNX model"]
    keys = {p.key for p in proto.metadata_props}  # a classifier's labels, or a task
    if "cell" not in keys or not keys & {"labels", "task"}:
        return ["is an ONNX model that rnnkit did not write"]
    return []


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
