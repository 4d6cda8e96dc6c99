"""``rnnkit demo``: measurements of the claims a course on recurrent networks makes.

1. Word order matters: on :func:`rnnkit.synthetic.negation` the order-blind ``bag`` model (mean of
   embeddings) cannot beat 0.5, while recurrent classifiers read "not" where it stands.
2. Plain RNNs forget over long spans: on the adding problem the simple RNN solves a short
   sequence but not a long one, while LSTM and GRU solve both; the gradient of the loss with
   respect to each step's hidden state shrinks by orders of magnitude across the sequence for
   the RNN and not for the LSTM.

Everything is generated and seeded; nothing is downloaded.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.plotting import pyplot, save_figure
from rnnkit.synthetic.lab import LabRun, hidden_gradient_norms, train_task
from rnnkit.synthetic.sequences import adding
from rnnkit.synthetic.text import negation
from rnnkit.tasks.classification.estimator import TextClassifier

log = logging.getLogger(__name__)

NEGATION_SOLVED = 0.95  # test accuracy


@dataclass(frozen=True)
class DemoConfig:
    """Sizes of the demo; ``quick()`` is the smaller run."""

    negation_train: int = 2000
    negation_test: int = 500
    negation_epochs: int = 12
    short: int = 10
    long: int = 100
    adding_train: int = 10_000
    adding_test: int = 1000
    adding_steps: int = 2500
    hidden: int = 64
    seed: int = 0
    device: str = "auto"  # where the models train (auto: a GPU when torch sees one)

    @classmethod
    def quick(cls, seed: int = 0, device: str = "auto") -> DemoConfig:
        return cls(
            negation_train=800,
            negation_test=200,
            negation_epochs=8,
            long=50,
            adding_train=4000,
            adding_test=500,
            adding_steps=1200,
            hidden=32,
            seed=seed,
            device=device,
        )


@dataclass
class DemoResult:
    runs: list[LabRun] = field(default_factory=list)
    gradient_norms: dict[str, list[float]] = field(default_factory=dict)  # model -> per step
    plots: list[str] = field(default_factory=list)

    def table(self) -> list[dict[str, Any]]:
        return [run.row() for run in self.runs]


def negation_runs(
    config: DemoConfig, cells: tuple[str, ...] = ("bag", "rnn", "lstm", "gru")
) -> list[LabRun]:
    """The bag baseline and the three recurrent cells on the negation task."""
    data = negation(config.negation_train, config.negation_test, seed=config.seed)
    runs = []
    for cell in cells:
        clf = TextClassifier(
            cell=cell,
            embed_dim=32,
            hidden=32,
            bidirectional=False,
            pooling="last",
            min_freq=1,
            epochs=config.negation_epochs,
            batch_size=32,
            valid_split=0,
            seed=config.seed,
            device=config.device,
        )
        start = time.perf_counter()
        clf.fit(data.train_texts, data.train_labels)
        seconds = time.perf_counter() - start
        accuracy = clf.score(data.test_texts, data.test_labels)
        steps_per_epoch = clf.history_.steps // max(1, len(clf.history_.epochs))
        curve = [
            ((i + 1) * steps_per_epoch, float(epoch["train_loss"]))
            for i, epoch in enumerate(clf.history_.epochs)
        ]
        solved = accuracy >= NEGATION_SOLVED
        runs.append(LabRun("negation", cell, "accuracy", accuracy, solved, seconds, curve))
        log.info("negation %s: test accuracy %.4f in %.1f s", cell, accuracy, seconds)
    return runs


def run_demo(config: DemoConfig, out: Path | None = None) -> DemoResult:
    """All runs, and the plots in ``out`` when given (needs matplotlib)."""
    result = DemoResult(runs=negation_runs(config))
    models = {}
    for length in (config.short, config.long):
        train = adding(config.adding_train, length, seed=config.seed)
        test = adding(config.adding_test, length, seed=config.seed + 1)
        for cell in ("rnn", "lstm", "gru"):
            run, model = train_task(
                train,
                test,
                cell=cell,
                hidden_size=config.hidden,
                steps=config.adding_steps,
                seed=config.seed,
                device=config.device,
            )
            result.runs.append(run)
            models[length, cell] = model
    probe = adding(64, config.long, seed=config.seed + 2)
    for cell in ("rnn", "lstm"):
        norms = hidden_gradient_norms(models[config.long, cell], probe)
        result.gradient_norms[cell] = [float(v) for v in norms]
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        result.plots = [
            str(plot_learning_curves(result.runs, out / "learning_curves.png")),
            str(plot_gradient_norms(result.gradient_norms, config.long, out / "gradients.png")),
        ]
    return result


def plot_learning_curves(runs: list[LabRun], path: Path) -> Path:
    """One panel per task: training loss against step for each model."""
    plt = pyplot("plots")
    tasks = list(dict.fromkeys(run.task for run in runs))
    figure, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.6), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        for run in (r for r in runs if r.task == task):
            steps, losses = zip(*run.curve, strict=True) if run.curve else ((), ())
            label = f"{run.model} ({'solved' if run.solved else 'not solved'})"
            axis.plot(steps, losses, label=label)
        axis.set_title(task)
        axis.set_xlabel("training step")
        axis.set_ylabel("training loss")
        axis.set_yscale("log")
        axis.legend(fontsize="small")
    figure.tight_layout()
    save_figure(figure, path)
    return path


def plot_gradient_norms(norms: dict[str, list[float]], length: int, path: Path) -> Path:
    """``||dL/dh_t||`` against ``t`` on a log scale: the vanishing-gradient picture."""
    plt = pyplot("plots")
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for cell, values in norms.items():
        axis.plot(np.arange(1, len(values) + 1), values, label=cell)
    axis.set_yscale("log")
    axis.set_xlabel("time step t")
    axis.set_ylabel("||dL / dh_t||")
    axis.set_title(f"gradient reaching each step, adding problem T = {length}")
    axis.legend()
    figure.tight_layout()
    save_figure(figure, path)
    return path


def gradient_ratios(result: DemoResult) -> dict[str, float]:
    """``||dL/dh_1|| / ||dL/dh_T||`` per model: how much gradient reaches the first step."""
    return {cell: norms[0] / norms[-1] for cell, norms in result.gradient_norms.items()}


def as_json(result: DemoResult) -> dict[str, Any]:
    return {
        "results": result.table(),
        "plots": result.plots,
        "gradient_first_over_last": gradient_ratios(result),
    }


__all__ = ["DemoConfig", "DemoResult", "as_json", "run_demo"]
