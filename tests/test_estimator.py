"""TextClassifier: the scikit-learn protocol, predictions, and save/load."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit import NotFittedError, TextClassifier
from rnnkit.errors import ConfigError
from tests.conftest import TINY, make_texts

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is in the dev extra")
from sklearn.base import clone  # noqa: E402
from sklearn.model_selection import cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402


@pytest.fixture(scope="module")
def fitted() -> TextClassifier:
    texts, labels = make_texts(400)
    return TextClassifier(**TINY).fit(texts, labels)


def test_fit_returns_self_and_learns(fitted: TextClassifier) -> None:
    texts, labels = make_texts(200, seed=1)
    assert fitted.score(texts, labels) > 0.9
    assert fitted.classes_.tolist() == ["neg", "pos"]
    assert fitted.metrics_["epochs_run"] >= 1


def test_predict_proba_columns_follow_classes(fitted: TextClassifier) -> None:
    probs = fitted.predict_proba(["a good good film", "an awful dull film"])
    assert probs.shape == (2, 2)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-6)
    assert fitted.predict(["a good good film", "an awful dull film"]).tolist() == ["pos", "neg"]
    assert probs[0, 1] > 0.5 > probs[1, 1]


def test_predictions_do_not_depend_on_the_other_texts(fitted: TextClassifier) -> None:
    texts, _ = make_texts(50, seed=2)
    together = fitted.predict_proba(texts)
    alone = np.stack([fitted.predict_proba([t])[0] for t in texts[:5]])
    np.testing.assert_allclose(together[:5], alone, rtol=1e-5, atol=1e-6)


def test_integer_labels_come_back_as_integers() -> None:
    texts, labels = make_texts(200)
    y = [1 if label == "pos" else 0 for label in labels]
    clf = TextClassifier(**TINY).fit(texts, y)
    assert clf.classes_.tolist() == [0, 1]
    assert clf.predict(["good"]).dtype.kind == "i"


def test_using_it_before_fit_raises_a_clear_error() -> None:
    with pytest.raises(NotFittedError, match=r"not fitted yet: call fit\(texts, labels\)"):
        TextClassifier().predict(["text"])


def test_bad_input_is_named() -> None:
    with pytest.raises(ConfigError, match="X must be a sequence of texts, got a single string"):
        TextClassifier().fit("text", ["a"])
    with pytest.raises(ConfigError, match=r"X\[1\] is int, expected str"):
        TextClassifier().fit(["a", 3], ["x", "y"])  # type: ignore[list-item]
    with pytest.raises(ConfigError, match="X has 2 texts but y has 1 labels"):
        TextClassifier().fit(["a", "b"], ["x"])


def test_clone_and_params() -> None:
    clf = TextClassifier(hidden=32, cell="gru")
    copy = clone(clf)
    assert copy.get_params() == clf.get_params()
    assert copy is not clf
    assert repr(clf) == "TextClassifier(cell='gru', hidden=32)"
    with pytest.raises(ValueError, match="TextClassifier has no parameter 'hiden'"):
        clf.set_params(hiden=3)


def test_cross_val_score_and_pipeline() -> None:
    texts, labels = make_texts(240)
    scores = cross_val_score(TextClassifier(**TINY), texts, labels, cv=3)
    assert scores.shape == (3,)
    assert scores.min() > 0.8
    pipeline = make_pipeline(
        FunctionTransformer(lambda xs: [x.upper() for x in xs]), TextClassifier(**TINY)
    )
    pipeline.fit(texts, labels)
    assert pipeline.score(*make_texts(100, seed=5)) > 0.8


def test_save_and_load_give_identical_outputs(fitted: TextClassifier, tmp_path: Path) -> None:
    texts, _ = make_texts(30, seed=3)
    fitted.save(tmp_path / "model")
    loaded = TextClassifier.load(tmp_path / "model")
    assert np.array_equal(loaded.predict_proba(texts), fitted.predict_proba(texts))
    assert loaded.classes_.tolist() == fitted.classes_.tolist()
    assert loaded.get_params()["hidden"] == TINY["hidden"]
    assert sorted(p.name for p in (tmp_path / "model").iterdir()) == [
        "config.json",
        "metrics.json",
        "model.safetensors",
    ]


def test_pretrained_vectors_set_the_embedding_and_stay_frozen(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    rows = {"good": [0.5, 0.1, -0.2], "awful": [-0.4, 0.3, 0.9], "film": [0.0, 0.2, 0.2]}
    vectors.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in rows.items()))
    texts, labels = make_texts(200)
    params = {**TINY, "embed_dim": None, "epochs": 1}
    clf = TextClassifier(**params, vectors=str(vectors), freeze_embeddings=True).fit(texts, labels)
    assert clf.embed_dim_ == 3
    weight = clf.model_.encoder.embedding.weight.detach()
    for word, vector in rows.items():
        np.testing.assert_allclose(weight[clf.vocab_.index[word]].numpy(), vector, rtol=1e-6)
    assert weight[0].abs().sum() == 0  # padding stays zero
    with pytest.raises(ConfigError, match=r"embed_dim 16 differs from the dimension 3"):
        TextClassifier(**{**params, "embed_dim": 16}, vectors=str(vectors)).fit(texts, labels)


RECIPES = Path(__file__).resolve().parent.parent / "recipes"


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.json")), ids=lambda p: p.stem)
def test_every_recipe_builds_a_classifier_and_a_valid_configuration(recipe: Path) -> None:
    clf = TextClassifier.from_config(recipe, seed=5)
    assert clf.seed == 5  # overrides win
    clf.train_config()  # raises ConfigError on an option out of range
    clf.data_config()
    clf.model_config(100, 2, clf.embed_dim or 128)


def test_from_config_reads_options_in_either_spelling_and_names_bad_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text('{"--hidden": 12, "embed-dim": 10, "pooling": ["last", "max"]}')
    clf = TextClassifier.from_config(path)
    assert (clf.hidden, clf.embed_dim, clf.pooling) == (12, 10, "last,max")
    path.write_text('{"hiden": 12}')
    with pytest.raises(ConfigError, match="'hiden' is not a TextClassifier parameter; did you"):
        TextClassifier.from_config(path)


def test_an_ensemble_learns_and_saves(tmp_path: Path) -> None:
    texts, labels = make_texts(200)
    clf = TextClassifier(**TINY, ensemble=2).fit(texts, labels)
    test_texts, test_labels = make_texts(100, seed=1)
    assert len(clf.model_.members) == 2
    assert clf.score(test_texts, test_labels) > 0.9
    probs = clf.predict_proba(test_texts)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-6)
    clf.save(tmp_path / "model")
    loaded = TextClassifier.load(tmp_path / "model")
    assert loaded.get_params()["ensemble"] == 2
    assert np.array_equal(loaded.predict_proba(test_texts), probs)


def test_every_member_of_an_ensemble_starts_from_the_vectors(tmp_path: Path) -> None:
    vectors = tmp_path / "vectors.txt"
    rows = {"good": [0.5, 0.1, -0.2], "awful": [-0.4, 0.3, 0.9], "film": [0.0, 0.2, 0.2]}
    vectors.write_text("".join(f"{w} {' '.join(map(str, v))}\n" for w, v in rows.items()))
    texts, labels = make_texts(100)
    params = {**TINY, "embed_dim": None, "ensemble": 3, "max_steps": 1}
    clf = TextClassifier(**params, vectors=str(vectors), freeze_embeddings=True).fit(texts, labels)
    assert len(clf.model_.members) == 3
    for member in clf.model_.members:
        weight = member.encoder.embedding.weight.detach()
        for word, vector in rows.items():
            np.testing.assert_allclose(weight[clf.vocab_.index[word]].numpy(), vector, rtol=1e-6)
