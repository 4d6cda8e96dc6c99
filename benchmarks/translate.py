"""Translation benchmarks (issue 18), each writing its section of benchmarks/RESULTS.md.

    python benchmarks/translate.py quality [--directions de-en,en-de] [--minutes 40]
    python benchmarks/translate.py speed [--model benchmarks/.models/multi30k-de-en]

``quality`` runs the README's command, ``rnnkit translate train multi30k --config
recipes/translate/multi30k.json --max-minutes M``, as a subprocess for each direction (training
on Multi30k's 29,000 training pairs only, validating on its 1,014 val pairs), then scores
test_2016_flickr with sacreBLEU: BLEU (cased, detokenized, 13a), BLEU of lower-cased text (how
published Multi30k figures are reported) and chrF, greedy and with the recipe's beam. It
writes ten test translations beside their references and an attention heatmap. The models are
kept in benchmarks/.models/ for ``speed``, which times translating the 1,000 test sentences in
batches, greedy and beam 5, with PyTorch and with ONNX Runtime on the exported graphs, in
interleaved rounds (medians). The data come from --data-dir (default: $RNNKIT_DATA_DIR, else
../shared/data).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _common import machine_line, write_section

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / ".models"
RECIPE = ROOT / "recipes" / "translate" / "multi30k.json"
IMAGE = ROOT / "docs" / "images" / "translate_attention.png"
TARGET, STRETCH = 33.0, 36.5  # lower-cased BLEU, German to English, test_2016_flickr
SHOWN = 10  # test translations written beside their references
PUBLISHED = (
    "Published figures on this test set (tokenized, lower-cased BLEU, German to English, "
    "bentrevett/pytorch-seq2seq, trained on a GPU): GRU encoder-decoder 20.6; bidirectional "
    "GRU with additive attention 28.3; 3+3-layer Transformer 36.5."
)


def data_dir(given: str | None) -> str:
    return given or os.environ.get("RNNKIT_DATA_DIR") or str(ROOT.parent / "shared" / "data")


def rnnkit(*args: str) -> str:
    """``rnnkit ARGS`` as a subprocess, its progress on our standard error; its standard
    output."""
    result = subprocess.run(
        [sys.executable, "-m", "rnnkit", *args], stdout=subprocess.PIPE, text=True, check=True
    )
    return result.stdout


def train(
    source: str, target: str, minutes: float, data: str, precision: str
) -> tuple[Path, dict[str, Any]]:
    """The README's command for one direction; its metrics.json and where the model is."""
    out = MODELS / f"multi30k-{source}-{target}"
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    output = rnnkit(
        "translate", "train", "multi30k", "--source", source, "--target", target,
        "--data-dir", data, "--config", str(RECIPE), "--precision", precision,
        "--max-minutes", str(minutes), "--out", str(out), "--json",
    )  # fmt: skip
    metrics: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    metrics["wall_seconds"] = time.perf_counter() - start
    return out, metrics


def quality(args: argparse.Namespace) -> None:
    from rnnkit.data.pairs import load_pairs
    from rnnkit.tasks.translation.estimator import Translator

    data = data_dir(args.data_dir)
    rows, shown, curves = [], [], []
    for direction in args.directions.split(","):
        source, target = direction.split("-")
        out, metrics = train(source, target, args.minutes, data, args.precision)
        translator = Translator.load(out)
        test = load_pairs(["multi30k"], source=source, target=target, data_dir=data).test
        assert test is not None
        greedy = translator.evaluate(test.source, test.target, beam=1)
        beam = metrics["test"]  # the recipe's beam, scored by the training command
        history = json.loads((out / "metrics.json").read_text())
        for label, scores in (("greedy", greedy), (f"beam {beam['beam']}", beam)):
            rows.append(
                f"| {source} → {target} | {label} | {scores['bleu_lc']:.2f} | "
                f"{scores['bleu']:.2f} | {scores['chrf']:.2f} | "
                f"{metrics['epochs_run']} | {metrics['train_seconds'] / 60:.1f} | "
                f"{metrics['wall_seconds'] / 60:.1f} |"
            )
        curves.append(
            f"- {source} → {target}: {metrics['epochs_run']} epochs, best {metrics['best_epoch']}"
            f", {metrics['train_tokens_per_second']:,.0f} target tokens/s; validation BLEU "
            f"{history['valid']['bleu']:.2f} (greedy); signature `{beam['bleu_lc_signature']}`"
        )
        if direction == args.directions.split(",")[0]:
            found = translator.translate(test.source[:SHOWN])
            for text, reference, output in zip(test.source, test.target, found, strict=False):
                shown.append(f"| {text} | {reference} | {output} |")
            example = test.source[0]
            IMAGE.parent.mkdir(parents=True, exist_ok=True)
            rnnkit("translate", str(out), example, "--plot-attention", str(IMAGE))
        print(rows[-2], rows[-1], sep="\n", flush=True)
    lines = [
        "## Translation: Multi30k, test_2016_flickr",
        "",
        f"`python benchmarks/translate.py quality --minutes {args.minutes:g}`: the README's "
        "command `rnnkit translate train multi30k --config recipes/translate/multi30k.json "
        f"--precision {args.precision} --max-minutes {args.minutes:g}` for each direction "
        "(training on the 29,000 training pairs only; the best epoch chosen by greedy BLEU "
        "on the 1,014 val pairs), then the 1,000 test pairs scored with sacreBLEU. Target "
        f"(German → English): lower-cased BLEU {TARGET:g}, stretch {STRETCH:g}. Training "
        "minutes are the budget's (validation not counted); wall minutes include reading, "
        f"learning the subword units, validation and the test. {PUBLISHED}",
        "",
        machine_line(),
        "",
        "| direction | search | BLEU, lower-cased | sacreBLEU (cased) | chrF | epochs | "
        "training minutes | wall minutes |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *curves,
        "",
        f"The first {SHOWN} test sentences ({args.directions.split(',')[0]}, the recipe's beam):",
        "",
        "| source | reference | rnnkit |",
        "|---|---|---|",
        *shown,
        "",
        f"Attention of the first one: `{IMAGE.relative_to(ROOT)}`.",
    ]
    write_section("translate", "\n".join(lines))


# -- decoding speed --------------------------------------------------------------------------


def speed(args: argparse.Namespace) -> None:
    import torch

    from rnnkit.data.pairs import load_pairs
    from rnnkit.tasks.translation.estimator import Translator

    torch.set_num_threads(args.threads)
    model = Path(args.model)
    rnnkit("export", str(model))
    translator = Translator.load(model)
    translator.threads = args.threads
    pairs = load_pairs(["multi30k"], data_dir=data_dir(args.data_dir)).test
    assert pairs is not None
    texts = pairs.source
    trained = translator.precision
    engines = [("torch", "fp32"), ("onnx", "fp32")]
    if trained == "bf16":
        engines.insert(1, ("torch", "bf16"))

    def run(backend: str, precision: str, beam: int) -> list[str]:
        translator.precision = precision
        return translator.translate(texts, beam=beam, backend=backend)

    runs = [(backend, precision, beam) for backend, precision in engines for beam in (1, 5)]
    outputs = {key: run(*key) for key in runs}  # warm-up, and the outputs compared

    def same(engine: tuple[str, str], beam: int) -> str:
        theirs = outputs[engine[0], engine[1], beam]
        equal = sum(map(str.__eq__, outputs["torch", "fp32", beam], theirs))
        return f"{equal:,}"

    times: dict[tuple[str, str, int], list[float]] = {key: [] for key in runs}
    for _ in range(args.rounds):
        for key in runs:
            start = time.perf_counter()
            run(*key)
            times[key].append(time.perf_counter() - start)
    rows = []
    for (backend, precision, beam), values in times.items():
        median = statistics.median(values)
        rows.append(
            f"| {backend} | {precision} | {'greedy' if beam == 1 else f'beam {beam}'} | "
            f"{len(texts) / median:,.0f} | {median:.2f} | {same((backend, precision), beam)} |"
        )
        print(rows[-1], flush=True)
    lines = [
        "## Translation: decoding speed",
        "",
        f"`python benchmarks/translate.py speed`: the {len(texts):,} German sentences of "
        f"Multi30k's test_2016_flickr translated by `{model.relative_to(ROOT)}` (the quality "
        "run's model, trained under " + trained + ") in batches of 64 sentences sorted by "
        "length, with PyTorch in float32 (and bfloat16 autocast, as the model was trained) and "
        "with ONNX Runtime on the float32 graphs `rnnkit export` wrote; medians of "
        f"{args.rounds} interleaved rounds, {args.threads} threads. The last column counts "
        f"the translations, of {len(texts):,}, equal to PyTorch's in float32 with the same "
        "search.",
        "",
        machine_line(),
        "",
        "| backend | precision | search | sentences/s | seconds | equal to torch fp32 |",
        "|---|---|---|---:|---:|---:|",
        *rows,
    ]
    write_section("translate_speed", "\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("benchmark", choices=("quality", "speed"))
    parser.add_argument("--data-dir")
    parser.add_argument("--directions", default="de-en,en-de")
    parser.add_argument("--minutes", type=float, default=40.0)
    parser.add_argument("--model", default=str(MODELS / "multi30k-de-en"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--precision", choices=("fp32", "bf16"), help="default: bf16 where the CPU has it"
    )
    args = parser.parse_args(argv)
    if args.precision is None:
        from rnnkit.train.precision import bf16_supported

        args.precision = "bf16" if bf16_supported() else "fp32"
    {"quality": quality, "speed": speed}[args.benchmark](args)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
