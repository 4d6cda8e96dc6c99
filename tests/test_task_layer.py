"""The task layer is one place: a cell registered here trains every task through its
estimator, and a task registered here (``tests/toy_task.py``) trains, saves, loads, predicts and
is served through the shared layers, with no edit to rnnkit's source."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor

from rnnkit import LanguageModel, TextClassifier, Translator
from rnnkit.errors import BundleError
from rnnkit.nn import registry as cells
from rnnkit.nn.registry import CellSpec
from rnnkit.tasks import registry
from tests.conftest import make_texts
from tests.test_translator import reversal
from tests.toy_task import NAME, SPEC, TextRegressor


def indrnn_step(x: Tensor, state: tuple[Tensor, ...], weights: Sequence[Tensor]) -> tuple[Tensor]:
    """IndRNN (Li et al., 2018): h_t = relu(W x_t + b_ih + u * h_{t-1} + b_hh), u a vector."""
    weight_ih, u, bias_ih, bias_hh = weights
    return (torch.relu(torch.nn.functional.linear(x, weight_ih, bias_ih) + u * state[0] + bias_hh),)


@pytest.fixture
def indrnn() -> Iterator[str]:
    """The cell, registered for the test only: one step function, one registration."""
    cells.register(
        CellSpec("INDRNN", name="indrnn", num_gates=1, step=indrnn_step, hh_shape=lambda h: (h,))
    )
    try:
        yield "indrnn"
    finally:
        cells.unregister("INDRNN")


def test_a_registered_cell_trains_a_classifier_a_language_model_and_a_translator(
    indrnn: str, tmp_path: Path
) -> None:
    texts, labels = make_texts(120)
    clf = TextClassifier(cell=indrnn, embed_dim=8, hidden=8, epochs=15, lr=0.02, valid_split=0)
    clf.fit(texts, labels)
    assert type(clf.model_.encoder.rnn).mode == "INDRNN"
    assert clf.score(texts, labels) > 0.8  # the cue words: it learnt them
    again = TextClassifier.load(clf.save(tmp_path / "classifier"))
    np.testing.assert_allclose(again.predict_proba(texts[:5]), clf.predict_proba(texts[:5]))

    lm = LanguageModel(cell=indrnn, hidden=16, embed_dim=8, window=16, batch_size=4, max_steps=20)
    lm.fit(["it was the best of times, it was the worst of times."] * 20)
    assert lm.model_.encoder.rnn.cell.mode == "INDRNN"
    text = lm.generate("it was", max_tokens=10, temperature=0)
    assert (
        LanguageModel.load(lm.save(tmp_path / "lm")).generate(
            "it was", max_tokens=10, temperature=0
        )
        == text
    )

    source, target = reversal(200, 0)
    translator = Translator(
        cell=indrnn, unit="word", vocab_size=40, embed_dim=8, hidden=8, max_steps=10, beam=2
    ).fit(source, target)
    assert translator.model_.decoder.cell.mode == "INDRNN"
    found = translator.translate(source[:3])
    assert Translator.load(translator.save(tmp_path / "translator")).translate(source[:3]) == found


def test_an_unregistered_cell_is_refused_naming_the_registered_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown cell 'indrnn'.*lstm, gru, rnn, bag"):
        TextClassifier(cell="indrnn").fit(["a b", "c d"], ["x", "y"])


@pytest.fixture
def toy() -> Iterator[None]:
    registry.register(SPEC)
    try:
        yield
    finally:
        registry.unregister(NAME)


def regression_data(count: int) -> tuple[list[str], list[float]]:
    """Texts of "up" and "down"; the value is the share of "up"."""
    rng = np.random.default_rng(0)
    texts, values = [], []
    for _ in range(count):
        words = rng.choice(["up", "down"], size=int(rng.integers(2, 9))).tolist()
        texts.append(" ".join(words))
        values.append(words.count("up") / len(words))
    return texts, values


def test_a_task_registered_outside_rnnkit_trains_saves_loads_and_predicts(
    toy: None, tmp_path: Path
) -> None:
    texts, values = regression_data(300)
    model = TextRegressor(seed=0).fit(texts, values)
    errors = (model.predict(texts) - np.asarray(values)) ** 2
    assert errors.mean() < 0.25 * np.var(values)  # far better than the mean
    folder = model.save(tmp_path / "toy")
    assert json.loads((folder / "config.json").read_text())["task"] == NAME
    again = TextRegressor.load(folder)
    np.testing.assert_array_equal(again.predict(texts[:10]), model.predict(texts[:10]))
    with pytest.raises(
        BundleError, match="takes a classifier, and this bundle holds a text regressor"
    ):
        TextClassifier.load(folder)
    assert repr(TextRegressor(hidden=8)) == "TextRegressor(hidden=8)"


def test_a_task_registered_outside_rnnkit_is_served_over_http(
    toy: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("fastapi", reason="the serve extra is not installed")
    from tests.serve.server import Server

    texts, values = regression_data(100)
    folder = TextRegressor(seed=0, epochs=3).fit(texts, values).save(tmp_path / "toy")
    monkeypatch.setenv("RNNKIT_TASKS", "tests.toy_task_plugin")  # so rnnkit serve knows it
    server = Server(folder)
    try:
        status, answer = server.request("POST", "/regress", {"texts": texts[:4]})
        assert status == 200
        expected = TextRegressor.load(folder).predict(texts[:4])
        np.testing.assert_allclose(answer["values"], expected, atol=1e-6)
        status, answer = server.request("POST", "/predict", {"texts": ["a"]})
        assert status == 404
        assert answer["detail"].startswith('toy is a text regressor: POST /regress with {"texts"')
        assert server.request("GET", "/health")[1] == {"status": "ok", "requests": 1}
        assert server.request("GET", "/info")[1]["task"] == NAME
    finally:
        server.stop()


def test_every_task_s_commands_have_one_shape() -> None:
    """``rnnkit GROUP train | evaluate | lr-find | VERB`` for each task, built by one factory;
    the top-level words (``rnnkit train``, ``rnnkit generate``) are the same commands."""
    from tests.robust.cli_batch import run_many

    groups = {"classify": "predict", "lm": "generate", "translate": "text"}
    helps = run_many(*([group, "--help"] for group in groups))
    for (group, verb), result in zip(groups.items(), helps, strict=True):
        assert result.returncode == 0, result.stderr
        listed = result.stdout.split("positional arguments:")[1]
        for word in ("train", "evaluate", "lr-find", verb):
            assert f"\n    {word} " in listed, (group, word)
    nested, top = run_many(["classify", "train", "--help"], ["train", "--help"])
    description = "Train a recurrent text classifier"  # from here on: not the usage's width
    assert nested.stdout.split(description)[1] == top.stdout.split(description)[1]
