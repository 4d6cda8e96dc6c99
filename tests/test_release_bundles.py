"""Bundles of every task written by the release before the task layer (issue 33), and every
command's flags then, answer and parse as they did (``tests/fixtures/release/make.py`` wrote
them): predictions to 1e-6, the same greedy and seeded text, the same translations, the same
ONNX graphs."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from rnnkit import LanguageModel, TextClassifier, Translator
from tests.robust.cli_batch import run_many

FIXTURES = Path(__file__).parent / "fixtures" / "release"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())
BUNDLES = EXPECTED["bundles"]
FLAGS = json.loads((FIXTURES / "flags.json").read_text())


@pytest.mark.parametrize("name", ["classifier", "ensemble"])
def test_a_classifier_of_the_release_predicts_as_it_did(name: str) -> None:
    clf = TextClassifier.load(FIXTURES / name)
    assert clf.classes_.tolist() == BUNDLES[name]["classes"]
    np.testing.assert_allclose(
        clf.predict_proba(EXPECTED["texts"]), BUNDLES[name]["probabilities"], atol=1e-6, rtol=0
    )


@pytest.mark.parametrize("name", ["lm-char-lstm", "lm-word-gru"])
def test_a_language_model_of_the_release_writes_and_scores_as_it_did(name: str) -> None:
    lm, expected = LanguageModel.load(FIXTURES / name), BUNDLES[name]
    greedy = [lm.generate(p, max_tokens=40, temperature=0)[0] for p in EXPECTED["prompts"]]
    assert greedy == expected["greedy"]
    sampled = lm.generate(
        EXPECTED["prompts"][0], max_tokens=40, temperature=0.8, top_p=0.9, seed=1, num_samples=2
    )
    assert sampled == expected["sampled"]
    scores = lm.evaluate([EXPECTED["dickens"], "it was the age of zebras"])
    for key, value in expected["scores"].items():
        assert scores[key] == (
            pytest.approx(value, abs=1e-6) if isinstance(value, float) else value
        )


def test_the_translator_of_the_release_translates_as_it_did() -> None:
    translator, expected = Translator.load(FIXTURES / "translator"), BUNDLES["translator"]
    texts = expected["texts"]
    assert translator.translate(texts, beam=1) == expected["greedy"]
    assert translator.translate(texts, beam=3, length_penalty=0.6) == expected["beam"]
    found = [t.log_prob for t in translator.translations(texts, beam=3)]
    np.testing.assert_allclose(found, expected["log_probs"], atol=1e-5, rtol=0)
    assert (translator.source, translator.target) == ("src", "tgt")


def test_every_command_keeps_every_flag_it_had() -> None:
    results = run_many(*([*command.split(), "--help"] for command in FLAGS))
    for (command, flags), result in zip(FLAGS.items(), results, strict=True):
        assert result.returncode == 0, (command, result.stderr)
        shown = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", result.stdout))
        missing = [flag for flag in flags if flag not in shown]
        assert not missing, f"rnnkit {command} --help lacks {missing}"


@pytest.mark.parametrize(
    "name", ["classifier", "ensemble", "lm-char-lstm", "lm-word-gru", "translator"]
)
def test_the_onnx_graphs_of_the_release_bundles_are_exported_as_they_were(
    name: str, tmp_path: Path
) -> None:
    """``rnnkit export`` writes, node for node and weight for weight, the graphs the release
    wrote for the same bundles (``onnx.json``), with the same metadata and opset."""
    onnx = pytest.importorskip("onnx", reason="the onnx extra is not installed")
    from rnnkit.bundle import bundle_task
    from rnnkit.tasks import registry

    recorded = json.loads((FIXTURES / "onnx.json").read_text())["graphs"]
    bundle = tmp_path / name
    shutil.copytree(FIXTURES / name, bundle)
    written = registry.get(bundle_task(bundle)).load("exporter")(bundle, None, None)
    expected = {key: value for key, value in recorded.items() if key.startswith(f"{name}/")}
    assert sorted(f"{name}/{path.name}" for path in written) == sorted(expected)
    for path in written:
        graph = onnx.load(str(path))
        assert expected[f"{name}/{path.name}"] == {
            "graph_sha256": hashlib.sha256(graph.graph.SerializeToString()).hexdigest(),
            "metadata": {prop.key: prop.value for prop in graph.metadata_props},
            "opset": [entry.version for entry in graph.opset_import],
        }
