"""How large a model is, and whether training it fits in this machine's memory."""

from __future__ import annotations

import math
import os

from rnnkit.errors import ConfigError
from rnnkit.models.config import BAG, ModelConfig
from rnnkit.nn import registry

# Bytes per parameter in training: fp32 weights, their gradients and AdamW's two moments.
TRAINING_BYTES_PER_PARAMETER = 16


def parameter_count(config: ModelConfig) -> int:
    """The number of parameters of ``build_classifier(config)`` (an ensemble's: its members'),
    from its sizes alone, so that nothing is allocated however large the model would be
    (building it on torch's meta device instead took 2.6 s on this machine, most of a small
    training run; the count is tested against real models)."""
    return config.ensemble * _classifier_parameters(config)


def _classifier_parameters(config: ModelConfig) -> int:
    count = config.vocab_size * config.embed_dim
    if config.cell == BAG:
        return count + (config.embed_dim + 1) * config.num_classes
    directions = 2 if config.bidirectional else 1
    cell = registry.named(config.cell)
    gates, hidden, size = cell.num_gates, config.hidden_size, config.embed_dim
    recurrent = math.prod(cell.weight_hh_shape(hidden)) if cell.has_weight_hh else 0
    for _ in range(config.num_layers):  # weight_ih, weight_hh, bias_ih, bias_hh
        count += directions * (gates * hidden * (size + 2) + recurrent)
        size = directions * hidden
    if "attention" in config.pooling:
        count += size * size + size + size
    return count + (len(config.pooling) * size + 1) * config.num_classes


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux's MemAvailable), else the machine's
    physical memory, else None."""
    try:
        with open("/proc/meminfo") as stream:
            for line in stream:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_training_memory(config: ModelConfig, *, available: int | None = None) -> int:
    """Raise ``ConfigError`` when training ``config`` needs more memory than is available
    (parameters alone, before any activations); return the parameter count."""
    count = parameter_count(config)
    need = TRAINING_BYTES_PER_PARAMETER * count
    available = available_memory() if available is None else available
    if available is not None and need > available:
        raise ConfigError(
            f"the model would have {count:,} parameters (hidden_size {config.hidden_size}, "
            f"embed_dim {config.embed_dim}, num_layers {config.num_layers}, vocabulary "
            f"{config.vocab_size:,}{_members(config)}): training needs at least "
            f"{_size(need)} for its weights, gradients and optimizer state, and this machine "
            f"has {_size(available)} available; make the model smaller",
            field="hidden_size",
            others=("embed_dim", "num_layers"),
        )
    return count


def _members(config: ModelConfig) -> str:
    return f", ensemble {config.ensemble}" if config.ensemble > 1 else ""


def _size(count: int) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if count >= scale:
            return f"{count / scale:,.1f} {unit}"
    return f"{count / 1e3:,.1f} kB"
