"""rnnkit on a GPU, measured: the machine's peak, the recurrent training step, the whole
training loop against a bare torch.nn.LSTM loop, language-model throughput, inference, and
the IMDB pretrained-classifier recipe.

    PYTHONPATH=src python3 benchmarks/gpu.py [--sections peak,step,loop,lm,infer,recipe]
        [--data-dir DIR] [--out FILE]              # on a machine with an NVIDIA GPU
    python benchmarks/gpu.py --smoke               # the same code at toy sizes on the CPU

Sections (each printed as it finishes; ``--out`` gets the markdown, and on a GPU run the
``gpu`` section of benchmarks/RESULTS.md is replaced unless ``--no-write``):

- ``peak``: the GPU's matrix-multiply rate, 8192^3, float32 (TF32 off), TF32 and bf16.
- ``step``: one training step (forward and backward) of a bidirectional LSTM, batch 256,
  hidden 512, input 512, lengths uniform in [50, 400]: rnnkit fused (exact: the padding
  feature around cuDNN's padded kernel), torch padded (cuDNN, not exact: it ignores the
  lengths) and torch packed (cuDNN's own variable-length path, exact), fp32 and bf16
  autocast; real tokens per second, medians of interleaved rounds, and the model FLOP rate
  over the peak. Targets: rnnkit at least 0.9x torch padded and faster than torch packed.
- ``loop``: the end-to-end training of the IMDB recipe's classifier (``recipes/imdb.json``:
  embedding, word/embedding/locked/weight dropout, the recurrence, last+max+mean pooling,
  loss, AdamW; rnnkit's Trainer fed by its background thread) against a bare
  ``torch.nn.LSTM`` training loop of the same sizes on the same padded batches (embedding,
  LSTM, max pooling, linear, loss, AdamW), bf16, tokens per second. Target: rnnkit at least
  85% of the bare loop. Texts: IMDB's training reviews with ``--data-dir``, else random
  token ids with IMDB's length distribution (lengths drawn from a log-normal fitted to it).
- ``lm``: the IMDB language model (``recipes/pretrained/imdb-lm.json`` at the classifier's
  sizes), training tokens per second, and the minutes one epoch over IMDB's training and
  unlabelled reviews (about 17 million tokens at the 400-token cap) takes at that rate.
- ``infer``: ``TextClassifier.predict_proba`` documents per second on 5,000 reviews.
- ``recipe``: ``rnnkit train imdb`` with ``--pretrain`` on the 50,000 unlabelled reviews
  (needs ``--data-dir``), bf16, 3 minutes of pretraining and 2 of fine-tuning: test accuracy
  and minutes in all (target: at most 5).
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn.utils.rnn import pack_padded_sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "src"))
import rnnkit.nn  # noqa: E402
from _common import interleaved_medians, write_section  # noqa: E402

SECTIONS = ("peak", "step", "loop", "lm", "infer", "recipe")
IMDB_LM_TOKENS = 17_000_000  # IMDB train + unlabelled at the 400-token cap (NOTES.md)
TARGET_VS_PADDED, TARGET_LOOP = 0.9, 0.85


def synchronized(fn: Callable[[], object], device: torch.device) -> Callable[[], object]:
    """``fn`` that returns once the GPU has finished its work (kernels run asynchronously)."""
    if device.type != "cuda":
        return fn

    def run() -> object:
        result = fn()
        torch.cuda.synchronize(device)
        return result

    return run


def medians(candidates: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each candidate over interleaved rounds, after two warm-up calls (the
    candidates are already ``synchronized``)."""
    return interleaved_medians(candidates, rounds=rounds, warmup=2)


def machine(device: torch.device) -> str:
    if device.type != "cuda":
        return f"CPU smoke run, torch {torch.__version__} (not a GPU measurement)"
    props = torch.cuda.get_device_properties(device)
    try:
        driver = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        driver = "unknown"
    return (
        f"{props.name} ({props.total_memory / 2**30:.0f} GiB, {props.multi_processor_count} "
        f"SMs), driver {driver}, CUDA {torch.version.cuda}, cuDNN "
        f"{torch.backends.cudnn.version()}, torch {torch.__version__}; "
        f"{time.strftime('%Y-%m-%d')}"
    )


def peak(device: torch.device, size: int, rounds: int) -> dict[str, float]:
    """TFLOP/s of a size^3 matrix multiply in float32 (no TF32), TF32 and bf16."""
    found = {}
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    before = torch.backends.cuda.matmul.allow_tf32
    for name, dtype, tf32 in (
        ("fp32", torch.float32, False),
        ("tf32", torch.float32, True),
        ("bf16", torch.bfloat16, False),
    ):
        if device.type != "cuda" and name == "tf32":
            continue
        torch.backends.cuda.matmul.allow_tf32 = tf32
        x, y = a.to(dtype), b.to(dtype)
        seconds = medians({name: synchronized(lambda x=x, y=y: x @ y, device)}, rounds)[name]
        found[name] = 2 * size**3 / seconds / 1e12
    torch.backends.cuda.matmul.allow_tf32 = before
    return found


def lengths_between(batch: int, low: int, high: int, seed: int) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    lengths = torch.randint(low, high + 1, (batch,), generator=generator)
    lengths[0] = high
    return lengths


def recurrent_step(
    device: torch.device, sizes: dict[str, int], rounds: int
) -> list[dict[str, Any]]:
    """Tokens/s of one bidirectional LSTM training step, three ways, fp32 and bf16."""
    batch, hidden, width = sizes["batch"], sizes["hidden"], sizes["input"]
    lengths = lengths_between(batch, sizes["min_len"], sizes["max_len"], 0)
    theirs = torch.nn.LSTM(width, hidden, bidirectional=True).to(device)
    ours = rnnkit.nn.LSTM(width, hidden, bidirectional=True, impl="fused").to(device)
    ours.load_state_dict(theirs.state_dict())
    x = torch.randn(int(lengths.max()), batch, width, device=device, requires_grad=True)
    on_device = lengths.to(device)

    def loss_of(output: torch.Tensor, state: tuple[torch.Tensor, ...]) -> torch.Tensor:
        return output.float().sum() + sum(s.float().sum() for s in state)

    def step(module: torch.nn.Module, run: Callable[[], torch.Tensor], autocast: bool) -> Any:
        def go() -> None:
            module.zero_grad(set_to_none=True)
            x.grad = None
            with torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
                loss = run()
            loss.backward()

        return synchronized(go, device)

    def packed() -> torch.Tensor:
        output, state = theirs(pack_padded_sequence(x, lengths, enforce_sorted=False))
        return loss_of(output.data, state)

    rows = []
    real = int(lengths.sum())
    flops = 6 * 4 * hidden * (width + hidden) * 2 * real  # forward + backward, 2 directions
    for precision, autocast in (("fp32", False), ("bf16", True)):
        found = medians(
            {
                "rnnkit fused (exact)": step(
                    ours, lambda: loss_of(*ours(x, lengths=on_device)), autocast
                ),
                "torch padded (ignores lengths)": step(
                    theirs, lambda: loss_of(*theirs(x)), autocast
                ),
                "torch packed (exact)": step(theirs, packed, autocast),
            },
            rounds,
        )
        for name, seconds in found.items():
            rows.append(
                {
                    "precision": precision,
                    "implementation": name,
                    "tokens_per_s": real / seconds,
                    "tflops": flops / seconds / 1e12,
                    "ms": seconds * 1000,
                }
            )
    return rows


def imdb_like_lengths(count: int, cap: int, seed: int) -> np.ndarray:
    """Review lengths in tokens: log-normal with IMDB's median (about 174) and spread."""
    rng = np.random.default_rng(seed)
    return np.clip(rng.lognormal(math.log(174), 0.72, count).astype(np.int64), 10, cap)


def documents(args: argparse.Namespace, count: int) -> list[str] | None:
    """IMDB's training reviews when ``--data-dir`` holds it, else None."""
    if not args.data_dir:
        return None
    from peers import load_texts

    return load_texts("imdb", args.data_dir)["train"][0][:count]


def training_loop(
    device: torch.device, args: argparse.Namespace, steps: int
) -> list[dict[str, Any]]:
    """The IMDB recipe's classifier through rnnkit's Trainer against a bare torch loop."""
    from rnnkit.data.batching import Batches
    from rnnkit.models.classifier import SequenceClassifier
    from rnnkit.models.config import ModelConfig
    from rnnkit.options import read_config
    from rnnkit.tasks.classification.options import OPTIONS
    from rnnkit.train.config import TrainConfig
    from rnnkit.train.trainer import Trainer

    recipe = read_config(ROOT / "recipes" / "imdb.json")
    params = {**OPTIONS.defaults, **{k.replace("-", "_"): v for k, v in recipe.items()}}
    params["pooling"] = ",".join(params["pooling"])
    vocab, count, cap = 30_000, args.loop_texts, 400
    lengths = imdb_like_lengths(count, cap, 0)
    rng = np.random.default_rng(1)
    ids = rng.integers(2, vocab, int(lengths.sum()))
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    labels = rng.integers(0, 2, count)
    batch_size = int(params["batch_size"])
    config = ModelConfig(vocab, 2, **OPTIONS.config_values(params, "model"))
    batches = Batches(ids, offsets, labels, batch_size=batch_size, max_len=cap, shuffle=True)
    torch.manual_seed(0)
    model = SequenceClassifier(config).to(device)
    trainer = Trainer(TrainConfig(epochs=1, max_steps=steps, precision="bf16", lr=5e-3))
    trainer.fit(model, batches)  # warm-up: kernels chosen, memory pools filled
    model = SequenceClassifier(config).to(device)
    history = trainer.fit(model, batches)
    ours = history.tokens / history.seconds

    class Bare(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embedding = torch.nn.Embedding(vocab, config.embed_dim, padding_idx=0)
            self.lstm = torch.nn.LSTM(config.embed_dim, config.hidden_size, bidirectional=True)
            self.fc = torch.nn.Linear(2 * config.hidden_size, 2)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            out, _ = self.lstm(self.embedding(tokens))
            return self.fc(out.max(0).values)  # type: ignore[no-any-return]

    bare = Bare().to(device)
    optimizer = torch.optim.AdamW(bare.parameters(), lr=5e-3, fused=device.type == "cuda")
    epoch = [(b.tokens.to(device), b.target.to(device), b.num_tokens) for b in batches.epoch(0)]

    def bare_steps(count: int) -> float:
        tokens = 0
        for tokens_in, target, real in (epoch * (count // len(epoch) + 1))[:count]:
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, dtype=torch.bfloat16):
                logits = bare(tokens_in)
            torch.nn.functional.cross_entropy(logits.float(), target).backward()
            optimizer.step()
            tokens += real
        return tokens

    bare_steps(min(steps, 5))
    synchronized(lambda: None, device)()
    start = time.perf_counter()
    tokens = bare_steps(steps)
    synchronized(lambda: None, device)()
    theirs = tokens / (time.perf_counter() - start)
    per_token = 6 * 4 * config.hidden_size * (config.embed_dim + config.hidden_size) * 2
    return [
        {"loop": "rnnkit Trainer, IMDB recipe (exact, all regularizers)", "tokens_per_s": ours,
         "tflops_recurrence": ours * per_token / 1e12},
        {"loop": "bare torch.nn.LSTM loop (padded, no regularizers)", "tokens_per_s": theirs,
         "tflops_recurrence": theirs * per_token / 1e12},
    ]  # fmt: skip


def language_model(device: torch.device, args: argparse.Namespace, steps: int) -> dict[str, Any]:
    """Training tokens/s of the IMDB language model at the classifier's sizes."""
    from rnnkit.data.stream import StreamBatches
    from rnnkit.models.config import LanguageModelConfig
    from rnnkit.models.language_model import Carried, LanguageModelNet
    from rnnkit.options import read_config
    from rnnkit.tasks.language_model.options import OPTIONS, objective
    from rnnkit.train.config import TrainConfig
    from rnnkit.train.trainer import Trainer

    recipe = read_config(ROOT / "recipes" / "pretrained" / "imdb-lm.json")
    params = {**OPTIONS.defaults, **{k.replace("-", "_"): v for k, v in recipe.items()}}
    params.update(embed_dim=128, hidden=128, layers=1)
    vocab = int(params["max_vocab"])
    config = LanguageModelConfig(vocab, **OPTIONS.config_values(params, "model"))
    stream = np.random.default_rng(0).integers(3, vocab, 2_000_000).astype(np.int64)
    batches = StreamBatches(
        stream, batch_size=int(params["batch_size"]), window=70, variable=True, seed=0
    )
    train = TrainConfig(epochs=1, max_steps=steps, precision="bf16", lr=3e-3)
    rates = []
    for _ in range(2):  # the first run warms up
        net = LanguageModelNet(config).to(device)
        history = Trainer(train).fit(Carried(net), batches, None, objective("word"))
        rates.append(history.tokens / history.seconds)
    return {"tokens_per_s": rates[-1], "epoch_minutes": IMDB_LM_TOKENS / rates[-1] / 60}


def inference(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    from rnnkit import TextClassifier

    texts = documents(args, 5000)
    if texts is None:
        words = [f"w{i}" for i in range(5000)]
        rng = np.random.default_rng(2)
        texts = [
            " ".join(rng.choice(words, n)) for n in imdb_like_lengths(args.infer_texts, 400, 3)
        ]
    clf = TextClassifier.from_config(
        ROOT / "recipes" / "imdb.json", epochs=1, max_steps=5, device=str(device),
        precision="bf16", valid_split=0,
    ).fit(texts[:2000], [i % 2 for i in range(len(texts[:2000]))])  # fmt: skip
    clf.predict_proba(texts[:500])
    start = time.perf_counter()
    clf.predict_proba(texts)
    seconds = time.perf_counter() - start
    return {"documents": len(texts), "documents_per_s": len(texts) / seconds}


def recipe(device: torch.device, args: argparse.Namespace) -> dict[str, Any]:
    """The pretrained IMDB recipe through the command line, as a user runs it."""
    out = Path(args.work) / "imdb-gpu"
    command = [
        sys.executable, "-m", "rnnkit", "train", "imdb", "--data-dir", args.data_dir,
        "--config", str(ROOT / "recipes" / "pretrained" / "imdb.json"),
        "--pretrain", f"{args.data_dir}/imdb/aclImdb_v1.tar.gz#aclImdb/train/unsup",
        "--pretrain-config", str(ROOT / "recipes" / "pretrained" / "imdb-lm.json"),
        "--pretrain-minutes", "3", "--max-minutes", "2", "--precision", "bf16",
        "--device", str(device), "--out", str(out), "--json", "--quiet",
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    minutes = (time.perf_counter() - start) / 60
    if result.returncode != 0:
        return {"error": result.stderr.strip().splitlines()[-1:], "minutes": minutes}
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return {"test_accuracy": report["test"]["accuracy"], "minutes": minutes}


SMOKE = {"batch": 8, "hidden": 16, "input": 16, "min_len": 5, "max_len": 20}
FULL = {"batch": 256, "hidden": 512, "input": 512, "min_len": 50, "max_len": 400}


def report(name: str, found: Any, device: torch.device, peaks: dict[str, float]) -> str:
    """The markdown of one section."""
    if name == "peak":
        return "GPU matrix multiply, TFLOP/s: " + ", ".join(
            f"{k} {v:,.1f}" for k, v in found.items()
        )
    if name == "step":
        lines = [
            "| precision | implementation | real tokens/s | ms/step | TFLOP/s | of peak "
            "| vs padded |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        padded = {
            r["precision"]: r["tokens_per_s"] for r in found if "padded" in r["implementation"]
        }
        for r in found:
            top = peaks.get("tf32" if r["precision"] == "fp32" else "bf16", float("nan"))
            lines.append(
                f"| {r['precision']} | {r['implementation']} | {r['tokens_per_s']:,.0f} | "
                f"{r['ms']:.1f} | {r['tflops']:.1f} | {r['tflops'] / top:.0%} | "
                f"{r['tokens_per_s'] / padded[r['precision']]:.2f}x |"
            )
        return "\n".join(lines)
    if name == "loop":
        ratio = found[0]["tokens_per_s"] / found[1]["tokens_per_s"]
        lines = ["| training loop (bf16) | tokens/s | recurrence TFLOP/s |", "|---|---:|---:|"]
        lines += [
            f"| {r['loop']} | {r['tokens_per_s']:,.0f} | {r['tflops_recurrence']:.2f} |"
            for r in found
        ]
        return "\n".join(lines) + f"\n\nrnnkit / bare: {ratio:.2f} (target {TARGET_LOOP})"
    if name == "lm":
        return (
            f"IMDB language model (1 x 128, adaptive softmax over 30,000 words, bf16): "
            f"{found['tokens_per_s']:,.0f} training tokens/s; an epoch of IMDB's "
            f"{IMDB_LM_TOKENS / 1e6:.0f} million training and unlabelled tokens at that rate: "
            f"{found['epoch_minutes']:.1f} min"
        )
    if name == "infer":
        return (
            f"inference, IMDB recipe classifier, bf16: {found['documents_per_s']:,.0f} "
            f"documents/s ({found['documents']:,} documents)"
        )
    return "IMDB pretrained recipe (3 min pretraining + 2 min fine-tuning): " + json.dumps(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sections", default=",".join(SECTIONS[:-1]), help="comma-separated")
    parser.add_argument("--data-dir", help="folder holding imdb/aclImdb_v1.tar.gz")
    parser.add_argument("--smoke", action="store_true", help="toy sizes on the CPU")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--out", help="also write the markdown here")
    parser.add_argument("--work", default="/tmp", help="where the recipe's model goes")
    parser.add_argument("--no-write", action="store_true", help="leave RESULTS.md as it is")
    parser.add_argument("--loop-texts", type=int, default=25_000)
    parser.add_argument("--infer-texts", type=int, default=5_000)
    args = parser.parse_args(argv)
    device = torch.device("cpu" if args.smoke else "cuda")
    if device.type == "cuda" and not torch.cuda.is_available():
        print("benchmarks/gpu.py: no GPU here (use --smoke for the CPU check)", file=sys.stderr)
        return 2
    sections = [s.strip() for s in args.sections.split(",") if s.strip()]
    unknown = [s for s in sections if s not in SECTIONS]
    if unknown:
        parser.error(f"unknown sections {unknown}: choose from {', '.join(SECTIONS)}")
    if "recipe" in sections and not args.data_dir:
        parser.error("the recipe section needs --data-dir")
    if args.smoke:
        args.loop_texts, args.infer_texts, args.rounds = 300, 200, 2
    steps = 20 if args.smoke else 300
    parts, peaks = [machine(device)], {}
    for name in sections:
        start = time.perf_counter()
        found: Any
        if name == "peak":
            found = peaks = peak(device, 256 if args.smoke else 8192, args.rounds)
        elif name == "step":
            found = recurrent_step(device, SMOKE if args.smoke else FULL, args.rounds)
        elif name == "loop":
            found = training_loop(device, args, steps)
        elif name == "lm":
            found = language_model(device, args, steps)
        elif name == "infer":
            found = inference(device, args)
        else:
            found = recipe(device, args)
        text = report(name, found, device, peaks)
        print(f"{text}\n({name}: {time.perf_counter() - start:.0f} s)\n", flush=True)
        parts.append(text)
    markdown = "\n\n".join(parts)
    if args.out:
        Path(args.out).write_text(markdown + "\n")
    if device.type == "cuda" and not args.no_write:
        write_section("gpu", "`python benchmarks/gpu.py` on " + markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
