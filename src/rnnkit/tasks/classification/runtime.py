"""A classifier's exported ONNX graph in ONNX Runtime, tokenized by the model's bundle
(``OnnxPredictor``); a language model's step is in :mod:`rnnkit.tasks.language_model.runtime`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rnnkit.data.corpus import Corpus
from rnnkit.errors import BundleError
from rnnkit.export.graph import session
from rnnkit.tasks.language_model.options import NAME as LANGUAGE_MODEL
from rnnkit.validation import check_texts, finite_rows

if TYPE_CHECKING:
    from rnnkit.tasks.classification.estimator import TextClassifier


class OnnxPredictor:
    """``predict_proba(texts)`` like ``TextClassifier``'s, computed by ONNX Runtime.

    The bundle supplies the tokenizer, vocabulary, length cap and labels; ``onnx_path`` the
    graph written by ``rnnkit export``. Texts run in the batches PyTorch would run them in.
    """

    def __init__(self, bundle: TextClassifier, onnx_path: str | Path, *, threads: int = 0) -> None:
        path = Path(onnx_path)
        self.session = session(path, threads, f"write it with rnnkit export MODEL --out {path}")
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
