"""ONNX export of a translator: the encoder graph against ``TranslatorNet.start_search`` and
the decoder's step graph against ``TranslatorNet.step`` over a grid of configurations, on
sources of mixed lengths; greedy and beam search through ``backend="onnx"`` against torch;
stale graphs refused; ``rnnkit export`` and ``rnnkit translate --backend onnx`` as
subprocesses."""

from __future__ import annotations

import json
import random
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit.errors import BundleError, ConfigError
from rnnkit.models.config import TranslatorConfig
from rnnkit.models.translator import TranslatorNet
from tests.test_cli import assert_user_error, rnnkit

ort = pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")
onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")

from rnnkit.export.graph import weights_digest  # noqa: E402
from rnnkit.tasks.translation import runtime as translator_runtime  # noqa: E402
from rnnkit.tasks.translation.export import (  # noqa: E402
    build_decoder_graph,
    build_encoder_graph,
    export_translator,
)
from rnnkit.tasks.translation.runtime import GraphSearcher, OnnxTranslator  # noqa: E402

ATOL = 1e-5
SOURCES = [[3, 4, 5, 6, 7, 8, 9], [9, 3], [4], [5, 6, 7, 8, 9]]  # mixed lengths, one batch
HIDDEN, EMBED = 4, 6
OUTPUTS = ("untied", "tied-projected", "tied-same-width")
STEPS = 6


def tiny(
    cell: str,
    layers: int,
    *,
    bidirectional: bool = True,
    attention: str = "general",
    input_feeding: bool = True,
    output: str = "tied-projected",
    seed: int = 0,
) -> TranslatorNet:
    """A small TranslatorNet in evaluation, its weights scaled up for varied distributions."""
    torch.manual_seed(seed)
    width = HIDDEN * (2 if bidirectional else 1)  # the decoder's size D
    config = TranslatorConfig(
        12, 15, cell=cell, num_layers=layers, bidirectional=bidirectional,
        attention=attention, input_feeding=input_feeding, tie_weights=output != "untied",
        embed_dim=width if output == "tied-same-width" else EMBED, hidden_size=HIDDEN,
        dropout=0.0, embed_dropout=0.0, weight_dropout=0.0,
    )  # fmt: skip
    net = TranslatorNet(config).eval()
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.mul_(2.0)
    assert (net.projection is not None) == (output == "tied-projected")
    return net


def batch(sources: list[list[int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """``sources`` as (S, B) ids padded with 0, and their lengths (B,)."""
    lengths = torch.tensor([len(s) for s in sources])
    tokens = torch.zeros(int(lengths.max()), len(sources), dtype=torch.long)
    for b, ids in enumerate(sources):
        tokens[: len(ids), b] = torch.tensor(ids)
    return tokens, lengths


def graphs(net: TranslatorNet) -> GraphSearcher:
    """Both graphs of ``net`` in ONNX Runtime sessions of one thread each."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    sessions = (
        ort.InferenceSession(graph.SerializeToString(), options, providers=["CPUExecutionProvider"])
        for graph in (build_encoder_graph(net), build_decoder_graph(net))
    )
    return GraphSearcher(*sessions)


def assert_close(got: torch.Tensor, expected: torch.Tensor, what: str) -> None:
    assert got.shape == expected.shape, what
    assert got.dtype == torch.float32, what
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=0, atol=ATOL, err_msg=what)


@torch.no_grad()
@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
@pytest.mark.parametrize("bidirectional", [True, False])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_encoder_graph_equals_start_search(
    cell: str, layers: int, bidirectional: bool, attention: str
) -> None:
    net = tiny(cell, layers, bidirectional=bidirectional, attention=attention)
    onnx = graphs(net)
    source, lengths = batch(SOURCES)
    got, expected = onnx.start_search(source, lengths), net.start_search(source, lengths)
    assert torch.equal(got.memory.mask, expected.memory.mask)
    assert got.memory.mask.dtype == torch.bool
    assert_close(got.memory.values, expected.memory.values, "values")
    assert_close(got.memory.keys, expected.memory.keys, "keys")
    assert len(got.decoder.hidden) == (2 if cell == "lstm" else 1)
    for name, ours, theirs in zip("hc", got.decoder.hidden, expected.decoder.hidden, strict=False):
        assert_close(ours, theirs, name)
    assert_close(got.decoder.feed, expected.decoder.feed, "feed")
    assert not got.memory.values[~got.memory.mask].any()  # zero at padding
    # Exact per length: each source alone gives what it gives in the batch.
    for b, ids in enumerate(SOURCES):
        alone = onnx.start_search(*batch([ids]))
        np.testing.assert_allclose(
            alone.memory.values[0].numpy(), got.memory.values[b, : len(ids)].numpy(), atol=1e-6
        )
        for ours, batched in zip(alone.decoder.hidden, got.decoder.hidden, strict=True):
            np.testing.assert_allclose(ours[:, 0].numpy(), batched[:, b].numpy(), atol=1e-6)


@torch.no_grad()
@pytest.mark.parametrize("output", OUTPUTS)
@pytest.mark.parametrize("input_feeding", [True, False])
@pytest.mark.parametrize("attention", ["dot", "general", "additive"])
@pytest.mark.parametrize("layers", [1, 2])
@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_the_decoder_graph_equals_step(
    cell: str, layers: int, attention: str, input_feeding: bool, output: str
) -> None:
    net = tiny(
        cell, layers, attention=attention, input_feeding=input_feeding, output=output, seed=1
    )
    onnx = graphs(net)
    source, lengths = batch(SOURCES)
    ours, theirs = onnx.start_search(source, lengths), net.start_search(source, lengths)
    generator = torch.Generator().manual_seed(0)
    for t in range(STEPS):
        tokens = torch.randint(
            0, net.config.target_vocab_size, (len(SOURCES),), generator=generator
        )
        log_probs, ours, weights = onnx.step(tokens, ours)
        expected, state, expected_weights = net.step(tokens, theirs.decoder, theirs.memory)
        theirs = type(theirs)(state, theirs.memory)
        assert_close(log_probs, expected, f"log_probs at step {t}")
        assert_close(weights, expected_weights, f"weights at step {t}")
        assert not weights[~ours.memory.mask].any()  # exactly zero at padding
        for name, a, b in zip(("h", "c"), ours.decoder.hidden, state.hidden, strict=False):
            assert_close(a, b, f"{name}_n at step {t}")
        assert_close(ours.decoder.feed, state.feed, f"feed_n at step {t}")


@pytest.fixture(scope="module")
def fitted(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A translator trained for a few steps on made-up word-for-word pairs, saved."""
    from rnnkit import Translator

    source, target = made_up_pairs(50)
    translator = Translator(
        unit="word", embed_dim=16, hidden=8, batch_size=8, max_steps=15, epochs=3,
        valid_split=0.0, seed=0,
    ).fit(source, target)  # fmt: skip
    return translator.save(tmp_path_factory.mktemp("translator") / "model")


WORDS = {
    "ein": "a", "der": "the", "hund": "dog", "katze": "cat", "mann": "man", "frau": "woman",
    "rennt": "runs", "schläft": "sleeps", "sieht": "sees", "groß": "big", "klein": "small",
    "und": "and", "park": "park", "haus": "house", "rot": "red", "im": "in the",
}  # fmt: skip


def made_up_pairs(count: int, seed: int = 0) -> tuple[list[str], list[str]]:
    rng = random.Random(seed)
    source = [" ".join(rng.choices(list(WORDS), k=rng.randint(1, 8))) for _ in range(count)]
    return source, [" ".join(WORDS[w] for w in s.split()) for s in source]


def test_greedy_and_beam_translations_through_onnx_equal_torch(fitted: Path) -> None:
    from rnnkit import Translator

    translator = Translator.load(fitted)
    paths = export_translator(translator.model_, fitted)
    assert paths == (fitted / "encoder.onnx", fitted / "decoder.onnx")
    for path, graph in zip(paths, ("encoder", "decoder"), strict=True):
        metadata = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
        assert metadata["task"] == "translation"
        assert metadata["graph"] == graph
        assert metadata["cell"] == translator.model_.config.cell
        assert metadata["weights_sha256"] == weights_digest(translator.model_)
    texts = [*made_up_pairs(20, seed=1)[0], "hund", "ein ganz neues wort"]
    for beam in (1, 5):
        on_torch = translator.translations(texts, beam=beam)
        on_onnx = translator.translations(texts, beam=beam, backend="onnx")
        assert [t.tokens for t in on_onnx] == [t.tokens for t in on_torch], beam
        assert [t.text for t in on_onnx] == [t.text for t in on_torch]
        np.testing.assert_allclose(
            [t.log_prob for t in on_onnx], [t.log_prob for t in on_torch], atol=1e-4
        )


def test_stale_foreign_or_missing_graphs_are_refused(fitted: Path, tmp_path: Path) -> None:
    from rnnkit import Translator

    folder = Path(shutil.copytree(fitted, tmp_path / "model"))
    for name in ("encoder.onnx", "decoder.onnx"):
        (folder / name).unlink(missing_ok=True)
    translator = Translator.load(folder)
    missing = f"{folder / 'encoder.onnx'}: no such ONNX file; run rnnkit export {folder} first"
    with pytest.raises(ConfigError, match=re.escape(missing)):
        translator.translate(["hund"], backend="onnx")
    export_translator(translator.model_, folder)
    OnnxTranslator(folder)  # without a network: both graphs from the same weights
    stale = f"exported from other weights than this model's; run rnnkit export {folder} again"
    with torch.no_grad():
        translator.model_.target_embedding.weight[5] += 1.0
    with pytest.raises(BundleError, match=re.escape(stale)):
        translator.translate(["hund"], backend="onnx")
    # One graph re-exported from the changed weights, the other not: refused even without net.
    export_translator(translator.model_, tmp_path / "other")
    shutil.copy(tmp_path / "other" / "decoder.onnx", folder / "decoder.onnx")
    with pytest.raises(BundleError, match=r"decoder\.onnx: exported from other weights than"):
        OnnxTranslator(folder)
    # The encoder's graph where the decoder's should be.
    shutil.copy(folder / "encoder.onnx", folder / "decoder.onnx")
    with pytest.raises(BundleError, match="expected a translator's decoder graph"):
        OnnxTranslator(folder)
    unsaved = Translator.load(fitted)
    del unsaved.path_
    with pytest.raises(ConfigError, match=r"save\(path\), run rnnkit export PATH"):
        unsaved.translate(["hund"], backend="onnx")


def test_an_export_that_differs_from_pytorch_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    net = tiny("gru", 1)
    assert (
        translator_runtime.largest_difference(
            net,
            *(g.SerializeToString() for g in (build_encoder_graph(net), build_decoder_graph(net))),
        )
        <= ATOL
    )
    monkeypatch.setattr(translator_runtime, "largest_difference", lambda *args: 0.5)
    with pytest.raises(ConfigError, match=r"differs from the PyTorch model by 0\.5"):
        export_translator(net, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_export_quantize_is_refused_for_a_translator(fitted: Path) -> None:
    assert_user_error(
        rnnkit("export", str(fitted), "--quantize", "int8"),
        "--quantize int8 is for classifiers: a translator is exported in float32",
    )


@pytest.mark.slow  # five subprocesses, each importing torch
def test_export_then_translate_with_onnx_runtime_as_subprocesses(
    fitted: Path, tmp_path: Path
) -> None:
    folder = Path(shutil.copytree(fitted, tmp_path / "model"))
    for name in ("encoder.onnx", "decoder.onnx"):
        (folder / name).unlink(missing_ok=True)
    result = rnnkit("export", str(folder))
    assert result.returncode == 0, result.stderr
    assert f"wrote {folder / 'encoder.onnx'} and {folder / 'decoder.onnx'}" in result.stdout
    texts = made_up_pairs(6, seed=2)[0]
    outputs = {}
    for backend in ("torch", "onnx"):
        found = rnnkit("translate", str(folder), *texts, "--beam", "3", "--backend", backend)
        assert found.returncode == 0, found.stderr
        outputs[backend] = found.stdout.splitlines()
    assert len(outputs["onnx"]) == len(texts)
    assert outputs["onnx"] == outputs["torch"]
    source, target = made_up_pairs(12, seed=3)
    (tmp_path / "test.src").write_text("\n".join(source) + "\n")
    (tmp_path / "test.tgt").write_text("\n".join(target) + "\n")
    scores = {}
    for backend in ("torch", "onnx"):
        found = rnnkit(
            "translate", "evaluate", str(folder), str(tmp_path / "test.src"),
            str(tmp_path / "test.tgt"), "--backend", backend, "--json",
        )  # fmt: skip
        assert found.returncode == 0, found.stderr
        scores[backend] = json.loads(found.stdout.splitlines()[-1])
    assert scores["onnx"] == scores["torch"]
    # Again over its own earlier export, into another folder, and not over a foreign file.
    assert rnnkit("export", str(folder)).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    assert rnnkit("export", str(folder), "--out", str(elsewhere)).returncode == 0
    OnnxTranslator(elsewhere)
    (elsewhere / "decoder.onnx").write_bytes(b"someone's file")
    assert_user_error(rnnkit("export", str(folder), "--out", str(elsewhere)), "decoder.onnx")
    assert (elsewhere / "decoder.onnx").read_bytes() == b"someone's file"
