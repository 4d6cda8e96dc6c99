"""Pretraining then fine-tuning: a classifier's encoder started from language models.

Loading an encoder gives exactly the language model's weights (added words: the mean row);
the reverse direction of a bidirectional classifier computes what the backward model computes
on the reversed text; --pretrain reads the training texts only; the errors of the route."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rnnkit import LanguageModel, TextClassifier
from rnnkit.data.corpus import Corpus
from rnnkit.errors import BundleError, ConfigError
from rnnkit.tasks.pretraining import documents_of
from rnnkit.text.tokenize import word_tokenize
from tests.conftest import make_texts, write_csv
from tests.test_cli import assert_user_error, rnnkit

SMALL_LM = {"embed_dim": 12, "hidden": 16, "batch_size": 4, "window": 8, "max_steps": 5}


def train_lm(folder: Path, texts: list[str], *, reverse: bool = False, **extra: object) -> Path:
    params = {"unit": "word", "tokenizer": "word", **SMALL_LM, "reverse": reverse, **extra}
    lm = LanguageModel(**params).fit(texts)  # type: ignore[arg-type]
    return lm.save(folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    folder = tmp_path_factory.mktemp("pretrain")
    texts, _ = make_texts(200)
    unlabelled = [f"{t} and more, then again." for t in texts]
    forward = train_lm(folder / "forward", unlabelled)
    backward = train_lm(folder / "backward", unlabelled, reverse=True)
    return forward, backward, texts


def prepared(clf: TextClassifier, texts: list[str]) -> tuple[object, torch.nn.Module]:
    labels = ["pos" if i % 2 else "neg" for i in range(len(texts))]
    corpus = Corpus.from_texts(texts, labels, clf.tokenizer)
    with clf.in_params():
        vocab, model, _ = clf._prepare(corpus, ["neg", "pos"])
    return vocab, model


def test_the_encoder_starts_as_the_language_model(models: tuple[Path, Path, list[str]]) -> None:
    forward, _, texts = models
    lm = LanguageModel.load(forward)
    clf = TextClassifier(encoder=str(forward), bidirectional=False, min_freq=1)
    vocab, model = prepared(clf, [*texts, "zyzzyva zyzzyva"])
    lm_state, ours = lm.model_.state_dict(), model.state_dict()
    for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
        assert torch.equal(ours[f"encoder.rnn.{name}"], lm_state[f"encoder.rnn.{name}"])
    assert model.config.hidden_size == 16
    assert model.config.embed_dim == 12
    rows = {t: i for i, t in enumerate(lm.units_.tokens)}
    embedding, lm_embedding = ours["encoder.embedding.weight"], lm_state["encoder.embedding.weight"]
    for i, token in enumerate(vocab.tokens):  # type: ignore[attr-defined]
        if token in rows and i > 0:
            assert torch.equal(embedding[i], lm_embedding[rows[token]]), token
    added = vocab.index["zyzzyva"]  # type: ignore[attr-defined]
    assert "zyzzyva" not in rows
    torch.testing.assert_close(embedding[added], lm_embedding[3:].mean(0))


def test_every_member_of_an_ensemble_starts_as_the_language_model(
    models: tuple[Path, Path, list[str]],
) -> None:
    forward, _, texts = models
    lm_state = LanguageModel.load(forward).model_.state_dict()
    clf = TextClassifier(encoder=str(forward), bidirectional=False, ensemble=2)
    _, model = prepared(clf, texts)
    ours = model.state_dict()
    for k in range(2):
        for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"):
            assert torch.equal(
                ours[f"members.{k}.encoder.rnn.{name}"], lm_state[f"encoder.rnn.{name}"]
            )
    heads = [ours[f"members.{k}.classifier.weight"] for k in range(2)]
    assert not torch.equal(*heads)  # what the language model does not give starts apart


def test_both_directions_compute_what_their_language_models_compute(
    models: tuple[Path, Path, list[str]],
) -> None:
    forward, backward, texts = models
    clf = TextClassifier(encoder=f"{forward},{backward}", min_freq=1, dropout=0.0)
    vocab, model = prepared(clf, texts)
    model.eval()
    assert model.config.bidirectional
    assert model.config.embed_dim == 24
    words = word_tokenize(texts[3])
    ids = torch.tensor([vocab.index.get(w, 1) for w in words])[:, None]  # type: ignore[attr-defined]
    with torch.no_grad():
        outputs = model.encoder(ids, torch.tensor([len(words)])).outputs[:, 0]  # (T, 2H)
        for path, reverse, half in (
            (forward, False, outputs[:, :16]),
            (backward, True, outputs[:, 16:]),
        ):
            lm = LanguageModel.load(path)
            lm_ids = torch.tensor(lm.units_.encode(" ".join(words)))
            read = lm_ids.flip(0) if reverse else lm_ids
            _, raw, _ = lm.model_.eval().hidden(read[:, None])
            expected = raw[:, 0].flip(0) if reverse else raw[:, 0]
            torch.testing.assert_close(half, expected, rtol=1e-5, atol=1e-6)


def test_pretrain_reads_the_training_texts_only(tmp_path: Path) -> None:
    """A word planted only in the validation and test files is not in the language model."""
    train = write_csv(tmp_path / "train.csv", 120)
    valid, test = tmp_path / "valid.csv", tmp_path / "test.csv"
    for path, word in ((valid, "plantedvalidword"), (test, "plantedtestword")):
        path.write_text("text,label\n" + "".join(f"{word} good film,pos\n" for _ in range(20)))
    unlabelled = tmp_path / "unlabelled.txt"
    unlabelled.write_text("".join(f"an unlabelled line number {i} here\n" for i in range(50)))
    config = tmp_path / "lm.json"
    config.write_text(json.dumps({"batch_size": 4, "window": 8, "max_steps": 3}))
    out = tmp_path / "model"
    result = rnnkit(
        "train", str(train), "--valid", str(valid), "--test", str(test),
        "--pretrain", str(unlabelled), "--pretrain-config", str(config),
        "--hidden", "16", "--embed-dim", "12", "--min-freq", "1", "--max-steps", "3",
        "--out", str(out), "--quiet", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in ("forward", "backward"):
        tokens = json.loads((out / "lm" / name / "config.json").read_text())["vocab"]["tokens"]
        assert "unlabelled" in tokens  # the corpus was read
        assert "film" in tokens  # and the training texts
        assert "plantedvalidword" not in tokens
        assert "plantedtestword" not in tokens
    config_json = json.loads((out / "config.json").read_text())
    assert config_json["model"]["bidirectional"]
    assert config_json["model"]["hidden_size"] == 16
    reused = rnnkit(
        "train", str(train), "--encoder", f"{out}/lm/forward,{out}/lm/backward",
        "--min-freq", "1", "--max-steps", "2", "--out", str(tmp_path / "again"), "--quiet",
    )  # fmt: skip
    assert reused.returncode == 0, reused.stderr


def test_fit_pretrains_on_unlabelled_text_from_python() -> None:
    texts, labels = make_texts(80)
    clf = TextClassifier(hidden=16, embed_dim=12, bidirectional=False, max_steps=3, min_freq=1)
    clf.fit(
        texts,
        labels,
        unlabelled=["words never in the labelled texts"] * 10,
        pretrain_options={"batch_size": 4, "window": 8, "max_steps": 3},
    )
    assert "never" in clf.vocab_.tokens
    assert clf.model_.config.hidden_size == 16


def test_joined_documents_read_back_to_the_same_tokens() -> None:
    texts = ["A <br />great film, isn't it? I'd say so -- 10/10!", "Don't  go   there.", "x"]
    corpus = Corpus.from_texts(texts, None, "word")
    assert [word_tokenize(d) for d in documents_of(corpus, "word")] == [
        word_tokenize(t) for t in texts
    ]


def test_encoder_errors(models: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    forward, backward, texts = models
    labels = ["pos" if i % 2 else "neg" for i in range(len(texts))]
    with pytest.raises(ConfigError, match="hidden 64 contradicts the encoder") as error:
        TextClassifier(encoder=str(forward), hidden=64, bidirectional=False).fit(texts, labels)
    assert error.value.field == "hidden"
    with pytest.raises(ConfigError, match=r"must be trained with --reverse"):
        TextClassifier(encoder=f"{forward},{forward}").fit(texts, labels)
    with pytest.raises(ConfigError, match="tokenizer is char"):
        TextClassifier(encoder=str(forward), tokenizer="char", bidirectional=False).fit(
            texts, labels
        )
    plain = LanguageModel(unit="word", **SMALL_LM).fit(texts).save(tmp_path / "plain")
    with pytest.raises(ConfigError, match="reads text as written"):
        TextClassifier(encoder=str(plain), bidirectional=False).fit(texts, labels)
    clf_path = (
        TextClassifier(hidden=8, embed_dim=8, max_steps=1).fit(texts, labels).save(tmp_path / "clf")
    )
    with pytest.raises(BundleError, match="--encoder takes a language model"):
        TextClassifier(encoder=str(clf_path)).fit(texts, labels)
    with pytest.raises(ConfigError, match="reads text backwards"):
        LanguageModel.load(backward).generate("a", max_tokens=2)


def test_cli_errors(models: tuple[Path, Path, list[str]], tmp_path: Path) -> None:
    forward, _, _ = models
    train = write_csv(tmp_path / "train.csv", 60)
    result = rnnkit(
        "train", str(train), "--encoder", str(forward), "--no-bidirectional", "--layers", "2",
        "--out", str(tmp_path / "m"),
    )  # fmt: skip
    assert_user_error(result, "contradicts the encoder")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    result = rnnkit("train", str(train), "--pretrain", str(empty), "--out", str(tmp_path / "m"))
    assert_user_error(result, "empty.txt")


RECIPES = Path(__file__).resolve().parent.parent / "recipes" / "pretrained"


@pytest.mark.parametrize("recipe", sorted(RECIPES.glob("*.json")), ids=lambda p: p.name)
def test_every_pretrained_recipe_is_valid(recipe: Path) -> None:
    from rnnkit.options import option_name, read_config
    from rnnkit.tasks.pretraining import language_model_options

    if recipe.name.endswith("-lm.json"):
        options = {option_name(k): v for k, v in read_config(recipe).items()}
        classifier = TextClassifier.from_config(str(recipe).replace("-lm.json", ".json"))
        params = language_model_options(classifier.get_params(), options, reverse=False)
        LanguageModel(**params).check_params()
    else:
        TextClassifier.from_config(recipe).check_params()


def test_a_language_model_can_start_from_word_vectors(tmp_path: Path) -> None:
    texts, _ = make_texts(40)
    glove = tmp_path / "glove.txt"
    glove.write_text("film 1 2 3 4\nplot 5 6 7 8\nzzz 0 0 0 1\n")
    lm = LanguageModel(unit="word", **{**SMALL_LM, "embed_dim": 4}, vectors=str(glove))
    lm.set_params(max_steps=1, lr=1e-9)
    lm.fit(texts)
    weight = lm.model_.encoder.embedding.weight
    index = lm.units_.vocab.index
    torch.testing.assert_close(
        weight[index["film"]], torch.tensor([1.0, 2.0, 3.0, 4.0]), atol=1e-4, rtol=0
    )
    with pytest.raises(ConfigError, match="differs from the dimension 4") as error:
        LanguageModel(unit="word", **SMALL_LM, vectors=str(glove)).fit(texts)
    assert error.value.field == "embed_dim"
    with pytest.raises(ConfigError, match="give unit word"):
        LanguageModel(unit="char", **{**SMALL_LM, "embed_dim": 4}, vectors=str(glove)).fit(texts)


def test_a_language_model_fine_tunes_from_another(
    models: tuple[Path, Path, list[str]],
) -> None:
    """ULMFiT's second stage: the same units and weights to start, then the new text."""
    forward, backward, _ = models
    start = LanguageModel.load(forward)
    params = {**start.get_params(), "max_steps": 1, "lr": 1e-30, "weight_decay": 0.0}
    tuned = LanguageModel(**params).fit(["a wholly new vocabulary here"] * 40, start=start)
    assert tuned.units_.tokens == start.units_.tokens
    for name, weight in start.model_.state_dict().items():
        torch.testing.assert_close(tuned.model_.state_dict()[name], weight, msg=name)
    shapes = r"encoder.rnn.bias_hh_l0 is \(64,\), this model.s \(32,\)"
    with pytest.raises(ConfigError, match=shapes):
        LanguageModel(**{**params, "hidden": 8}).fit(["more text"] * 40, start=start)
    with pytest.raises(ConfigError, match="reads its text in the other direction"):
        LanguageModel(**params).fit(["more text"] * 40, start=LanguageModel.load(backward))


def test_encoder_with_pretrain_fine_tunes_the_language_models_first(
    models: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    forward, backward, _ = models
    train = write_csv(tmp_path / "train.csv", 60)
    out = tmp_path / "model"
    result = rnnkit(
        "train", str(train), "--encoder", f"{forward},{backward}", "--pretrain",
        "--pretrain-config", str(_write(tmp_path / "lm.json", {"max_steps": 2, "lr": 1e-3})),
        "--min-freq", "1", "--max-steps", "2", "--out", str(out), "--quiet",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name, source in (("forward", forward), ("backward", backward)):
        tuned, start = LanguageModel.load(out / "lm" / name), LanguageModel.load(source)
        assert tuned.units_.tokens == start.units_.tokens
        assert tuned.get_params()["lr"] == 1e-3
        assert tuned.get_params()["hidden"] == start.get_params()["hidden"]
        changed = tuned.model_.state_dict()["encoder.rnn.weight_hh_l0"]
        assert not torch.equal(changed, start.model_.state_dict()["encoder.rnn.weight_hh_l0"])


def _write(path: Path, options: dict[str, object]) -> Path:
    path.write_text(json.dumps(options))
    return path


def test_embed_dim_means_each_language_model_s_as_with_pretrain(
    models: tuple[Path, Path, list[str]],
) -> None:
    """A recipe that sets embed_dim reads the same with --pretrain and with --encoder."""
    forward, backward, texts = models
    _, model = prepared(TextClassifier(encoder=f"{forward},{backward}", embed_dim=12), texts)
    assert model.config.embed_dim == 24  # one 12-wide embedding per direction
    labels = ["pos" if i % 2 else "neg" for i in range(len(texts))]
    with pytest.raises(ConfigError, match="embed_dim 24 contradicts the encoder"):
        TextClassifier(encoder=f"{forward},{backward}", embed_dim=24).fit(texts, labels)
