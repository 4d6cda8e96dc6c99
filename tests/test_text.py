"""Tokenizers and the vocabulary."""

from __future__ import annotations

import json

import pytest

from rnnkit.errors import ConfigError
from rnnkit.text import PAD, UNK, Vocabulary, char_tokenize, get_tokenizer, word_tokenize


def test_word_tokenizer_lowercases_splits_punctuation_and_drops_html_breaks() -> None:
    text = "A <br /><br />GREAT film, isn't it?! 3.5/10"
    assert word_tokenize(text) == [
        "a",
        "great",
        "film",
        ",",
        "isn't",
        "it",
        "?",
        "!",
        "3",
        ".",
        "5",
        "/",
        "10",
    ]


def test_word_tokenizer_keeps_pretokenized_clitics_whole() -> None:
    assert word_tokenize("it 's not bad , is n't it") == [
        "it",
        "'s",
        "not",
        "bad",
        ",",
        "is",
        "n't",
        "it",
    ]


def test_char_tokenizer_folds_white_space() -> None:
    assert char_tokenize("Hi  \tthere<br>") == list("hi there")


def test_unknown_tokenizer_is_named() -> None:
    with pytest.raises(ConfigError, match="unknown tokenizer 'bpe': choose one of word, char"):
        get_tokenizer("bpe")


def test_vocabulary_orders_by_frequency_then_alphabet_and_applies_limits() -> None:
    counts = {"b": 3, "a": 3, "c": 1, "d": 2}
    assert Vocabulary.build(counts).tokens == [PAD, UNK, "a", "b", "d", "c"]
    assert Vocabulary.build(counts, min_freq=2).tokens == [PAD, UNK, "a", "b", "d"]
    assert Vocabulary.build(counts, max_size=4).tokens == [PAD, UNK, "a", "b"]


def test_vocabulary_encodes_unknown_tokens_and_round_trips_through_json() -> None:
    vocab = Vocabulary.build({"good": 2, "film": 1})
    assert vocab.encode(["good", "bad", "film"]) == [2, 1, 3]
    again = Vocabulary.from_json(json.loads(json.dumps(vocab.to_json())))
    assert again.tokens == vocab.tokens
    assert again.encode(["film"]) == [3]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_freq": 0}, "min_freq must be at least 1, got 0"),
        ({"max_size": 2}, "max_vocab must be at least 3"),
    ],
)
def test_vocabulary_rejects_impossible_limits(kwargs: dict[str, int], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        Vocabulary.build({"a": 1}, **kwargs)
