"""One round of ``before_after.py``'s workloads, timed with whichever rnnkit comes first on
``PYTHONPATH``; prints one JSON line of results.

    PYTHONPATH=TREE/src python benchmarks/_before_after_worker.py SAMPLE.json --steps 20 ...

It touches only API that both trees of a before/after comparison have in public:
``rnnkit.TextClassifier`` (``fit``, ``predict_proba``, ``metrics_["train_tokens_per_second"]``,
the ``precision`` parameter), ``rnnkit.nn.LSTM`` / ``GRU`` with ``impl=`` and ``lengths=``, and
(to count tokens only) ``rnnkit.text.get_tokenizer``. The texts come from a JSON file that the
harness wrote, so no data-loading module of either tree is involved.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

EMBED, HIDDEN, DEFAULT_HIDDEN = 128, 256, 128  # throughput.py's model and the default model
BATCH_SIZE, MAX_LEN, WARMUP_STEPS = 64, 400, 3
# recurrent.py's layer setting: batch, time, shortest sequence, input, hidden
LAYER = {"batch": 128, "time": 100, "min_len": 50, "input": 128, "hidden": 256}

Metric = tuple[str, str, float]  # (name, unit, value)


def classifier(hidden: int, *, steps: int, precision: str, threads: int) -> Any:
    """throughput.py's model, every setting that decides the cost of a step pinned, so that a
    changed default in either tree cannot make the two measure different models."""
    from rnnkit import TextClassifier

    return TextClassifier(
        cell="lstm",
        layers=1,
        bidirectional=True,
        embed_dim=EMBED,
        hidden=hidden,
        pooling="last,max,mean",
        tokenizer="word",
        min_freq=2,
        max_len=MAX_LEN,
        batch_size=BATCH_SIZE,
        epochs=steps,  # an upper bound: max_steps ends the run
        max_steps=steps,
        valid_split=0.0,
        precision=precision,
        seed=0,
        threads=threads,
    )


def training(
    data: dict[str, Any], *, steps: int, precisions: list[str], threads: int
) -> tuple[list[Metric], Any]:
    """Real tokens per second of ``steps`` optimizer steps (the trainer's own clock: the step
    loop only, not tokenizing or building the vocabulary), after a warm-up fit of a few steps
    at the same precision; also returns the fp32 model for the inference workload."""
    texts, labels = data["train"]["texts"], data["train"]["labels"]
    metrics: list[Metric] = []
    fitted = None
    for precision in precisions:
        classifier(HIDDEN, steps=WARMUP_STEPS, precision=precision, threads=threads).fit(
            texts, labels
        )
        clf = classifier(HIDDEN, steps=steps, precision=precision, threads=threads)
        clf.fit(texts, labels)
        ran = getattr(clf.history_, "steps", steps)
        if ran != steps:
            raise RuntimeError(f"asked for {steps} training steps, ran {ran}")
        rate = float(clf.metrics_["train_tokens_per_second"])
        metrics.append((f"training, hidden {HIDDEN}, {precision}", "real tokens/s", rate))
        fitted = clf if precision == "fp32" else fitted
    return metrics, fitted


def token_count(texts: list[str]) -> int | None:
    """Tokens the classifier reads (capped at MAX_LEN), or None if this tree has no public
    tokenizer under that name."""
    try:
        from rnnkit.text import get_tokenizer
    except ImportError:
        return None
    tokenize = get_tokenizer("word")
    return sum(min(len(tokenize(text)), MAX_LEN) for text in texts)


def inference(clf: Any, label: str, texts: list[str], precisions: list[str]) -> list[Metric]:
    """Documents and tokens per second of ``predict_proba`` on ``texts`` (the whole call:
    tokenizing, batching, the model), per precision, after a warm-up call."""
    tokens = token_count(texts)
    metrics: list[Metric] = []
    for precision in precisions:
        clf.precision = precision
        clf.predict_proba(texts[:256])
        start = time.perf_counter()
        clf.predict_proba(texts)
        seconds = time.perf_counter() - start
        name = f"predict_proba, {label}, {precision}"
        metrics.append((name, "documents/s", len(texts) / seconds))
        if tokens is not None:
            metrics.append((name, "tokens/s", tokens / seconds))
    clf.precision = "fp32"
    return metrics


def layer_step(cell: str, impl: str) -> Callable[[], None]:
    """recurrent.py's closure: forward and backward of one bidirectional layer on a padded
    batch of variable-length sequences, with the same seeded inputs and torch.nn's weights."""
    import rnnkit.nn

    torch.manual_seed(0)
    lengths = torch.randint(LAYER["min_len"], LAYER["time"] + 1, (LAYER["batch"],))
    lengths[0] = LAYER["time"]
    x = torch.randn(LAYER["time"], LAYER["batch"], LAYER["input"]).requires_grad_(True)
    theirs = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]
    ours: Any = {"lstm": rnnkit.nn.LSTM, "gru": rnnkit.nn.GRU}[cell]
    reference = theirs(LAYER["input"], LAYER["hidden"], bidirectional=True)
    module = ours(LAYER["input"], LAYER["hidden"], bidirectional=True, impl=impl)
    module.load_state_dict(reference.state_dict())

    def step() -> None:
        module.zero_grad(set_to_none=True)
        x.grad = None
        output, state = module(x, lengths=lengths)
        states = state if isinstance(state, tuple) else (state,)
        (output.sum() + sum(s.sum() for s in states)).backward()

    return step


def layers(repeats: int) -> list[Metric]:
    """Median milliseconds of ``repeats`` training steps per (cell, impl), after one warm-up."""
    metrics: list[Metric] = []
    for cell in ("lstm", "gru"):
        for impl in ("fused", "reference"):
            step = layer_step(cell, impl)
            step()
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                step()
                times.append(time.perf_counter() - start)
            name = f"layer step, {cell.upper()}, rnnkit {impl}"
            metrics.append((name, "ms/step", statistics.median(times) * 1e3))
    return metrics


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("sample", type=Path, help="JSON file of train and test texts")
    parser.add_argument("--steps", type=int, required=True)
    parser.add_argument("--layer-steps", type=int, required=True)
    parser.add_argument("--threads", type=int, required=True)
    parser.add_argument("--precisions", default="fp32", help="comma-separated: fp32, bf16")
    parser.add_argument("--expect-src", type=Path, required=True, help="the tree's src/")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    import rnnkit

    where = Path(rnnkit.__file__).resolve()
    if args.expect_src.resolve() not in where.parents:
        raise RuntimeError(f"imported rnnkit from {where}, expected it under {args.expect_src}")
    data = json.loads(args.sample.read_text())
    precisions = args.precisions.split(",")
    phases: dict[str, float] = {}
    start = time.perf_counter()
    metrics, fitted = training(data, steps=args.steps, precisions=precisions, threads=args.threads)
    phases["training"], start = time.perf_counter() - start, time.perf_counter()
    test = data["test"]["texts"]
    metrics += inference(fitted, f"hidden {HIDDEN}", test, precisions)
    small = classifier(DEFAULT_HIDDEN, steps=1, precision="fp32", threads=args.threads)
    small.fit(data["train"]["texts"], data["train"]["labels"])
    metrics += inference(small, f"default size (hidden {DEFAULT_HIDDEN})", test, precisions)
    phases["inference"], start = time.perf_counter() - start, time.perf_counter()
    metrics += layers(args.layer_steps)
    phases["layers"] = time.perf_counter() - start
    threads = torch.get_num_threads()
    print(
        json.dumps({"rnnkit": str(where), "threads": threads, "metrics": metrics, "phases": phases})
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
