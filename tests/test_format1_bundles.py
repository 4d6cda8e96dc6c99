"""Bundles written by the release before issue 14 (format 1, no checksum of the vocabulary) still
load and predict what they predicted then (``tests/fixtures/format1/make.py`` wrote them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import TextClassifier

FIXTURES = Path(__file__).parent / "fixtures" / "format1"
EXPECTED = json.loads((FIXTURES / "expected.json").read_text())


@pytest.mark.parametrize("name", sorted(EXPECTED["bundles"]))
def test_a_format_1_bundle_predicts_as_it_did(name: str) -> None:
    clf = TextClassifier.load(FIXTURES / name)
    expected = EXPECTED["bundles"][name]
    assert clf.classes_.tolist() == expected["classes"]
    got = clf.predict_proba(EXPECTED["texts"])
    np.testing.assert_allclose(got, np.asarray(expected["probabilities"]), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(EXPECTED["bundles"]))
def test_a_format_1_bundle_saved_again_is_format_2_and_predicts_the_same(
    name: str, tmp_path: Path
) -> None:
    clf = TextClassifier.load(FIXTURES / name)
    clf.save(tmp_path / "again")
    config = json.loads((tmp_path / "again" / "config.json").read_text())
    assert (config["format_version"], config["task"]) == (2, "classification")
    again = TextClassifier.load(tmp_path / "again")
    np.testing.assert_array_equal(
        again.predict_proba(EXPECTED["texts"]), clf.predict_proba(EXPECTED["texts"])
    )


def test_the_fixtures_are_unchanged_bundles_of_that_release() -> None:
    config = json.loads((FIXTURES / "lstm-bi" / "config.json").read_text())
    assert config["format_version"] == 1
    assert set(config["checksums"]) == {"model.safetensors"}  # before the vocabulary checksum
