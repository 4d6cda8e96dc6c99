"""Load test of ``rnnkit serve``: requests per second and latency, with and without batching.

    python benchmarks/serve_load.py --data-dir ../shared/data [--datasets sst2,imdb]

For each dataset, starts the server as a subprocess on loopback with rnnkit's default model
trained on it (``--model-dir DIR`` to reuse bundles at DIR/DATASET), once with dynamic batching
and once with ``--no-batching``, then sends ``--requests`` POST /predict requests of one test
text each from ``--clients`` concurrent clients (keep-alive connections), and reports requests
per second over the whole load, p50 and p99 latency, errors (any status but 200), and the texts
per model call, in ``--rounds`` interleaved rounds. It also times the model alone
(``predict_proba`` one text at a time and in batches of ``--clients`` texts): the ratio of the
two is what batching could gain if HTTP cost nothing. SST-2 sentences are short (about 20
words); IMDB reviews (about 230 words) make the model's cost dominate. Client and server share
this machine's cores, as they would on one host.

Target (issue 7): zero errors, and batching at least 3x the requests per second of
one request at a time. Writes the ``serve-load`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.serve.server import Server  # noqa: E402

from _common import machine_line, write_section  # noqa: E402
from rnnkit import TextClassifier  # noqa: E402


def model_for(dataset: str, data_dir: str, model_dir: str | None, folder: Path) -> Path:
    """``MODEL_DIR/DATASET`` if there is one, else rnnkit's defaults trained now."""
    if model_dir and (Path(model_dir) / dataset).is_dir():
        return Path(model_dir) / dataset
    from rnnkit.data.datasets import load_dataset

    splits = load_dataset(dataset, data_dir)
    clf = TextClassifier().fit_corpus(splits.train, splits.valid)
    return clf.save(folder / dataset)


def cpu_seconds(pid: int) -> float:
    """User and system CPU time of process ``pid`` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _load(
    host: str, port: int, texts: list[str], requests: int, clients: int
) -> tuple[list[float], list[str]]:
    """``clients`` keep-alive HTTP/1.1 connections sending one request after another until
    ``requests`` have been sent; each request's latency, and the error of each failed one."""
    latencies: list[float] = []
    errors: list[str] = []
    numbers = iter(range(requests))

    async def client() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        for i in numbers:
            body = json.dumps({"texts": [texts[i % len(texts)]]}).encode()
            head = (
                f"POST /predict HTTP/1.1\r\nhost: {host}\r\ncontent-type: application/json"
                f"\r\ncontent-length: {len(body)}\r\n\r\n"
            ).encode()
            start = time.perf_counter()
            writer.write(head + body)
            status = (await reader.readline()).split(b" ", 2)[1]
            length = 0
            while (line := await reader.readline()) != b"\r\n":
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - start)
            if status != b"200":
                errors.append(f"{status.decode()} {payload[:200].decode(errors='replace')}")
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return latencies, errors


def load(
    url: str, texts: list[str], requests: int, clients: int, server_pid: int | None = None
) -> dict[str, Any]:
    """Send ``requests`` requests from ``clients`` concurrent connections; latencies in seconds,
    and the CPU time per request of the server (``server_pid``) and of these clients. The
    clients are asyncio connections writing raw HTTP/1.1 (0.05 ms of CPU a request; threads
    with http.client took 0.22 ms, a core's worth at the rates measured here)."""
    host, port = url.removeprefix("http://").split(":")
    server_cpu = cpu_seconds(server_pid) if server_pid else 0.0
    client_cpu = own_cpu_seconds()
    start = time.perf_counter()
    latencies, errors = asyncio.run(_load(host, int(port), texts, requests, clients))
    seconds = time.perf_counter() - start
    server_cpu = (cpu_seconds(server_pid) - server_cpu) if server_pid else 0.0
    client_cpu = own_cpu_seconds() - client_cpu
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "server_cpu_ms": 1000 * server_cpu / max(1, len(latencies)),
        "client_cpu_ms": 1000 * client_cpu / max(1, len(latencies)),
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def model_rates(
    clf: TextClassifier, texts: list[str], batch: int, threads: int, rounds: int = 5
) -> dict[str, float]:
    """Texts per second of ``predict_proba`` alone, in this process with ``threads`` torch
    threads, on a seeded sample of ``texts``: one at a time ("one"), in batches of ``batch``
    ("batch"), and in batches of ``batch`` run as one call, not cut by length ("uncut");
    median of ``rounds`` interleaved rounds. "batch" over "one" is the most the server's
    batching can gain."""
    import torch

    from rnnkit.tasks.classification import scoring

    sample = random.Random(0).sample(texts, min(len(texts), 40 * batch))
    previous, call_flops = torch.get_num_threads(), scoring.CALL_FLOPS
    torch.set_num_threads(threads)
    rates: dict[str, list[float]] = {"one": [], "batch": [], "uncut": []}
    try:
        clf.predict_proba(sample[:batch])  # warm-up
        for _ in range(rounds):
            for name in rates:
                size = 1 if name == "one" else batch
                scoring.CALL_FLOPS = None if name == "uncut" else call_flops
                start = time.perf_counter()
                for i in range(0, len(sample), size):
                    clf.predict_proba(sample[i : i + size])
                rates[name].append(len(sample) / (time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous)
        scoring.CALL_FLOPS = call_flops
    return {name: statistics.median(r) for name, r in rates.items()}


def kernel_rates(
    clf: TextClassifier, texts: list[str], batch: int, threads: int, rounds: int = 5
) -> tuple[int, dict[int, float]]:
    """The median token length of ``texts``, and sequences per second of the bare torch.nn
    recurrent layer of ``clf``'s size on sequences of that length, one at a time and in
    batches of ``batch`` (median of ``rounds``): the kernel's own gain from batching, with no
    padding, Python or HTTP around it."""
    import numpy as np
    import torch

    from rnnkit.data.corpus import Corpus

    config = clf.model_.config
    corpus = Corpus.from_texts(texts, [""] * len(texts), clf.tokenizer)
    length = int(np.median(np.minimum(np.diff(corpus.offsets), clf.max_len or 10**9)))
    layer = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU, "rnn": torch.nn.RNN}[config.cell](
        config.embed_dim,
        config.hidden_size,
        num_layers=config.num_layers,
        bidirectional=config.bidirectional,
    ).eval()
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    rates: dict[int, list[float]] = {1: [], batch: []}
    try:
        with torch.inference_mode():
            for _ in range(rounds):
                for size in rates:
                    x = torch.randn(length, size, config.embed_dim)
                    layer(x)
                    repeats = max(5, 2000 // (size * length) + 1)
                    start = time.perf_counter()
                    for _ in range(repeats):
                        layer(x)
                    rates[size].append(repeats * size / (time.perf_counter() - start))
    finally:
        torch.set_num_threads(previous)
    return length, {size: statistics.median(r) for size, r in rates.items()}


def stack_rates(texts: list[str], requests: int, clients: int, rounds: int) -> dict[str, float]:
    """Requests per second of a stand-in server with no model (``_stack_app.py``: parse the
    JSON, answer a fixed prediction per text), as a bare ASGI application and as a FastAPI
    route under uvicorn, under the same load; median of ``rounds`` interleaved rounds."""
    import subprocess
    import urllib.request

    from tests.serve.server import free_port

    rates: dict[str, list[float]] = {"bare": [], "fastapi": []}
    for _ in range(rounds):
        for kind in rates:
            port = free_port()
            app = Path(__file__).resolve().parent / "_stack_app.py"
            process = subprocess.Popen([sys.executable, str(app), kind, str(port)])
            try:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)
                        break
                    except OSError:
                        if time.monotonic() > deadline or process.poll() is not None:
                            raise RuntimeError(f"_stack_app.py {kind} did not start") from None
                        time.sleep(0.2)
                url = f"http://127.0.0.1:{port}"
                load(url, texts, min(200, requests), clients)  # warm-up
                rates[kind].append(load(url, texts, requests, clients)["rps"])
            finally:
                process.terminate()
                process.wait(timeout=20)
    return {kind: statistics.median(r) for kind, r in rates.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument(
        "--datasets",
        default="sst2,imdb",
        help="whose test texts to send, one per request (default: sst2 sentences and imdb reviews)",
    )
    parser.add_argument(
        "--model-dir", help="folder with a trained bundle per dataset name (default: train)"
    )
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="server torch threads (default: 1; the clients use the other core)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds per mode")
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    from rnnkit.data.download import locate
    from rnnkit.data.registry import dataset_info

    results: dict[str, dict[str, dict[str, Any]]] = {}
    verdicts = []
    modes = {
        "batching": [],
        "one at a time": ["--no-batching"],
        "batching, 2 ms wait": ["--batch-wait-ms", "2"],
    }
    first = args.datasets.split(",")[0]
    stack = stack_rates(
        dataset_info(first).read(locate(first, args.data_dir))["test"].texts,
        args.requests,
        args.clients,
        args.rounds,
    )
    print(
        f"HTTP stack alone ({first} texts): bare ASGI {stack['bare']:,.0f} requests/s, "
        f"FastAPI route {stack['fastapi']:,.0f}",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        for dataset in args.datasets.split(","):
            texts = dataset_info(dataset).read(locate(dataset, args.data_dir))["test"].texts
            model = model_for(dataset, args.data_dir, args.model_dir, Path(folder))
            clf = TextClassifier.load(model)
            rates = model_rates(clf, texts, args.clients, args.threads)
            length, kernel = kernel_rates(clf, texts, args.clients, args.threads)
            print(
                f"{dataset} model alone: {rates['one']:,.0f} texts/s one at a time, "
                f"{rates['batch']:,.0f} in batches of {args.clients} ({rates['uncut']:,.0f} "
                "without cutting them by length); bare kernel at "
                f"{length} tokens: {kernel[1]:,.0f} and {kernel[args.clients]:,.0f} sequences/s",
                flush=True,
            )
            rounds: dict[str, list[dict[str, Any]]] = {mode: [] for mode in modes}
            for _ in range(args.rounds):
                for mode, options in modes.items():
                    server = Server(model, "--threads", str(args.threads), *options)
                    try:
                        load(server.url, texts, min(200, args.requests), args.clients)  # warm-up
                        r = load(server.url, texts, args.requests, args.clients, server.process.pid)
                        r["health"] = server.request("GET", "/health")[1]
                    finally:
                        server.stop()
                    rounds[mode].append(r)
                    print(
                        f"{dataset} {mode}: {r['requests']} requests in {r['seconds']:.1f} s, "
                        f"{r['rps']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms, "
                        f"p99 {r['p99_ms']:.1f} ms, CPU per request: server "
                        f"{r['server_cpu_ms']:.2f} ms, clients {r['client_cpu_ms']:.2f} ms, "
                        f"errors {r['errors']} {r['first_error']}",
                        flush=True,
                    )
            # each mode's round of median requests per second, errors of every round
            by_mode = results[dataset] = {
                mode: {
                    **sorted(rs, key=lambda r: r["rps"])[len(rs) // 2],
                    "all_errors": sum(r["errors"] for r in rs),
                }
                for mode, rs in rounds.items()
            }
            ratio = by_mode["batching"]["rps"] / by_mode["one at a time"]["rps"]
            errors = sum(r["all_errors"] for r in by_mode.values())
            ceiling = rates["batch"] / rates["one"]
            bare = kernel[args.clients] / kernel[1]
            verdicts += [
                f"- {dataset}: batching serves {ratio:.1f}x the requests per second of one at a "
                f"time (target 3x: {'met' if ratio >= 3 else 'MISSED'}); errors in all rounds: "
                f"{errors} (target 0: {'met' if errors == 0 else 'MISSED'}). The model alone "
                f"(`predict_proba`, {args.threads} thread{'s' * (args.threads > 1)}) runs "
                f"{rates['one']:,.0f} texts/s one at a time and {rates['batch']:,.0f} in batches "
                f"of {args.clients} ({rates['uncut']:,.0f} without cutting them by length), "
                f"the most {args.clients} clients can form: {ceiling:.1f}x is "
                "what batching could gain if HTTP cost nothing. The bare recurrent kernel of this "
                f"size, on {length}-token sequences (the median) with no padding: "
                f"{kernel[1]:,.0f} sequences/s one at a time, {kernel[args.clients]:,.0f} in "
                f"batches of {args.clients} ({bare:.1f}x). A 2 ms batch wait: "
                f"{by_mode['batching, 2 ms wait']['rps']:,.0f} requests/s against "
                f"{by_mode['batching']['rps']:,.0f} with none",
            ]
    print("\n".join(verdicts))
    if args.no_write:
        return 0
    rows = []
    for dataset, by_mode in results.items():
        for mode, r in by_mode.items():
            health = r["health"]
            per_call = health["texts"] / max(1, health["batches"])
            rows.append(
                f"| {dataset} | {mode} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | "
                f"{r['p99_ms']:.1f} | {r['all_errors']} | {per_call:.1f} | "
                f"{r['server_cpu_ms']:.2f} | {r['client_cpu_ms']:.2f} |"
            )
    lines = [
        "## Serving under load (`benchmarks/serve_load.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"`rnnkit serve` on loopback ({args.threads} torch thread{'s' * (args.threads > 1)}) "
        f"with rnnkit's default model trained on each dataset; {args.requests:,} POST /predict "
        "requests of one test text each (SST-2: a sentence; IMDB: a review) from "
        f"{args.clients} concurrent clients on the same machine (asyncio connections writing "
        "raw HTTP/1.1). Each mode's round of median requests per second out of "
        f"{args.rounds} interleaved rounds. Texts per call: texts over model calls, warm-up "
        "included. CPU: user + system time of the server process and of the client process "
        "during the load, per request.",
        "",
        "| texts | mode | requests / s | p50 ms | p99 ms | errors (all rounds) | texts per call | "
        "server CPU ms / request | clients CPU ms / request |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        *verdicts,
        "",
        f"The HTTP stack alone, same load of {first} texts ({args.rounds} interleaved rounds): a "
        "stand-in with no model (`benchmarks/_stack_app.py`: parse the JSON, answer a fixed "
        f"prediction per text) serves {stack['bare']:,.0f} requests/s as a bare ASGI "
        f"application and {stack['fastapi']:,.0f} as a FastAPI route, both under uvicorn.",
    ]
    write_section("serve-load", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
