"""A full disk while writing a bundle, a checkpoint, the token cache or an ONNX file: one line
naming the path, and what was saved before stays intact. The disk is a real tmpfs filled to
the last bytes (``tests/robust/small_disk.py``)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from rnnkit import TextClassifier
from rnnkit.train.checkpoint import verify_checkpoint
from tests.conftest import TINY, make_texts, write_csv
from tests.robust.small_disk import run_steps, unavailable
from tests.robust.test_output_safety import snapshot
from tests.test_cli import TINY_OPTIONS

pytestmark = pytest.mark.skipif(unavailable() is not None, reason=str(unavailable()))

RNNKIT = [sys.executable, "-m", "rnnkit"]


def last_line(answer: dict[str, object]) -> str:
    stderr = str(answer["stderr"])
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("disk") / "train.csv", 120)


def test_a_checkpoint_on_a_full_disk_stops_training_and_keeps_the_model(
    data: Path, tmp_path: Path
) -> None:
    mount = tmp_path / "disk"
    out = mount / "model"
    train = [*RNNKIT, "train", str(data), "--out", str(out), *TINY_OPTIONS, "--epochs", "2"]
    answers = run_steps(
        mount,
        [
            {"run": train},
            {"copy": "before"},
            {"fill": 2048},
            {"run": [*train, "--seed", "1"]},
            {"copy": "after"},
        ],
        copy_to=tmp_path,
    )
    assert answers[0]["returncode"] == 0, answers[0]["stderr"]
    assert answers[3]["returncode"] == 2
    assert last_line(answers[3]) == (
        f"rnnkit: error: {out / 'checkpoints' / 'last'}: cannot write the checkpoint (no space "
        "left on the device); the previous checkpoint there is intact"
    )
    before, after = snapshot(tmp_path / "before"), snapshot(tmp_path / "after")
    assert after == before  # the model and both checkpoints as the first run left them
    verify_checkpoint(tmp_path / "after" / "model" / "checkpoints" / "last")


def test_a_bundle_saved_to_a_full_disk_leaves_the_previous_one(tmp_path: Path) -> None:
    mount = tmp_path / "disk"
    out = mount / "model"
    texts = tmp_path / "texts.py"
    script = (
        "import sys\n"
        "from rnnkit import TextClassifier\n"
        "from rnnkit.errors import OutputError\n"
        "from tests.conftest import TINY, make_texts\n"
        "clf = TextClassifier(**{**TINY, 'seed': int(sys.argv[2])}, valid_split=0)\n"
        "clf.fit(*make_texts(60))\n"
        "try:\n"
        "    clf.save(sys.argv[1])\n"
        "except OutputError as error:\n"
        "    print(error, file=sys.stderr)\n"
        "    sys.exit(2)\n"
    )
    texts.write_text(script)
    save = [sys.executable, str(texts), str(out)]
    answers = run_steps(
        mount,
        [
            {"run": [*save, "0"], "env": {"PYTHONPATH": str(Path(__file__).parents[2])}},
            {"copy": "before"},
            {"fill": 1024},
            {"run": [*save, "1"], "env": {"PYTHONPATH": str(Path(__file__).parents[2])}},
            {"copy": "after"},
        ],
        copy_to=tmp_path,
    )
    assert answers[0]["returncode"] == 0, answers[0]["stderr"]
    assert answers[3]["returncode"] == 2, answers[3]["stderr"]
    assert last_line(answers[3]) == (
        f"{out}: cannot write the model bundle (no space left on the device); the previous "
        f"{out} is intact"
    )
    assert snapshot(tmp_path / "after") == snapshot(tmp_path / "before")
    assert [p.name for p in (tmp_path / "after").iterdir()] == ["model"]  # no staging left
    TextClassifier.load(tmp_path / "after" / "model")


def test_onnx_export_to_a_full_disk_names_the_file(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    model = tmp_path / "model"
    TextClassifier(**TINY, valid_split=0).fit(*make_texts(60)).save(model)
    mount = tmp_path / "disk"
    target = mount / "model.onnx"
    answers = run_steps(
        mount,
        [
            {"fill": 1024},
            {"run": [*RNNKIT, "export", str(model), "--out", str(target)]},
            {"copy": "after"},
        ],
        copy_to=tmp_path,
    )
    assert answers[1]["returncode"] == 2
    assert last_line(answers[1]) == (
        f"rnnkit: error: {target}: cannot write the ONNX model (no space left on the device); "
        "nothing was written"
    )
    assert list((tmp_path / "after").iterdir()) == []


def test_a_full_token_cache_is_a_warning_and_training_goes_on(data: Path, tmp_path: Path) -> None:
    mount = tmp_path / "cache"
    out = tmp_path / "model"
    answers = run_steps(
        mount,
        [
            {"fill": 512},
            {
                "run": [*RNNKIT, "train", str(data), "--out", str(out), *TINY_OPTIONS],
                "env": {"RNNKIT_CACHE_DIR": str(mount)},
            },
            {"copy": "after"},
        ],
        copy_to=tmp_path,
    )
    assert answers[1]["returncode"] == 0, answers[1]["stderr"]
    warning = [line for line in answers[1]["stderr"].splitlines() if "token cache" in line]
    assert len(warning) == 1, answers[1]["stderr"]
    assert warning[0].startswith(f"rnnkit: could not write the token cache file {mount}")
    assert warning[0].endswith("(no space left on the device); going on without it")
    assert (out / "model.safetensors").is_file()
    assert not [p for p in (tmp_path / "after").rglob("*") if p.is_file()]  # no partial file
