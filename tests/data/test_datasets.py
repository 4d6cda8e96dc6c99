"""Named datasets: lookup in a data folder, the cache, and downloads from a real local server."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnnkit.data import registry
from rnnkit.data.datasets import load_dataset
from rnnkit.data.download import locate
from rnnkit.data.registry import DATASETS, RemoteFile
from rnnkit.errors import ConfigError, DataError


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RNNKIT_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("RNNKIT_DATA_DIR", raising=False)


def fake_sst2(root: Path) -> Path:
    folder = root / "sst2"
    folder.mkdir(parents=True)
    for split, rows in {"train": 20, "dev": 4, "test": 6}.items():
        lines = [f"{i % 2} sentence number {i} of {split} ." for i in range(rows)]
        (folder / f"stsa.binary.{split}").write_text("\n".join(lines) + "\n")
    return root


def test_named_dataset_from_a_data_folder_with_readable_labels(tmp_path: Path) -> None:
    splits = load_dataset("sst2", fake_sst2(tmp_path / "data"))
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (20, 4, 6)
    assert splits.classes == ("negative", "positive")
    assert set(splits.train.labels) == {"negative", "positive"}


def test_data_dir_may_come_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNNKIT_DATA_DIR", str(fake_sst2(tmp_path / "data")))
    assert locate("sst2") == tmp_path / "data" / "sst2"


def test_trec_is_latin_1_and_gets_a_held_out_validation_split(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "trec"
    folder.mkdir(parents=True)
    rows = [f"{'NUM' if i % 3 else 'HUM'}:x Qu\u00e9stion {i} ?" for i in range(60)]
    (folder / "train_5500.label").write_bytes("\n".join(rows).encode("latin-1"))
    (folder / "TREC_10.label").write_bytes("\n".join(rows[:10]).encode("latin-1"))
    splits = load_dataset("trec", tmp_path / "data")
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (54, 6, 10)
    assert sorted(splits.valid.labels) == ["HUM", "HUM", "NUM", "NUM", "NUM", "NUM"]


def test_missing_dataset_says_which_files_to_place_where(tmp_path: Path) -> None:
    with pytest.raises(DataError) as error:
        locate("sst2", tmp_path / "empty", download=False)
    message = str(error.value)
    assert f"looked in {tmp_path / 'empty' / 'sst2'} (--data-dir or RNNKIT_DATA_DIR)" in message
    assert (
        "Place stsa.binary.train, stsa.binary.dev, stsa.binary.test in DIR/sst2/ and pass "
        "--data-dir DIR (or set RNNKIT_DATA_DIR=DIR)"
    ) in message


def test_unknown_dataset_lists_the_known_ones() -> None:
    with pytest.raises(ConfigError, match="unknown dataset 'sst3': known datasets are imdb, sst2"):
        load_dataset("sst3")


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """A real HTTP server on loopback serving the folder it returns."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", root
    httpd.shutdown()
    httpd.server_close()


def served_sst2(url: str, root: Path, monkeypatch: pytest.MonkeyPatch, *, corrupt: bool) -> None:
    fake_sst2(root)
    files = []
    for split in ("train", "dev", "test"):
        data = (root / "sst2" / f"stsa.binary.{split}").read_bytes()
        digest = hashlib.sha256(data + (b"x" if corrupt else b"")).hexdigest()
        files.append(
            RemoteFile(
                f"stsa.binary.{split}",
                f"{url}sst2/stsa.binary.{split}",
                f"sha256:{digest}",
                len(data),
            )
        )
    info = dataclasses.replace(DATASETS["sst2"], files=tuple(files))
    monkeypatch.setitem(registry.DATASETS, "sst2", info)


def test_download_checks_the_checksum_and_fills_the_cache(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = server
    served_sst2(url, root, monkeypatch, corrupt=False)
    folder = locate("sst2")
    assert folder == tmp_path / "cache" / "datasets" / "sst2"
    assert (folder / "stsa.binary.test").read_bytes() == (
        root / "sst2/stsa.binary.test"
    ).read_bytes()
    for file in (root / "sst2").iterdir():
        file.unlink()  # now only the cache has them
    assert len(load_dataset("sst2").train) == 20


def test_download_with_a_wrong_checksum_keeps_nothing(
    server: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = server
    served_sst2(url, root, monkeypatch, corrupt=True)
    with pytest.raises(DataError, match=r"stsa\.binary\.train: checksum mismatch \(sha256 "):
        locate("sst2")
    assert not list((tmp_path / "cache" / "datasets" / "sst2").iterdir())


def test_offline_download_failure_says_which_files_to_place(
    server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, root = server
    served_sst2(url, root, monkeypatch, corrupt=False)
    for file in (root / "sst2").iterdir():
        file.unlink()  # the server answers 404
    with pytest.raises(
        DataError,
        match=r"the download of http://127\.0\.0\.1:\d+/sst2/stsa\.binary\.train failed: "
        r"HTTP 404 File not found\. Place stsa\.binary",
    ):
        locate("sst2")
