"""A language model's exported step in ONNX Runtime (``OnnxStep``), and the session every
exported graph runs in."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rnnkit.errors import BundleError, ConfigError
from rnnkit.tasks.language_model import NAME as LANGUAGE_MODEL

if TYPE_CHECKING:
    from rnnkit.models.language_model import LanguageModelNet, State


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


class OnnxStep:
    """A language model's step, ``(tokens (B,), state) -> (scores (B, V), state)`` as
    ``rnnkit.generation.Generation`` takes it, computed by ONNX Runtime with the graph
    ``rnnkit export`` writes (:mod:`rnnkit.export.language_model`). Tensors in and out are
    torch's, on the CPU, float32.

    With ``net``, the graph must come from its weights (the SHA-256 the export recorded)."""

    def __init__(
        self, onnx_path: str | Path, net: LanguageModelNet | None = None, *, threads: int = 0
    ) -> None:
        path = Path(onnx_path)
        again = f"rnnkit export {path.parent}" if path.name == "model.onnx" else "rnnkit export"
        self.session = session(path, threads, f"run {again} first")
        metadata = self.session.get_modelmeta().custom_metadata_map
        if metadata.get("task") != LANGUAGE_MODEL:
            raise BundleError(f"{path}: not a language model's graph; run {again} first")
        if net is not None:
            from rnnkit.export.onnx import weights_digest

            if metadata.get("weights_sha256") != weights_digest(net):
                raise BundleError(
                    f"{path}: exported from other weights than this model's; run {again} again"
                )
        self.inputs = [i.name for i in self.session.get_inputs()]  # tokens, h (, c)
        self.outputs = [o.name for o in self.session.get_outputs()]  # scores, h_n (, c_n)

    def __call__(self, tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
        feeds = {"tokens": np.ascontiguousarray(tokens.detach().cpu().long().numpy())}
        for name, tensor in zip(self.inputs[1:], state, strict=True):
            feeds[name] = np.ascontiguousarray(tensor.detach().cpu().float().numpy())
        scores, *after = self.session.run(self.outputs, feeds)
        return torch.from_numpy(scores), tuple(torch.from_numpy(s) for s in after)
