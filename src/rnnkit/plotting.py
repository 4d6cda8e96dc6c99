"""matplotlib, an optional dependency (the ``plot`` extra), imported where a plot is drawn."""

from __future__ import annotations

from typing import Any

from rnnkit.errors import ConfigError


def pyplot(what: str) -> Any:
    """``matplotlib.pyplot`` on the file-only Agg backend, or a ConfigError saying that
    ``what`` (an option, or "plots") needs matplotlib and how to install it."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ConfigError(f"{what} needs matplotlib: pip install 'rnnkit[plot]'") from None
    return plt
