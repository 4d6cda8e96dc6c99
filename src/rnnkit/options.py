"""JSON files of options (``rnnkit train --config FILE``, ``TextClassifier.from_config``):
one JSON object whose keys are option names, with or without dashes (``"embed-dim"``,
``"--embed-dim"`` and ``"embed_dim"`` are the same option)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError


def option_name(key: object) -> str:
    """``"--embed-dim"`` -> ``"embed_dim"``."""
    return str(key).lstrip("-").replace("-", "_")


def read_config(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"--config {path}: cannot read it ({error})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"--config {path}, line {error.lineno}, column {error.colno}: not valid JSON "
            f"({error.msg})"
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"--config {path}: expected a JSON object of options, got {values!r}")
    return values
