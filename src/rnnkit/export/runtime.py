"""Exported ONNX graphs in ONNX Runtime: a classifier's prediction, tokenized by the model's
bundle (``OnnxPredictor``), and a language model's step for generation (``OnnxStep``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rnnkit.classifier import TextClassifier
from rnnkit.data.corpus import Corpus
from rnnkit.errors import BundleError, ConfigError
from rnnkit.tasks.language_model import NAME as LANGUAGE_MODEL
from rnnkit.validation import check_texts, finite_rows

if TYPE_CHECKING:
    from rnnkit.models.language_model import LanguageModelNet, State


def _session(path: Path, threads: int, missing: str) -> Any:
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


class OnnxPredictor:
    """``predict_proba(texts)`` like ``TextClassifier``'s, computed by ONNX Runtime.

    The bundle supplies the tokenizer, vocabulary, length cap and labels; ``onnx_path`` the
    graph written by ``rnnkit export``. Texts run in the batches PyTorch would run them in.
    """

    def __init__(self, bundle: TextClassifier, onnx_path: str | Path, *, threads: int = 0) -> None:
        path = Path(onnx_path)
        self.session = _session(path, threads, f"write it with rnnkit export MODEL --out {path}")
        metadata = self.session.get_modelmeta().custom_metadata_map
        if metadata.get("task") == LANGUAGE_MODEL:
            raise BundleError(
                f"{path}: a language model's graph, not a classifier's; export the classifier "
                "to another file"
            )
        labels = metadata.get("labels")
        if labels is not None and labels.split("\n") != [str(c) for c in bundle.classes_]:
            raise BundleError(
                f"{path}: its labels ({labels.replace(chr(10), ', ')}) are not the model's; "
                "export it again from this model"
            )
        self.bundle = bundle
        self.classes_ = bundle.classes_

    def predict_proba(self, X: Sequence[str], *, check_finite: bool = True) -> np.ndarray:
        texts = check_texts(X, "X")
        return self.predict_proba_corpus(
            Corpus.from_texts(texts, [""] * len(texts), self.bundle.tokenizer),
            check_finite=check_finite,
        )

    def predict_proba_corpus(self, corpus: Corpus, *, check_finite: bool = True) -> np.ndarray:
        batches = self.bundle.inference_batches(corpus)
        result = np.empty((len(corpus), len(self.classes_)), np.float32)
        for batch in batches.epoch():
            feeds: dict[str, Any] = {
                "tokens": np.ascontiguousarray(batch.tokens.numpy().T),
                "lengths": batch.lengths.numpy(),
            }
            result[batch.index] = self.session.run(["probs"], feeds)[0]
        return finite_rows(result, raise_error=check_finite)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        return self.classes_[self.predict_proba(X).argmax(1)]  # type: ignore[no-any-return]


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
        self.session = _session(path, threads, f"run {again} first")
        metadata = self.session.get_modelmeta().custom_metadata_map
        if metadata.get("task") != LANGUAGE_MODEL:
            raise BundleError(f"{path}: not a language model's graph; run {again} first")
        if net is not None:
            from rnnkit.export.language_model import weights_digest

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
