"""Prediction with an exported ONNX graph in ONNX Runtime, tokenized by the model's bundle."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.classifier import TextClassifier
from rnnkit.data.corpus import Corpus
from rnnkit.errors import BundleError, ConfigError
from rnnkit.validation import check_texts, finite_rows


class OnnxPredictor:
    """``predict_proba(texts)`` like ``TextClassifier``'s, computed by ONNX Runtime.

    The bundle supplies the tokenizer, vocabulary, length cap and labels; ``onnx_path`` the
    graph written by ``rnnkit export``. Texts run in the batches PyTorch would run them in.
    """

    def __init__(self, bundle: TextClassifier, onnx_path: str | Path, *, threads: int = 0) -> None:
        try:
            import onnxruntime
        except ImportError:
            raise ConfigError(
                "--backend onnx needs onnxruntime: pip install 'rnnkit[onnx]'"
            ) from None
        path = Path(onnx_path)
        if not path.is_file():
            raise ConfigError(
                f"{path}: no such ONNX file; write it with rnnkit export MODEL --out {path}"
            )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = threads
        options.log_severity_level = 3
        try:
            self.session = onnxruntime.InferenceSession(
                str(path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own untyped errors
            raise BundleError(f"{path}: not a readable ONNX model ({error})") from None
        labels = self.session.get_modelmeta().custom_metadata_map.get("labels")
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
