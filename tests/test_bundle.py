"""Model bundles: round trip, atomic replacement, and clear errors for damaged files."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import numpy as np
import pytest

import rnnkit.bundle
from rnnkit import BundleError, TextClassifier
from rnnkit.errors import OutputError
from tests.conftest import TINY, make_texts


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[TextClassifier, Path]:
    clf = TextClassifier(**{**TINY, "epochs": 1}).fit(*make_texts(100))
    return clf, clf.save(tmp_path_factory.mktemp("bundles") / "model")


def copy_of(bundle: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    target.mkdir()
    for file in bundle.iterdir():
        (target / file.name).write_bytes(file.read_bytes())
    return target


def test_config_holds_everything_needed_to_rebuild(saved: tuple[TextClassifier, Path]) -> None:
    _, path = saved
    config = json.loads((path / "config.json").read_text())
    assert config["format"] == "rnnkit-bundle"
    assert config["format_version"] == 2
    assert config["task"] == "classification"
    assert set(config) >= {"data", "model", "training", "labels", "vocab", "checksums"}
    assert config["labels"] == ["neg", "pos"]
    metrics = json.loads((path / "metrics.json").read_text())
    assert set(metrics) >= {"valid", "train_seconds", "train_tokens_per_second", "epochs_run"}


def test_loading_never_unpickles(
    saved: tuple[TextClassifier, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import pickle

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("unpickling")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    clf, path = saved
    texts, _ = make_texts(10, seed=4)
    assert np.array_equal(TextClassifier.load(path).predict_proba(texts), clf.predict_proba(texts))


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda p: (p / "model.safetensors").unlink(), r"model\.safetensors: missing"),
        (lambda p: (p / "config.json").unlink(), r"config\.json: missing; is .* a model bundle"),
        (lambda p: (p / "config.json").write_text("{not json"), r"config\.json: corrupted"),
        (
            lambda p: _flip_byte(p / "model.safetensors"),
            r"model\.safetensors: corrupted \(its SHA-256 does not match config\.json\)",
        ),
        (
            lambda p: _edit_config(p, format_version=99),
            r"config\.json: format version 99 is not supported",
        ),
        (
            lambda p: _edit_config(p, model={"hidden_size": 3}),
            r"config\.json: corrupted or incomplete",
        ),
    ],
    ids=["no-weights", "no-config", "bad-json", "flipped-byte", "future-version", "bad-model"],
)
def test_damaged_bundles_name_the_file(
    saved: tuple[TextClassifier, Path], tmp_path: Path, damage: object, message: str
) -> None:
    path = copy_of(saved[1], tmp_path)
    damage(path)  # type: ignore[operator]
    with pytest.raises(BundleError, match=message):
        TextClassifier.load(path)


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_config(path: Path, **changes: object) -> None:
    config = json.loads((path / "config.json").read_text())
    config.update(changes)
    (path / "config.json").write_text(json.dumps(config))


def test_a_failed_save_leaves_the_previous_bundle_intact(
    saved: tuple[TextClassifier, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clf, original = saved
    path = copy_of(original, tmp_path)
    before = {f.name: f.read_bytes() for f in path.iterdir()}

    def crash(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(rnnkit.bundle, "sha256", crash)
    with pytest.raises(OutputError, match=r"no space left on the device\); the previous .* intact"):
        clf.save(path)
    assert {f.name: f.read_bytes() for f in path.iterdir()} == before
    assert [p.name for p in tmp_path.iterdir()] == ["copy"]  # no temporary folder left


def test_missing_folder_is_named(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"nowhere: no such model folder"):
        TextClassifier.load(tmp_path / "nowhere")


CHECKPOINT = '{"format": "rnnkit-checkpoint"}'


def test_a_new_bundle_keeps_the_checkpoints_in_its_folder(tmp_path: Path) -> None:
    clf = TextClassifier(**{**TINY, "epochs": 1}).fit(*make_texts(60))
    path = clf.save(tmp_path / "model")
    (path / "checkpoints" / "last").mkdir(parents=True)
    (path / "checkpoints" / "last" / "checkpoint.json").write_text(CHECKPOINT)
    (path / "model.onnx").write_text("an export of the old weights, not kept")
    clf.save(path)
    assert (path / "checkpoints" / "last" / "checkpoint.json").read_text() == CHECKPOINT
    assert not (path / "model.onnx").exists()


def test_a_save_interrupted_between_renames_is_named(tmp_path: Path) -> None:
    clf = TextClassifier(**{**TINY, "epochs": 1}).fit(*make_texts(60))
    (tmp_path / ".model.old-123").mkdir()
    left = clf.save(tmp_path / "model").rename(tmp_path / ".model.old-123" / "model")
    with pytest.raises(BundleError, match=rf"an interrupted save left {left}: move it back"):
        TextClassifier.load(tmp_path / "model")
