"""End-to-end training and inference throughput, and model FLOP utilization, on IMDB.

    python benchmarks/throughput.py --data-dir ../shared/data

Measures, in one run and on this machine:

1. the fp32 and bf16 matrix-multiply peaks (best of several rounds);
2. training: a bidirectional LSTM with embedding 128 and hidden 256 trained by rnnkit's own
   pipeline (bucketed batches of 64 from the tokenized IMDB training set, embedding, fused
   recurrence, pooling, loss, AdamW step) for a fixed number of steps, in fp32 and bf16,
   interleaved; real tokens per second and the model FLOP utilization (MFU):
   6 x 4 gates x H x (E + H) FLOPs per real token, per direction, over the fp32 peak;
3. inference: ``TextClassifier.predict_proba`` on a seeded sample of the IMDB test set (sorted
   by length, batches cut by length, and for comparison plain batches of 256), for the same
   model and for the default model (embedding 128, hidden 128), in fp32 and bf16: documents
   and tokens per second and MFU (2 x 4 x H x (E + H)), and
   ``rnnkit predict --input FILE`` as a subprocess on the same texts;
4. the tokenization cache: seconds from starting ``rnnkit train imdb --max-steps 1`` to its
   first training step, with a fresh cache and then again with the cache it filled.

Writes the ``throughput`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from rnnkit import TextClassifier
from rnnkit.data.batching import Batch, Batches
from rnnkit.data.corpus import Corpus
from rnnkit.data.datasets import load_dataset
from rnnkit.models import ModelConfig, SequenceClassifier
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.config import TrainConfig
from rnnkit.train.precision import bf16_supported
from rnnkit.train.trainer import Trainer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import flops_per_token, machine_line, matmul_peak_gflops, write_section

EMBED, HIDDEN = 128, 256


class Steps:
    """The first ``count`` batches of an epoch, as a batch source for the trainer."""

    def __init__(self, batches: Batches, count: int, epoch: int) -> None:
        self.batches, self.count, self.offset = batches, count, epoch

    def __len__(self) -> int:
        return self.count

    def epoch(self, epoch: int) -> Iterator[Batch]:
        for i, batch in enumerate(self.batches.epoch(self.offset + epoch)):
            if i == self.count:
                return
            yield batch


def training_rates(train: Corpus, vocab: Vocabulary, steps: int, rounds: int) -> dict[str, float]:
    """Median real tokens per second of ``steps`` training steps, per precision."""
    batches = Batches(
        train.encode(vocab),
        train.offsets,
        train.label_ids(["neg", "pos"]),
        batch_size=64,
        max_len=400,
        shuffle=True,
        seed=0,
    )
    precisions = ["fp32", "bf16"] if bf16_supported() else ["fp32"]
    models = {}
    for precision in precisions:
        torch.manual_seed(0)
        models[precision] = SequenceClassifier(
            ModelConfig(len(vocab), 2, embed_dim=EMBED, hidden_size=HIDDEN)
        )
        warmup = TrainConfig(epochs=1, precision=precision, warmup=0.0, max_steps=3)
        Trainer(warmup).fit(models[precision], Steps(batches, 3, 0))
    rates: dict[str, list[float]] = {p: [] for p in precisions}
    for round_index in range(rounds):
        for precision in precisions:
            config = TrainConfig(epochs=1, precision=precision, warmup=0.0)
            history = Trainer(config).fit(models[precision], Steps(batches, steps, round_index))
            rates[precision].append(history.tokens_per_second)
    return {precision: statistics.median(values) for precision, values in rates.items()}


def inference_rates(
    clf: TextClassifier, corpus: Corpus, rounds: int
) -> dict[tuple[str, bool], tuple[float, float]]:
    """Median (documents/s, tokens/s) of predict_proba on ``corpus`` per (precision, cut):
    batches cut by length where a call costs less than the padding it saves, or batches of 256
    sorted by length (fp32 only); interleaved rounds."""
    import rnnkit.tasks.classification.scoring

    tokens = int(np.minimum(corpus.lengths, clf.max_len or 10**9).sum())
    variants = [("fp32", True), ("fp32", False)]
    variants += [("bf16", True)] if bf16_supported() else []
    call_flops = rnnkit.tasks.classification.scoring.CALL_FLOPS
    clf.predict_proba_corpus(corpus.subset(range(256)))  # warm-up
    times: dict[tuple[str, bool], list[float]] = {v: [] for v in variants}
    try:
        for _ in range(rounds):
            for precision, cut in variants:
                clf.precision = precision
                rnnkit.tasks.classification.scoring.CALL_FLOPS = call_flops if cut else None
                start = time.perf_counter()
                clf.predict_proba_corpus(corpus)
                times[(precision, cut)].append(time.perf_counter() - start)
    finally:
        clf.precision, rnnkit.tasks.classification.scoring.CALL_FLOPS = "fp32", call_flops
    result = {}
    for variant, values in times.items():
        seconds = statistics.median(values)
        result[variant] = (len(corpus) / seconds, tokens / seconds)
    return result


def untrained(vocab: Vocabulary, embed: int, hidden: int) -> TextClassifier:
    """A TextClassifier with fresh weights of the given size (speed does not need training)."""
    clf = TextClassifier(embed_dim=embed, hidden=hidden)
    torch.manual_seed(0)
    clf.model_ = SequenceClassifier(clf.model_config(len(vocab), 2, embed)).eval()
    clf.vocab_, clf.classes_, clf.metrics_ = vocab, np.array(["neg", "pos"]), {}
    return clf


def cli_predict_rate(clf: TextClassifier, texts: list[str], folder: Path) -> float:
    """Documents per second of ``rnnkit predict --input FILE`` (the whole command)."""
    clf.save(folder / "model")
    (folder / "texts.txt").write_text("\n".join(t.replace("\n", " ") for t in texts) + "\n")
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "rnnkit",
            "predict",
            str(folder / "model"),
            "--input",
            str(folder / "texts.txt"),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return len(texts) / (time.perf_counter() - start)


def seconds_to_first_step(data_dir: str, folder: Path) -> tuple[float, float]:
    """``rnnkit train imdb --max-steps 1``: (fresh cache, warm cache) seconds to the first step."""
    env = {**os.environ, "RNNKIT_CACHE_DIR": str(folder / "cache")}
    result = []
    for _ in range(2):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rnnkit",
                "train",
                "imdb",
                "--data-dir",
                data_dir,
                "--out",
                str(folder / "first-step"),
                "--max-steps",
                "1",
                "--json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=True,
            env=env,
        )
        result.append(json.loads(done.stdout.splitlines()[-1])["seconds_to_first_step"])
    return result[0], result[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--steps", type=int, default=40, help="training steps per round")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds")
    parser.add_argument("--sample", type=int, default=5000, help="test documents to predict")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    torch.set_num_threads(args.threads)
    splits = load_dataset("imdb", args.data_dir)
    vocab = Vocabulary.build(splits.train.token_counts(), min_freq=2, max_size=50_000)
    peak32, peak16 = matmul_peak_gflops(torch.float32), matmul_peak_gflops(torch.bfloat16)
    lines = [
        "## Throughput on IMDB (`benchmarks/throughput.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"Matrix-multiply peak: fp32 {peak32:,.0f} GFLOP/s, bf16 {peak16:,.0f} GFLOP/s. "
        "MFU is always over the fp32 peak.",
        "",
    ]
    verdicts: list[str] = []

    train_rates = training_rates(splits.train, vocab, args.steps, args.rounds)
    train_flops = flops_per_token(EMBED, HIDDEN, training=True)
    lines += [
        f"Training, bidirectional LSTM, embedding {EMBED}, hidden {HIDDEN}, batch 64 "
        f"bucketed, length cap 400, the whole rnnkit step; median of {args.rounds} "
        f"rounds of {args.steps} steps:",
        "",
        "| precision | real tokens / s | model GFLOP/s | MFU |",
        "|---|---:|---:|---:|",
    ]
    for precision, rate in train_rates.items():
        gflops = rate * train_flops / 1e9
        lines.append(f"| {precision} | {rate:,.0f} | {gflops:,.0f} | {gflops / peak32:.0%} |")
    mfu = train_rates["fp32"] * train_flops / 1e9 / peak32
    verdicts.append(
        f"training MFU in fp32 {mfu:.0%} (target at least 50%): {'met' if mfu >= 0.5 else 'MISSED'}"
    )
    if "bf16" in train_rates:
        speedup = train_rates["bf16"] / train_rates["fp32"]
        verdicts.append(
            f"bf16 training runs {speedup:.2f}x fp32 (target at least 1.5x): "
            f"{'met' if speedup >= 1.5 else 'MISSED'}"
        )

    sample = splits.test.subset(
        np.random.default_rng(0).permutation(len(splits.test))[: args.sample]
    )
    lines += [
        "",
        f"Inference: `TextClassifier.predict_proba` on {len(sample):,} IMDB test reviews "
        "(seeded sample), sorted by length, in batches of at most 256 cut where a separate call "
        "costs less than the padding it saves (the default), or in batches of 256 (fp32, for "
        "comparison); interleaved rounds:",
        "",
        "| model | precision | batches | documents / s | tokens / s | MFU |",
        "|---|---|---|---:|---:|---:|",
    ]
    models = {
        "embedding 128, hidden 256": (EMBED, HIDDEN),
        "default (embedding 128, hidden 128)": (128, 128),
    }
    for label, (embed, hidden) in models.items():
        clf = untrained(vocab, embed, hidden)
        rates = inference_rates(clf, sample, args.rounds)
        for (precision, cut), (docs, tokens) in rates.items():
            mfu = tokens * flops_per_token(embed, hidden, training=False) / 1e9 / peak32
            batches = "cut by length" if cut else "256"
            lines.append(
                f"| {label} | {precision} | {batches} | {docs:,.0f} | {tokens:,.0f} | {mfu:.0%} |"
            )
        gain = rates[("fp32", True)][0] / rates[("fp32", False)][0]
        verdicts.append(f"{label}: cutting batches by length runs {gain:.2f}x batches of 256")
        if label.startswith("embedding 128, hidden 256"):
            tokens = rates[("fp32", True)][1]
            mfu = tokens * flops_per_token(embed, hidden, training=False) / 1e9 / peak32
            verdicts.append(
                f"inference MFU in fp32 {mfu:.0%} (target at least 40%): "
                f"{'met' if mfu >= 0.4 else 'MISSED'}"
            )

    texts = [
        " ".join(sample.types[t] for t in sample.ids[a:b])
        for a, b in zip(sample.offsets[:-1], sample.offsets[1:], strict=True)
    ]
    with tempfile.TemporaryDirectory() as folder:
        rate = cli_predict_rate(untrained(vocab, 128, 128), texts, Path(folder))
        tokens_per_doc = float(np.minimum(sample.lengths, 400).mean())
        cli_mfu = rate * tokens_per_doc * flops_per_token(128, 128, training=False) / 1e9 / peak32
        lines += [
            "",
            f"`rnnkit predict --input FILE` with the default-size model on the same "
            f"{len(texts):,} reviews, the whole command (start-up, tokenizing, JSON "
            f"output): {rate:,.0f} documents / s, MFU {cli_mfu:.0%}.",
            "",
        ]
        cold, warm = seconds_to_first_step(args.data_dir, Path(folder))
    ratio = cold / warm
    lines.append(
        f"Seconds from starting `rnnkit train imdb` to its first training step: "
        f"{cold:.1f} with a fresh cache, {warm:.1f} with the cache it filled "
        f"({ratio:.1f}x sooner)."
    )
    verdicts.append(
        f"a second run reaches its first step {ratio:.1f}x sooner (target at least "
        f"5x): {'met' if ratio >= 5 else 'MISSED'}"
    )
    lines += ["", "Targets:", "", *(f"- {v}" for v in verdicts)]
    print("\n".join(lines))
    if not args.no_write:
        write_section("throughput", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
