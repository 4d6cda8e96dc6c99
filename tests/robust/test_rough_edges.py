"""What a newcomer noticed: quiet that is quiet, logs without carriage returns, a test set that
can be skipped, image names as given, help without doubled defaults, the demo's folder named."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rnnkit.train import progress, trainer
from rnnkit.train.config import TrainConfig
from tests.conftest import TINY, make_texts, write_csv
from tests.robust.cli_batch import run_many
from tests.test_cli import TINY_OPTIONS, assert_user_error, rnnkit

README = Path(__file__).parents[2] / "README.md"


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("edges") / "train.csv", 200)


def test_the_format_note_is_printed_once_and_not_under_quiet(data: Path, tmp_path: Path) -> None:
    note = "reading as csv (the file name ends in .csv)"
    train = ["train", str(data), *TINY_OPTIONS, "--epochs", "1", "--out"]
    fresh, cached, quiet = run_many(
        [*train, str(tmp_path / "fresh")],
        [*train, str(tmp_path / "cached")],
        [*train, str(tmp_path / "quiet"), "--quiet"],
    )
    for result in (fresh, cached):
        assert result.returncode == 0, result.stderr
        assert result.stderr.count(note) == 1, result.stderr
    assert quiet.returncode == 0
    assert quiet.stderr == ""


def test_without_a_terminal_progress_is_lines_not_carriage_returns(
    data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    result = rnnkit("train", str(data), "--out", str(tmp_path / "m"), *TINY_OPTIONS)
    assert result.returncode == 0
    assert "\r" not in result.stderr  # stderr is a pipe here: no progress bar updates
    # A line every PROGRESS_LINE_SECONDS instead (0 here, so that every step logs one).
    from tests.train.test_trainer import Blobs

    monkeypatch.setattr(progress, "PROGRESS_LINE_SECONDS", 0.0)
    model = __import__("torch").nn.Linear(2, 2)
    with caplog.at_level(logging.INFO, logger="rnnkit"):
        trainer.Trainer(TrainConfig(epochs=1), progress=True).fit(model, Blobs())
    lines = [r.getMessage() for r in caplog.records if "batch" in r.getMessage()]
    assert lines[0].startswith("epoch 1/1: batch 1/8, loss ")
    assert lines[0].endswith(" tokens/s")
    assert len(lines) == 8


def test_no_test_skips_a_datasets_test_split_and_scoring_says_its_size(
    data: Path, tmp_path: Path
) -> None:
    test = write_csv(tmp_path / "test.csv", 50, seed=1)
    scored = rnnkit(
        "train",
        str(data),
        "--out",
        str(tmp_path / "a"),
        "--test",
        str(test),
        *TINY_OPTIONS,
        "--max-steps",
        "3",
    )
    assert scored.returncode == 0, scored.stderr
    assert "rnnkit: scoring the test set: 50 texts" in scored.stderr
    skipped = rnnkit(
        "train",
        str(data),
        "--out",
        str(tmp_path / "b"),
        "--no-test",
        *TINY_OPTIONS,
        "--max-steps",
        "3",
        "--json",
    )
    assert skipped.returncode == 0, skipped.stderr
    assert '"test": null' in skipped.stdout.splitlines()[-1]
    assert "scoring the test set" not in skipped.stderr


def test_confusion_png_writes_the_name_it_prints(data: Path, tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from rnnkit import TextClassifier

    model = TextClassifier(**TINY, valid_split=0).fit(*make_texts(60)).save(tmp_path / "m")
    names = (("conf", "conf.png"), ("plot.svg", "plot.svg"), ("c.png", "c.png"))
    evaluate = ["evaluate", str(model), str(data), "--confusion-png"]
    *results, folder = run_many(
        *([*evaluate, str(tmp_path / given)] for given, _ in names), [*evaluate, str(model)]
    )
    for (_, written), result in zip(names, results, strict=True):
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip().splitlines()[-1] == f"wrote {tmp_path / written}"
        assert (tmp_path / written).is_file()
    assert not (tmp_path / "conf").exists()
    assert_user_error(folder, f"--confusion-png {model}: is a folder; give a file name")


@pytest.mark.parametrize("classes", [2, 6])
def test_the_confusion_plot_title_fits_in_the_figure(classes: int) -> None:
    pytest.importorskip("matplotlib")
    from rnnkit.plotting import pyplot
    from rnnkit.tasks.classification.cli_model import confusion_figure

    labels = [f"class-{i}" for i in range(classes)]
    matrix = [[i * classes + j for j in range(classes)] for i in range(classes)]
    figure = confusion_figure(
        {"labels": labels, "confusion": matrix, "accuracy": 0.8234, "macro_f1": 0.8123}
    )
    renderer = figure.canvas.get_renderer()
    box, title = figure.bbox, figure.axes[0].title.get_window_extent(renderer)
    assert box.x0 <= title.x0, (box, title)
    assert title.x1 <= box.x1, (box, title)
    assert title.y1 <= box.y1, (box, title)
    pyplot("test").close(figure)


def test_help_shows_each_default_once() -> None:
    commands = ("train", "lr-find", "predict", "evaluate", "serve", "export", "demo", "lab")
    helps = run_many(*([command, "--help"] for command in commands))
    for command, result in zip(commands, helps, strict=True):
        assert result.returncode == 0, result.stderr
        text = " ".join(result.stdout.split())
        assert not re.search(r"\(default: [^)]*\) \(default:", text), (command, text)
    train = " ".join(helps[0].stdout.split())
    assert "--threads N CPU threads for torch (default: all cores)" in train
    assert "the validation and test sets are still scored in full, and --no-test skips" in train
    assert "rnnkit-demo in the current folder" in " ".join(helps[-2].stdout.split())


def test_demo_says_where_its_plots_go(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "rnnkit", "demo", "--quick"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    try:
        assert demo.stderr is not None
        first = demo.stderr.readline()
    finally:
        demo.kill()
        demo.communicate()
    assert first == f"rnnkit: the plots go to {tmp_path / 'rnnkit-demo'}\n"
    (tmp_path / "afile").write_text("x")
    assert_user_error(
        rnnkit("demo", "--quick", "--out", str(tmp_path / "afile")),
        f"{tmp_path / 'afile'} is a file, so nothing can be created inside it",
    )


def test_the_readme_says_how_to_put_rnnkit_on_the_path_before_using_it() -> None:
    text = README.read_text()
    activate = text.index("source .venv/bin/activate")
    blocks = re.findall(r"```bash\n(.*?)```", text, flags=re.DOTALL)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    bare = [line for line in commands if line.startswith("rnnkit ")]
    assert bare, "the README shows rnnkit commands"
    assert activate < text.index(bare[0])
    assert not [line for line in commands if line.startswith(".venv/bin/rnnkit")]
