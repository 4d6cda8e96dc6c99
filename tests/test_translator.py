"""rnnkit.Translator: it learns a task that needs attention, round-trips through a bundle,
reports what it leaves out, and refuses bad input with messages that name the parameter."""

from __future__ import annotations

import logging
import random
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from rnnkit import Translator
from rnnkit.errors import BundleError, ConfigError, NotFittedError

WORDS = ["ant", "bee", "cat", "dog", "eel", "fox", "gnu", "hen"]
TOY = {
    "unit": "word",
    "vocab_size": 40,
    "embed_dim": 16,
    "hidden": 24,
    "epochs": 15,
    "batch_size": 16,
    "lr": 0.01,
    "dropout": 0.0,
    "label_smoothing": 0.0,
    "patience": 0,
    "seed": 0,
    "threads": 1,
}


def reversal(n: int, seed: int) -> tuple[list[str], list[str]]:
    """Words, and the same words upper-cased in reverse order: each output token has to look
    at one source position, which moves with the sentence's length."""
    rng = random.Random(seed)
    source, target = [], []
    for _ in range(n):
        words = rng.choices(WORDS, k=rng.randint(2, 6))
        source.append(" ".join(words))
        target.append(" ".join(w.upper() for w in reversed(words)))
    return source, target


@pytest.fixture(scope="module")
def fitted() -> Translator:
    source, target = reversal(400, 0)
    return Translator(**TOY).fit(source, target, valid=reversal(50, 1))


def test_it_learns_to_reverse_through_attention(fitted: Translator) -> None:
    source, target = reversal(60, 2)
    assert fitted.metrics_["valid"]["bleu"] > 90
    assert fitted.evaluate(source, target, beam=3)["bleu"] > 90
    found = fitted.translations(source[:5], beam=1)
    assert [t.text for t in found] == target[:5]
    assert all(t.log_prob < 0 for t in found)


def test_beam_search_is_at_least_as_likely_as_greedy(fitted: Translator) -> None:
    source, _ = reversal(30, 3)
    greedy = fitted.translations(source, beam=1)
    beam = fitted.translations(source, beam=4, length_penalty=0.0)
    for first, second in zip(greedy, beam, strict=True):
        assert second.log_prob >= first.log_prob - 1e-4


def test_attention_of_a_translation(fitted: Translator) -> None:
    found = fitted.translations(["ant bee cat"])[0]
    pieces, outputs, weights = fitted.attention_of("ant bee cat", found)
    assert pieces == ["ant", "bee", "cat"]
    assert outputs == ["CAT", "BEE", "ANT", "</s>"]
    np.testing.assert_allclose(weights.sum(-1), 1.0, rtol=1e-5)
    assert weights[0].argmax() == 2  # CAT reads cat


def test_bundle_round_trip_translates_alike(fitted: Translator, tmp_path: Path) -> None:
    source, _ = reversal(20, 4)
    fitted.set_params(beam=2, length_penalty=0.5)
    try:
        fitted.save(tmp_path / "model")
    finally:
        fitted.set_params(beam=5, length_penalty=1.0)
    again = Translator.load(tmp_path / "model")
    assert again.translate(source, beam=3) == fitted.translate(source, beam=3)
    assert again.get_params()["hidden"] == 24
    assert (again.beam, again.length_penalty) == (2, 0.5)  # the search it was saved with
    from rnnkit import LanguageModel

    with pytest.raises(BundleError, match=r"holds a translator .*rnnkit translate"):
        LanguageModel.load(tmp_path / "model")


def test_separate_vocabularies_and_unigram_units() -> None:
    source, target = reversal(80, 5)
    translator = Translator(**{**TOY, "epochs": 1, "joint": False}).fit(source, target)
    assert not translator.units_.joint
    assert "ANT" not in translator.units_.source.tokens
    assert "ant" not in translator.units_.target.tokens
    unigram = Translator(**{**TOY, "epochs": 1, "unit": "unigram", "vocab_size": 30})
    unigram.fit(source, target)
    assert unigram.units_.source.name == "unigram"


def test_over_long_pairs_are_left_out_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    source, target = reversal(40, 6)
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        Translator(**{**TOY, "epochs": 1, "max_len": 4}).fit(source, target)
    assert any(
        "left out" in r.message and "longer than max_len 4 tokens" in r.message
        for r in caplog.records
    )
    with pytest.raises(ConfigError, match="no training pair is within max_len 1"):
        Translator(**{**TOY, "epochs": 1, "max_len": 1}).fit(source, target)


def test_long_sentences_are_translated_whole_with_a_warning(
    fitted: Translator, caplog: pytest.LogCaptureFixture
) -> None:
    fitted.max_len = 5
    try:
        with caplog.at_level(logging.WARNING, logger="rnnkit"):
            fitted.translate(["ant bee cat dog eel fox gnu"])
    finally:
        fitted.max_len = 100
    assert any("translated whole" in r.message for r in caplog.records)


def test_bad_input_is_refused_with_the_parameter_named(fitted: Translator) -> None:
    with pytest.raises(NotFittedError, match="not fitted yet"):
        Translator().translate(["a"])
    with pytest.raises(ConfigError, match="3 source sentences and 2 target"):
        Translator(**TOY).fit(["a", "b", "c"], ["A", "B"])
    with pytest.raises(ConfigError, match="beam must be at least 1"):
        fitted.translate(["ant"], beam=0)
    with pytest.raises(ConfigError, match="hidden must be at least 1"):
        Translator(hidden=0).fit(["a"], ["A"])
    with pytest.raises(ConfigError, match="unknown attention 'cosine'"):
        Translator(attention="cosine").fit(["a"], ["A"])
    with pytest.raises(ConfigError, match="a single string"):
        fitted.translate("ant bee")  # type: ignore[arg-type]


def test_scikit_learn_protocol() -> None:
    translator = Translator(hidden=32, beam=3)
    copy = clone(translator)
    assert copy.get_params() == translator.get_params()
    assert repr(translator) == "Translator(hidden=32, beam=3)"


def test_scores_are_sacrebleu_s_on_a_worked_example() -> None:
    from rnnkit.tasks.translation.options import scores

    hypotheses = ["the cat sat on the mat .", "a dog runs in the park", "Two men are talking"]
    references = ["the cat sat on the mat .", "a dog is running in the park", "two men talk"]
    found = scores(hypotheses, references)
    # 17 words against 17 (no brevity penalty); matching 1- to 4-grams, counted by hand:
    # 13/17, 9/14, 6/11, 4/8 as written, and 14/17, 10/14, 6/11, 4/8 once lower-cased
    cased = 100 * (13 / 17 * 9 / 14 * 6 / 11 * 4 / 8) ** 0.25
    lowered = 100 * (14 / 17 * 10 / 14 * 6 / 11 * 4 / 8) ** 0.25
    assert found["bleu"] == pytest.approx(cased, abs=1e-4)
    assert found["bleu_lc"] == pytest.approx(lowered, abs=1e-4)
    assert found["chrf"] == pytest.approx(66.25, abs=0.01)
    assert found["sentences"] == 3
    assert "tok:13a" in found["bleu_signature"]


def test_a_sentence_translates_alike_alone_and_in_a_batch(fitted: Translator) -> None:
    source, _ = reversal(30, 7)
    for beam in (1, 4):
        together = fitted.translations(source, beam=beam)
        for text, found in zip(source[:6], together, strict=False):
            alone = fitted.translations([text], beam=beam)[0]
            assert alone.tokens == found.tokens
            assert alone.log_prob == pytest.approx(found.log_prob, abs=1e-4)


def test_bf16_training_and_translation(fitted: Translator) -> None:
    from rnnkit.train.precision import bf16_supported

    if not bf16_supported():
        pytest.skip("this CPU has no native bfloat16")
    source, target = reversal(400, 0)
    trained = Translator(**{**TOY, "precision": "bf16"}).fit(source, target, reversal(50, 1))
    test, expected = reversal(40, 9)
    assert trained.evaluate(test, expected, beam=2)["bleu"] > 90  # it learns in bf16 too
    exact = fitted.translate(test, beam=2)
    fitted.precision = "bf16"  # and the float32 model translates (almost) alike under bf16
    try:
        rounded = fitted.translate(test, beam=2)
    finally:
        fitted.precision = "fp32"
    assert sum(map(str.__eq__, exact, rounded)) >= 36  # bf16 may flip a close call
