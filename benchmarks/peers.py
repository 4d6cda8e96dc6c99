"""rnnkit against the tools people would otherwise use, on the same data in one run.

    pip install -e ".[bench]"
    python benchmarks/peers.py --data-dir ../shared/data [--datasets imdb,sst2,trec,sst5,mr]

For each dataset, each peer runs in its own process (so its peak memory is its own):

1. ``notebook``: the course notebook's approach rebuilt from its description: word tokenizer and
   vocabulary, embedding 64, ``torch.nn.LSTM`` hidden 32, the final hidden state into a linear
   layer, batches of 16 tokenized in the DataLoader's collate function,
   ``pack_padded_sequence(enforce_sorted=False)``, Adam at 1e-3, 5 epochs;
2. ``notebook-rnnkit-size``: the same pipeline at rnnkit's default size (embedding 128,
   bidirectional, hidden 128), so throughput compares at equal model;
3. ``rnnkit``: ``TextClassifier()`` with its defaults, ``fit(texts, labels)`` and ``predict``;
   ``rnnkit-recipe``: the same with ``TextClassifier.from_config("recipes/DATASET.json")``,
   where the repository has a recipe for the dataset;
4. ``fasttext``: fastText supervised, word bigrams, 25 epochs at rate 0.1, on the same word
   tokens, shuffled (fastText decays its rate along the file, so label-sorted data fails);
5. ``tfidf-lr``: scikit-learn's TF-IDF of word 1-2 grams with logistic regression.

Reported: test accuracy, training wall seconds (the whole training call: for rnnkit that
includes tokenizing, the vocabulary and validation after every epoch), training tokens per
second (word tokens processed in all epochs over the time of the training loop, which includes
batching and, for the notebook, tokenizing), prediction documents per second on the test set,
and peak memory (the process's maximum resident set). A peer whose training passes
``--budget-minutes`` stops at the step where it ran out and is scored as it is then. Writes
the ``peers`` section of RESULTS.md; with ``--update`` (and ``--peers`` / ``--datasets``) it
re-measures some rows and keeps the others, saying so in the section.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import (
    RESULTS,
    flops_per_token,
    interleaved_medians,
    machine_line,
    matmul_peak_gflops,
    write_section,
)

PEERS = ("notebook", "notebook-rnnkit-size", "rnnkit", "rnnkit-recipe", "fasttext", "tfidf-lr")
TARGET_SPEEDUP = 10.0
RECIPES = Path(__file__).resolve().parent.parent / "recipes"
# Test accuracy and training minutes a recipe must reach (issue 5), and how close the defaults
# must come to it, in points.
RECIPE_TARGETS = {
    "imdb": (0.910, 20),
    "sst2": (0.850, 5),
    "trec": (0.930, 5),
    "sst5": (0.450, 5),
    "mr": (0.800, 5),
}
DEFAULTS_WITHIN = 1.5


def load_texts(name: str, data_dir: str) -> dict[str, tuple[list[str], list[str]]]:
    """``{"train": (texts, labels), "test": ...}``, and ``"valid"`` where the dataset has its
    own validation split (SST-2, SST-5); the baselines do not use it."""
    from rnnkit.data.download import locate
    from rnnkit.data.registry import dataset_info

    parts = dataset_info(name).read(locate(name, data_dir))
    return {split: (data.texts, data.labels) for split, data in parts.items()}


def run_notebook(
    data: dict[str, Any], budget: float, *, embed: int, hidden: int, bidirectional: bool
) -> dict[str, Any]:
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence, pad_sequence

    from rnnkit.text import word_tokenize

    (texts, labels), (test_texts, test_labels) = data["train"], data["test"]
    counts = Counter(token for text in texts for token in word_tokenize(text))
    index = {token: i + 2 for i, token in enumerate(counts)}  # 0 padding, 1 unknown
    classes = {label: i for i, label in enumerate(sorted(set(labels)))}

    class Model(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = nn.Embedding(len(index) + 2, embed, padding_idx=0)
            self.lstm = nn.LSTM(embed, hidden, batch_first=True, bidirectional=bidirectional)
            self.directions = 2 if bidirectional else 1
            self.fc = nn.Linear(hidden * self.directions, len(classes))

        def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
            packed = pack_padded_sequence(
                self.embedding(x), lengths, batch_first=True, enforce_sorted=False
            )
            _, (h, _) = self.lstm(packed)
            return self.fc(torch.cat(list(h[-self.directions :]), dim=-1))  # type: ignore[no-any-return]

    def collate(batch: list[tuple[str, str]]) -> tuple[torch.Tensor, ...]:
        ids = [
            torch.tensor([index.get(t, 1) for t in word_tokenize(text)] or [1]) for text, _ in batch
        ]
        return (
            pad_sequence(ids, batch_first=True),
            torch.tensor([len(i) for i in ids]),
            torch.tensor([classes.get(label, 0) for _, label in batch]),
        )

    torch.manual_seed(0)
    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(
        list(zip(texts, labels, strict=True)), batch_size=16, shuffle=True, collate_fn=collate
    )
    start, tokens, steps, epochs = time.perf_counter(), 0, 0, 5
    for _ in range(epochs):
        for x, lengths, y in loader:
            loss = nn.functional.cross_entropy(model(x, lengths), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            tokens += int(lengths.sum())
            steps += 1
            if time.perf_counter() - start > budget:
                break
        else:
            continue
        break
    train_seconds = time.perf_counter() - start
    model.eval()
    start, correct = time.perf_counter(), 0
    test_loader = torch.utils.data.DataLoader(
        list(zip(test_texts, test_labels, strict=True)), batch_size=16, collate_fn=collate
    )
    with torch.no_grad():
        for x, lengths, y in test_loader:
            correct += int((model(x, lengths).argmax(1) == y).sum())
    predict_seconds = time.perf_counter() - start
    return {
        "accuracy": correct / len(test_texts),
        "train_seconds": train_seconds,
        "train_tokens": tokens,
        "predict_seconds": predict_seconds,
        "epochs": steps / len(loader),
    }


def run_rnnkit(data: dict[str, Any], budget: float, recipe: Path | None = None) -> dict[str, Any]:
    import numpy as np

    from rnnkit import TextClassifier

    (texts, labels), (test_texts, test_labels) = data["train"], data["test"]
    start = time.perf_counter()
    clf = TextClassifier.from_config(recipe) if recipe else TextClassifier()
    clf.fit(texts, labels)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = clf.predict(test_texts)
    predict_seconds = time.perf_counter() - start
    history = clf.history_
    return {
        "accuracy": float(np.mean(predicted == np.asarray(test_labels))),
        "train_seconds": train_seconds,
        "train_tokens": history.tokens,
        "loop_seconds": history.seconds,
        "predict_seconds": predict_seconds,
        "epochs": len(history.epochs),
    }


def run_fasttext(data: dict[str, Any], budget: float) -> dict[str, Any]:
    import fasttext

    from rnnkit.text import word_tokenize

    (texts, labels), (test_texts, test_labels) = data["train"], data["test"]
    # 25 epochs at fastText's default rate 0.1: 5 epochs underfit the small sets (SST-2 0.67
    # against 0.81 measured on this machine), and the published SST-2 / TREC figures need 25.
    epochs = 25
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "train.txt"
        start = time.perf_counter()
        tokenized = [" ".join(word_tokenize(t)) for t in texts]
        lines = [
            f"__label__{label.replace(' ', '_')} {text}\n"
            for text, label in zip(tokenized, labels, strict=True)
        ]
        # fastText's SGD decays its rate along the file: a file sorted by label (IMDB, MR)
        # ends on one class and scores near chance. Shuffled with a fixed seed.
        random.Random(0).shuffle(lines)
        path.write_text("".join(lines))
        model = fasttext.train_supervised(
            str(path), epoch=epochs, wordNgrams=2, verbose=0, thread=os.cpu_count() or 1
        )
        train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted, _ = model.predict([" ".join(word_tokenize(t)) for t in test_texts])
    predict_seconds = time.perf_counter() - start
    truth = [f"__label__{label.replace(' ', '_')}" for label in test_labels]
    correct = sum(p[0] == t for p, t in zip(predicted, truth, strict=True))
    tokens = sum(len(t.split()) for t in tokenized) * epochs
    return {
        "accuracy": correct / len(truth),
        "train_seconds": train_seconds,
        "train_tokens": tokens,
        "predict_seconds": predict_seconds,
        "epochs": epochs,
    }


def run_tfidf(data: dict[str, Any], budget: float) -> dict[str, Any]:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    from rnnkit.text import word_tokenize

    (texts, labels), (test_texts, test_labels) = data["train"], data["test"]
    start = time.perf_counter()
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True),
        LogisticRegression(C=4.0, max_iter=2000),
    )
    model.fit(texts, labels)
    train_seconds = time.perf_counter() - start
    start = time.perf_counter()
    predicted = model.predict(test_texts)
    predict_seconds = time.perf_counter() - start
    tokens = sum(len(word_tokenize(t)) for t in texts)
    return {
        "accuracy": float(np.mean(predicted == np.asarray(test_labels))),
        "train_seconds": train_seconds,
        "train_tokens": tokens,
        "predict_seconds": predict_seconds,
        "epochs": 1,
    }


def worker(peer: str, dataset: str, data_dir: str, budget: float) -> dict[str, Any]:
    data = load_texts(dataset, data_dir)
    if peer == "notebook":
        result = run_notebook(data, budget, embed=64, hidden=32, bidirectional=False)
    elif peer == "notebook-rnnkit-size":
        result = run_notebook(data, budget, embed=128, hidden=128, bidirectional=True)
    elif peer == "rnnkit":
        result = run_rnnkit(data, budget)
    elif peer == "rnnkit-recipe":
        result = run_rnnkit(data, budget, RECIPES / f"{dataset}.json")
    elif peer == "fasttext":
        result = run_fasttext(data, budget)
    else:
        result = run_tfidf(data, budget)
    result["test_texts"] = len(data["test"][0])
    return result


def measure(peer: str, dataset: str, data_dir: str, budget: float) -> dict[str, Any]:
    """Run one peer in a child process; add its peak memory (maximum resident set, MB)."""
    process = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--worker",
            peer,
            "--datasets",
            dataset,
            "--data-dir",
            data_dir,
            "--budget-minutes",
            str(budget / 60),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"peer {peer} on {dataset} failed with status {process.returncode}")
    result: dict[str, Any] = json.loads(output.splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def recipe_verdicts(dataset: str, results: dict[str, dict[str, Any]]) -> list[str]:
    """The accuracy targets of a dataset's recipe, and the defaults' distance from it."""
    if dataset not in RECIPE_TARGETS or "rnnkit-recipe" not in results:
        return []
    target, minutes = RECIPE_TARGETS[dataset]
    recipe = results["rnnkit-recipe"]
    ok = recipe["accuracy"] >= target and recipe["train_seconds"] <= minutes * 60
    lines = [
        f"- {dataset}: the recipe reaches {recipe['accuracy']:.4f} in "
        f"{recipe['train_seconds'] / 60:.1f} min (target at least {target:.3f} in at most "
        f"{minutes} min): {'met' if ok else 'MISSED'}"
    ]
    if "rnnkit" in results:
        gap = 100 * (recipe["accuracy"] - results["rnnkit"]["accuracy"])
        lines.append(
            f"- {dataset}: the defaults are {gap:+.2f} points from the recipe (target within "
            f"{DEFAULTS_WITHIN:g}): {'met' if gap <= DEFAULTS_WITHIN else 'MISSED'}"
        )
    return lines


COLUMNS = ("accuracy", "epochs", "train_seconds", "train_rate", "predict_rate", "peak_mb")


def row_of(r: dict[str, Any]) -> dict[str, float]:
    """A measurement as the numbers of its table row."""
    return {
        "accuracy": r["accuracy"],
        "epochs": r["epochs"],
        "train_seconds": r["train_seconds"],
        "train_rate": r["train_tokens"] / r.get("loop_seconds", r["train_seconds"]),
        "predict_rate": r["test_texts"] / r["predict_seconds"],
        "peak_mb": r["peak_mb"],
    }


def format_row(peer: str, row: dict[str, float]) -> str:
    return (
        f"| {peer} | {row['accuracy']:.4f} | {row['epochs']:.2f} | "
        f"{row['train_seconds']:,.1f} | {row['train_rate']:,.0f} | "
        f"{row['predict_rate']:,.0f} | {row['peak_mb']:,.0f} |"
    )


def parse_rows(section: str) -> dict[str, dict[str, dict[str, float]]]:
    """The rows of a peers section written before: dataset -> peer -> numbers."""
    rows: dict[str, dict[str, dict[str, float]]] = {}
    dataset = None
    for line in section.splitlines():
        if line.startswith("### "):
            dataset = line[4:].strip()
            rows[dataset] = {}
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if dataset and len(cells) == 1 + len(COLUMNS) and cells[0] in PEERS:
            numbers = [float(cell.replace(",", "")) for cell in cells[1:]]
            rows[dataset][cells[0]] = dict(zip(COLUMNS, numbers, strict=True))
    return rows


def mean_length(dataset: str, data_dir: str, cap: int = 400) -> int:
    """Mean word tokens per training text, capped at rnnkit's default --max-len."""
    from rnnkit.text import word_tokenize

    texts = load_texts(dataset, data_dir)["train"][0]
    return round(sum(min(cap, len(word_tokenize(t))) for t in texts) / len(texts))


def kernel_utilization(length: int, peak: float) -> float:
    """Share of the fp32 peak reached by a bare ``torch.nn.LSTM`` training step (forward and
    backward, bidirectional, input and hidden 128, batch 64, every sequence ``length`` long):
    no padding, no embedding, no optimizer. No pipeline around this kernel can do better."""
    import torch

    lstm = torch.nn.LSTM(128, 128, bidirectional=True)
    x = torch.randn(length, 64, 128, requires_grad=True)

    def step() -> None:
        output, _ = lstm(x)
        output.sum().backward()

    seconds = interleaved_medians({"step": step}, rounds=20, warmup=3)["step"]
    return length * 64 / seconds * flops_per_token(128, 128, training=True) / 1e9 / peak


def verdicts_of(
    dataset: str,
    rows: dict[str, dict[str, float]],
    peak: float,
    kernel: tuple[int, float] | None = None,
) -> list[str]:
    """Targets met or missed; for the speed-up, the FLOP utilization it would take (model
    FLOPs of rnnkit's default LSTM per training token, over the measured fp32 peak), and
    ``kernel``: (mean length, utilization of the bare kernel at that length)."""
    verdicts = []
    if "rnnkit" in rows and "notebook-rnnkit-size" in rows:
        ours, theirs = rows["rnnkit"]["train_rate"], rows["notebook-rnnkit-size"]["train_rate"]
        speedup = ours / theirs
        flops = flops_per_token(128, 128, training=True) / 1e9
        verdicts.append(
            f"- {dataset}: rnnkit trains {speedup:.1f}x the tokens per second of "
            f"the notebook pipeline at the same model size (target at least "
            f"{TARGET_SPEEDUP:g}x): {'met' if speedup >= TARGET_SPEEDUP else 'MISSED'}; "
            f"rnnkit runs at {ours * flops / peak:.0%} of the fp32 peak, {TARGET_SPEEDUP:g}x "
            f"would take {TARGET_SPEEDUP * theirs * flops / peak:.0%}"
            + (
                f"; a bare torch.nn.LSTM training step at this size (batch 64, {kernel[0]} "
                f"tokens, no padding) reaches {kernel[1]:.0%}"
                if kernel
                else ""
            )
        )
    return verdicts + recipe_verdicts(dataset, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--datasets", default="imdb,sst2,trec,sst5,mr")
    parser.add_argument("--peers", default=",".join(PEERS))
    parser.add_argument(
        "--budget-minutes",
        type=float,
        default=12.0,
        help="training time after which a peer stops and is scored (default 12)",
    )
    parser.add_argument("--worker", choices=PEERS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the rows of the section's other peers and datasets, replacing only the "
        "ones measured now (the section says which)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    budget = args.budget_minutes * 60
    if args.worker:
        print(json.dumps(worker(args.worker, args.datasets, args.data_dir, budget)))
        return 0
    rows: dict[str, dict[str, dict[str, float]]] = {}
    if args.update:
        match = re.search(
            r"<!-- peers:start -->(.*?)<!-- peers:end -->", RESULTS.read_text(), re.DOTALL
        )
        rows = parse_rows(match.group(1)) if match else {}
    for dataset in args.datasets.split(","):
        for peer in [p for p in args.peers.split(",") if p]:
            if peer == "rnnkit-recipe" and not (RECIPES / f"{dataset}.json").exists():
                continue
            row = row_of(measure(peer, dataset, args.data_dir, budget))
            rows.setdefault(dataset, {})[peer] = row
            print(f"{dataset} {format_row(peer, row)}", flush=True)
    peak = matmul_peak_gflops()  # fp32, this process's threads, after the peers ran
    kernels = {
        dataset: (length, kernel_utilization(length, peak))
        for dataset, peers in rows.items()
        if "rnnkit" in peers and "notebook-rnnkit-size" in peers
        for length in [mean_length(dataset, args.data_dir)]
    }
    lines = [
        "## Peers (`benchmarks/peers.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"Each peer in its own process; training stops after {args.budget_minutes:g} "
        "minutes if not done (epochs column). Train tokens / s: word tokens processed in all "
        "epochs over the training loop's time (see the script's docstring).",
        "",
        f"Matrix-multiply peak (fp32, measured after the peers): {peak:.0f} GFLOP/s.",
        "",
    ]
    if args.update:
        lines += [
            f"This run (`--update`) measured {args.peers} on {args.datasets}; the other rows "
            "are from the run before it.",
            "",
        ]
    verdicts = []
    for dataset, peers in rows.items():
        lines += [
            f"### {dataset}",
            "",
            "| peer | test accuracy | epochs | train s | train tokens / s | "
            "predict docs / s | peak MB |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [format_row(peer, peers[peer]) for peer in PEERS if peer in peers]
        lines.append("")
        verdicts += verdicts_of(dataset, peers, peak, kernels.get(dataset))
    lines += ["Targets:", "", *verdicts]
    print("\n".join(verdicts))
    if not args.no_write:
        write_section("peers", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
