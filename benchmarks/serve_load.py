"""Load test of ``rnnkit serve``: requests per second and latency, with and without batching.

    python benchmarks/serve_load.py --data-dir ../shared/data [--model DIR]

Starts the server as a subprocess on loopback (once with dynamic batching, once with
``--no-batching``), then sends ``--requests`` POST /predict requests, one SST-2 test sentence
each, from ``--clients`` concurrent clients (threads with keep-alive connections), and reports
requests per second over the whole load, p50 and p99 latency, and errors (any status but 200).
The model is ``--model``, or rnnkit's defaults trained on SST-2 for this run. Client and server
share this machine's cores, as they would on one host.

Target (issue 7): zero errors, and batching at least 3x the requests per second of
one request at a time. Writes the ``serve-load`` section of ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.serve.server import Server  # noqa: E402

from _common import machine_line, write_section  # noqa: E402


def train_model(data_dir: str, folder: Path) -> Path:
    from rnnkit import TextClassifier
    from rnnkit.data.datasets import load_dataset

    splits = load_dataset("sst2", data_dir)
    clf = TextClassifier().fit_corpus(splits.train, splits.valid)
    return clf.save(folder / "sst2-model")


def load(url: str, texts: list[str], requests: int, clients: int) -> dict[str, Any]:
    """Send ``requests`` requests from ``clients`` threads; latencies in seconds."""
    host, port = url.removeprefix("http://").split(":")
    latencies: list[float] = []
    errors: list[str] = []
    counter = iter(range(requests))
    lock = threading.Lock()

    def client() -> None:
        connection = http.client.HTTPConnection(host, int(port), timeout=60)
        while True:
            with lock:
                i = next(counter, None)
            if i is None:
                break
            body = json.dumps({"texts": [texts[i % len(texts)]]})
            start = time.perf_counter()
            try:
                connection.request("POST", "/predict", body, {"content-type": "application/json"})
                response = connection.getresponse()
                payload = response.read()
                ok = response.status == 200
            except (OSError, http.client.HTTPException) as error:
                ok, payload = False, str(error).encode()
                connection = http.client.HTTPConnection(host, int(port), timeout=60)
            elapsed = time.perf_counter() - start
            with lock:
                latencies.append(elapsed)
                if not ok:
                    errors.append(payload[:200].decode(errors="replace"))

    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - start
    ordered = sorted(latencies)
    return {
        "requests": len(latencies),
        "seconds": seconds,
        "rps": len(latencies) / seconds,
        "p50_ms": 1000 * statistics.median(ordered),
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("RNNKIT_DATA_DIR"))
    parser.add_argument("--model", help="model bundle to serve (default: train one on SST-2)")
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="server torch threads (default: 1; the clients use the other core)",
    )
    parser.add_argument("--no-write", action="store_true")
    args = parser.parse_args(argv)
    if not args.data_dir:
        parser.error("--data-dir (or RNNKIT_DATA_DIR) is required")
    from rnnkit.data.datasets import dataset_info, locate

    texts = dataset_info("sst2").read(locate("sst2", args.data_dir))["test"].texts
    with tempfile.TemporaryDirectory() as folder:
        model = Path(args.model) if args.model else train_model(args.data_dir, Path(folder))
        results = {}
        for mode, options in (("batching", []), ("one at a time", ["--no-batching"])):
            server = Server(model, "--threads", str(args.threads), *options)
            try:
                load(server.url, texts, min(200, args.requests), args.clients)  # warm-up
                results[mode] = load(server.url, texts, args.requests, args.clients)
                results[mode]["health"] = server.request("GET", "/health")[1]
            finally:
                server.stop()
            r = results[mode]
            print(
                f"{mode}: {r['requests']} requests in {r['seconds']:.1f} s, "
                f"{r['rps']:,.0f} requests/s, p50 {r['p50_ms']:.1f} ms, "
                f"p99 {r['p99_ms']:.1f} ms, errors {r['errors']} {r['first_error']}",
                flush=True,
            )
    ratio = results["batching"]["rps"] / results["one at a time"]["rps"]
    errors = sum(r["errors"] for r in results.values())
    verdicts = [
        f"- batching serves {ratio:.1f}x the requests per second of one at a time "
        f"(target 3x: {'met' if ratio >= 3 else 'MISSED'})",
        f"- errors: {errors} (target 0: {'met' if errors == 0 else 'MISSED'})",
    ]
    print("\n".join(verdicts))
    if args.no_write:
        return 0
    health = results["batching"]["health"]
    described = "rnnkit defaults trained on SST-2"
    if args.model:
        metrics = json.loads((Path(args.model) / "metrics.json").read_text())
        described = f"a bundle trained on {metrics.get('data')} (`rnnkit train`)"
    lines = [
        "## Serving under load (`benchmarks/serve_load.py`)",
        "",
        f"Machine: {machine_line()}",
        "",
        f"`rnnkit serve` on loopback ({args.threads} torch thread{'s' * (args.threads > 1)}), "
        f"{args.requests:,} POST /predict requests of one SST-2 test sentence each from "
        f"{args.clients} concurrent clients on the same machine; model: "
        f"{described}.",
        "",
        "| mode | requests / s | p50 ms | p99 ms | errors |",
        "|---|---:|---:|---:|---:|",
        *(
            f"| {mode} | {r['rps']:,.0f} | {r['p50_ms']:.1f} | {r['p99_ms']:.1f} | {r['errors']} |"
            for mode, r in results.items()
        ),
        "",
        f"With batching the model ran {health['batches']:,} batches for {health['texts']:,} "
        f"texts (warm-up included): {health['texts'] / max(1, health['batches']):.1f} texts "
        "per call.",
        "",
        *verdicts,
    ]
    write_section("serve-load", "\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
