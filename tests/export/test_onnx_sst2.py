"""Slow: the exported graph against PyTorch on the whole SST-2 test set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.test_benchmark_data import DATA_DIR, needs

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.mark.slow
@needs("sst2")
def test_onnx_probabilities_match_pytorch_on_the_sst2_test_set(tmp_path: Path) -> None:
    from rnnkit import TextClassifier
    from rnnkit.data.datasets import load_dataset
    from rnnkit.tasks.classification.export import export_onnx
    from rnnkit.tasks.classification.runtime import OnnxPredictor

    splits = load_dataset("sst2", DATA_DIR)
    assert splits.test is not None
    clf = TextClassifier(max_steps=150).fit_corpus(splits.train, splits.valid)
    path = export_onnx(clf.model_, [str(c) for c in clf.classes_], tmp_path / "m.onnx")
    expected = clf.predict_proba_corpus(splits.test)
    got = OnnxPredictor(clf, path).predict_proba_corpus(splits.test)
    assert len(got) == len(splits.test) == 1821
    np.testing.assert_allclose(got, expected, atol=1e-4)
    accuracy = np.mean(clf.classes_[got.argmax(1)] == np.asarray(splits.test.labels))
    assert accuracy > 0.6  # a trained model (chance: 0.5), not a constant
