"""No silent wrong answers: non-finite outputs are errors the caller sees, a bundle's
configuration is checked against its weights, data that cannot make a classifier is refused,
every numeric option is checked, and an empty API key is not an open server."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pytest
import torch

from rnnkit import TextClassifier
from rnnkit.errors import BundleError, ConfigError, DataError, PredictionError
from rnnkit.files import sha256
from tests.conftest import TINY, make_texts, write_csv
from tests.robust.cli_batch import run_many
from tests.test_cli import TINY_OPTIONS, assert_user_error, rnnkit


def rewrite_weights(folder: Path, change: dict[str, torch.Tensor]) -> None:
    """Replace tensors of the bundle in ``folder`` and update the checksum, as a damaged copy
    whose checksum was recomputed would look."""
    from safetensors.torch import load_file, save_file

    weights = folder / "model.safetensors"
    state = {**load_file(weights), **change}
    save_file(state, weights, metadata={"format": "rnnkit-bundle"})
    config = json.loads((folder / "config.json").read_text())
    config["checksums"]["model.safetensors"] = sha256(weights)
    (folder / "config.json").write_text(json.dumps(config))


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A bag-of-embeddings model whose weights are finite but overflow to NaN probabilities
    for the text "superb" alone, and for no other text."""
    clf = TextClassifier(**{**TINY, "cell": "bag"}, valid_split=0).fit(*make_texts(200))
    folder = clf.save(tmp_path_factory.mktemp("nan") / "model")
    embedding = clf.model_.encoder.embedding.weight.detach().clone()
    weight = clf.model_.classifier.weight.detach().clone()
    embedding[:, :2] = 0.0
    embedding[clf.vocab_.index["superb"], :2] = 1.0
    weight[0, :2], weight[1, :2] = 3e38, -3e38  # 6e38 overflows to inf, -inf: softmax NaN
    rewrite_weights(folder, {"encoder.embedding.weight": embedding, "classifier.weight": weight})
    return folder


def test_predict_reports_non_finite_outputs_per_text_in_valid_json(overflowing: Path) -> None:
    result = rnnkit("predict", str(overflowing), "superb", "a dull film", "")
    rows = [json.loads(line) for line in result.stdout.splitlines()]  # strict JSON: no NaN
    assert rows[0] == {"error": "the model gave NaN or infinite outputs for this text"}
    assert rows[1]["label"] in ("neg", "pos")
    assert np.isfinite(list(rows[1]["probs"].values())).all()
    assert rows[2] == {"error": "empty text"}
    assert_user_error(
        result, "the model gave NaN or infinite outputs for 1 of 3 texts (their lines say so)"
    )
    labelled = overflowing.parent / "labelled.csv"
    labelled.write_text("text,label\nsuperb,pos\na dull film,neg\n")
    assert_user_error(
        rnnkit("evaluate", str(overflowing), str(labelled), "--json"),
        "the model gave NaN or infinite outputs for 1 of 2 texts (at 0)",
    )
    clf = TextClassifier.load(overflowing)
    with pytest.raises(PredictionError, match=r"for 1 of 2 texts \(at 0\)"):
        clf.predict(["superb", "a dull film"])
    assert np.isnan(clf.predict_proba(["superb"], check_finite=False)).all()


def test_the_server_answers_500_for_non_finite_outputs(overflowing: Path) -> None:
    pytest.importorskip("fastapi")
    from tests.serve.server import Server

    server = Server(overflowing)
    try:
        status, body = server.request("POST", "/predict", {"texts": ["a fine film", "superb"]})
        assert status == 500
        assert body == {
            "detail": "the model gave NaN or infinite outputs for texts[1]: its weights are "
            "damaged or its training diverged; the server's operator must replace the model"
        }
        status, body = server.request("POST", "/predict", {"texts": ["a fine film"]})
        assert status == 200
        assert np.isfinite(body["predictions"][0]["score"])
    finally:
        log = server.stop()
    assert "the model gave NaN or infinite outputs for texts[1]" in log


def test_non_finite_weights_are_refused_at_load(overflowing: Path, tmp_path: Path) -> None:
    import shutil

    folder = Path(shutil.copytree(overflowing, tmp_path / "m"))
    rewrite_weights(folder, {"classifier.bias": torch.tensor([float("nan"), 0.0])})
    with pytest.raises(BundleError, match=r"tensor classifier\.bias holds NaN or infinite values"):
        TextClassifier.load(folder)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clf = TextClassifier(**TINY, valid_split=0).fit(*make_texts(100))
    return clf.save(tmp_path_factory.mktemp("config") / "model")


def edited(bundle: Path, tmp_path: Path, edit: dict[str, object]) -> Path:
    import shutil

    folder = Path(shutil.copytree(bundle, tmp_path / "edited"))
    config = json.loads((folder / "config.json").read_text())
    for dotted, value in edit.items():
        *parents, key = dotted.split(".")
        target = config
        for name in parents:
            target = target[name]
        target[key] = value(target[key]) if callable(value) else value
    (folder / "config.json").write_text(json.dumps(config))
    return folder


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"labels": ["neg"]}, "lists 1 labels but the model has 2 classes"),
        ({"labels": ["neg", "pos", "extra"]}, "lists 3 labels but the model has 2 classes"),
        ({"labels": ["pos", "pos"]}, "lists a label twice"),
        (
            {"vocab.tokens": lambda tokens: [*tokens[:2], *reversed(tokens[2:])]},
            "its vocabulary or data settings were altered",
        ),
        ({"data.tokenizer": "char"}, "its vocabulary or data settings were altered"),
        (
            {"vocab.tokens": lambda tokens: tokens[:-3], "checksums.text": None},
            "the vocabulary has .* tokens but the model's embedding has .* rows",
        ),
        ({"labels": [1, "1"]}, "lists a label twice"),
        ({"labels": [["a"], "b"]}, "labels must be strings or numbers"),
        ({"labels": "ab"}, "labels is not a list"),
        (
            {"model.hidden_size": 24},
            r"tensor encoder.rnn.weight_ih_l0 has shape \(64, 16\), but config.json describes "
            r"\(96, 16\)",
        ),
        ({"format_version": "1"}, "format version '1' is a string; this rnnkit reads the number 2"),
    ],
)
def test_a_configuration_that_disagrees_with_the_weights_is_named(
    bundle: Path, tmp_path: Path, edit: dict[str, object], message: str
) -> None:
    folder = edited(bundle, tmp_path, edit)
    with pytest.raises(BundleError, match=message):
        TextClassifier.load(folder)
    result = rnnkit("predict", str(folder), "a fine film")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_data_that_cannot_make_a_classifier_is_refused(tmp_path: Path) -> None:
    one = tmp_path / "one.csv"
    one.write_text("text,label\n" + "".join(f"text {i},pos\n" for i in range(30)))
    assert_user_error(
        rnnkit("train", str(one), "--out", str(tmp_path / "m"), *TINY_OPTIONS),
        f"{one}: every training text has the label 'pos'; a classifier needs at least two",
    )
    with pytest.raises(DataError, match="at least two classes"):
        TextClassifier(**TINY).fit(["a b", "c d", "e f"], ["x", "x", "x"])
    data = write_csv(tmp_path / "d.csv", 100)
    assert_user_error(
        rnnkit(
            "train", str(data), "--out", str(tmp_path / "m"), *TINY_OPTIONS, "--min-freq", "100000"
        ),
        "--min-freq 100000 leaves no words in the vocabulary: the most frequent token of the 90 "
        "training texts occurs",
    )
    assert not (tmp_path / "m").exists()


def test_labels_that_look_alike_stay_distinct_with_one_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    rows = [
        f"{w} film {i},{label}"
        for i in range(20)
        for w, label in (("good", "Pos"), ("bad", "pos"), ("fine", "1"), ("dull", "1.0"))
    ]
    data = tmp_path / "alike.csv"
    data.write_text("text,label\n" + "\n".join(rows) + "\n")
    result = rnnkit(
        "train", str(data), "--out", str(tmp_path / "m"), *TINY_OPTIONS, "--epochs", "1"
    )
    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if "labels that differ" in line]
    assert warnings == [
        f"rnnkit: {data}: labels that differ only in case or in how a number is written stay "
        "distinct classes: 'Pos' and 'pos'; '1' and '1.0'; make them one label in the data if "
        "they mean the same"
    ]
    labels = json.loads((tmp_path / "m" / "config.json").read_text())["labels"]
    assert sorted(labels) == ["1", "1.0", "Pos", "pos"]
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        TextClassifier(**{**TINY, "epochs": 1}).fit(["a b", "c d"] * 10, ["Yes", "yes"] * 10)
    assert "'Yes' and 'yes'" in caplog.text


NUMERIC_CASES = [
    ("--embed-dim", "0", "--embed-dim must be at least 1, got 0"),
    ("--threads", "0", "--threads must be at least 1, got 0"),
    ("--threads", "-2", "--threads must be at least 1, got -2"),
    ("--hidden", "0", "--hidden must be at least 1, got 0"),
    ("--layers", "0", "--layers must be at least 1, got 0"),
    ("--batch-size", "0", "--batch-size must be at least 1, got 0"),
    ("--lr", "inf", "--lr must be positive and finite, got inf"),
    ("--lr", "nan", "--lr must be positive and finite, got nan"),
    ("--weight-decay", "-1", "--weight-decay must be zero or positive, got -1.0"),
    ("--seed", "-1", "--seed must be in [0, 2**32), got -1"),
    ("--max-len", "0", "--max-len must be at least 1, got 0"),
    ("--max-vocab", "2", "--max-vocab must be at least 3, got 2"),
    ("--min-freq", "0", "--min-freq must be at least 1, got 0"),
    ("--valid-split", "1", "--valid-split must be in [0, 1), got 1.0"),
    ("--checkpoint-every", "-1", "--checkpoint-every must be zero or positive, got -1"),
    ("--max-steps", "0", "--max-steps must be at least 1, got 0"),
    ("--patience", "-1", "--patience must be zero or positive, got -1"),
    ("--dropout", "1", "--dropout must be in [0, 1), got 1.0"),
]


def test_every_numeric_option_out_of_range_is_refused(tmp_path: Path) -> None:
    """Before any data is read: DATA need not even exist. (One subprocess for all cases.)"""
    base = ["train", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "m")]
    results = run_many(*([*base, option, value] for option, value, _ in NUMERIC_CASES))
    for (option, _, message), result in zip(NUMERIC_CASES, results, strict=True):
        assert_user_error(result, message)
        assert option in result.stderr


def test_numeric_options_of_the_other_commands(bundle: Path) -> None:
    cases = [
        (["predict", str(bundle), "a film", "--threads", "0"], "--threads must be at least 1"),
        (["evaluate", str(bundle), "sst2", "--threads", "0"], "--threads must be at least 1"),
        (["predict", str(bundle), "--top-k", "0", "x"], "--top-k must be at least 1, got 0"),
        (["serve", str(bundle), "--threads", "-1"], "--threads must be at least 1, got -1"),
        (["serve", str(bundle), "--port", "70000"], "--port must be in [0, 65535], got 70000"),
        (["lab", "adding", "--lr", "0"], "--lr must be positive, got 0.0"),
        (["lab", "adding", "--train-size", "1"], "--train-size must be at least 2, got 1"),
        (["demo", "--threads", "0"], "--threads must be at least 1, got 0"),
        (["lr-find", "x.csv", "--steps", "1"], "--steps must be at least 2, got 1"),
    ]
    for (_, message), result in zip(cases, run_many(*(c for c, _ in cases)), strict=True):
        assert_user_error(result, message)
    with pytest.raises(ConfigError, match="threads must be at least 1, got 0"):
        TextClassifier(threads=0).fit(["a", "b"], ["x", "y"])
    with pytest.raises(ConfigError, match="embed_dim must be at least 1, got 0"):
        TextClassifier(embed_dim=0).fit(["a", "b"], ["x", "y"])


def test_an_empty_api_key_is_an_error_not_an_open_server(bundle: Path) -> None:
    (given,) = run_many(["serve", str(bundle), "--api-key", ""])
    assert_user_error(given, "--api-key is empty (is the variable you passed set?)")
    (unset,) = run_many(["serve", str(bundle)], env={"RNNKIT_API_KEY": ""})
    assert_user_error(unset, "$RNNKIT_API_KEY is set but empty")
