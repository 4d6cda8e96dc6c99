"""ONNX export of a language model's step: ONNX Runtime against ``LanguageModelNet.step`` step
by step (the state reset at <eod> included), generation through the onnx backend against the
torch one, and ``rnnkit export`` on a language-model bundle as a subprocess."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.errors import BundleError, ConfigError
from rnnkit.text.units import EOD_ID
from tests.test_cli import assert_user_error, rnnkit

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
pytest.importorskip("onnx", reason="the onnx extra is not installed")

from rnnkit.tasks.language_model.estimator import LanguageModel  # noqa: E402
from rnnkit.tasks.language_model.export import export_language_model  # noqa: E402
from rnnkit.tasks.language_model.runtime import OnnxStep  # noqa: E402

TEXT = "The quick brown fox jumps over the lazy dog; 12 zebras quietly vex a jumping wizard. "
SMALL = {
    "unit": "char",
    "hidden": 32,
    "embed_dim": 16,
    "epochs": 1,
    "max_steps": 20,
    "batch_size": 4,
    "window": 16,
}
CASES: dict[str, dict[str, object]] = {
    "lstm-tied-projected": {"cell": "lstm"},
    "lstm-2-layers-untied": {"cell": "lstm", "layers": 2, "tie_weights": False},
    "gru-tied-same-width": {"cell": "gru", "hidden": 16},
    "gru-untied": {"cell": "gru", "tie_weights": False},
    "lstm-adaptive": {"cell": "lstm", "softmax": "adaptive", "cutoffs": "12,30"},
    "rnn-2-layers-adaptive": {"cell": "rnn", "layers": 2, "softmax": "adaptive", "cutoffs": "20"},
}
STEPS = 50


@pytest.fixture(scope="module", params=list(CASES))
def exported(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bundle folder with its step graph at model.onnx."""
    lm = LanguageModel(**{**SMALL, **CASES[request.param]}).fit([TEXT * 50])
    path = lm.save(tmp_path_factory.mktemp(request.param) / "model")
    export_language_model(lm.model_, path / "model.onnx")
    return path


def sequences(lm: LanguageModel, batch: int) -> torch.Tensor:
    """(STEPS, batch) ids of the text, each row from its own offset, with an <eod> in the
    middle of each row (row 0 at step 25) and a second one in row 2."""
    ids = torch.tensor(lm.units_.encode(TEXT * 3), dtype=torch.long)
    rows = [ids[7 * row : 7 * row + STEPS] for row in range(batch)]
    tokens = torch.stack(rows, 1).clone()
    for row in range(batch):
        tokens[25 + 4 * row, row] = EOD_ID
    if batch > 2:
        tokens[40, 2] = EOD_ID
    return tokens


@pytest.mark.parametrize("batch", [1, 3])
def test_onnx_runtime_steps_equal_pytorch_with_the_state_reset_at_eod(
    exported: Path, batch: int
) -> None:
    lm = LanguageModel.load(exported)
    net, step = lm.model_, OnnxStep(exported / "model.onnx", lm.model_)
    tokens = sequences(lm, batch)
    fresh = net.zero_state(batch)
    torch_state, onnx_state = fresh, fresh
    with torch.no_grad():
        for t in range(STEPS):
            before = onnx_state
            expected, torch_state = net.step(tokens[t], torch_state)
            got, onnx_state = step(tokens[t], onnx_state)
            assert got.shape == (batch, len(lm.units_))
            assert got.dtype == torch.float32
            np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=1e-4, err_msg=f"{t}")
            for ours, theirs in zip(onnx_state, torch_state, strict=True):
                np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-4)
            reset = tokens[t] == EOD_ID
            if bool(reset.any()):
                # The rows at <eod> score as from a fresh state, though theirs was not zero.
                assert all(bool(s[:, reset].abs().sum(-1).gt(0).all()) for s in before)
                alone, _ = step(tokens[t], fresh)
                np.testing.assert_allclose(got[reset].numpy(), alone[reset].numpy(), atol=1e-6)


def test_generation_through_onnx_runtime_equals_torch(exported: Path) -> None:
    lm = LanguageModel.load(exported)
    for options in (
        {"temperature": 0.0},
        {"temperature": 1.0, "seed": 3, "num_samples": 3},
        {"temperature": 0.8, "top_k": 5, "seed": 1, "num_samples": 2},
    ):
        on_torch = lm.generate("The quick", max_tokens=40, **options)  # type: ignore[arg-type]
        on_onnx = lm.generate("The quick", max_tokens=40, backend="onnx", **options)  # type: ignore[arg-type]
        assert on_onnx == on_torch, options
    torch_probs = lm.start("lazy", streams=2).next_probs()
    onnx_probs = lm.start("lazy", streams=2, backend="onnx").next_probs()
    np.testing.assert_allclose(onnx_probs.numpy(), torch_probs.numpy(), atol=1e-5)
    pieces = list(lm.stream("fox", max_tokens=5, sampling=None, seed=0, backend="onnx"))
    assert pieces == list(lm.stream("fox", max_tokens=5, seed=0))


def test_the_onnx_backend_names_what_is_missing(tmp_path: Path) -> None:
    lm = LanguageModel(**{**SMALL, "max_steps": 2}).fit([TEXT * 20])
    with pytest.raises(ConfigError, match=r"save\(path\), run rnnkit export PATH"):
        lm.generate("The", backend="onnx")
    folder = lm.save(tmp_path / "model")
    missing = f"{folder / 'model.onnx'}: no such ONNX file; run rnnkit export {folder} first"
    with pytest.raises(ConfigError, match=re.escape(missing)):
        lm.generate("The", backend="onnx")
    with pytest.raises(ConfigError, match="backend must be torch or onnx, got 'tf'"):
        lm.start("The", backend="tf")
    export_language_model(lm.model_, folder / "model.onnx")
    assert lm.generate("The", temperature=0, backend="onnx") == lm.generate("The", temperature=0)
    changed = copy.deepcopy(lm)
    with torch.no_grad():
        changed.model_.encoder.embedding.weight[5] += 1.0
    stale = f"exported from other weights than this model's; run rnnkit export {folder} again"
    with pytest.raises(BundleError, match=re.escape(stale)):
        changed.generate("The", backend="onnx")
    with pytest.raises(ConfigError, match="quantize is for classifiers"):
        export_language_model(lm.model_, tmp_path / "q.onnx", quantize="int8")


def test_a_classifier_graph_is_not_a_language_model_step(tmp_path: Path) -> None:
    from rnnkit.models.classifier import SequenceClassifier
    from rnnkit.models.config import ModelConfig
    from rnnkit.tasks.classification.export import export_onnx
    from rnnkit.tasks.classification.runtime import OnnxPredictor

    classifier = SequenceClassifier(ModelConfig(vocab_size=10, num_classes=2)).eval()
    export_onnx(classifier, ["a", "b"], tmp_path / "clf.onnx")
    with pytest.raises(BundleError, match="not a language model's graph"):
        OnnxStep(tmp_path / "clf.onnx")
    lm = LanguageModel(**{**SMALL, "max_steps": 2}).fit([TEXT * 20])
    export_language_model(lm.model_, tmp_path / "lm.onnx")
    with pytest.raises(BundleError, match="a language model's graph, not a classifier's"):
        OnnxPredictor(None, tmp_path / "lm.onnx")  # type: ignore[arg-type]


@pytest.mark.slow  # tests/test_lm_cli.py exports and generates through the CLI in CI
def test_export_cli_writes_the_step_graph_of_a_language_model_bundle(tmp_path: Path) -> None:
    lm = LanguageModel(**{**SMALL, "cell": "gru"}).fit([TEXT * 50])
    folder = lm.save(tmp_path / "model")
    result = rnnkit("export", str(folder))
    assert result.returncode == 0, result.stderr
    assert f"wrote {folder / 'model.onnx'}" in result.stdout
    loaded = LanguageModel.load(folder)
    expected = loaded.generate("The", max_tokens=30, temperature=0.0)
    assert loaded.generate("The", max_tokens=30, temperature=0.0, backend="onnx") == expected
    # Again over its own earlier export, and to a chosen file.
    assert rnnkit("export", str(folder)).returncode == 0
    out = tmp_path / "elsewhere" / "lm.onnx"
    result = rnnkit("export", str(folder), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert OnnxStep(out, loaded.model_).outputs == ["scores", "h_n"]
    assert_user_error(
        rnnkit("export", str(folder), "--quantize", "int8"),
        "--quantize int8 is for classifiers: a language model is exported in float32",
    )
    foreign = tmp_path / "foreign.onnx"
    foreign.write_bytes(b"someone's file")
    assert_user_error(rnnkit("export", str(folder), "--out", str(foreign)), str(foreign))
    assert foreign.read_bytes() == b"someone's file"
