"""Server configuration: plain data, passed to uvicorn's worker processes as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass

from rnnkit.errors import ConfigError
from rnnkit.models.config import MAX_BEAM

ALL_INTERFACES = ("0.0.0.0", "::", "")


@dataclass(frozen=True)
class ServeConfig:
    """Where to listen, how much one request may ask, and how requests are batched.
    ``max_batch``, ``max_chars`` and the batching apply to a classifier and a translator,
    ``max_beam`` to a translator, ``max_prompt_chars`` and ``max_tokens`` to a language
    model."""

    model: str
    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 1
    max_batch: int = 256  # texts in one request, and texts the batcher runs together
    max_chars: int = 100_000  # characters in one text
    max_prompt_chars: int = 4_000  # characters in a prompt (and in a stop string)
    max_tokens: int = 1_000  # tokens one request may generate
    max_beam: int = 10  # the widest beam one translation request may ask for
    # tokens of one source text: a translation's cost grows with its source's length squared
    max_source_tokens: int = 200
    api_key: str | None = None
    batching: bool = True  # dynamic batching of concurrent requests
    batch_wait_ms: float = 0.0  # how long a batch waits for more requests once one arrived
    body_timeout: float = 30.0  # seconds a request's whole body may take to arrive
    threads: int = 0  # torch threads per worker (0: the cores divided among the workers)
    device: str = "auto"  # where the model runs (auto: a GPU when torch sees one)
    access_log: bool = False

    def __post_init__(self) -> None:
        checks = [
            ("--port", 0 <= self.port <= 65535, "in [0, 65535]"),
            ("--workers", self.workers >= 1, "at least 1"),
            ("--max-batch", self.max_batch >= 1, "at least 1"),
            ("--max-chars", self.max_chars >= 1, "at least 1"),
            ("--max-prompt-chars", self.max_prompt_chars >= 1, "at least 1"),
            ("--max-tokens", self.max_tokens >= 1, "at least 1"),
            ("--max-beam", self.max_beam >= 1, "at least 1"),
            ("--max-beam", self.max_beam <= MAX_BEAM, f"at most {MAX_BEAM}, the widest beam"),
            ("--max-source-tokens", self.max_source_tokens >= 1, "at least 1"),
            ("--batch-wait-ms", 0 <= self.batch_wait_ms <= 1000, "in [0, 1000]"),
            ("--body-timeout", 0 < self.body_timeout <= 3600, "in (0, 3600]"),
            ("--threads", self.threads >= 0, "zero or positive"),
        ]
        for option, ok, expected in checks:
            if not ok:
                field = option.lstrip("-").replace("-", "_")
                raise ConfigError(f"{option} must be {expected}, got {getattr(self, field)}")
        if self.api_key is not None and len(self.api_key) < 8:
            raise ConfigError("--api-key must be at least 8 characters")

    @property
    def max_body_bytes(self) -> int:
        """The largest request body worth reading: max_batch texts of max_chars characters of
        up to 4 UTF-8 bytes (JSON escapes aside), plus room for the envelope."""
        return self.max_batch * (4 * self.max_chars + 16) + 4096

    @property
    def max_generate_bytes(self) -> int:
        """The largest POST /generate body worth reading: a prompt and a stop string of
        max_prompt_chars characters of up to 4 UTF-8 bytes, plus room for the other fields."""
        return 2 * 4 * self.max_prompt_chars + 4096

    @property
    def torch_threads(self) -> int:
        """Torch threads per worker: ``threads``, or the cores divided among the workers."""
        return self.threads or max(1, (os.cpu_count() or 1) // self.workers)

    @property
    def public(self) -> bool:
        return self.host in ALL_INTERFACES

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeConfig:
        return cls(**json.loads(text))
