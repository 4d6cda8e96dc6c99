"""Texts without labels (language models) and texts with one tag per token (taggers): readers,
the corpus and its cache, and per-token batches."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit.cli.common import flagged
from rnnkit.data.batching import IGNORE_INDEX, Batches
from rnnkit.data.cache import load_corpus
from rnnkit.data.config import DataConfig
from rnnkit.data.corpus import Corpus
from rnnkit.data.examples import FORMATS, ReadOptions
from rnnkit.data.reading import detect_format, read
from rnnkit.errors import ConfigError, DataError

UD_SHARED = Path("/work/shared/data/ud_english_ewt/en_ewt-ud-dev.conllu")

CONLLU = (
    "# sent_id = one\n"
    "# text = Today's film didn't bore.\n"
    "1-2\tToday's\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "1\tToday\ttoday\tNOUN\tNN\t_\t3\tnmod:poss\t_\t_\n"
    "2\t's\t's\tPART\tPOS\t_\t1\tcase\t_\t_\n"
    "3\tfilm\tfilm\tNOUN\tNN\t_\t5\tnsubj\t_\t_\n"
    "4-5\tdidn't\t_\t_\t_\t_\t_\t_\t_\t_\n"
    "4\tdid\tdo\tAUX\tVBD\t_\t5\taux\t_\t_\n"
    "5\tn't\tnot\tPART\tRB\t_\t5\tadvmod\t_\t_\n"
    "5.1\tbore\tbore\tVERB\tVB\t_\t_\t_\t5:conj\tCopyOf=5\n"
    "6\t.\t.\tPUNCT\t.\t_\t5\tpunct\t_\t_\n"
    "\n"
    "# sent_id = two\n"
    "1\tGood\tgood\tADJ\tJJ\t_\t0\troot\t_\t_\n"
    "2\tFILM\tfilm\tNOUN\tNN\t_\t1\tobj\t_\t_\n"
    "\n"
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "cache"))


def tokens_of(corpus: Corpus, i: int) -> list[str]:
    return [corpus.types[t] for t in corpus.ids[corpus.offsets[i] : corpus.offsets[i + 1]]]


# -- unlabelled readers ---------------------------------------------------------------------


def test_csv_and_tsv_without_a_label_column(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_text('text,label\n"good, really",\nfine,pos\n')
    data = read(path, ReadOptions(label_col=None))
    assert (data.texts, data.labels) == (["good, really", "fine"], None)
    tsv = tmp_path / "b.tsv"
    tsv.write_text("text\nno label column at all\n")
    assert read(tsv, ReadOptions(label_col=None)).texts == ["no label column at all"]
    with pytest.raises(DataError, match=r"b\.tsv: no column 'label' in the header"):
        read(tsv)  # labelled by default


def test_jsonl_without_a_label_field(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "one text"}\n\n{"text": "two", "label": "x"}\n')
    data = read(path, ReadOptions(label_col=None))
    assert (data.texts, data.labels) == (["one text", "two"], None)
    with pytest.raises(DataError, match=r"a\.jsonl, line 1: no field 'label'"):
        read(path)


def test_text_format_is_one_unlabelled_text_per_non_blank_line(tmp_path: Path) -> None:
    assert "text" in FORMATS
    assert "conllu" in FORMATS
    path = tmp_path / "ptb.txt"
    path.write_text(" the cat sat \n\n<unk> N years\r\n")
    data = read(path, ReadOptions(format="text"))
    assert data.texts == ["the cat sat", "<unk> N years"]
    assert (data.labels, data.format) == (None, "text")
    empty = tmp_path / "empty.txt"
    empty.write_text("\n \n")
    with pytest.raises(DataError, match=r"empty\.txt: no texts found"):
        read(empty, ReadOptions(format="text"))


def test_an_unlabelled_corpus_has_no_label_ids_but_subsets_and_encodes(tmp_path: Path) -> None:
    path = tmp_path / "lm.txt"
    path.write_text("a b c\nd e\n")
    corpus = load_corpus(path, ReadOptions(format="text"))
    assert not corpus.labelled
    assert corpus.label_list is None
    assert len(corpus) == 2
    with pytest.raises(DataError, match=r"lm\.txt: the texts have no labels"):
        corpus.label_ids(["x"])
    with pytest.raises(DataError, match="have no labels"):
        corpus.labels  # noqa: B018
    part = corpus.subset([1])
    assert tokens_of(part, 0) == ["d", "e"]
    assert part.label_list is None
    again = load_corpus(path, ReadOptions(format="text"))  # from the cache
    assert again.label_list is None
    assert again.types == corpus.types


# -- CoNLL-U --------------------------------------------------------------------------------


def test_conllu_keeps_forms_as_given_with_upos_and_skips_multiword_and_empty_nodes(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ud.conllu"
    path.write_text(CONLLU)
    assert detect_format(path)[0] == "conllu"
    data = read(path)
    assert data.tokens == [["Today", "'s", "film", "did", "n't", "."], ["Good", "FILM"]]
    assert data.tags == [["NOUN", "PART", "NOUN", "AUX", "PART", "PUNCT"], ["ADJ", "NOUN"]]
    assert data.labels is None
    assert data.format == "conllu"
    corpus = Corpus.from_labeled(data, tokenizer="char")  # the file's tokens, not char's
    assert tokens_of(corpus, 0) == ["Today", "'s", "film", "did", "n't", "."]
    assert tokens_of(corpus, 1) == ["Good", "FILM"]  # case kept
    assert corpus.tag_counts() == {"NOUN": 3, "PART": 2, "AUX": 1, "PUNCT": 1, "ADJ": 1}
    tags = ["ADJ", "AUX", "NOUN", "PART", "PUNCT"]
    ids = corpus.tag_ids(tags)
    assert ids.dtype == np.int64
    assert len(ids) == len(corpus.ids)
    assert [tags[i] for i in ids] == [*data.tags[0], *data.tags[1]]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("3\tfilm\tfilm\tNOUN", "expected 10 tab-separated columns, found 4"),
        ("x\tfilm\tfilm\tNOUN\tNN\t_\t5\tnsubj\t_\t_", "expected a word ID such as 1, 3-4 or 5.1"),
    ],
)
def test_conllu_malformed_line_names_file_and_line(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "bad.conllu"
    lines = CONLLU.splitlines()
    lines[5] = line  # the word "film" of the first sentence, line 6
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=rf"bad\.conllu, line 6: {problem}.*--skip-bad-rows"):
        read(path)
    data = read(path, ReadOptions(skip_bad_rows=True))
    assert data.tokens == [["Good", "FILM"]]
    assert data.skipped == 1


def test_unknown_tags_are_reported_by_name(tmp_path: Path) -> None:
    corpus = Corpus.from_tokens([["a", "b"], ["c"]], tags=[["X", "Y"], ["Y"]], source="t.conllu")
    with pytest.raises(
        DataError,
        match=r"t\.conllu: tags the model was not trained on: 'Y' \(2 tokens\); "
        r"the model knows 'X'",
    ):
        corpus.tag_ids(["X"])
    with pytest.raises(DataError, match="no per-token tags"):
        Corpus.from_texts(["a b"], ["pos"]).tag_ids(["X"])
    with pytest.raises(ValueError, match="one tag per token"):
        Corpus.from_tokens([["a", "b"]], tags=[["X"]])


def test_tags_survive_subset_and_the_cache_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "ud.conllu"
    path.write_text(CONLLU)
    corpus = load_corpus(path, ReadOptions())
    corpus.save(tmp_path / "c.npz")
    again = Corpus.load(tmp_path / "c.npz")
    assert again.tag_types == corpus.tag_types
    assert again.label_list is None
    assert again.tags is not None
    assert corpus.tags is not None
    assert again.tags.dtype == np.int32
    assert np.array_equal(again.tags, corpus.tags)
    cached = load_corpus(path, ReadOptions())
    assert cached.tags is not None
    assert np.array_equal(cached.tags, corpus.tags)
    part = corpus.subset([1, 0])
    tags = sorted(corpus.tag_counts())
    assert [tags[i] for i in part.tag_ids(tags)][:2] == ["ADJ", "NOUN"]
    assert len(part.tag_ids(tags)) == len(part.ids) == 8


@pytest.mark.skipif(not UD_SHARED.is_file(), reason="the shared UD English-EWT is not here")
def test_conllu_reads_ud_english_ewt_dev() -> None:
    data = read(UD_SHARED)
    assert len(data) == 2001  # sentences
    assert data.tags is not None
    assert {tag for tags in data.tags for tag in tags} <= {
        *("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART"),
        *("PRON", "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X"),
    }


# -- per-token batches ----------------------------------------------------------------------


def token_batches(lengths: list[int], **kwargs: object) -> Batches:
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.arange(2, 2 + offsets[-1], dtype=np.int64)
    return Batches(ids, offsets, token_targets=ids * 10, **kwargs)  # type: ignore[arg-type]


def test_per_token_targets_are_time_major_padded_with_ignore_index_and_truncated() -> None:
    assert IGNORE_INDEX == -100
    batches = token_batches([3, 1, 6], batch_size=3, max_len=4)
    (batch,) = list(batches.epoch())
    assert batch.target.shape == batch.tokens.shape == (4, 3)
    assert batch.target[:, 0].tolist() == [50, IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX]
    assert batch.target[:, 1].tolist() == [20, 30, 40, IGNORE_INDEX]
    assert batch.target[:, 2].tolist() == [60, 70, 80, 90]  # the first 4 of 6, like the tokens
    assert (batch.target == batch.tokens * 10).where(batch.tokens > 0, True).all()


def test_per_token_targets_leave_shuffling_and_bucketing_unchanged() -> None:
    rng = np.random.default_rng(0)
    lengths = rng.integers(1, 40, size=300).tolist()
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = np.arange(2, 2 + offsets[-1], dtype=np.int64)
    options = {"batch_size": 16, "shuffle": True, "seed": 3, "bucket": 5}
    plain = Batches(ids, offsets, **options)  # type: ignore[arg-type]
    tagged = token_batches(lengths, **options)
    for a, b in zip(plain.epoch(1), tagged.epoch(1), strict=True):
        assert np.array_equal(a.index, b.index)
        assert a.tokens.equal(b.tokens)
        assert a.target.tolist() == [IGNORE_INDEX] * len(a.index)  # no targets given
        assert (b.target[b.tokens == 0] == IGNORE_INDEX).all()


def test_per_text_and_per_token_targets_are_exclusive_and_checked() -> None:
    offsets = np.array([0, 2, 3])
    with pytest.raises(ValueError, match="per text or per token"):
        Batches(np.arange(3), offsets, np.zeros(2), token_targets=np.zeros(3), batch_size=2)
    with pytest.raises(ValueError, match="2 token targets for 3 tokens"):
        Batches(np.arange(3), offsets, token_targets=np.zeros(2), batch_size=2)


# -- errors name the field ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "field", "message", "flag"),
    [
        ({"min_freq": 0}, "min_freq", "min_freq must be at least 1, got 0", "--min-freq"),
        ({"max_vocab": 2}, "max_vocab", "max_vocab must be at least 3, got 2", "--max-vocab"),
        ({"max_len": 0}, "max_len", "max_len must be at least 1, got 0", "--max-len"),
        ({"valid_split": 1.0}, "valid_split", r"valid_split must be in \[0, 1\), got 1.0", ""),
        ({"tokenizer": "bpe"}, "tokenizer", "unknown tokenizer 'bpe': choose one of", ""),
    ],
)
def test_data_config_errors_name_the_field(
    options: dict[str, object], field: str, message: str, flag: str
) -> None:
    with pytest.raises(ConfigError, match=message) as error:
        DataConfig(**options)  # type: ignore[arg-type]
    assert error.value.field == field
    shown = flag or "--" + field.replace("_", "-")
    assert str(flagged(error.value)).startswith(("unknown " + shown, shown))


def test_read_options_and_batches_errors_name_the_field() -> None:
    cases = [
        (lambda: ReadOptions(format="xml"), "format", "unknown --format 'xml'"),
        (lambda: ReadOptions(encoding="klingon"), "encoding", "unknown --encoding 'klingon'"),
        (lambda: ReadOptions(text_cols=()), "text_cols", "--text-col needs at least one"),
        (lambda: Batches(np.arange(1), np.array([0, 1]), batch_size=0), "batch_size", ""),
        (lambda: Batches(np.arange(1), np.array([0, 1]), batch_size=1, max_len=0), "max_len", ""),
    ]
    for make, field, shown in cases:
        with pytest.raises(ConfigError) as error:
            make()
        assert error.value.field == field
        assert str(error.value).count(field) == 1
        assert shown in str(flagged(error.value))  # as the command line shows it
