"""``rnnkit serve``: an HTTP server for a model bundle, a classifier, a language model or a
translator."""

from __future__ import annotations

import argparse
import sys
from dataclasses import fields
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.serve.config import ServeConfig
from rnnkit.tasks.shared import DEVICE_HELP

DESCRIPTION = (
    "Serve a model bundle over HTTP with FastAPI and uvicorn (the serve extra: "
    "pip install 'rnnkit[serve]'). A classifier: POST /predict with "
    '{"texts": ["...", ...], "top_k": k} answers {"predictions": [{"label", "score", '
    '"probs"}, ...], "model": ...}; concurrent requests are batched together. A language '
    'model: POST /generate with {"prompt": "...", "max_tokens": n, "temperature": t, '
    '"top_k": k, "top_p": p, "seed": s, "stop": "...", "stream": false} answers {"text", '
    '"tokens", "model"}, or with "stream": true sends server-sent events, one per token. A '
    'translator: POST /translate with {"texts": ["...", ...], "beam": k, '
    '"length_penalty": a} answers {"translations": [{"translation", "tokens", '
    '"log_prob"}, ...], "model": ...}; concurrent requests with the same beam and length '
    "penalty are decoded together. GET /health; GET /info (task, configuration, metrics); "
    "the OpenAPI schema at "
    "/openapi.json and pages at /docs. Listens on loopback unless --host says otherwise."
)

LIMITS = (  # (flag, metavar, help): each sets the ServeConfig field of its name, of its type
    (
        "--max-batch",
        "N",
        "a classifier's or a translator's: most texts in one request, and in one batch of the "
        "model (default: %(default)s)",
    ),
    (
        "--max-chars",
        "N",
        "a classifier's or a translator's: most characters in one text (default: %(default)s)",
    ),
    (
        "--max-prompt-chars",
        "N",
        "a language model's: most characters in a prompt, and in a stop string "
        "(default: %(default)s)",
    ),
    (
        "--max-tokens",
        "N",
        "a language model's: most tokens one request may generate (its max_tokens; "
        "default: %(default)s)",
    ),
    (
        "--max-beam",
        "N",
        "a translator's: widest beam one request may ask for (its beam; a request without one "
        "gets the model's beam, or this if lower; default: %(default)s)",
    ),
    (
        "--max-source-tokens",
        "N",
        "a translator's: most tokens (its source units) in one text; a longer one is a 413, "
        "since decoding it costs the square of its length (default: %(default)s)",
    ),
    (
        "--batch-wait-ms",
        "MS",
        "how long a batch waits for more requests once one arrived (default: %(default)s: it "
        "takes the requests already received; under load, requests pile up while the model "
        "runs)",
    ),
    (
        "--body-timeout",
        "S",
        "seconds a request's body may take to arrive once its headers have; a slower or "
        "shorter one is answered 408 and its connection closed (default: %(default)s)",
    ),
)


def add_parser(commands: Any) -> None:
    defaults = ServeConfig(model="")
    parser = commands.add_parser(
        "serve",
        help="serve a model over HTTP (POST /predict; /generate for a language model, "
        "/translate for a translator)",
        description=DESCRIPTION,
        epilog="Example: rnnkit serve model --port 8000 & curl -s localhost:8000/predict "
        "-H 'content-type: application/json' -d '{\"texts\": [\"a fine film\"]}'",
    )
    parser.add_argument("model", metavar="MODEL", help="model bundle folder (rnnkit train --out)")
    parser.add_argument(
        "--host",
        default=defaults.host,
        help=f"address to listen on; 0.0.0.0 for all interfaces (default: {defaults.host})",
    )
    parser.add_argument("--port", type=int, default=defaults.port, help="default: %(default)s")
    parser.add_argument(
        "--workers",
        type=int,
        default=defaults.workers,
        help="server processes, each with its own copy of the model and its share of the "
        "cores (default: %(default)s)",
    )
    parser.add_argument(
        "--api-key",
        metavar="KEY",
        help="require this key (8 characters or more) in the X-API-Key header (or "
        "Authorization: Bearer KEY) for /predict (/generate, /translate) and /info; also read from "
        "$RNNKIT_API_KEY; an empty key is an error, not an open server",
    )
    for flag, metavar, text in LIMITS:
        default = getattr(defaults, flag[2:].replace("-", "_"))
        parser.add_argument(flag, type=type(default), default=default, metavar=metavar, help=text)
    parser.add_argument(
        "--no-batching",
        action="store_true",
        help="run each request on its own instead of batching concurrent ones (a "
        "classifier's or a translator's)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="torch threads per worker (default: for a classifier, the cores divided among "
        "the workers; for a language model or a translator 1, since more threads slow down "
        "their steps of one token)",
    )
    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help=f"{DEVICE_HELP} (default: auto)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request")
    parser.set_defaults(run=run)


def api_key(given: str | None, environment: str | None) -> str | None:
    """--api-key, else $RNNKIT_API_KEY, else None (no key); an empty one is refused, since
    `--api-key "$KEY"` with KEY unset would otherwise serve without authentication."""
    if given is not None:
        if not given.strip():
            raise ConfigError(
                "--api-key is empty (is the variable you passed set?); give a key of at least "
                "8 characters, or leave --api-key out to serve without one"
            )
        return given
    if environment is not None:
        if not environment.strip():
            raise ConfigError(
                "$RNNKIT_API_KEY is set but empty; set it to a key of at least 8 characters, "
                "or unset it to serve without one"
            )
        return environment
    return None


def threads(value: int | None) -> int:
    """--threads as ServeConfig takes it: None (the default) becomes 0, 'share the cores'."""
    if value is None:
        return 0
    if value < 1:
        raise ConfigError(f"--threads must be at least 1, got {value}")
    return value


def run(args: argparse.Namespace) -> int:
    import os

    try:
        from rnnkit.serve.app import serve
    except ImportError as error:
        raise ConfigError(
            f"rnnkit serve needs FastAPI and uvicorn ({error}): pip install 'rnnkit[serve]'"
        ) from None

    given = {f.name: vars(args)[f.name] for f in fields(ServeConfig) if f.name in vars(args)}
    config = ServeConfig(  # checks every option's range
        **{
            **given,
            "api_key": api_key(args.api_key, os.environ.get("RNNKIT_API_KEY")),
            "batching": not args.no_batching,
            "threads": threads(args.threads),
        }
    )
    from rnnkit.bundle import bundle_task
    from rnnkit.serve.app import create_app
    from rnnkit.tasks import registry
    from rnnkit.train.device import resolve_device

    resolve_device(config.device)  # a device this machine lacks fails here, before loading
    spec = registry.get(bundle_task(config.model))  # a bad bundle fails here, with its message
    app = create_app(config)  # the model loaded and checked: one that cannot be served fails
    endpoint = f"POST {spec.route}"
    if config.public:
        print(
            f"rnnkit: warning: listening on all interfaces ({config.host}): anyone who can "
            "reach this machine can use the model"
            + ("" if config.api_key else "; set --api-key to require a key"),
            file=sys.stderr,
        )
    shown = f"[{config.host}]" if ":" in config.host else config.host
    print(
        f"rnnkit: serving {config.model} on http://{shown}:{config.port} "
        f"({endpoint}, docs at /docs); Ctrl-C stops",
        file=sys.stderr,
        flush=True,
    )
    serve(config, app if config.workers == 1 else None)
    return 0
