"""Small models of every task, trained once per session in this process, for the tests that
use a model rather than test its training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import make_texts
from tests.test_translator import reversal

DICKENS = (
    "It was the best of times, it was the worst of times, it was the age of wisdom,\n"
    "it was the age of foolishness, it was the epoch of belief, it was the epoch of\n"
    "incredulity, it was the season of Light, it was the season of Darkness.\n\n"
) * 10
QUICK_LM = {"hidden": 16, "embed_dim": 8, "batch_size": 4, "window": 16, "max_steps": 5}
QUICK_TRANSLATOR = {
    **{"unit": "word", "vocab_size": 40, "embed_dim": 8, "hidden": 8, "batch_size": 16},
    **{"max_steps": 5, "beam": 2, "source": "de", "target": "en"},
}


@dataclass(frozen=True)
class Models:
    """Bundle folders: a character language model (``lm``), a word one read as rnnkit
    train's word tokenizer reads (``word_lm``), a backward one (``backward_lm``), a word
    translator from de to en (``translator``) and a classifier (``classifier``)."""

    lm: Path
    word_lm: Path
    backward_lm: Path
    translator: Path
    classifier: Path


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> Models:
    from rnnkit import LanguageModel, TextClassifier, Translator

    folder = tmp_path_factory.mktemp("models")
    documents = DICKENS.split("\n\n")[:1] * 20
    lm = LanguageModel(**QUICK_LM).fit(documents).save(folder / "lm")
    word = {"unit": "word", "tokenizer": "word", "cell": "lstm"}
    word_lm = LanguageModel(**QUICK_LM, **word).fit(documents).save(folder / "word-lm")
    backward = LanguageModel(**QUICK_LM, reverse=True).fit(documents).save(folder / "backward")
    source, target = reversal(200, 0)
    translator = Translator(**QUICK_TRANSLATOR).fit(source, target).save(folder / "translator")
    classifier = TextClassifier(embed_dim=8, hidden=8, epochs=1, valid_split=0).fit(*make_texts(60))
    return Models(lm, word_lm, backward, translator, classifier.save(folder / "classifier"))
