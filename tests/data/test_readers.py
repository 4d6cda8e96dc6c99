"""Every reader on good and bad input, with the error messages checked."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from rnnkit.data.examples import ReadOptions
from rnnkit.data.reading import detect_format, read
from rnnkit.errors import ConfigError, DataError


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


# -- CSV and TSV -----------------------------------------------------------------------------


def test_csv_with_quotes_commas_and_newlines_in_fields(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'text,label\n"good, really",pos\n"line one\nline two",neg\n')
    data = read(path)
    assert data.texts == ["good, really", "line one\nline two"]
    assert data.labels == ["pos", "neg"]
    assert data.format == "csv"


def test_csv_joins_several_text_columns(tmp_path: Path) -> None:
    path = write(tmp_path / "news.csv", "title,description,topic\nRain,More rain today,weather\n")
    data = read(path, ReadOptions(text_cols=("title", "description"), label_col="topic"))
    assert data.texts == ["Rain More rain today"]
    assert data.labels == ["weather"]


def test_csv_without_header_takes_column_names(tmp_path: Path) -> None:
    path = write(tmp_path / "ag.csv", '"3","Wall St.","Bears claw back"\n"1","Iraq","Talks"\n')
    options = ReadOptions(
        format="csv",
        columns=("class", "title", "description"),
        text_cols=("title", "description"),
        label_col="class",
    )
    data = read(path, options)
    assert data.labels == ["3", "1"]
    assert data.texts[0] == "Wall St. Bears claw back"


def test_tsv(tmp_path: Path) -> None:
    path = write(tmp_path / "a.tsv", "label\ttext\npos\tgood, fine\n")
    data = read(path)
    assert (data.format, data.texts, data.labels) == ("tsv", ["good, fine"], ["pos"])


def test_csv_missing_column_lists_the_header(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", "review,stars\nok,5\n")
    with pytest.raises(
        DataError,
        match=r"a\.csv: no column 'text' in the header "
        r"\(columns: review, stars\); choose the text columns "
        r"with --text-col",
    ):
        read(path)


@pytest.mark.parametrize(
    ("row", "problem"),
    [
        ("only one field", "expected 2 columns, found 1"),
        ('"a",b,c', "expected 2 columns, found 3"),
        ("some text,", "missing label"),
        ('"   ",pos', "empty text"),
    ],
)
def test_csv_bad_row_names_file_and_line(tmp_path: Path, row: str, problem: str) -> None:
    path = write(tmp_path / "a.csv", f"text,label\ngood,pos\n{row}\nfine,pos\n")
    with pytest.raises(
        DataError,
        match=rf"a\.csv, line 3: {problem}; fix it, or pass "
        r"--skip-bad-rows",
    ):
        read(path)
    data = read(path, ReadOptions(skip_bad_rows=True))
    assert data.texts == ["good", "fine"]
    assert data.skipped == 1


def test_csv_line_numbers_count_physical_lines(tmp_path: Path) -> None:
    path = write(tmp_path / "a.csv", 'text,label\n"two\nlines",pos\nbroken\n')
    with pytest.raises(DataError, match="line 4: expected 2 columns, found 1"):
        read(path)


# -- encodings -------------------------------------------------------------------------------


def test_undecodable_byte_names_line_and_byte_and_suggests_latin_1(tmp_path: Path) -> None:
    path = write(
        tmp_path / "q.label",
        "NUM:date When was it ?\nHUM:ind Who is Pel\u00e9 ?\n",
        encoding="latin-1",
    )
    with pytest.raises(
        DataError,
        match=r"q\.label, line 2: byte 0xe9 cannot be decoded as "
        r"utf-8; .*--encoding latin-1",
    ):
        read(path)
    data = read(path, ReadOptions(encoding="latin-1"))
    assert data.texts[1] == "Who is Pel\u00e9 ?"


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbftext,label\nok,pos\n")
    assert read(path).labels == ["pos"]


def test_unknown_encoding_and_format_are_named() -> None:
    with pytest.raises(ConfigError, match="unknown encoding 'klingon'"):
        ReadOptions(encoding="klingon")
    with pytest.raises(ConfigError, match="unknown format 'xml'"):
        ReadOptions(format="xml")


# -- line formats ----------------------------------------------------------------------------


def test_jsonl(tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.jsonl", '{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n'
    )
    data = read(path)
    assert (data.texts, data.labels) == (["good", "bad"], ["1", "0"])


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("{not json", r"invalid JSON \(Expecting property name"),
        ("[1, 2]", "expected a JSON object, found list"),
        ('{"text": "x"}', r"no field 'label' \(fields: text\)"),
    ],
)
def test_jsonl_bad_lines(tmp_path: Path, line: str, problem: str) -> None:
    path = write(tmp_path / "a.jsonl", f'{{"text": "ok", "label": "a"}}\n{line}\n')
    with pytest.raises(DataError, match=rf"a\.jsonl, line 2: {problem}"):
        read(path)


def test_fasttext(tmp_path: Path) -> None:
    path = write(tmp_path / "train.txt", "__label__pos a fine film\n__label__neg dull\n")
    data = read(path)
    assert (data.format, data.texts, data.labels) == (
        "fasttext",
        ["a fine film", "dull"],
        ["pos", "neg"],
    )
    bad = write(tmp_path / "bad.txt", "__label__pos fine\nno label here\n")
    with pytest.raises(DataError, match=r"bad\.txt, line 2: no __label__ prefix"):
        read(bad, ReadOptions(format="fasttext"))


def test_label_text(tmp_path: Path) -> None:
    path = write(tmp_path / "stsa.binary.train", "1 a stirring , funny film\n0 dull .\n")
    data = read(path)
    assert (data.format, data.labels, data.texts[1]) == ("label-text", ["1", "0"], "dull .")
    bad = write(tmp_path / "bad.train", "1 fine\n0\n")
    with pytest.raises(DataError, match=r"bad\.train, line 2: empty text"):
        read(bad, ReadOptions(format="label-text"))


def test_trec_coarse_and_fine_labels(tmp_path: Path) -> None:
    path = write(tmp_path / "train.label", "NUM:date When did it end ?\nHUM:ind Who won ?\n")
    assert read(path).labels == ["NUM", "HUM"]
    assert read(path, ReadOptions(fine_labels=True)).labels == ["NUM:date", "HUM:ind"]
    bad = write(tmp_path / "bad.label", "NUM:date When ?\nNUMdate When ?\n")
    with pytest.raises(DataError, match=r"line 2: expected a COARSE:fine label, found 'NUMdate'"):
        read(bad, ReadOptions(format="trec"))


# -- folders and archives --------------------------------------------------------------------


def make_class_folders(root: Path) -> Path:
    for label, texts in {"neg": ["dull", "bad"], "pos": ["great"]}.items():
        (root / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            write(root / label / f"{i}_1.txt", text)
    write(root / "README", "not a class")
    return root


def make_archive(path: Path, members: dict[str, str]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, text in members.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_folder_of_class_folders(tmp_path: Path) -> None:
    data = read(make_class_folders(tmp_path / "train"))
    assert data.format == "folder"
    assert list(zip(data.labels, data.texts, strict=True)) == [
        ("neg", "dull"),
        ("neg", "bad"),
        ("pos", "great"),
    ]
    only = read(tmp_path / "train", ReadOptions(classes=("pos",)))
    assert only.labels == ["pos"]
    with pytest.raises(DataError, match=r"no class folder 'unsup' \(class folders: neg, pos\)"):
        read(tmp_path / "train", ReadOptions(classes=("unsup",)))


def test_empty_file_in_a_class_folder_is_a_bad_row(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "train")
    write(root / "pos" / "9_1.txt", "  \n")
    with pytest.raises(DataError, match=r"file pos/9_1\.txt: empty text"):
        read(root)


def test_archive_in_the_imdb_layout(tmp_path: Path) -> None:
    archive = make_archive(
        tmp_path / "aclImdb_v1.tar.gz",
        {
            "aclImdb/README": "readme",
            "aclImdb/train/pos/0_9.txt": "great <br />film",
            "aclImdb/train/neg/1_2.txt": "awful",
            "aclImdb/train/urls_pos.txt": "http://",
            "aclImdb/test/pos/0_10.txt": "superb",
        },
    )
    train = read(f"{archive}#aclImdb/train", ReadOptions(classes=("neg", "pos")))
    assert (train.labels, train.texts) == (["neg", "pos"], ["awful", "great <br />film"])
    with pytest.raises(
        DataError,
        match=r"the class folders are nested; name the folder that "
        r"holds them, as in .*aclImdb_v1\.tar\.gz#aclImdb/train",
    ):
        read(archive)


def test_archive_with_class_folders_at_its_top(tmp_path: Path) -> None:
    archive = make_archive(tmp_path / "data.tgz", {"a/1.txt": "one", "b/2.txt": "two"})
    assert read(archive).labels == ["a", "b"]
    wrapped = make_archive(tmp_path / "wrapped.tar.gz", {"d/a/1.txt": "one", "d/b/2.txt": "2"})
    assert read(wrapped).labels == ["a", "b"]


def test_missing_paths_are_named(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nothing\.csv: no such file or folder"):
        read(tmp_path / "nothing.csv")


# -- format detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("a.csv", "text,label\n", "csv"),
        ("a.tsv", "text\tlabel\n", "tsv"),
        ("a.jsonl", "{}\n", "jsonl"),
        ("train.txt", "__label__x hello\n", "fasttext"),
        ("train", '{"text": "a"}\n', "jsonl"),
        ("train_5500.label", "DESC:manner How did it go ?\n", "trec"),
        ("stsa.binary.dev", "1 fine film\n", "label-text"),
        ("data", "a\tb\n", "tsv"),
    ],
)
def test_detect_format(tmp_path: Path, name: str, content: str, expected: str) -> None:
    assert detect_format(write(tmp_path / name, content))[0] == expected


def test_auto_format_says_what_it_chose(tmp_path: Path) -> None:
    data = read(write(tmp_path / "stsa.binary.dev", "1 fine film\n"))
    assert data.notes == [
        f"{tmp_path / 'stsa.binary.dev'}: reading as label-text (the first "
        "line starts with a short label and a space); set --format to override"
    ]


def test_only_lf_and_crlf_end_lines(tmp_path: Path) -> None:
    """Latin-1 byte 0x85 is NEL, a line break to str.splitlines, but text inside MR's lines."""
    path = tmp_path / "mr.txt"
    path.write_bytes(b"1 it's a mess \x85 and a bore\r\n0 fine\n")
    data = read(path, ReadOptions(format="label-text", encoding="latin-1"))
    assert data.texts == ["it's a mess \x85 and a bore", "fine"]
