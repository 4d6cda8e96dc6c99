"""ONNX export: parity with PyTorch, and what int8 quantization costs and gains.

    python benchmarks/export.py --data-dir ../shared/data [--datasets sst2,imdb]

For each dataset: trains rnnkit's defaults on it (or takes ``--model-dir DIR/DATASET``), exports
the model to ONNX in float32 and with int8 weights (``rnnkit export --quantize int8``), and on
the test set reports for PyTorch, ONNX Runtime float32 and ONNX Runtime int8: accuracy, the
largest probability difference from PyTorch, and documents per second (median of interleaved
rounds over a seeded sample of up to 5,000 test texts, all on ``--threads`` threads).

Targets (issue 7): float32 probabilities within 1e-4 of PyTorch; int8 loses at most 0.5
accuracy points. Writes the ``export`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit import TextClassifier
from rnnkit.data.datasets import load_dataset
from rnnkit.tasks.classification.export import export_onnx
from rnnkit.tasks.classification.runtime import OnnxPredictor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import interleaved_medians, machine_line, write_section

SAMPLE = 5000


def measure(
    name: str, data_dir: str, model_dir: str | None, folder: Path, threads: int, rounds: int
) -> dict[str, dict[str, Any]]:
    splits = load_dataset(name, data_dir)
    test = splits.test
    assert test is not None
    if model_dir and (Path(model_dir) / name).is_dir():
        clf = TextClassifier.load(Path(model_dir) / name)
    else:
        clf = TextClassifier().fit_corpus(splits.train, splits.valid)
    labels = [str(c) for c in clf.classes_]
    fp32 = export_onnx(clf.model_, labels, folder / f"{name}.onnx")
    int8 = export_onnx(clf.model_, labels, folder / f"{name}.int8.onnx", quantize="int8")
    backends: dict[str, Any] = {
        "pytorch": clf,
        "onnx fp32": OnnxPredictor(clf, fp32, threads=threads),
        "onnx int8": OnnxPredictor(clf, int8, threads=threads),
    }
    truth = np.asarray(test.labels)
    probs = {key: b.predict_proba_corpus(test) for key, b in backends.items()}
    rng = np.random.default_rng(0)
    sample = test.subset(np.sort(rng.permutation(len(test))[:SAMPLE]))
    seconds = interleaved_medians(
        {key: (lambda b=b: b.predict_proba_corpus(sample)) for key, b in backends.items()},
        rounds=rounds,
    )
    return {
        key: {
            "accuracy": float(np.mean(clf.classes_[p.argmax(1)] == truth)),
            "max_diff": float(np.abs(p - probs["pytorch"]).max()),
            "docs_per_s": len(sample) / seconds[key],
            "mb": (folder / f"{name}{'.int8' if 'int8' in key else ''}.onnx").stat().st_size / 1e6
            if key != "pytorch"
            else None,
        }
        for key, p in probs.items()
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--datasets", default="sst2,imdb")
    parser.add_argument("--model-dir", help="folder with one trained bundle per dataset name")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    torch.set_num_threads(args.threads)
    results = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in args.datasets.split(","):
            results[name] = measure(
                name, args.data_dir, args.model_dir, Path(folder), args.threads, args.rounds
            )
            for key, r in results[name].items():
                print(
                    f"{name} {key}: accuracy {r['accuracy']:.4f}, max |p - p_torch| "
                    f"{r['max_diff']:.2e}, {r['docs_per_s']:,.0f} docs/s",
                    flush=True,
                )
    rows, verdicts = [], []
    for name, by_backend in results.items():
        base = by_backend["pytorch"]
        for key, r in by_backend.items():
            size = f"{r['mb']:.1f}" if r["mb"] is not None else ""
            rows.append(
                f"| {name} | {key} | {r['accuracy']:.4f} | {r['max_diff']:.1e} | "
                f"{r['docs_per_s']:,.0f} | {r['docs_per_s'] / base['docs_per_s']:.2f}x | {size} |"
            )
        diff = by_backend["onnx fp32"]["max_diff"]
        lost = 100 * (by_backend["onnx fp32"]["accuracy"] - by_backend["onnx int8"]["accuracy"])
        speed = by_backend["onnx int8"]["docs_per_s"] / by_backend["onnx fp32"]["docs_per_s"]
        verdicts += [
            f"- {name}: ONNX float32 within {diff:.1e} of PyTorch "
            f"(target 1e-4: {'met' if diff <= 1e-4 else 'MISSED'})",
            f"- {name}: int8 changes accuracy by {-lost:+.2f} points and runs {speed:.2f}x the "
            f"documents per second of ONNX float32 (target: at most 0.5 points lost: "
            f"{'met' if lost <= 0.5 else 'MISSED'})",
        ]
    print("\n".join(verdicts))
    if args.no_write:
        return 0
    lines = [
        "## ONNX export and int8 (`benchmarks/export.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        "rnnkit's default model trained on each dataset, then exported. Accuracy on the whole "
        "test set; speed over a seeded sample of up to 5,000 test texts sorted by length, in the "
        "same batches for every backend (at most 256, cut where a call costs less than the "
        f"padding it saves), {args.threads} threads, median of {args.rounds} interleaved rounds.",
        "",
        "| data | backend | accuracy | max prob. diff | docs / s | vs PyTorch | file MB |",
        "|---|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *verdicts,
    ]
    write_section("export", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
