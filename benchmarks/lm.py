"""Language-model benchmarks (issue 16), each writing its section of benchmarks/RESULTS.md.

    python benchmarks/lm.py shakespeare --minutes 3 [--reference]   characters, validation loss
    python benchmarks/lm.py shakespeare --minutes 20
    python benchmarks/lm.py ptb --minutes 30                         words, test perplexity
    python benchmarks/lm.py imdb [--minutes 15] [--reference]        tokens/s, FLOP utilization
    python benchmarks/lm.py generation                               tokens/s, memory

The data come from --data-dir (default: $RNNKIT_DATA_DIR, else ../shared/data). Training runs
for a wall-clock budget (``max_minutes``: the learning-rate schedule runs over that time; the
validation passes are not counted) with the recipe in recipes/; the models are kept in
benchmarks/.models/ for the generation benchmark. ``--reference`` also trains a bare
``torch.nn.LSTM`` + ``torch.nn.Linear`` of the same size on the same windows for the same time,
in the same process, after rnnkit's run (for IMDB: for 2 minutes, to compare throughput).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch

from _common import machine_line, matmul_peak_gflops, write_section

ROOT = Path(__file__).resolve().parent.parent
MODELS = Path(__file__).resolve().parent / ".models"
RECIPES = ROOT / "recipes" / "lm"


def data_dir(given: str | None) -> str:
    return given or os.environ.get("RNNKIT_DATA_DIR") or str(ROOT.parent / "shared" / "data")


def _train(recipe: str, splits: Any, minutes: float, **overrides: Any) -> Any:
    from rnnkit.tasks.language_model.estimator import LanguageModel

    lm = LanguageModel.from_config(RECIPES / recipe, max_minutes=minutes, **overrides)
    lm.verbose = sys.stderr.isatty()
    return lm.fit(splits.train, splits.valid)


def _samples(lm: Any, prompt: str, settings: list[dict[str, Any]], tokens: int) -> list[str]:
    rows = []
    for setting in settings:
        text = lm.generate(prompt, max_tokens=tokens, seed=0, **setting)[0]
        shown = " ".join(f"{k} {v}" for k, v in setting.items())
        body = (prompt + text).replace("\n", "\n    ")
        rows.append(f"- prompt {prompt!r}, {shown}:\n\n    {body}\n")
    return rows


# -- Tiny Shakespeare --------------------------------------------------------------------


def reference_lstm(splits: Any, minutes: float, recipe: dict[str, Any]) -> dict[str, float]:
    """A bare torch.nn.LSTM + Linear of the recipe's size on the same windows (carried state),
    AdamW at the recipe's rate with its warm-up and cosine decay over the same time."""
    from rnnkit.data.stream import StreamBatches, token_stream
    from rnnkit.text.kinds import build_units

    units = build_units("char", splits.train)
    torch.manual_seed(0)
    size, embed = recipe["hidden"], recipe["embed_dim"]
    embedding = torch.nn.Embedding(len(units), embed)
    lstm = torch.nn.LSTM(embed, size, num_layers=recipe.get("layers", 1))
    head = torch.nn.Linear(size, len(units))
    parameters = [*embedding.parameters(), *lstm.parameters(), *head.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=recipe["lr"], weight_decay=0.01, fused=True)
    batches = StreamBatches(
        token_stream(splits.train, units), batch_size=recipe["batch_size"], window=recipe["window"]
    )
    budget, spent, tokens, state = minutes * 60, 0.0, 0, None
    warmup = recipe.get("warmup", 0.02)
    epoch = 0
    while spent < budget:
        for batch in batches.epoch(epoch):
            start = time.perf_counter()
            fraction = spent / budget
            factor = (
                fraction / warmup
                if fraction < warmup
                else 0.5 * (1 + math.cos(math.pi * (fraction - warmup) / (1 - warmup)))
            )
            for group in optimizer.param_groups:
                group["lr"] = recipe["lr"] * factor
            out, state = lstm(embedding(batch.tokens), state)
            state = tuple(s.detach() for s in state)
            loss = torch.nn.functional.cross_entropy(
                head(out).reshape(-1, len(units)), batch.target.reshape(-1)
            )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, recipe.get("clip_norm", 1.0))
            optimizer.step()
            spent += time.perf_counter() - start
            tokens += batch.num_tokens
            if spent >= budget:
                break
        epoch += 1
    total, count = 0.0, 0
    valid = token_stream(splits.valid, units)
    with torch.no_grad():
        ids = torch.from_numpy(valid)
        out, _ = lstm(embedding(ids[:-1, None]))
        total = float(torch.nn.functional.cross_entropy(head(out)[:, 0], ids[1:], reduction="sum"))
        count = len(ids) - 1
    return {"loss": total / count, "tokens_per_second": tokens / spent, "tokens": tokens}


def shakespeare(args: argparse.Namespace) -> None:
    from rnnkit.data.documents import load_documents

    splits = load_documents("tinyshakespeare", data_dir=data_dir(args.data_dir), download=False)
    recipe = json.loads((RECIPES / "tinyshakespeare.json").read_text())
    lm = _train("tinyshakespeare.json", splits, args.minutes)
    valid = lm.metrics_["valid"]
    folder = MODELS / f"shakespeare-{args.minutes:g}min"
    lm.save(folder)
    train_chars = sum(map(len, splits.train))
    seen = lm.metrics_["train_tokens_per_second"] * lm.metrics_["train_seconds"]
    rows = [
        "| model | training | validation loss (nats/char) | bits/char | chars/s | epochs |",
        "|---|---|---|---|---|---|",
        f"| rnnkit LanguageModel ({_describe(recipe)}) | {lm.metrics_['train_seconds'] / 60:.1f} "
        f"min | **{valid['loss']:.4f}** | {valid['bits_per_token']:.3f} | "
        f"{lm.metrics_['train_tokens_per_second']:,.0f} | {seen / train_chars:.2f} |",
    ]
    if args.reference:
        ref = reference_lstm(splits, args.minutes, recipe)
        rows.append(
            f"| bare torch.nn.LSTM + Linear, same size and windows | {args.minutes:g} min | "
            f"{ref['loss']:.4f} | {ref['loss'] / math.log(2):.3f} | "
            f"{ref['tokens_per_second']:,.0f} | {ref['tokens'] / train_chars:.2f} |"
        )
    target = {3: "at most 1.50", 20: "at most 1.45 (stretch 1.40)"}.get(int(args.minutes), "-")
    lines = [
        f"## Language model: Tiny Shakespeare, characters, {args.minutes:g} minutes",
        "",
        f"`python benchmarks/lm.py shakespeare --minutes {args.minutes:g}"
        f"{' --reference' if args.reference else ''}` (recipes/lm/tinyshakespeare.json with "
        f"--max-minutes {args.minutes:g}; first 90% train, last 10% validation, "
        f"{valid['tokens']:,} characters scored). Target {target}. Reference figures: nanoGPT's "
        "laptop-CPU GPT 1.88 in about 3 minutes, its 10.7M-parameter GPT on an A100 1.47, "
        "minGRU about 1.55.",
        "",
        machine_line(),
        "",
        *rows,
        "",
        "Samples (200 characters, seed 0):",
        "",
        *_samples(
            lm, "ROMEO:", [{"temperature": 0.5}, {"temperature": 0.8}, {"temperature": 1.0}], 200
        ),
    ]
    write_section(f"lm_shakespeare_{args.minutes:g}min", "\n".join(lines))
    print("\n".join(lines))


def _describe(recipe: dict[str, Any]) -> str:
    layers = recipe.get("layers", 1)
    return f"{recipe.get('cell', 'lstm').upper()} {layers} x {recipe['hidden']}"


# -- Penn Treebank -----------------------------------------------------------------------


def ptb(args: argparse.Namespace) -> None:
    from rnnkit.data.documents import load_documents

    splits = load_documents("ptb", data_dir=data_dir(args.data_dir), download=False)
    recipe = json.loads((RECIPES / "ptb.json").read_text())
    lm = _train("ptb.json", splits, args.minutes)
    test = lm.evaluate(splits.test)
    valid = lm.metrics_["valid"]
    lm.save(MODELS / "ptb")
    lines = [
        f"## Language model: Penn Treebank, words, {args.minutes:g} minutes",
        "",
        f"`python benchmarks/lm.py ptb --minutes {args.minutes:g}` (recipes/lm/ptb.json; the "
        "standard split, one document per file, each line ending in its line-break token as "
        "Mikolov's <eos>). Target: test perplexity at most 100. Reference figures (Zaremba et "
        "al., 2014): 2 x 200 LSTM 114.5; 2 x 650 with dropout, hours on a GPU, 82.7.",
        "",
        machine_line(),
        "",
        "| model | training | valid perplexity | test perplexity | test tokens | words/s |",
        "|---|---|---|---|---|---|",
        f"| rnnkit LanguageModel ({_describe(recipe)}, tied) | "
        f"{lm.metrics_['train_seconds'] / 60:.1f} min, {lm.metrics_['epochs_run']} epochs | "
        f"{valid['perplexity']:.1f} | **{test['perplexity']:.1f}** | {test['tokens']:,} | "
        f"{lm.metrics_['train_tokens_per_second']:,.0f} |",
        "",
        "Samples (40 words, seed 0):",
        "",
        *_samples(
            lm,
            "the company said",
            [{"temperature": 0.7}, {"temperature": 1.0, "top_p": 0.9}, {"temperature": 1.0}],
            40,
        ),
    ]
    write_section(f"lm_ptb_{args.minutes:g}min", "\n".join(lines))
    print("\n".join(lines))


# -- IMDB --------------------------------------------------------------------------------


def imdb_documents(folder: str) -> Any:
    """IMDB's train and unlabelled reviews (and test reviews), in the classifier's word
    tokens (lower-cased, punctuation split, <br /> removed) joined by spaces, so that the
    word unit reads exactly the tokens a classifier fine-tuned from the model reads."""
    from rnnkit.data.documents import DocumentSplits, load_documents
    from rnnkit.text.tokenize import word_tokenize

    splits = load_documents("imdb-lm", data_dir=folder, download=False)

    def words(texts: list[str] | None) -> list[str]:
        return [" ".join(word_tokenize(t)) for t in texts or []]

    return DocumentSplits(splits.name, words(splits.train), None, words(splits.test))


def adaptive_flops(net: Any, targets: torch.Tensor) -> float:
    """Training FLOPs per token of the adaptive softmax on these targets: the head for every
    token, a tail cluster's projection and output only for the tokens in it (x 3 for the
    backward pass)."""
    adaptive = net.adaptive
    width = adaptive.in_features
    head = adaptive.head.out_features
    flops = 2.0 * width * head
    cuts = [0, *adaptive.cutoffs]
    for i, projection in enumerate(adaptive.tail):
        inner = projection[0].out_features
        share = float(((targets >= cuts[i + 1]) & (targets < cuts[i + 2])).float().mean())
        flops += share * 2.0 * (width * inner + inner * (cuts[i + 2] - cuts[i + 1]))
    return 3.0 * flops


def reference_throughput(lm: Any, stream: Any, seconds: float) -> float:
    """Training tokens per second of a bare torch.nn.LSTM + Linear projection +
    AdaptiveLogSoftmaxWithLoss of ``lm``'s sizes on ``stream``'s windows (carried state, no
    reset at document boundaries, no dropout), with fused AdamW and clipping: the work of one
    rnnkit step without its pipeline."""
    from rnnkit.data.stream import StreamBatches

    config, batch_size, window = lm.model_.config, lm.batch_size, lm.window
    torch.manual_seed(0)
    embedding = torch.nn.Embedding(config.vocab_size, config.embed_dim)
    lstm = torch.nn.LSTM(config.embed_dim, config.hidden_size, num_layers=config.num_layers)
    projection = torch.nn.Linear(config.hidden_size, config.embed_dim)
    adaptive = torch.nn.AdaptiveLogSoftmaxWithLoss(
        config.embed_dim, config.vocab_size, list(config.clusters), div_value=4.0
    )
    parts = (embedding, lstm, projection, adaptive)
    parameters = [p for part in parts for p in part.parameters()]
    optimizer = torch.optim.AdamW(parameters, lr=1e-3, fused=True)
    batches = StreamBatches(stream, batch_size=batch_size, window=window)
    spent, tokens, state = 0.0, 0, None
    for step, batch in enumerate(batches.epoch(0)):
        start = time.perf_counter()
        out, state = lstm(embedding(batch.tokens), state)
        state = tuple(s.detach() for s in state)
        flat = projection(out).reshape(-1, config.embed_dim)
        loss = adaptive(flat, batch.target.reshape(-1)).loss
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(parameters, 1.0)
        optimizer.step()
        if step >= 3:  # after the first steps' allocations
            spent += time.perf_counter() - start
            tokens += batch.num_tokens
        if spent >= seconds:
            break
    return tokens / spent


def imdb(args: argparse.Namespace) -> None:
    from rnnkit.data.stream import token_stream

    start = time.perf_counter()
    splits = imdb_documents(data_dir(args.data_dir))
    read_seconds = time.perf_counter() - start
    recipe = json.loads((RECIPES / "imdb-lm.json").read_text())
    from rnnkit.tasks.language_model.estimator import LanguageModel

    lm = LanguageModel.from_config(RECIPES / "imdb-lm.json", max_minutes=args.minutes, epochs=1)
    lm.verbose = sys.stderr.isatty()
    lm.fit(splits.train)
    net, units = lm.model_, lm.units_
    stream = torch.from_numpy(token_stream(splits.train[:2000], units))
    config = net.config
    recurrent = 6.0 * 4 * config.hidden_size * (config.embed_dim + config.hidden_size)
    recurrent *= config.num_layers
    projection = 6.0 * config.hidden_size * config.embed_dim if config.projected else 0.0
    output = adaptive_flops(net, stream[1:])
    per_token = recurrent + projection + output
    speed = lm.metrics_["train_tokens_per_second"]
    epoch_tokens = len(token_stream(splits.train, units)) - 1
    peak = matmul_peak_gflops(torch.float32) * 1e9
    seconds = lm.metrics_["train_seconds"]
    bare = None
    if args.reference:
        bare = reference_throughput(lm, token_stream(splits.train[:20_000], units), 120.0)
    test = lm.evaluate(splits.test)
    full_softmax = 6.0 * config.embed_dim * config.vocab_size
    lines = [
        "## Language model: IMDB reviews (train + unlabelled), throughput",
        "",
        f"`python benchmarks/lm.py imdb --minutes {args.minutes:g}"
        f"{' --reference' if args.reference else ''}` (recipes/lm/imdb-lm.json: the "
        "model issue 17 pretrains). The 75,000 reviews in the classifier's word tokens, one "
        f"document per review; reading and tokenizing them took {read_seconds:.0f} s.",
        "",
        machine_line(),
        "",
        "| measure | value |",
        "|---|---|",
        f"| model | {_describe(recipe)}, embedding {config.embed_dim}, projection, adaptive "
        f"softmax over {config.vocab_size:,} words (cutoffs "
        f"{','.join(map(str, config.clusters))}) |",
        f"| training FLOPs per token | {per_token / 1e6:.2f} M (recurrent {recurrent / 1e6:.2f}, "
        f"projection {projection / 1e6:.2f}, output layer {output / 1e6:.2f}; a full softmax "
        f"would be {full_softmax / 1e6:.1f}) |",
        f"| training tokens/s (fp32) | {speed:,.0f} |",
        f"| FLOP utilization (fp32 GEMM peak {peak / 1e9:.0f} GFLOP/s) | "
        f"**{speed * per_token / peak:.0%}** |",
        *(
            []
            if bare is None
            else [
                "| bare torch.nn.LSTM + Linear + AdaptiveLogSoftmaxWithLoss, same sizes and "
                f"windows, 2 minutes after rnnkit's run | {bare:,.0f} tokens/s, "
                f"{bare * per_token / peak:.0%} of the peak; rnnkit at {speed / bare:.2f}x it |"
            ]
        ),
        "| bf16 | not run: this CPU has neither AVX512-BF16 nor AMX (rnnkit refuses emulated "
        "bf16, which is slower than fp32) |",
        f"| one epoch ({epoch_tokens:,} tokens; target at most 15 min) | "
        f"{epoch_tokens / speed / 60:.1f} min at this speed; "
        + (
            f"stopped by the {args.minutes:g}-minute budget after {seconds / 60:.1f} min"
            if lm.history_.out_of_time
            else f"the whole epoch ran in {seconds / 60:.1f} min"
        )
        + " |",
        f"| test reviews perplexity (25,000 reviews, {test['tokens']:,} tokens) | "
        f"{test['perplexity']:.1f} |",
    ]
    lm.save(MODELS / "imdb")
    write_section("lm_imdb", "\n".join(lines))
    print("\n".join(lines))


# -- generation --------------------------------------------------------------------------


def _resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _speed(lm: Any, streams: int, backend: str, tokens: int, rounds: int) -> float:
    """Median generated tokens per second over ``rounds`` (all streams counted)."""
    results = []
    for seed in range(rounds):
        state = lm.start("The ", streams=streams, backend=backend)
        generator = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        for _ in range(tokens):
            state.sample(1.0, generator=generator)
        results.append(tokens * streams / (time.perf_counter() - start))
    return statistics.median(results)


def generation(args: argparse.Namespace) -> None:
    import shutil

    from rnnkit.tasks.language_model.estimator import LanguageModel

    rows = [
        "| model | backend | threads | 1 stream tokens/s | 16 streams tokens/s |",
        "|---|---|---|---|---|",
    ]
    memory = []
    default_threads = torch.get_num_threads()
    for name in ("shakespeare-20min", "shakespeare-3min", "ptb"):
        folder = MODELS / name
        if not (folder / "config.json").is_file():
            continue
        work = MODELS / f"{name}-export"
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(folder, work)
        from rnnkit.cli import main as cli

        cli(["export", str(work)])
        lm = LanguageModel.load(work)
        for threads in sorted({1, default_threads}):
            torch.set_num_threads(threads)
            for backend in ("torch", "onnx"):
                one = _speed(lm, 1, backend, 500, 9)
                many = _speed(lm, 16, backend, 200, 5)
                rows.append(
                    f"| {name} ({lm.units_.name}, vocabulary {len(lm.units_):,}) | {backend} | "
                    f"{threads} | {one:,.0f} | {many:,.0f} |"
                )
        torch.set_num_threads(default_threads)
        state = lm.start("The ")
        for _ in range(100):
            state.sample(1.0)
        before = _resident()
        for _ in range(9_900):
            state.sample(1.0)
        memory.append(f"{name}: {(_resident() - before) / 2**20:+.2f} MiB")
    lines = [
        "## Language model: generation speed and memory",
        "",
        "`python benchmarks/lm.py generation` on the models the other benchmarks saved: tokens "
        "per second sampling at temperature 1 (median of 9 rounds of 500 steps for one stream, "
        "200 for 16 streams side by side, all streams' tokens counted), with PyTorch and with "
        "ONNX Runtime on the exported one-step graph. Target: at least 2,000 tokens/s for one "
        "stream of the Tiny Shakespeare model.",
        "",
        machine_line(),
        "",
        *rows,
        "",
        "Resident memory after 10,000 generated tokens against after 100 (one stream, "
        f"PyTorch): {'; '.join(memory)}.",
    ]
    write_section("lm_generation", "\n".join(lines))
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="benchmark", required=True)
    for name, minutes in (("shakespeare", 3.0), ("ptb", 30.0), ("imdb", 15.0)):
        one = sub.add_parser(name)
        one.add_argument("--minutes", type=float, default=minutes)
        one.add_argument("--data-dir")
        if name in ("shakespeare", "imdb"):
            one.add_argument("--reference", action="store_true")
    sub.add_parser("generation").add_argument("--data-dir")
    args = parser.parse_args(argv)
    {"shakespeare": shakespeare, "ptb": ptb, "imdb": imdb, "generation": generation}[
        args.benchmark
    ](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
