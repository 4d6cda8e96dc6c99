"""rnnkit on a GPU: the recurrences equal torch.nn's packed (cuDNN) layers in values and
gradients, variable length stays exact, bundles move between the CPU and the GPU, mixed
precision trains, deterministic mode repeats itself, batches are fed from pinned memory, and
the gradient-based pictures run in evaluation mode. Skipped without a GPU (see conftest.py);
``benchmarks/gpu_check.sh`` runs them with the GPU benchmark."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import rnnkit.nn
from rnnkit import LanguageModel, TextClassifier, Translator
from rnnkit.data.batching import Batches
from rnnkit.train.device import feed
from tests.conftest import TINY, make_texts, write_csv
from tests.nn.test_parity import forward_backward
from tests.nn.twins import MODES, make_pair, random_lengths

# rnnkit's fused path hands cuDNN one layer and direction at a time, with the padding
# feature's column appended to the input weights: its weights are not one flattened buffer,
# which cuDNN copies (and torch warns about); the cost is in benchmarks/gpu.py
pytestmark = pytest.mark.filterwarnings("ignore:RNN module weights are not part of single")

T, B, I, H = 9, 7, 5, 6


@pytest.mark.parametrize(
    ("dtype", "tol"), [(torch.float64, 1e-9), (torch.float32, 1e-5)], ids=["float64", "float32"]
)
@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
@pytest.mark.parametrize("num_layers", [1, 2], ids=["1-layer", "2-layer"])
@pytest.mark.parametrize("mode", list(MODES))
def test_matches_torch_packed_on_the_device(
    mode: str,
    num_layers: int,
    bidirectional: bool,
    dtype: torch.dtype,
    tol: float,
    device: torch.device,
) -> None:
    theirs, ours = make_pair(
        mode, I, H, dtype=dtype, num_layers=num_layers, bidirectional=bidirectional
    )
    theirs, ours = theirs.to(device), ours.to(device)
    generator = torch.Generator().manual_seed(7)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=dtype).to(device)

    x = randn(T, B, I)
    lengths = random_lengths(B, T, generator)  # on the CPU, as pack_padded_sequence wants
    state_shape = (num_layers * (2 if bidirectional else 1), B, H)
    hx: Any = (randn(*state_shape), randn(*state_shape)) if mode == "lstm" else randn(*state_shape)
    output_shape = (T, B, H * (2 if bidirectional else 1))
    weights = {"output": randn(*output_shape), "h_n": randn(*state_shape)}
    weights["c_n"] = randn(*state_shape)
    expected = forward_backward(theirs, x, hx, lengths, weights, batch_first=False, ours=False)
    for impl in ("reference", "fused"):
        ours.impl = impl  # type: ignore[assignment]
        got = forward_backward(ours, x, hx, lengths, weights, batch_first=False, ours=True)
        for name, tensor in expected.items():
            assert got[name].device == x.device
            torch.testing.assert_close(
                got[name], tensor, atol=tol, rtol=tol, msg=lambda m, n=name, i=impl: f"{i} {n}: {m}"
            )


@pytest.mark.parametrize("mode", ["lstm", "gru"])
def test_a_sequence_does_not_depend_on_its_batch_or_padding(
    mode: str, device: torch.device
) -> None:
    torch.manual_seed(0)
    layer = MODES[mode][0](I, H, num_layers=2, bidirectional=True).to(device)
    alone = torch.randn(5, 1, I, device=device)
    batch = torch.full((T, 3, I), float("nan"), device=device)  # padding holds anything
    batch[:, 0] = torch.randn(T, I, device=device)
    batch[:5, 1] = alone[:, 0]
    batch[:2, 2] = torch.randn(2, I, device=device)
    out_alone, h_alone = layer(alone, lengths=torch.tensor([5]))
    out, h = layer(batch, lengths=torch.tensor([T, 5, 2]))
    torch.testing.assert_close(out[:5, 1], out_alone[:, 0], atol=1e-6, rtol=1e-6)
    assert torch.equal(out[5:, 1], torch.zeros_like(out[5:, 1]))
    for got, expected in zip(
        h if mode == "lstm" else (h,), h_alone if mode == "lstm" else (h_alone,), strict=True
    ):
        torch.testing.assert_close(got[:, 1], expected[:, 0], atol=1e-6, rtol=1e-6)


def _texts() -> tuple[list[str], list[str]]:
    return make_texts(120, seed=3)


def test_a_bundle_predicts_the_same_on_the_cpu_and_the_gpu(
    device: torch.device, tmp_path: Path
) -> None:
    texts, labels = _texts()
    for trained_on, used_on in (("cpu", str(device)), (str(device), "cpu")):
        clf = TextClassifier(**TINY, device=trained_on, dropout=0.3).fit(texts, labels)
        expected = clf.predict_proba(texts)
        folder = clf.save(tmp_path / f"from-{trained_on.replace(':', '-')}")
        loaded = TextClassifier.load(folder)
        loaded.device = used_on
        np.testing.assert_allclose(loaded.predict_proba(texts), expected, atol=1e-5, rtol=1e-5)
        assert next(loaded.model_.parameters()).device.type == torch.device(used_on).type


def test_a_language_model_scores_the_same_on_the_cpu_and_the_gpu(
    device: torch.device, tmp_path: Path
) -> None:
    text = ["the cat sat on the mat and the dog sat on the log."] * 30
    lm = LanguageModel(unit="char", hidden=32, embed_dim=16, epochs=1, device="cpu").fit(text)
    expected = lm.evaluate(text[:3])
    lm.device = str(device)
    got = lm.evaluate(text[:3])
    assert got["loss"] == pytest.approx(expected["loss"], rel=1e-5)
    sample = lm.generate("the ", max_tokens=20, temperature=0.0)
    lm.device = "cpu"
    assert lm.generate("the ", max_tokens=20, temperature=0.0) == sample


def test_a_translator_translates_the_same_on_the_cpu_and_the_gpu(device: torch.device) -> None:
    source = ["ein haus", "ein hund", "das haus", "der hund", "ein rotes haus"] * 12
    target = ["a house", "a dog", "the house", "the dog", "a red house"] * 12
    translator = Translator(
        unit="word", hidden=32, embed_dim=16, epochs=2, min_freq=1, valid_split=0, device="cpu"
    ).fit(source, target)
    expected = translator.translations(source[:5], beam=3)
    translator.device = str(device)
    got = translator.translations(source[:5], beam=3)
    assert [t.text for t in got] == [t.text for t in expected]
    for g, e in zip(got, expected, strict=True):
        assert g.log_prob == pytest.approx(e.log_prob, rel=1e-4, abs=1e-5)


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_mixed_precision_trains_with_float32_weights(precision: str, device: torch.device) -> None:
    if device.type != "cuda":
        pytest.skip("fp16 and this bf16 check are for the GPU")
    texts, labels = _texts()
    clf = TextClassifier(**TINY, device=str(device), precision=precision).fit(texts, labels)
    assert all(p.dtype == torch.float32 for p in clf.model_.parameters())
    assert np.isfinite(clf.history_.epochs[-1]["train_loss"])
    assert clf.score(texts, labels) > 0.9


def test_two_deterministic_runs_give_identical_weights(device: torch.device) -> None:
    texts, labels = _texts()
    states = []
    for _ in range(2):
        clf = TextClassifier(
            **TINY, device=str(device), deterministic=True, dropout=0.3, embed_dropout=0.1
        ).fit(texts, labels)
        states.append({k: v.cpu() for k, v in clf.model_.state_dict().items()})
    for name, value in states[0].items():
        assert torch.equal(value, states[1][name]), name


def test_batches_are_fed_from_pinned_memory_unchanged(device: torch.device) -> None:
    ids = np.arange(1, 401, dtype=np.int64)
    offsets = np.arange(0, 401, 8)
    batches = Batches(ids, offsets, np.zeros(50, dtype=np.int64), batch_size=8, shuffle=True)
    fed = list(feed(batches.epoch(1), device, background=True))
    plain = list(batches.epoch(1))
    assert len(fed) == len(plain)
    for got, expected in zip(fed, plain, strict=True):
        assert got.tokens.device == device
        assert torch.equal(got.tokens.cpu(), expected.tokens)
        assert np.array_equal(got.index, expected.index)


def test_gradient_pictures_run_on_the_gpu_in_evaluation_mode(device: torch.device) -> None:
    """cuDNN refuses the backward of its RNN in evaluation mode; the vanishing-gradient
    picture unrolls the readable path, so it runs there."""
    from rnnkit.synthetic.lab import SequenceModel, hidden_gradient_norms
    from rnnkit.synthetic.sequences import adding

    for cell in ("rnn", "lstm", "gru"):
        model = SequenceModel(cell, 2, 8, 1, per_step=False).to(device).eval()
        norms = hidden_gradient_norms(model, adding(16, 12, seed=0))
        assert norms.shape == (12,)
        assert np.isfinite(norms).all()


def test_the_command_line_trains_on_the_device(device: torch.device, tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 80)
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "train", str(data), "--out", str(tmp_path / "m"),
         "--hidden", "16", "--embed-dim", "16", "--epochs", "2", "--device", str(device),
         "--json", "--quiet"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "m" / "model.safetensors").is_file()


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="data-parallel needs 2 GPUs")
def test_data_parallel_training_on_two_gpus(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 120)
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", "train", str(data), "--out", str(tmp_path / "m"),
         "--hidden", "16", "--embed-dim", "16", "--epochs", "2", "--device", "cuda",
         "--nproc", "2", "--json", "--quiet"],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr


def test_layers_are_exact_with_all_options_on_the_device(device: torch.device) -> None:
    """Dropout between layers, weight dropout and locked dropout run on the device (their
    masks drawn there), and evaluation mode is deterministic."""
    layer = rnnkit.nn.LSTM(I, H, num_layers=2, bidirectional=True, dropout=0.3).to(device)
    layer.weight_dropout = 0.2
    x = torch.randn(T, B, I, device=device)
    lengths = torch.randint(1, T + 1, (B,))
    layer.train()
    out, _ = layer(x, lengths=lengths)
    out.sum().backward()
    layer.eval()
    with torch.no_grad():
        first, _ = layer(x, lengths=lengths)
        second, _ = layer(x, lengths=lengths)
    assert torch.equal(first, second)
