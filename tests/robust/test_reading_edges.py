"""Reading what users bring: CSV columns that are not there, word vectors with duplicates,
NaN or another encoding, corpora in Latin-1, lines too long to be one text, and text with
characters a language model never saw."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from rnnkit import LanguageModel
from rnnkit.data.documents import MAX_DOCUMENT_CHARS
from rnnkit.data.pairs import read_pairs
from rnnkit.errors import DataError
from rnnkit.models.vectors import load_vectors
from rnnkit.text.vocab import Vocabulary
from tests.conftest import write_csv
from tests.robust.cli_batch import run_many
from tests.robust.conftest import DICKENS, Models
from tests.test_cli import TINY_OPTIONS, assert_user_error


def test_a_column_the_header_lacks_is_an_error_that_lists_the_columns(tmp_path: Path) -> None:
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("de,en\nein Hund,a dog\nzwei Katzen,two cats\n")
    with pytest.raises(DataError, match=r"pairs\.csv, line 1: no column 'fr' in the header \(the "):
        read_pairs([pairs], source="fr", target="en")
    with pytest.raises(DataError, match=r"--source names a column; name the --target column too"):
        read_pairs([pairs], source="de")
    assert read_pairs([pairs], source="en", target="de").source == ["a dog", "two cats"]
    assert read_pairs([pairs]).source == ["de", "ein Hund", "zwei Katzen"]  # no header named
    (unknown,) = run_many(
        ["translate", "train", str(pairs), "--source", "fr", "--target", "en", "--out",
         str(tmp_path / "m")],
    )  # fmt: skip
    assert_user_error(unknown, "no column 'fr' in the header (the first row has 'de', 'en')")
    assert not (tmp_path / "m").exists()


def test_vectors_keep_each_word_s_first_vector_and_say_how_many_repeat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text("good 1 1\nfilm 2 2\ngood 3 3\nGood 4 4\nfilm 5 5\n")
    vocab = Vocabulary.build({"good": 2, "film": 1})
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        found = load_vectors(vectors, vocab)
    assert found.rows[vocab.index["good"]].tolist() == [1.0, 1.0]
    assert found.rows[vocab.index["film"]].tolist() == [2.0, 2.0]
    assert "v.txt: 2 words are listed more than once; each keeps its first vector" in caplog.text


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e39"])
def test_a_vector_that_is_not_finite_names_its_file_and_line(tmp_path: Path, value: str) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_text(f"the 1 2\nwas {value} 1\n")
    message = f"v.txt, line 2: the vector holds '{value}', which is not a finite number"
    with pytest.raises(DataError, match=message.replace(".", r"\.")):
        load_vectors(vectors, Vocabulary.build({"was": 1}))
    if value != "nan":
        return
    data, corpus = write_csv(tmp_path / "d.csv", 40), tmp_path / "c.txt"
    corpus.write_text(DICKENS)
    classifier, lm = run_many(
        ["train", str(data), "--vectors", str(vectors), "--out", str(tmp_path / "a")],
        ["lm", "train", str(corpus), "--unit", "word", "--vectors", str(vectors), "--out",
         str(tmp_path / "b")],
    )  # fmt: skip
    for result in (classifier, lm):
        assert_user_error(result, message)


def test_vectors_in_another_encoding_get_advice_that_works(tmp_path: Path) -> None:
    vectors = tmp_path / "v.txt"
    vectors.write_bytes("café 1 2\n".encode("latin-1"))
    with pytest.raises(DataError) as raised:
        load_vectors(vectors, Vocabulary.build({"café": 1}))
    assert "--vectors-encoding" not in str(raised.value)
    assert "iconv -f latin-1 -t utf-8 FILE > FILE.utf-8" in str(raised.value)


def test_coverage_counts_the_training_text_and_a_language_model_takes_the_dimension(
    tmp_path: Path,
) -> None:
    data = write_csv(tmp_path / "d.csv", 100)
    words = ["good", "bad", "film", "the", *(f"extra{i}" for i in range(20))]
    vectors = tmp_path / "v.txt"
    vectors.write_text("".join(f"{w} {i} 1 0.5\n" for i, w in enumerate(words)))
    corpus = tmp_path / "c.txt"
    corpus.write_text(DICKENS)
    classifier, lm = run_many(
        ["train", str(data), "--vectors", str(vectors), "--vectors-vocab", "100", *TINY_OPTIONS,
         "--embed-dim", "3", "--epochs", "1", "--out", str(tmp_path / "clf")],
        ["lm", "train", str(corpus), "--unit", "word", "--vectors", str(vectors), "--hidden",
         "8", "--max-steps", "2", "--out", str(tmp_path / "lm")],
    )  # fmt: skip
    assert classifier.returncode == 0, classifier.stderr
    assert "vocabulary: 20 words of" in classifier.stderr  # the extras
    # "good" and "bad" are two of the cue words; "film" and "the" two of the filler words
    assert "v.txt: 4 of the 23 word types of the training texts have a vector (17.4%)" in (
        classifier.stderr
    )
    assert lm.returncode == 0, lm.stderr
    config = json.loads((tmp_path / "lm" / "config.json").read_text())
    assert config["model"]["embed_dim"] == 3  # the vectors', without --embed-dim


def test_language_model_commands_read_latin_1_with_encoding(tmp_path: Path) -> None:
    corpus = tmp_path / "latin.txt"
    corpus.write_bytes(("Le café était très bon.\nIl était là.\n" * 40).encode("latin-1"))
    data = write_csv(tmp_path / "d.csv", 40)
    out = tmp_path / "lm"
    small = ["--hidden", "8", "--embed-dim", "8", "--max-steps", "2", "--valid-split", "0.1"]
    utf8, latin, scored, pretrained = run_many(
        ["lm", "train", str(corpus), *small, "--out", str(tmp_path / "x")],
        ["lm", "train", str(corpus), *small, "--encoding", "latin-1", "--out", str(out)],
        ["lm", "evaluate", str(out), str(corpus), "--encoding", "latin-1", "--json"],
        ["train", str(data), "--pretrain", str(corpus), "--encoding", "latin-1",
         "--pretrain-config", str(_options(tmp_path)), *TINY_OPTIONS, "--epochs", "1",
         "--out", str(tmp_path / "clf")],
    )  # fmt: skip
    assert_user_error(utf8, "latin.txt, line 1: byte 0xe9 cannot be decoded as utf-8")
    assert "--encoding latin-1" in utf8.stderr  # the advice names an option that exists
    assert latin.returncode == 0, latin.stderr
    assert scored.returncode == 0, scored.stderr
    assert json.loads(scored.stdout)["tokens"] > 1000
    assert pretrained.returncode == 0, pretrained.stderr
    assert (tmp_path / "clf" / "lm" / "forward" / "config.json").is_file()


def _options(folder: Path) -> Path:
    path = folder / "pretrain.json"
    path.write_text(json.dumps({"max_steps": 2, "window": 8}))
    return path


def test_a_line_too_long_to_be_one_text_names_its_file_and_line(
    models: Models, tmp_path: Path
) -> None:
    long = tmp_path / "long.txt.gz"
    with gzip.open(long, "wt") as file:
        file.write("ein Hund\n" + "a" * 1_200_000 + "\nzwei Katzen\n")
    document = tmp_path / "document.txt.gz"
    with gzip.open(document, "wt") as file:  # small on disk, over the limit when read
        file.write("a short line\n" + "ab " * (MAX_DOCUMENT_CHARS // 3 + 1) + "\n")
    translated, predicted, trained = run_many(
        ["translate", str(models.translator), "--input", str(long)],
        ["predict", str(models.classifier), "--input", str(long)],
        ["lm", "train", str(document), "--out", str(tmp_path / "m")],
    )
    for result in (translated, predicted):
        assert_user_error(result, "long.txt.gz, line 2: longer than 1,000,000 characters")
    assert_user_error(
        trained,
        f"document.txt.gz, line 2: a document of {3 * (MAX_DOCUMENT_CHARS // 3 + 1):,} "
        f"characters (--document line), over the limit of {MAX_DOCUMENT_CHARS:,}",
    )


def test_input_lines_are_read_as_before(models: Models, tmp_path: Path) -> None:
    """CRLF, a byte order mark, gzip, an empty line and no final line break."""
    plain = tmp_path / "in.txt"
    plain.write_bytes("\ufeffant bee\r\n\ncat dog".encode())
    zipped = tmp_path / "in.txt.gz"
    zipped.write_bytes(gzip.compress(plain.read_bytes()))
    from_file, from_gzip, from_args = run_many(
        ["translate", str(models.translator), "--input", str(plain)],
        ["translate", str(models.translator), "--input", str(zipped)],
        ["translate", str(models.translator), "ant bee", "", "cat dog"],
    )
    assert from_file.returncode == 0, from_file.stderr
    assert from_file.stdout == from_gzip.stdout == from_args.stdout
    assert len(from_file.stdout.splitlines()) == 3


def test_lm_evaluate_counts_what_the_model_never_saw(
    models: Models, caplog: pytest.LogCaptureFixture
) -> None:
    lm = LanguageModel.load(models.lm)
    with caplog.at_level(logging.WARNING, logger="rnnkit"):
        scores = lm.evaluate(["it was the Zoë of times ZZ"])
    assert "the text has 2 characters the model never saw ('Z', 'ë'); 4 of its tokens are " in (
        caplog.text
    )
    assert np.isfinite(scores["loss"])


def test_a_language_model_refuses_character_vectors_and_overlong_documents(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rnnkit.data import documents
    from rnnkit.errors import ConfigError

    vectors = tmp_path / "v.txt"
    vectors.write_text("it 1 2\n")
    with pytest.raises(
        ConfigError,
        match=r"pretrained embeddings \(vectors\) are of words, and this model reads unit char",
    ):
        LanguageModel(vectors=str(vectors), max_steps=1).fit([DICKENS])
    monkeypatch.setattr(documents, "MAX_DOCUMENT_CHARS", 100)
    with pytest.raises(DataError, match=r"documents\[1\] has 101 characters, over the limit"):
        LanguageModel(max_steps=1).fit(["short", "x" * 101])
    with pytest.raises(DataError, match=r"valid\[0\] has 200 characters"):
        LanguageModel(max_steps=1).fit(["short"], ["y" * 200])
