"""Nothing already saved is lost: where ``rnnkit train --out`` and ``TextClassifier.save`` may
write, checked before any work; one writer per folder; bundles readable by other users."""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from rnnkit import TextClassifier
from rnnkit.errors import OutputError
from rnnkit.files import FolderLock
from tests.conftest import TINY, make_texts, write_csv
from tests.robust.cli_batch import run_many
from tests.robust.small_disk import unavailable
from tests.test_cli import TINY_OPTIONS, assert_user_error, rnnkit


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` (relative path -> SHA-256 of its bytes)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("outputs") / "train.csv", 120)


def train(
    data: Path, out: str | Path, *extra: str, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return rnnkit(
        "train", str(data), "--out", str(out), *TINY_OPTIONS, "--epochs", "1", *extra, cwd=cwd
    )


def test_a_folder_that_is_not_a_model_is_refused_before_training_and_kept(
    data: Path, tmp_path: Path
) -> None:
    # The reproduction: the thesis and the training data inside --out.
    folder = tmp_path / "d"
    folder.mkdir()
    (folder / "thesis.txt").write_text("x\n")
    shutil.copy(data, folder / "data.csv")
    before = snapshot(folder)
    started = time.monotonic()
    result = train(folder / "data.csv", folder)
    assert_user_error(result, f"--out {folder}: holds the input {folder / 'data.csv'}")
    assert time.monotonic() - started < 60  # before training: no "epoch" line
    assert "epoch 1" not in result.stderr
    assert snapshot(folder) == before
    # Without the data inside, the other files still stop it.
    (folder / "data.csv").unlink()
    before = snapshot(folder)
    assert_user_error(
        train(data, folder),
        f"--out {folder}: exists and holds files that rnnkit did not write (thesis.txt)",
    )
    assert snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d"]  # no lock or staging left


def test_a_model_folder_and_an_empty_folder_may_be_replaced(data: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["train", str(data), *TINY_OPTIONS, "--epochs", "1", "--out", str(empty)]
    (first_run,) = run_many(argv)
    assert first_run.returncode == 0, first_run.stderr
    first = snapshot(empty)
    assert {"config.json", "model.safetensors", "metrics.json"} <= set(first)
    (second_run,) = run_many([*argv, "--seed", "1"])
    assert second_run.returncode == 0, second_run.stderr
    second = snapshot(empty)
    assert second["model.safetensors"] != first["model.safetensors"]
    # A user's file put into a model folder makes it not only rnnkit's any more.
    (empty / "notes.txt").write_text("mine\n")
    (refused,) = run_many(argv)
    assert_user_error(refused, "holds files that rnnkit did not write (notes.txt)")
    assert (empty / "notes.txt").read_text() == "mine\n"


def test_bad_output_places_fail_within_seconds_with_one_line(data: Path, tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("keep\n")
    cases = [
        (afile, f"--out {afile}: is a file, not a folder"),
        (
            afile / "model",
            f"--out {afile / 'model'}: {afile} is a file, so nothing can be created inside",
        ),
        (Path("."), "--out .: is the current folder or holds it"),
        (Path(".."), "--out ..: is the current folder or holds it"),
    ]
    started = time.monotonic()
    argv = ["train", str(data), *TINY_OPTIONS, "--out"]
    results = run_many(*([*argv, str(out)] for out, _ in cases), cwd=tmp_path)
    assert time.monotonic() - started < 60  # all of them: each fails before reading the data
    for (_, message), result in zip(cases, results, strict=True):
        assert_user_error(result, message)
        assert "epoch 1" not in result.stderr
    assert afile.read_text() == "keep\n"
    # A parent that does not exist is created, as mkdir -p would.
    deep = tmp_path / "new" / "deeper" / "model"
    assert train(data, deep).returncode == 0
    assert (deep / "config.json").is_file()


@pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
def test_a_read_only_place_fails_before_training(data: Path, tmp_path: Path) -> None:
    from tests.robust.small_disk import run_steps

    mount = tmp_path / "ro"
    argv = [sys.executable, "-m", "rnnkit", "train", str(data), *TINY_OPTIONS, "--epochs", "1"]
    answers = run_steps(
        mount,
        [
            {"run": ["mount", "-o", "remount,ro", str(mount)]},
            {"run": [*argv, "--out", str(mount / "model")]},
            {"run": [*argv, "--out", str(mount / "a" / "b")]},
        ],
        copy_to=tmp_path / "copy",
    )
    assert answers[0]["returncode"] == 0, answers[0]
    for answer, out in zip(answers[1:], ("model", "a/b"), strict=True):
        assert answer["returncode"] == 2, answer
        assert answer["stderr"].strip().splitlines()[-1] == (
            f"rnnkit: error: --out {mount / out}: cannot write in {mount} (read-only file system)"
        )
        assert "epoch 1" not in answer["stderr"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a folder of mode 0555")
def test_a_folder_without_write_permission_fails_before_training(
    data: Path, tmp_path: Path
) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o555)
    assert_user_error(train(data, locked / "m"), "cannot write in")


def test_save_refuses_a_file_and_a_foreign_folder(tmp_path: Path) -> None:
    clf = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60))
    afile = tmp_path / "model"
    afile.write_text("an existing file\n")
    with pytest.raises(OutputError, match="is a file, not a folder"):
        clf.save(afile)
    assert afile.read_text() == "an existing file\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing hidden beside it
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"\xff\xd8")
    with pytest.raises(OutputError, match=r"holds files that rnnkit did not write \(cat.jpg\)"):
        clf.save(foreign)
    assert snapshot(foreign) == {"cat.jpg": hashlib.sha256(b"\xff\xd8").hexdigest()}
    (tmp_path / "config.json").mkdir()
    other = tmp_path / "project"
    other.mkdir()
    (other / "config.json").write_text('{"name": "my web app"}')
    with pytest.raises(OutputError, match=r"config.json \(not an rnnkit model's\)"):
        clf.save(other)
    clf.save(tmp_path / "fresh")
    clf.save(tmp_path / "fresh")  # a model folder is replaced


def test_bundles_get_the_users_usual_permissions(data: Path, tmp_path: Path) -> None:
    for mask in (0o022, 0o002):
        out = tmp_path / f"m{mask:o}"
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "rnnkit",
                "train",
                str(data),
                "--out",
                str(out),
                *TINY_OPTIONS,
                "--epochs",
                "1",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
            preexec_fn=lambda mask=mask: os.umask(mask),  # type: ignore[misc]
        )
        assert result.returncode == 0, result.stderr
        paths = [out, *out.rglob("*")]
        assert {p.name for p in paths} >= {"checkpoints", "last", "best", "model.safetensors"}
        for path in paths:
            expected = (0o777 if path.is_dir() else 0o666) & ~mask
            assert stat.S_IMODE(path.stat().st_mode) == expected, (path, oct(path.stat().st_mode))


def test_a_second_writer_of_the_same_folder_is_refused(data: Path, tmp_path: Path) -> None:
    big = write_csv(tmp_path / "big.csv", 3000)
    out = tmp_path / "model"
    log = tmp_path / "log"
    with open(log, "wb") as stream:
        first = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rnnkit",
                "train",
                str(big),
                "--out",
                str(out),
                *TINY_OPTIONS,
                "--epochs",
                "20",
                "--checkpoint-every",
                "5",
            ],
            stdout=stream,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONWARNINGS": "ignore"},
        )
    try:
        deadline = time.monotonic() + 120
        while not (out / "checkpoints" / "last" / "checkpoint.json").is_file():
            assert first.poll() is None, log.read_text()
            assert time.monotonic() < deadline
            time.sleep(0.2)
        busy = f"another rnnkit process (PID {first.pid}) is writing to it"
        link = tmp_path / "other-name"
        link.symlink_to(tmp_path)
        same, resumed, parallel, through_link = run_many(
            ["train", str(data), *TINY_OPTIONS, "--out", str(out)],
            ["train", "--resume", str(out)],
            ["train", str(data), *TINY_OPTIONS, "--out", str(out), "--nproc", "2"],
            ["train", str(data), *TINY_OPTIONS, "--out", str(link / "model")],
        )
        assert_user_error(same, f"--out {out}: {busy}")
        assert_user_error(resumed, f"--resume {out}: {busy}")  # not "no checkpoint here"
        assert_user_error(parallel, f"--out {out}: {busy}")  # before torchrun starts
        assert_user_error(through_link, f"--out {link / 'model'}: {busy}")  # one folder, one lock
        with pytest.raises(OutputError, match=f"PID {first.pid}"), FolderLock(out):
            pass
    finally:
        first.kill()
        first.wait()
    # Killed with SIGKILL, the first run holds nothing any more: its --resume may go on.
    with FolderLock(out):
        pass
    assert not (tmp_path / ".model.lock").exists()


def test_the_lock_is_reentrant_in_one_process_and_leaves_no_file(tmp_path: Path) -> None:
    out = tmp_path / "m"
    with FolderLock(out), FolderLock(out):
        assert (tmp_path / ".m.lock").read_text() == str(os.getpid())
    assert not (tmp_path / ".m.lock").exists()


def test_links_mount_points_and_lookalike_files_are_refused(data: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    link = tmp_path / "link"
    link.symlink_to(real)
    dangling = tmp_path / "dangling"
    dangling.symlink_to(tmp_path / "nowhere")
    mine = tmp_path / "mine"  # the user's files under names a model folder also uses
    mine.mkdir()
    (mine / "model.onnx").write_text("my own graph\n")
    (mine / "metrics.json").write_text('{"mine": 1}\n')
    notes = tmp_path / "notes"
    (notes / "checkpoints").mkdir(parents=True)
    (notes / "checkpoints" / "todo.txt").write_text("mine\n")
    before = {folder: snapshot(folder) for folder in (real, mine, notes)}
    argv = ["train", str(data), *TINY_OPTIONS, "--out"]
    results = run_many(*([*argv, str(p)] for p in (link, dangling, mine, notes)))
    assert_user_error(results[0], f"--out {link}: is a symbolic link (to {real}); give the folder")
    assert_user_error(results[1], f"--out {dangling}: is a symbolic link")
    assert_user_error(
        results[2], "holds files that rnnkit did not write (metrics.json, model.onnx)"
    )
    assert_user_error(
        results[3], "holds files that rnnkit did not write (checkpoints (not rnnkit's))"
    )
    assert {folder: snapshot(folder) for folder in before} == before
    assert link.is_symlink()


@pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))
def test_a_mount_point_is_refused_before_training(data: Path, tmp_path: Path) -> None:
    from tests.robust.small_disk import run_steps

    mount = tmp_path / "volume"
    argv = [sys.executable, "-m", "rnnkit", "train", str(data), *TINY_OPTIONS, "--out"]
    answers = run_steps(
        mount,
        [{"run": [*argv, str(mount)]}, {"run": [*argv, str(mount / "m")]}, {"copy": "after"}],
        copy_to=tmp_path,
    )
    assert answers[0]["returncode"] == 2
    assert answers[0]["stderr"].strip().splitlines()[-1] == (
        f"rnnkit: error: --out {mount}: is a mount point, which cannot be replaced by renaming; "
        f"give a folder inside it, such as {mount}/model"
    )
    assert answers[1]["returncode"] == 0, answers[1]["stderr"]  # inside it is fine
    assert (tmp_path / "after" / "m" / "model.safetensors").is_file()


def test_a_failed_swap_puts_the_checkpoints_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import rnnkit.files

    clf = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60))
    path = clf.save(tmp_path / "model")
    last = path / "checkpoints" / "last"
    last.mkdir(parents=True)
    (last / "checkpoint.json").write_text('{"format": "rnnkit-checkpoint"}')
    before = snapshot(path)
    rename = os.rename

    def failing(source: object, target: object) -> None:
        if ".model.old-" in str(target):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        rename(source, target)  # type: ignore[arg-type]

    monkeypatch.setattr(rnnkit.files.os, "rename", failing)
    with pytest.raises(OutputError, match=r"the previous .* is intact"):
        clf.save(path)
    assert snapshot(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]


def test_files_that_appear_during_a_run_are_kept_by_its_final_save(tmp_path: Path) -> None:
    clf = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60))
    path = clf.save(tmp_path / "model")
    (path / ".DS_Store").write_bytes(b"finder")
    (path / "notes.txt").write_text("written while it trained\n")
    with pytest.raises(OutputError, match="did not write"):
        clf.save(path)
    clf.save(path, keep_others=True)
    assert (path / "notes.txt").read_text() == "written while it trained\n"
    assert (path / ".DS_Store").read_bytes() == b"finder"
    TextClassifier.load(path)


def test_export_replaces_only_an_earlier_export(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60)).save(tmp_path / "m")
    data = tmp_path / "data.csv"
    data.write_text("text,label\n")
    before = snapshot(model)
    first, again, weights, csv = run_many(
        ["export", str(model)],
        ["export", str(model)],
        ["export", str(model), "--out", str(model / "model.safetensors")],
        ["export", str(model), "--out", str(data)],
    )
    assert first.returncode == 0, first.stderr
    assert again.returncode == 0, again.stderr
    assert_user_error(weights, "model.safetensors: exists and is not an ONNX model; give a new")
    assert_user_error(csv, "data.csv: exists and is not an ONNX model")
    assert data.read_text() == "text,label\n"
    after = snapshot(model)
    assert {k: v for k, v in after.items() if k != "model.onnx"} == before


def test_config_files_cannot_start_processes_or_resume(tmp_path: Path, data: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"nproc": 2}')
    resume = tmp_path / "r.json"
    resume.write_text('{"resume": "somewhere"}')
    argv = ["train", str(data), "--out", str(tmp_path / "m")]
    nproc, resumed, zero = run_many(
        [*argv, "--config", str(config)], [*argv, "--config", str(resume)], [*argv, "--nproc", "0"]
    )
    assert_user_error(nproc, f"--config {config}: 'nproc' is not an option of this command")
    assert_user_error(resumed, f"--config {resume}: 'resume' is not an option of this command")
    assert_user_error(zero, "--nproc must be at least 1, got 0")


def test_save_messages_name_the_path_first(tmp_path: Path) -> None:
    clf = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60))
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError) as caught:
        clf.save(tmp_path / "f")
    assert str(caught.value).startswith(f"{tmp_path / 'f'}: is a file")
