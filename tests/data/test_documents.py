"""A language model's corpora as documents: each source and mode, the held-out tail, the named
datasets (small fakes in their layout, and the real ones where the shared data is), the errors."""

from __future__ import annotations

import gzip
import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from rnnkit.data.documents import DocumentSplits, hold_out_tail, load_documents, read_documents
from rnnkit.errors import ConfigError, DataError

ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("RNNKIT_DATA_DIR") or ROOT.parent / "shared" / "data")

TEXT = "  first line\r\nsecond line\n\n\n   \nthird, after blanks\nfourth\n\n"


def write(path: Path, text: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(text.encode()) if path.suffix == ".gz" else text.encode())
    return str(path)


def make_archive(path: Path, members: dict[str, str]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return str(path)


def needs(name: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(
        not (DATA_DIR / name).is_dir(),
        reason=f"benchmark data {DATA_DIR / name} not found; set RNNKIT_DATA_DIR to the folder "
        f"holding {name}/",
    )


@pytest.fixture(autouse=True)
def no_data_dir(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)


# -- plain text ------------------------------------------------------------------------------


def test_each_document_mode_on_plain_text(tmp_path: Path) -> None:
    path = write(tmp_path / "corpus.txt", TEXT)
    assert read_documents(path) == ["  first line", "second line", "third, after blanks", "fourth"]
    assert read_documents(path, document="paragraph") == [
        "  first line\nsecond line",
        "third, after blanks\nfourth",
    ]
    assert read_documents(path, document="file") == [TEXT]


def test_gzip_is_decompressed_for_text_and_labelled_files(tmp_path: Path) -> None:
    assert read_documents(write(tmp_path / "c.txt.gz", TEXT), document="file") == [TEXT]
    assert read_documents(write(tmp_path / "any-name.gz", "a\nb\n")) == ["a", "b"]
    csv = write(tmp_path / "rows.csv.gz", "label,text\npos,good film\nneg,bad film\n")
    assert read_documents(csv) == ["good film", "bad film"]


def test_an_undecodable_byte_is_named_with_its_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(b"fine\nbad \xff byte\n")
    with pytest.raises(DataError, match=r"bad\.txt, line 2: byte 0xff cannot be decoded as utf-8"):
        read_documents(str(path))


# -- folders and archives --------------------------------------------------------------------


def test_a_folder_reads_its_text_files_in_path_order(tmp_path: Path) -> None:
    root = tmp_path / "books"
    write(root / "b.txt", "b one\n\nb two\n")
    write(root / "a" / "z.txt", "a/z\n")
    write(root / "a" / "y.txt", "a/y\n")
    write(root / ".hidden.txt", "hidden\n")
    write(root / ".git" / "x.txt", "hidden folder\n")
    write(root / "notes.md", "not a .txt file\n")
    assert read_documents(str(root)) == ["a/y", "a/z", "b one", "b two"]
    assert read_documents(str(root), document="file") == ["a/y\n", "a/z\n", "b one\n\nb two\n"]


def test_a_folder_inside_an_archive_in_one_pass(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "aclImdb_v1.tar.gz",
        {
            "aclImdb/README": "readme",
            "aclImdb/train/unsup/2_0.txt": "second\nreview",
            "aclImdb/train/unsup/1_0.txt": "first review",
            "aclImdb/train/unsup/.3_0.txt": "hidden",
            "aclImdb/train/pos/0_9.txt": "labelled",
        },
    )
    unsup = f"{archive}#aclImdb/train/unsup"
    assert read_documents(unsup, document="file") == ["first review", "second\nreview"]
    assert read_documents(f"{archive}#./aclImdb/train/unsup/") == read_documents(unsup)
    assert read_documents(unsup) == ["first review", "second", "review"]
    everything = read_documents(archive, document="file")
    assert everything == ["labelled", "first review", "second\nreview"]


# -- labelled files --------------------------------------------------------------------------


def test_a_labelled_file_gives_its_text_column_and_ignores_labels(tmp_path: Path) -> None:
    csv = write(tmp_path / "a.csv", 'label,review\npos,"good, really"\n,no label here\n')
    assert read_documents(csv, text_col="review") == ["good, really", "no label here"]
    assert read_documents(csv, text_col="review", document="file") == [
        "good, really\nno label here"
    ]
    jsonl = write(tmp_path / "b.jsonl", '{"text": "one", "label": 1}\n{"text": "two"}\n')
    assert read_documents(jsonl) == ["one", "two"]
    fasttext = write(tmp_path / "c.txt", "__label__pos good film\n")
    assert read_documents(fasttext, format="fasttext") == ["good film"]
    assert read_documents(fasttext) == ["__label__pos good film"]  # .txt is plain text
    with pytest.raises(DataError, match=r"a\.csv: no column 'text' in the header"):
        read_documents(csv)


# -- held-out tail ---------------------------------------------------------------------------


def test_valid_split_holds_out_the_last_documents_of_many(tmp_path: Path) -> None:
    path = write(tmp_path / "lines.txt", "".join(f"line {i}\n" for i in range(20)))
    splits = load_documents(path, valid_split=0.1)
    assert splits.train == [f"line {i}" for i in range(18)]
    assert splits.valid == ["line 18", "line 19"]
    assert splits.test is None
    assert load_documents(path).valid is None


def test_valid_split_holds_out_the_last_characters_of_few() -> None:
    text = "".join(chr(ord("a") + i % 26) for i in range(1234))
    kept, held = hold_out_tail([text], 0.1)
    assert (kept, held) == ([text[: int(1234 * 0.9)]], [text[int(1234 * 0.9) :]])
    kept, held = hold_out_tail(["a" * 50, "b" * 30, "c" * 20], 0.25)
    assert (kept, held) == (["a" * 50, "b" * 25], ["b" * 5, "c" * 20])
    kept, held = hold_out_tail(["a" * 50, "b" * 30, "c" * 20], 0.2)
    assert (kept, held) == (["a" * 50, "b" * 30], ["c" * 20])


# -- named datasets --------------------------------------------------------------------------


def fake_ptb(root: Path) -> Path:
    for split in ("train", "valid", "test"):
        write(root / "ptb" / f"ptb.{split}.txt", f" the {split} sentence \n another one \n")
    return root


def test_ptb_splits_are_one_verbatim_document_each(tmp_path: Path) -> None:
    splits = load_documents("ptb", data_dir=fake_ptb(tmp_path), download=False)
    assert splits == DocumentSplits(
        "ptb",
        [" the train sentence \n another one \n"],
        [" the valid sentence \n another one \n"],
        [" the test sentence \n another one \n"],
    )
    lines = load_documents("ptb", data_dir=tmp_path, document="line", download=False)
    assert lines.split("test") == [" the test sentence ", " another one "]


def test_tinyshakespeare_keeps_the_last_tenth_for_validation(tmp_path: Path) -> None:
    text = "First Citizen:\nBefore we proceed any further, hear me speak.\n" * 3
    write(tmp_path / "tinyshakespeare" / "input.txt", text)
    splits = load_documents("tinyshakespeare", data_dir=tmp_path, download=False)
    cut = int(len(text) * 0.9)
    assert (splits.train, splits.valid, splits.test) == ([text[:cut]], [text[cut:]], None)


def test_imdb_lm_trains_on_train_and_unlabelled_reviews_never_test(tmp_path: Path) -> None:
    make_archive(
        tmp_path / "imdb" / "aclImdb_v1.tar.gz",
        {
            "aclImdb/test/pos/0_10.txt": "test pos",
            "aclImdb/train/unsup/0_0.txt": "unlabelled",
            "aclImdb/train/pos/0_9.txt": "train pos",
            "aclImdb/train/neg/0_1.txt": "train neg",
            "aclImdb/train/urls_pos.txt": "http://not-a-review",
            "aclImdb/test/neg/0_2.txt": "test neg",
        },
    )
    splits = load_documents("imdb-lm", data_dir=tmp_path, download=False)
    assert splits.train == ["train neg", "train pos", "unlabelled"]
    assert (splits.valid, splits.test) == (None, ["test neg", "test pos"])


@needs("ptb")
def test_real_ptb() -> None:
    splits = load_documents("ptb", data_dir=DATA_DIR)
    assert [len(splits.split(s)) for s in ("train", "valid", "test")] == [1, 1, 1]
    assert splits.train[0] == (DATA_DIR / "ptb" / "ptb.train.txt").read_text()
    assert splits.train[0].count("\n") == 42_068  # sentences, each ending in a line break


@needs("tinyshakespeare")
def test_real_tinyshakespeare_split_sizes() -> None:
    splits = load_documents("tinyshakespeare", data_dir=DATA_DIR)
    assert splits.valid is not None
    assert (len(splits.train[0]), len(splits.valid[0])) == (1_003_854, 111_540)
    assert len(splits.train[0]) + len(splits.valid[0]) == 1_115_394
    assert splits.train[0].startswith("First Citizen:\nBefore we proceed")


@pytest.mark.slow
@needs("imdb")
def test_real_imdb_lm() -> None:
    splits = load_documents("imdb-lm", data_dir=DATA_DIR)
    assert splits.test is not None
    assert (len(splits.train), splits.valid, len(splits.test)) == (75_000, None, 25_000)
    # in path order: train/neg/0_3.txt, ..., train/unsup/0_0.txt, ...; test/neg/0_2.txt
    assert splits.train[0].startswith("Story of a man who has unnatural feelings for a pig.")
    assert splits.train[25_000].startswith("I admit, the great majority of films released")
    assert splits.test[0].startswith("Once again Mr. Costner has dragged out a movie")


# -- errors ----------------------------------------------------------------------------------


def test_missing_and_empty_sources_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing\.txt: no such file or folder"):
        read_documents(str(tmp_path / "nothing.txt"))
    with pytest.raises(DataError, match=r"ptb: no such file or folder \(ptb is a named dataset"):
        read_documents("ptb")
    blank = write(tmp_path / "blank.txt", "\n  \n\n")
    for mode in ("line", "paragraph", "file"):
        with pytest.raises(DataError, match=rf"no text in {re.escape(blank)}$"):
            read_documents(blank, document=mode)
    write(tmp_path / "folder" / "notes.md", "no .txt here")
    with pytest.raises(DataError, match=r"no text in .*folder \(only its \.txt files are read"):
        read_documents(str(tmp_path / "folder"))


def test_a_folder_not_in_the_archive_names_the_folders_there(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "a.tar.gz",
        {"top.txt": "t", "aclImdb/train/pos/0.txt": "x", "aclImdb/test/neg/1.txt": "y"},
    )
    with pytest.raises(
        DataError,
        match=r"a\.tar\.gz: no folder 'aclImdb/unsup' in the archive \(folders at its top "
        r"levels: aclImdb, aclImdb/test, aclImdb/train\)",
    ):
        read_documents(f"{archive}#aclImdb/unsup")


def test_bad_options_name_their_field(tmp_path: Path) -> None:
    path = write(tmp_path / "c.txt", "x\n")
    cases = [
        (lambda: read_documents(path, document="sentence"), "document", "unknown document mode"),
        (lambda: read_documents(path, format="xml"), "format", "unknown format 'xml'"),
        (lambda: read_documents(path, text_col="body"), "text_col", "text_col applies to csv"),
        (lambda: load_documents(path, valid_split=1.0), "valid_split", r"in \[0, 1\), got 1.0"),
        (lambda: load_documents(path, valid_split=-0.1), "valid_split", "got -0.1"),
        (lambda: load_documents(path, valid_split=0.5), "valid_split", "cannot hold out 50%"),
    ]
    for call, field, message in cases:
        with pytest.raises(ConfigError, match=message) as error:
            call()
        assert error.value.field == field


def test_a_dataset_with_a_validation_split_refuses_valid_split(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="ptb has a validation split") as error:
        load_documents("ptb", data_dir=fake_ptb(tmp_path), valid_split=0.1, download=False)
    assert error.value.field == "valid_split"


def test_a_missing_split_or_dataset_is_named(tmp_path: Path) -> None:
    splits = load_documents(write(tmp_path / "c.txt", "text\n"))
    assert splits.split("train") == ["text"]
    with pytest.raises(ConfigError, match=r"c\.txt has no 'valid' split \(it has train\)"):
        splits.split("valid")
    with pytest.raises(DataError, match=r"dataset 'tinyshakespeare' not found: looked in"):
        load_documents("tinyshakespeare", data_dir=tmp_path / "empty", download=False)
