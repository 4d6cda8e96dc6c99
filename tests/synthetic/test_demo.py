"""The demo and the lab: small runs here; the full-size claims are `slow` tests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rnnkit.synthetic.demo import DemoConfig, as_json, run_demo
from tests.test_cli import rnnkit

TINY_DEMO = DemoConfig(
    negation_train=200,
    negation_test=100,
    negation_epochs=2,
    short=5,
    long=10,
    adding_train=200,
    adding_test=100,
    adding_steps=20,
    hidden=8,
)


def test_demo_runs_every_model_on_every_task_and_draws_two_plots(tmp_path: Path) -> None:
    result = run_demo(TINY_DEMO, tmp_path / "plots")
    table = as_json(result)["results"]
    assert [(row["task"], row["model"]) for row in table] == [
        ("negation", "bag"),
        ("negation", "rnn"),
        ("negation", "lstm"),
        ("negation", "gru"),
        *[(f"adding-{t}", m) for t in (5, 10) for m in ("rnn", "lstm", "gru")],
    ]
    assert next(r for r in table if r["model"] == "bag")["score"] == 0.5  # twins: exactly 0.5
    assert set(result.gradient_norms) == {"rnn", "lstm"}
    assert all(len(v) == 10 for v in result.gradient_norms.values())
    for plot in result.plots:
        assert Path(plot).read_bytes()[:4] == b"\x89PNG"
    assert len(result.plots) == 2


def test_lab_command_reports_one_run_as_json(tmp_path: Path) -> None:
    result = rnnkit(
        "lab", "adding", "--cell", "gru", "--length", "8", "--steps", "30",
        "--train-size", "200", "--test-size", "50", "--hidden", "8",
        "--plot", str(tmp_path), "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    row = report["results"][0]
    assert (row["task"], row["model"], row["metric"]) == ("adding-8", "gru", "mse")
    assert report["gradient_first_over_last"] > 0
    assert (tmp_path / "learning_curve.png").exists()
    assert "||dL/dh_1|| / ||dL/dh_T||" in result.stdout


def test_lab_errors_name_the_option() -> None:
    result = rnnkit("lab", "adding", "--length", "0")
    assert result.returncode == 2
    assert "--length must be at least 1, got 0" in result.stderr
    result = rnnkit("lab", "parity", "--cell", "tree", "--steps", "1")
    assert result.returncode == 2
    assert "unknown --cell 'tree'" in result.stderr


@pytest.mark.slow
def test_full_demo_shows_order_matters_and_gates_remember(tmp_path: Path) -> None:
    result = rnnkit("demo", "--out", str(tmp_path), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.splitlines()[-1])
    score = {(r["task"], r["model"]): r for r in report["results"]}
    assert score["negation", "bag"]["score"] < 0.6
    assert score["negation", "lstm"]["score"] > 0.95
    assert score["negation", "gru"]["score"] > 0.95
    assert score["adding-100", "lstm"]["solved"]
    assert score["adding-100", "gru"]["solved"]
    assert not score["adding-100", "rnn"]["solved"]
    assert sum(r["seconds"] for r in report["results"]) < 120
    ratios = report["gradient_first_over_last"]
    assert ratios["rnn"] < 1e-3  # orders of magnitude lost across 100 steps
    assert ratios["lstm"] > 1e-2
