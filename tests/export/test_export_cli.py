"""``rnnkit export`` and ``rnnkit predict --backend onnx``, run as real subprocesses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import TINY, make_texts
from tests.test_cli import assert_user_error, rnnkit

pytest.importorskip("onnxruntime", reason="the onnx extra is not installed")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from rnnkit import TextClassifier

    texts, labels = make_texts(300)
    options = {
        "embed_dim": TINY["embed_dim"],
        "hidden": TINY["hidden"],
        "epochs": 3,
        "batch_size": TINY["batch_size"],
        "lr": TINY["lr"],
    }
    clf = TextClassifier(**options).fit(texts, labels)  # type: ignore[arg-type]
    return clf.save(tmp_path_factory.mktemp("export") / "model")


def predictions(*args: str) -> list[dict[str, object]]:
    result = rnnkit("predict", *args)
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_export_then_predict_with_onnx_runtime_matches_torch(bundle: Path, tmp_path: Path) -> None:
    result = rnnkit("export", str(bundle))
    assert result.returncode == 0, result.stderr
    assert f"wrote {bundle / 'model.onnx'}" in result.stdout
    texts, _ = make_texts(60, seed=5)
    (tmp_path / "in.txt").write_text("\n".join([*texts[:30], "", *texts[30:]]) + "\n")
    torch_rows = predictions(str(bundle), "--input", str(tmp_path / "in.txt"))
    onnx_rows = predictions(str(bundle), "--input", str(tmp_path / "in.txt"), "--backend", "onnx")
    assert len(onnx_rows) == len(torch_rows) == 61
    assert onnx_rows[30] == torch_rows[30] == {"error": "empty text"}
    for ours, theirs in zip(onnx_rows, torch_rows, strict=True):
        if "error" in ours:
            continue
        assert ours["label"] == theirs["label"]
        probs = ours["probs"]
        assert isinstance(probs, dict)
        expected = theirs["probs"]
        assert isinstance(expected, dict)
        np.testing.assert_allclose(
            [probs[k] for k in sorted(probs)], [expected[k] for k in sorted(expected)], atol=1e-4
        )


def test_int8_export_to_a_chosen_file_predicts_the_same_labels(
    bundle: Path, tmp_path: Path
) -> None:
    out = tmp_path / "q.onnx"
    result = rnnkit("export", str(bundle), "--quantize", "int8", "--out", str(out))
    assert result.returncode == 0, result.stderr
    texts, _ = make_texts(40, seed=6)
    rows = predictions(str(bundle), *texts, "--backend", "onnx", "--onnx", str(out))
    expected = predictions(str(bundle), *texts)
    agree = np.mean([a["label"] == b["label"] for a, b in zip(rows, expected, strict=True)])
    assert agree >= 0.9


def test_onnx_backend_errors_name_the_file_and_the_fix(bundle: Path, tmp_path: Path) -> None:
    missing = tmp_path / "none.onnx"
    result = rnnkit("predict", str(bundle), "good", "--backend", "onnx", "--onnx", str(missing))
    assert_user_error(result, f"{missing}: no such ONNX file; write it with rnnkit export")
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"not a graph")
    result = rnnkit("predict", str(bundle), "good", "--backend", "onnx", "--onnx", str(broken))
    assert_user_error(result, f"{broken}: not a readable ONNX model")
    assert_user_error(
        rnnkit("predict", str(bundle), "good", "--onnx", str(broken)),
        "--onnx FILE goes with --backend onnx",
    )
    assert_user_error(rnnkit("export", str(tmp_path / "nothing")), "no such model folder")


def test_an_ensemble_trains_exports_and_predicts_alike_with_onnx_runtime(tmp_path: Path) -> None:
    from tests.conftest import write_csv
    from tests.test_cli import TINY_OPTIONS

    train = write_csv(tmp_path / "train.csv", 200)
    model = tmp_path / "model"
    result = rnnkit("train", str(train), "--out", str(model), "--ensemble", "2", *TINY_OPTIONS)
    assert result.returncode == 0, result.stderr
    assert json.loads((model / "config.json").read_text())["model"]["ensemble"] == 2
    assert rnnkit("export", str(model)).returncode == 0
    texts, _ = make_texts(20, seed=5)
    torch_rows = predictions(str(model), *texts)
    onnx_rows = predictions(str(model), *texts, "--backend", "onnx")
    assert [r["label"] for r in onnx_rows] == [r["label"] for r in torch_rows]
    for ours, theirs in zip(onnx_rows, torch_rows, strict=True):
        assert isinstance(ours["probs"], dict)
        assert isinstance(theirs["probs"], dict)
        for label, p in theirs["probs"].items():
            assert abs(ours["probs"][label] - p) < 1e-4
    assert_user_error(
        rnnkit("train", str(train), "--out", str(tmp_path / "m0"), "--ensemble", "0"),
        "--ensemble must be at least 1, got 0",
    )
