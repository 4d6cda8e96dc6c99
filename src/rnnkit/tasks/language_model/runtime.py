"""A language model's step in ONNX Runtime (``OnnxStep``), with the graph ``rnnkit export``
wrote (:mod:`rnnkit.tasks.language_model.export`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from rnnkit.errors import BundleError
from rnnkit.export.graph import session, weights_digest
from rnnkit.tasks.language_model.options import NAME as LANGUAGE_MODEL

if TYPE_CHECKING:
    from rnnkit.models.language_model import LanguageModelNet, State


class OnnxStep:
    """A language model's step, ``(tokens (B,), state) -> (scores (B, V), state)`` as
    ``rnnkit.tasks.language_model.generation.Generation`` takes it, computed by ONNX Runtime
    with the graph ``rnnkit export`` writes (:mod:`rnnkit.tasks.language_model.export`).
    Tensors in and out are torch's, on the CPU, float32.

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
        if net is not None and metadata.get("weights_sha256") != weights_digest(net):
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
