"""Every command of the rnnkit command line, run as a real subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import TINY, make_texts, write_csv

TINY_OPTIONS = [
    "--embed-dim",
    str(TINY["embed_dim"]),
    "--hidden",
    str(TINY["hidden"]),
    "--epochs",
    str(TINY["epochs"]),
    "--batch-size",
    str(TINY["batch_size"]),
    "--lr",
    str(TINY["lr"]),
]


def rnnkit(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rnnkit", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )


def assert_user_error(result: subprocess.CompletedProcess[str], message: str) -> None:
    """Status 2, one line on stderr, no traceback."""
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[-1].startswith("rnnkit: error: "), result.stderr
    assert "Traceback" not in result.stderr
    assert message in lines[-1], lines[-1]


@pytest.fixture(scope="module")
def trained(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, subprocess.CompletedProcess[str]]:
    folder = tmp_path_factory.mktemp("cli")
    train, test = write_csv(folder / "train.csv", 400), write_csv(folder / "test.csv", 100, seed=1)
    result = rnnkit(
        "train",
        str(train),
        "--test",
        str(test),
        "--out",
        str(folder / "model"),
        "--json",
        *TINY_OPTIONS,
    )
    return folder, folder / "model", result


def test_help_explains_every_command() -> None:
    result = rnnkit("--help")
    assert result.returncode == 0
    for command in ("train", "evaluate", "predict", "datasets"):
        assert command in result.stdout
    train_help = rnnkit("train", "--help").stdout
    for option in (
        "--valid-split",
        "--text-col",
        "--encoding",
        "--skip-bad-rows",
        "--cell",
        "--no-bidirectional",
        "--pooling",
        "--vectors",
        "--max-len",
        "--threads",
        "--json",
        "--quiet",
    ):
        assert option in train_help
    assert "truncate texts to their first N tokens (default: 400)" in " ".join(train_help.split())


def test_train_writes_a_bundle_and_prints_metrics_json_last(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    _, model, result = trained
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout.strip().splitlines()[-1])
    assert metrics == json.loads((model / "metrics.json").read_text())
    assert set(metrics) >= {
        "valid",
        "test",
        "train_seconds",
        "train_tokens_per_second",
        "epochs_run",
    }
    assert metrics["test"]["accuracy"] > 0.9
    assert "reading as csv (the file name ends in .csv)" in result.stderr
    assert "epoch 1:" in result.stderr  # the library's log lines, printed by the CLI


def test_entry_point_script_is_installed() -> None:
    script = shutil.which("rnnkit", path=str(Path(sys.executable).parent))
    assert script is not None
    result = subprocess.run([script, "--version"], capture_output=True, text=True, check=False)
    assert result.stdout.startswith("rnnkit ")


def test_evaluate_prints_a_report_and_json(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
) -> None:
    folder, model, _ = trained
    result = rnnkit("evaluate", str(model), str(folder / "test.csv"))
    assert result.returncode == 0, result.stderr
    assert "100 texts, accuracy" in result.stdout
    assert "confusion matrix" in result.stdout
    report = json.loads(rnnkit("evaluate", str(model), str(folder / "test.csv"), "--json").stdout)
    assert report["accuracy"] > 0.9
    assert sum(map(sum, report["confusion"])) == 100
    assert set(report["per_class"]) == {"neg", "pos"}


def test_evaluate_draws_the_confusion_matrix(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    pytest.importorskip("matplotlib", reason="the plot extra is not installed")
    folder, model, _ = trained
    png = tmp_path / "confusion.png"
    result = rnnkit("evaluate", str(model), str(folder / "test.csv"), "--confusion-png", str(png))
    assert result.returncode == 0, result.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_reports_unknown_labels_by_name(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    _, model, _ = trained
    data = tmp_path / "other.csv"
    data.write_text("text,label\ngood film,pos\nso so,meh\n")
    assert_user_error(
        rnnkit("evaluate", str(model), str(data)),
        "labels the model was not trained on: 'meh' (1 rows)",
    )


def test_predict_from_arguments_file_and_stdin(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    _, model, _ = trained
    result = rnnkit("predict", str(model), "a good good film", "an awful dull film")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert [row["label"] for row in rows] == ["pos", "neg"]
    assert set(rows[0]["probs"]) == {"neg", "pos"}
    assert rows[0]["score"] == max(rows[0]["probs"].values())

    lines = tmp_path / "lines.txt"
    lines.write_text("a great film\n\nit was dull\n")
    rows = [
        json.loads(line)
        for line in rnnkit(
            "predict", str(model), "--input", str(lines), "--top-k", "1"
        ).stdout.splitlines()
    ]
    assert rows[1] == {"error": "empty text"}
    assert [rows[0]["label"], rows[2]["label"]] == ["pos", "neg"]
    assert len(rows[0]["probs"]) == 1

    piped = rnnkit("predict", str(model), stdin="superb acting\npoor plot\n")
    assert [json.loads(line)["label"] for line in piped.stdout.splitlines()] == ["pos", "neg"]


def test_datasets_lists_sources_sizes_and_checksums() -> None:
    result = rnnkit("datasets")
    assert result.returncode == 0
    for name in ("imdb", "sst2", "sst5", "trec", "mr", "ag_news"):
        assert f"{name}: " in result.stdout
    assert "md5:7c2ac02c03563afcf9b574c7e56c153a" in result.stdout
    listing = json.loads(rnnkit("datasets", "--json").stdout)
    assert listing["ag_news"]["classes"] == ["World", "Sports", "Business", "Sci/Tech"]
    assert listing["sst2"]["sizes"] == {"train": 6920, "valid": 872, "test": 1821}


def test_train_on_a_named_dataset_from_a_data_folder(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "sst2"
    folder.mkdir(parents=True)
    for split, n, seed in (("train", 300, 0), ("dev", 40, 1), ("test", 60, 2)):
        texts, labels = make_texts(n, seed)
        rows = [f"{int(label == 'pos')} {text}" for text, label in zip(texts, labels, strict=True)]
        (folder / f"stsa.binary.{split}").write_text("\n".join(rows) + "\n")
    result = rnnkit(
        "train",
        "sst2",
        "--data-dir",
        str(tmp_path / "data"),
        "--out",
        str(tmp_path / "m"),
        "--json",
        "--quiet",
        *TINY_OPTIONS,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""  # --quiet: no progress, no log lines
    metrics = json.loads(result.stdout.splitlines()[-1])
    assert metrics["test"]["accuracy"] > 0.8
    labels = json.loads((tmp_path / "m" / "config.json").read_text())["labels"]
    assert labels == ["negative", "positive"]


def test_user_errors_exit_2_with_one_line(
    trained: tuple[Path, Path, subprocess.CompletedProcess[str]],
    tmp_path: Path,
) -> None:
    folder, _, _ = trained
    out = str(tmp_path / "m")
    assert_user_error(
        rnnkit("train", str(tmp_path / "missing.csv"), "--out", out),
        "missing.csv: no such file or folder, and not a dataset name",
    )
    bad = tmp_path / "bad.csv"
    bad.write_text("text,label\ngood,pos\nno label here,\n")
    assert_user_error(
        rnnkit("train", str(bad), "--out", out),
        "bad.csv, line 3: missing label; fix it, or pass --skip-bad-rows",
    )
    latin = tmp_path / "latin.csv"
    latin.write_bytes("text,label\ncaf\u00e9,pos\n".encode("latin-1"))
    assert_user_error(
        rnnkit("train", str(latin), "--out", out), "line 2: byte 0xe9 cannot be decoded as utf-8"
    )
    assert_user_error(
        rnnkit("train", str(folder / "train.csv"), "--out", out, "--dropout", "2"),
        "--dropout must be in [0, 1), got 2.0",
    )
    assert_user_error(rnnkit("predict", str(tmp_path / "nomodel"), "hi"), "no such model folder")
    assert not Path(out).exists()  # nothing half-written
    assert_user_error(
        rnnkit("train", str(folder / "train.csv")),
        "DATA and --out are required (or --resume DIR to continue a run)",
    )


def test_skip_bad_rows_reports_how_many(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 200)
    with data.open("a") as stream:
        stream.write("broken row without label,\n,pos\n")
    result = rnnkit(
        "train",
        str(data),
        "--skip-bad-rows",
        "--out",
        str(tmp_path / "m"),
        "--epochs",
        "1",
        "--hidden",
        "8",
        "--embed-dim",
        "8",
    )
    assert result.returncode == 0, result.stderr
    assert "skipped 2 bad rows" in result.stderr


def test_max_steps_precision_and_time_to_first_step(tmp_path: Path) -> None:
    from rnnkit.train.precision import bf16_supported

    data = write_csv(tmp_path / "d.csv", 200)
    precision = "bf16" if bf16_supported() else "fp32"
    result = rnnkit(
        "train",
        str(data),
        "--out",
        str(tmp_path / "m"),
        "--max-steps",
        "3",
        "--precision",
        precision,
        "--json",
        "--quiet",
        "--threads",
        "1",
    )
    assert result.returncode == 0, result.stderr
    metrics = json.loads(result.stdout.splitlines()[-1])
    assert metrics["epochs_run"] == 1
    assert 0 < metrics["seconds_to_first_step"] < metrics["train_seconds"] + 60
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["training"]["precision"] == precision
    assert config["training"]["max_steps"] == 3
    predicted = rnnkit("predict", str(tmp_path / "m"), "--precision", "fp32", "good film")
    assert predicted.returncode == 0, predicted.stderr


def test_config_file_options_are_defaults_the_command_line_overrides(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 120)
    config = tmp_path / "recipe.json"
    config.write_text(
        json.dumps(
            {
                "hidden": 12,
                "--embed-dim": 10,
                "pooling": ["last", "attention"],
                "locked-dropout": True,
                "weight_dropout": 0.25,
                "embed_dropout": 0.1,
                "layers": 2,
                "epochs": 1,
                "batch_size": 16,
            }
        )
    )
    result = rnnkit(
        "train", str(data), "--config", str(config), "--hidden", "6", "--out", str(tmp_path / "m")
    )
    assert result.returncode == 0, result.stderr
    model = json.loads((tmp_path / "m" / "config.json").read_text())["model"]
    assert model["hidden_size"] == 6  # the command line wins
    assert model["embed_dim"] == 10
    assert model["num_layers"] == 2
    assert model["pooling"] == ["last", "attention"]
    assert model["locked_dropout"] is True
    assert model["weight_dropout"] == 0.25
    assert model["embed_dropout"] == 0.1


def test_config_file_errors_name_the_file_and_the_key(tmp_path: Path) -> None:
    data, out = str(write_csv(tmp_path / "d.csv", 40)), str(tmp_path / "m")
    config = tmp_path / "c.json"
    for text, message in (
        ('{"hiden": 8}', "'hiden' is not an option of this command; did you mean --hidden?"),
        ('{"hidden": "big"}', "'hidden' must be an integer, got 'big'"),
        ('{"cell": "lstmm"}', "'cell' must be one of lstm, gru, rnn, bag, got 'lstmm'"),
        ('{"locked_dropout": 1}', "'locked_dropout' must be true or false, got 1"),
        ('{"lr": 0.01,}', "line 1, column 13: not valid JSON"),
        ("[1, 2]", "expected a JSON object of options"),
    ):
        config.write_text(text)
        assert_user_error(rnnkit("train", data, "--config", str(config), "--out", out), message)
    assert_user_error(
        rnnkit("train", data, "--config", str(tmp_path / "none.json"), "--out", out),
        "none.json: no such file",
    )
    assert not Path(out).exists()


def test_lr_find_prints_the_curve_and_a_suggestion(tmp_path: Path) -> None:
    data = write_csv(tmp_path / "d.csv", 200)
    result = rnnkit(
        "lr-find",
        str(data),
        "--steps",
        "30",
        "--hidden",
        "8",
        "--embed-dim",
        "8",
        "--batch-size",
        "16",
        "--plot",
        str(tmp_path / "lr.png"),
        "--json",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("learning rate   loss     smoothed")
    assert "suggested --lr" in result.stdout
    curve = json.loads(result.stdout.splitlines()[-1])
    assert curve["lr"][0] == pytest.approx(1e-5)
    assert len(curve["loss"]) <= 30
    assert curve["suggested_lr"] > 1e-5
    assert (tmp_path / "lr.png").stat().st_size > 0
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    "recipe",
    sorted((Path(__file__).resolve().parent.parent / "recipes").glob("*.json")),
    ids=lambda p: p.stem,
)
def test_every_recipe_is_a_valid_train_config(recipe: Path) -> None:
    from rnnkit.cli import build_parser

    parser = build_parser()
    args = parser.parse_args(["train", "sst2", "--out", "m", "--config", str(recipe)])
    args.configure(args.config)  # checks every key and value against the train options
    configured = parser.parse_args(["train", "sst2", "--out", "m", "--config", str(recipe)])
    for key, value in json.loads(recipe.read_text()).items():
        expected = ",".join(value) if isinstance(value, list) else value
        assert getattr(configured, key) == expected, key
