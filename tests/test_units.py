"""Language-model units: characters, words and byte-level BPE, to ids and back."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from rnnkit.errors import ConfigError
from rnnkit.text.kinds import build_units, dumps, units_from_json
from rnnkit.text.units import EOD_ID, SPECIALS, CharUnits, Units, WordUnits
from rnnkit.text.vocab import Vocabulary

CORPUS = [
    "the cat sat on the mat\nthe dog sat on the log\n",
    "a cat and a dog\n\nthe end",
    "héllo wörld, the café is open 😀\n",
] * 20
# Text the subword units never saw: other scripts, emoji sequences, control characters, the
# specials' names as text, line breaks of every kind and runs of white space.
UNSEEN = [
    "",
    " ",
    "\n",
    "  two  spaces,\tand a tab\n\n\n",
    "Windows\r\nline\rbreaks\u2028and\u2029separators",
    "日本語のテキスト, русский текст, עברית, العربية",
    "👩🏽‍🚀 🇫🇷 🦀 e\u0301 \u00e9 \ufeff\x00\x7f",
    "<pad> <unk> <eod> written out",
    "zzzq" * 50,
]


def pieces(units: Units, ids: list[int]) -> str:
    stream = units.stream_decoder()
    return "".join(stream.add(i) for i in ids) + stream.flush()


# -- char and word units ---------------------------------------------------------------------


def test_char_units_keep_the_text_as_written() -> None:
    units = CharUnits.build(CORPUS)
    assert units.tokens[:3] == list(SPECIALS)
    text = "the  cat\n\ncafé 😀\n"
    assert units.decode(units.encode(text)) == text
    assert units.split("ab\n") == ["a", "b", "\n"]


def test_char_units_map_unknown_characters_to_unk_and_list_them() -> None:
    units = CharUnits.build(CORPUS)
    ids = units.encode("cat§€§")
    assert ids[3:] == [1, 1, 1]
    assert units.unknown("cat§€§") == ["§", "€"]
    assert units.decode(ids) == "cat"  # specials, <unk> included, add no text


def test_word_units_make_the_line_break_a_token() -> None:
    units = WordUnits.build(CORPUS)
    assert units.split("the cat\n\nsat  on\n") == ["the", "cat", "\n", "\n", "sat", "on", "\n"]
    ids = units.encode("the cat\n\nsat on")
    assert units.tokens[ids[2]] == "\n"
    assert units.decode(ids) == "the cat\n\nsat on"
    assert units.decode(units.encode("the   cat \n sat")) == "the cat\nsat"  # spaces folded


def test_word_units_show_unknown_words_as_unk() -> None:
    units = WordUnits.build(CORPUS)
    ids = units.encode("the zebra sat")
    assert ids[1] == 1
    assert units.unknown("the zebra sat on a zebra yak") == ["zebra", "yak"]
    assert units.decode(ids) == "the <unk> sat"


def test_word_pieces_carry_their_space_and_line_breaks_stand_alone() -> None:
    units = WordUnits.build(CORPUS)
    cat, newline = units.encode("cat\n")
    assert (units.piece(cat), units.piece(newline), units.piece(EOD_ID)) == (" cat", "\n", "")
    assert pieces(units, [cat, newline]) == "cat\n"  # at a line's start: no space


@pytest.mark.parametrize(
    ("cls", "texts"),
    [(CharUnits, ["aaaabbbccd", "abc"]), (WordUnits, ["a a a a b b b c c d", "a b c"])],
)
def test_max_size_keeps_the_most_frequent_and_min_freq_the_frequent(
    cls: type[Units], texts: list[str]
) -> None:
    assert cls.build(texts, max_size=5).tokens == [*SPECIALS, "a", "b"]
    kept = cls.build(texts, min_freq=3).tokens[3:]
    assert kept[:3] == ["a", "b", "c"]
    assert "d" not in kept


def test_units_must_start_with_the_specials() -> None:
    with pytest.raises(ConfigError, match="must start with <pad>, <unk>, <eod>"):
        CharUnits(["<pad>", "<unk>", "a"])
    with pytest.raises(ConfigError, match="unknown unit 'bytes': choose one of char, word"):
        build_units("bytes", CORPUS)


@pytest.mark.parametrize("unit", ["char", "word"])
def test_char_and_word_units_survive_json(unit: str) -> None:
    units = build_units(unit, CORPUS)
    back = units_from_json(json.loads(dumps(units)))
    assert type(back) is type(units)
    assert back.tokens == units.tokens
    assert back.encode(CORPUS[2]) == units.encode(CORPUS[2])


@pytest.mark.parametrize("unit", ["char", "word"])
def test_encode_batch_is_encode_of_each_text(unit: str) -> None:
    units = build_units(unit, CORPUS)
    assert units.encode_batch(UNSEEN) == [units.encode(t) for t in UNSEEN]


def test_char_pieces_stream_the_decoded_text() -> None:
    units = CharUnits.build(CORPUS)
    ids = [EOD_ID, *units.encode("the café\n"), EOD_ID]
    assert pieces(units, ids) == units.decode(ids) == "the café\n"


# -- subword units ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def subword() -> Any:
    pytest.importorskip("tokenizers")
    from rnnkit.text.subword import SubwordUnits

    return SubwordUnits.train(CORPUS, size=300)


def test_subword_ids_start_with_the_specials_then_the_bytes(subword: Any) -> None:
    from tokenizers import pre_tokenizers

    from rnnkit.text.subword import byte_chars

    assert subword.tokens[:3] == list(SPECIALS)
    assert subword.name == "subword"
    assert 259 < len(subword) <= 300
    # byte_chars is the ByteLevel alphabet, and spells each character as tokenizers does
    assert (
        set(subword.tokens[3:259]) == set(byte_chars()) == set(pre_tokenizers.ByteLevel.alphabet())
    )
    chars = [chr(c) for c in (*range(0x21, 0x7F), 0x20, 0x0A, 0x09, 0xE9, 0x65E5, 0x1F600)]
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    for c in chars:
        [(spelled, _)] = byte_level.pre_tokenize_str(c)
        assert spelled == "".join(byte_chars()[b] for b in c.encode())


@pytest.mark.parametrize("text", UNSEEN + CORPUS[:3])
def test_subword_round_trip_of_any_text(subword: Any, text: str) -> None:
    ids = subword.encode(text)
    assert subword.decode(ids) == text
    assert subword.tokenizer.decode(ids) == text  # tokenizers' own byte-level decoder agrees
    assert min(ids, default=3) >= 3  # encoding never yields a special
    assert subword.unknown(text) == []
    assert len(subword.split(text)) == len(ids)


def test_subword_reads_the_names_of_the_specials_as_text(subword: Any) -> None:
    ids = subword.encode("<eod>")
    assert EOD_ID not in ids
    assert len(ids) > 1
    assert subword.decode([EOD_ID, *ids, 0, 1]) == "<eod>"


def test_subword_merges_what_the_corpus_repeats(subword: Any) -> None:
    assert len(subword.encode(" the cat sat")) < len(b" the cat sat") / 2
    assert len(subword.encode("zzzq")) == 4  # unseen: one byte each


def test_subword_training_streams_and_is_deterministic() -> None:
    pytest.importorskip("tokenizers")
    from rnnkit.text.subword import SubwordUnits

    read: list[int] = []

    def documents() -> Iterator[str]:
        for number, text in enumerate(CORPUS):
            read.append(number)
            yield text

    streamed = SubwordUnits.train(documents(), size=300)
    assert read == list(range(len(CORPUS)))
    again = SubwordUnits.train(list(CORPUS), size=300)
    assert streamed.to_json() == again.to_json()


def test_subword_size_is_checked() -> None:
    pytest.importorskip("tokenizers")
    from rnnkit.text.subword import SubwordUnits

    with pytest.raises(ConfigError, match=r"max_vocab must be at least 259 .* got 100"):
        SubwordUnits.train(CORPUS, size=100)
    with pytest.raises(ConfigError, match="min_freq must be at least 1, got 0"):
        SubwordUnits.train(CORPUS, min_freq=0)
    assert len(build_units("subword", CORPUS, max_size=270)) == 270


def test_subword_streams_a_character_split_across_ids(subword: Any) -> None:
    ids = subword.encode("😀")
    assert len(ids) == 2  # the emoji's four bytes, never merged whole in this corpus
    assert subword.piece(ids[0]) == "\ufffd"  # one id alone: part of a character
    stream = subword.stream_decoder()
    assert [stream.add(ids[0]), stream.add(ids[1]), stream.flush()] == ["", "😀", ""]
    assert stream.add(ids[0]) + stream.flush() == "\ufffd"  # stopped inside a character
    for text in UNSEEN:
        ids = [EOD_ID, *subword.encode(text), EOD_ID]
        assert pieces(subword, ids) == text


def test_subword_encode_batch_is_encode_of_each_text(subword: Any) -> None:
    assert subword.encode_batch(iter(UNSEEN)) == [subword.encode(t) for t in UNSEEN]
    assert subword.encode_batch([]) == []


def test_subword_units_survive_json_without_pickle(subword: Any) -> None:
    data = json.loads(dumps(subword))
    assert data["unit"] == "subword"
    assert data["tokens"] == subword.tokens
    assert isinstance(data["tokenizer"], str)
    back = units_from_json(data)
    assert back.tokens == subword.tokens
    assert all(back.encode(t) == subword.encode(t) for t in UNSEEN)
    assert units_from_json(json.loads(dumps(back))).to_json() == back.to_json()


def test_subword_json_must_agree_with_its_tokenizer(subword: Any) -> None:
    data = subword.to_json()
    with pytest.raises(ConfigError, match="saved tokens are not the tokenizer's vocabulary"):
        units_from_json({**data, "tokens": data["tokens"][:-1]})
    with pytest.raises(ConfigError, match="no readable tokenizer JSON"):
        units_from_json({**data, "tokenizer": "{"})


def test_subword_without_tokenizers_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # import tokenizers: ImportError
    with pytest.raises(ConfigError, match=r"pip install 'rnnkit\[subword\]' \(or pip install tok"):
        build_units("subword", CORPUS)


def test_streamed_words_join_as_decode_joins_them() -> None:
    units = build_units("word", ["the cat sat\non the mat\n"])
    ids = units.encode("the cat sat\non the mat")
    at_start = units.stream_decoder("")
    assert "".join(at_start.add(i) for i in ids) == units.decode(ids)
    after_a_word = units.stream_decoder("look:")
    assert "".join(after_a_word.add(i) for i in ids) == " " + units.decode(ids)


# -- a classifier's tokenizer, and the backward stream ----------------------------------------


@pytest.mark.parametrize("unit", ["word", "char"])
def test_units_can_read_text_as_the_classifier_tokenizer_does(unit: str) -> None:
    from rnnkit.text.tokenize import get_tokenizer

    text = "The <br />CAT sat, didn't it?  Yes!"
    units = build_units(unit, [text, "more text"], tokenizer=unit)
    assert units.split(text) == get_tokenizer(unit)(text)
    assert units.tokenizer_name == unit
    again = units_from_json(json.loads(dumps(units)))
    assert again.tokenizer_name == unit
    assert again.encode(text) == units.encode(text)
    assert build_units(unit, [text]).tokenizer_name is None  # text as written by default


def test_a_tokenizer_must_read_the_unit_it_names() -> None:
    from rnnkit.data.config import StreamConfig

    with pytest.raises(ConfigError, match="give unit word") as error:
        StreamConfig(unit="char", tokenizer="word")
    assert error.value.field == "tokenizer"
    with pytest.raises(ConfigError, match="unknown tokenizer"):
        StreamConfig(unit="word", tokenizer="bpe")


def test_the_reversed_stream_reads_each_document_from_its_end() -> None:
    from rnnkit.data.stream import token_stream

    units = build_units("word", ["a b c", "d e"])
    forward = token_stream(["a b c", "d e"], units).tolist()
    backward = token_stream(["a b c", "d e"], units, reverse=True).tolist()
    ids = {t: units.encode(t)[0] for t in "abcde"}
    assert forward == [EOD_ID, ids["a"], ids["b"], ids["c"], EOD_ID, ids["d"], ids["e"], EOD_ID]
    assert backward == [EOD_ID, ids["e"], ids["d"], EOD_ID, ids["c"], ids["b"], ids["a"], EOD_ID]


# -- unigram units ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def unigram() -> Any:
    return build_units("unigram", CORPUS, max_size=60)


def test_unigram_ids_start_with_the_specials(unigram: Any) -> None:
    assert tuple(unigram.tokens[:3]) == SPECIALS
    assert len(unigram) <= 60
    assert unigram.name == "unigram"


def test_unigram_decodes_text_of_known_characters_back(unigram: Any) -> None:
    for text in ["the cat sat on the mat", "a dog and the café"]:
        ids = unigram.encode(text)
        assert min(ids) >= len(SPECIALS)
        assert unigram.decode(ids) == text


def test_unigram_reads_unknown_characters_as_unk_and_names_them(unigram: Any) -> None:
    ids = unigram.encode("the zebu")
    # z, then the run "bu": characters the corpus lacks, one unknown id per run
    assert ids.count(Vocabulary.unk_id) == 2
    assert unigram.unknown("the zebu") == ["z", "bu"]  # runs of them, as read
    assert unigram.encode("<eod>").count(EOD_ID) == 0  # the special's name is text


def test_unigram_training_streams_and_is_sized() -> None:
    first = build_units("unigram", CORPUS, max_size=50)
    # the same pieces; tokenizers' trainer may order pieces of (nearly) equal score otherwise
    assert set(first.tokens) == set(build_units("unigram", iter(CORPUS), max_size=50).tokens)
    with pytest.raises(ConfigError, match="max_vocab must be at least 4 for unigram units"):
        build_units("unigram", CORPUS, max_size=3)


def test_unigram_units_survive_json(unigram: Any) -> None:
    again = units_from_json(json.loads(dumps(unigram)))
    assert again.tokens == unigram.tokens
    assert again.encode("the cat and the dog") == unigram.encode("the cat and the dog")
    assert unigram.encode_batch(["a cat", "the end"]) == [
        unigram.encode("a cat"),
        unigram.encode("the end"),
    ]
