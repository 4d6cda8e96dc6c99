"""What every ONNX graph rnnkit writes shares: the graph under construction (``Graph``), the
node of a recurrent layer taken from its cell's ``CellSpec``, a linear layer, the digest of the
weights a graph was written from, the check that a file is an earlier export, and the ONNX
Runtime session every exported graph runs in. Each task's graph is in its own folder
(``rnnkit.tasks.<task>.export``).

Variable length stays exact because ONNX's recurrent operators take ``sequence_lens``: each
sequence stops at its own end, and the reverse direction starts there, as in ``rnnkit.nn``.
(``torch.onnx.export`` traces the padded fused kernel instead, which would carry padding into
the states.) The operator, its attributes and the order of the gate blocks come from the cell's
``CellSpec`` (:mod:`rnnkit.nn.registry`): LSTM i, f, g, o becomes i, o, f, c; GRU r, z, n
becomes z, r, h, with ``linear_before_reset=1`` as PyTorch computes it.

Needs the ``onnx`` extra: ``pip install 'rnnkit[onnx]'``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from torch import nn

from rnnkit.errors import BundleError, ConfigError
from rnnkit.files import check_target, write_file
from rnnkit.nn import registry
from rnnkit.nn.base import RecurrentBase

OPSET = 18


def state_names(cell: str) -> tuple[str, ...]:
    """A graph's inputs and outputs for the states of the cell ``cell`` (its spec's
    ``num_states``): ``h``, then ``c`` (an LSTM), then ``s2``, ``s3``, ..."""
    count = registry.named(cell).num_states
    return ("h", "c", *(f"s{i}" for i in range(2, count)))[:count]


def require_onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise ConfigError(
            "ONNX export needs the onnx package: pip install 'rnnkit[onnx]'"
        ) from None
    return onnx


class Graph:
    """Nodes and initializers under construction, with unique names."""

    def __init__(self) -> None:
        self.onnx = require_onnx()
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._count = 0

    def name(self, stem: str) -> str:
        self._count += 1
        return f"{stem}_{self._count}"

    def constant(self, stem: str, value: Any) -> str:
        """An initializer of ``value`` (an array, or a tensor taken as float32)."""
        name = self.name(stem)
        if not isinstance(value, np.ndarray):
            value = np.ascontiguousarray(array(value))
        self.initializers.append(self.onnx.numpy_helper.from_array(value, name))
        return name

    def op(self, op_type: str, *inputs: str, outputs: int = 1, **attributes: Any) -> Any:
        names = [self.name(op_type.lower()) for _ in range(outputs)]
        self.nodes.append(self.onnx.helper.make_node(op_type, list(inputs), names, **attributes))
        return names[0] if outputs == 1 else names

    def model(
        self,
        name: str,
        inputs: list[Any],
        outputs: list[Any],
        doc: str,
        props: dict[str, str],
        net: nn.Module | None = None,
    ) -> Any:
        """The checked ModelProto of the nodes: graph ``name`` from ``inputs`` to ``outputs``
        at opset :data:`OPSET`, produced by rnnkit, with the metadata ``props`` and, given
        ``net``, the SHA-256 of its weights (``weights_sha256``)."""
        helper = self.onnx.helper
        body = helper.make_graph(self.nodes, name, inputs, outputs, self.initializers)
        proto = helper.make_model(
            body,
            opset_imports=[helper.make_opsetid("", OPSET)],
            producer_name="rnnkit",
            doc_string=doc,
        )
        if net is not None:
            props = {**props, "weights_sha256": weights_digest(net)}
        helper.set_model_props(proto, props)
        self.onnx.checker.check_model(proto, full_check=True)
        return proto


def array(tensor: Any) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()  # type: ignore[no-any-return]


def weights_digest(net: nn.Module) -> str:
    """SHA-256 of the model's weights (names, shapes and float32 values, in name order)."""
    digest = hashlib.sha256()
    for name, tensor in sorted(net.state_dict().items()):
        values = np.ascontiguousarray(array(tensor))
        digest.update(f"{name}:{values.shape};".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()


def linear(g: Graph, x: str, layer: nn.Linear, stem: str) -> str:
    """``x W^T + b`` for a (B, in) input ``x``."""
    inputs = [x, g.constant(f"{stem}_w", array(layer.weight))]
    if layer.bias is not None:
        inputs.append(g.constant(f"{stem}_b", array(layer.bias)))
    return str(g.op("Gemm", *inputs, transB=1))


def gates(matrix: np.ndarray, order: tuple[int, ...]) -> np.ndarray:
    """Reorder the gate blocks of a (G * H, ...) weight or (G * H,) bias for ONNX."""
    blocks = np.split(matrix, len(order), axis=0)
    return np.concatenate([blocks[i] for i in order], axis=0)


def recurrent_layer(
    g: Graph,
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
            gates(array(getattr(encoder, f"{kind}_l{layer}{suffix}")), order)
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


def save_graph(proto: Any, path: Path, then: Callable[[Path], None] | None = None) -> None:
    """Write the ModelProto ``proto`` to ``path``, beside it first (where ``then`` may rework
    it) and renamed into place: ``OutputError`` when that fails, the previous file intact."""
    onnx = require_onnx()

    def write(staging: Path) -> None:
        onnx.save_model(proto, staging)
        if then is not None:
            then(staging)

    write_file(path, write, what="the ONNX model")


def check_export_target(path: Path) -> None:
    """OutputError unless ``path`` is free or holds an earlier rnnkit export (``--out``)."""
    check_target(path, option="--out", folder=False, foreign=not_rnnkit_onnx)


def not_rnnkit_onnx(path: Path) -> list[str]:
    """Why the existing file ``path`` is not an ONNX model that ``export_onnx`` wrote (and so
    must not be replaced), or nothing when it is one."""
    onnx = require_onnx()
    try:
        proto = onnx.load(str(path), load_external_data=False)
    except Exception:  # onnx raises protobuf's own untyped errors for other files
        return ["is not an ONNX model"]
    keys = {p.key for p in proto.metadata_props}  # a classifier's labels, or a task
    if "cell" not in keys or not keys & {"labels", "task"}:
        return ["is an ONNX model that rnnkit did not write"]
    return []


def session(path: Path, threads: int, missing: str) -> Any:
    """An ONNX Runtime session of the file ``path`` on the CPU; ``missing`` says how to write
    it when there is no such file."""
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError("--backend onnx needs onnxruntime: pip install 'rnnkit[onnx]'") from None
    if not path.is_file():
        raise ConfigError(f"{path}: no such ONNX file; {missing}")
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    try:
        return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # onnxruntime raises its own untyped errors
        raise BundleError(f"{path}: not a readable ONNX model ({error})") from None
