"""matplotlib, an optional dependency (the ``plot`` extra), imported where a plot is drawn."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.files import check_target

IMAGE_SUFFIXES = (".png", ".pdf", ".svg", ".jpg", ".jpeg")


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


def image_path(option: str, value: str | Path) -> Path:
    """The file an image option writes, checked before any work: ``value`` itself when it
    ends in an image suffix, else ``value`` with ``.png`` added (what the message then names)."""
    path = Path(value)
    if path.is_dir():
        raise ConfigError(f"{option} {path}: is a folder; give a file name such as {path}.png")
    if path.suffix.lower() not in IMAGE_SUFFIXES:
        path = path.with_name(path.name + ".png")
    check_target(path, option=option, folder=False)
    return path


def save_figure(figure: Any, path: str | Path, **options: Any) -> None:
    """Write ``figure`` to ``path``, making the folders above it (which ``image_path``
    checked could be made), then close it."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, **options)
    pyplot("plots").close(figure)


def plot_attention(sources: list[str], outputs: list[str], weights: Any, path: str) -> None:
    """A heatmap of attention ``weights`` (outputs, sources): one row per output token, one
    column per source token, darker where the decoder looked."""
    plt = pyplot("--plot-attention")
    rows, columns = len(outputs), len(sources)
    figure, axes = plt.subplots(figsize=(1.0 + 0.45 * columns, 1.0 + 0.4 * rows))
    image = axes.imshow(weights, cmap="Greys", vmin=0.0, vmax=1.0, aspect="auto")
    axes.set_xticks(range(columns), [s.strip() or "␣" for s in sources], rotation=60, ha="right")
    axes.set_yticks(range(rows), [o.strip() or "␣" for o in outputs])
    axes.set_xlabel("source")
    axes.set_ylabel("translation")
    figure.colorbar(image, ax=axes, fraction=0.04)
    figure.tight_layout()
    save_figure(figure, path)
