"""Model bundles: a folder that holds everything needed to use a trained model, without pickle.

    model.safetensors   the weights
    config.json         format version, data, model and training configuration, vocabulary,
                        label names, and the SHA-256 of model.safetensors
    metrics.json        validation and test scores, training time and speed
    checkpoints/        rnnkit train's training checkpoints (last/, best/), kept when a new
                        bundle is written over the folder (see rnnkit.train.checkpoint)

A bundle is written to a temporary folder and renamed into place, so a crash never leaves a
half-written bundle where a good one was. Loading checks the weights' checksum and names the file
at fault when one is missing or corrupted.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.data.config import DataConfig
from rnnkit.errors import BundleError
from rnnkit.files import leftover_hint, sha256, write_folder
from rnnkit.models.config import ModelConfig
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.config import TrainConfig

FORMAT = "rnnkit-bundle"
FORMAT_VERSION = 1
WEIGHTS, CONFIG, METRICS = "model.safetensors", "config.json", "metrics.json"
CHECKPOINTS = "checkpoints"  # written by rnnkit train during training; kept across saves


@dataclass
class Bundle:
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    vocab: Vocabulary
    classes: list[Any]
    state: dict[str, Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)


def save_bundle(path: str | Path, bundle: Bundle) -> Path:
    """Write ``bundle`` to the folder ``path`` atomically, replacing what is there."""
    from safetensors.torch import save_file

    def write(staging: Path) -> None:
        state = {name: t.detach().cpu().contiguous() for name, t in bundle.state.items()}
        save_file(state, staging / WEIGHTS, metadata={"format": FORMAT})
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "data": asdict(bundle.data),
            "model": asdict(bundle.model),
            "training": asdict(bundle.train),
            "labels": list(bundle.classes),
            "vocab": bundle.vocab.to_json(),
            "checksums": {WEIGHTS: sha256(staging / WEIGHTS)},
        }
        (staging / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
        (staging / METRICS).write_text(json.dumps(bundle.metrics, indent=1) + "\n")

    return write_folder(Path(path), write, keep=(CHECKPOINTS,))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise BundleError(f"{path}: missing; is {path.parent} a model bundle written by rnnkit?")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise BundleError(f"{path}: corrupted ({error})") from None
    if not isinstance(data, dict):
        raise BundleError(f"{path}: corrupted (expected a JSON object)")
    return data


def load_bundle(path: str | Path) -> Bundle:
    """Read a bundle folder; never unpickles."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_dir():
        raise BundleError(f"{path}: no such model folder{leftover_hint(path)}")
    config = _read_json(path / CONFIG)
    if config.get("format") != FORMAT:
        raise BundleError(f"{path / CONFIG}: not an rnnkit model configuration")
    if config.get("format_version") != FORMAT_VERSION:
        raise BundleError(
            f"{path / CONFIG}: format version {config.get('format_version')} is not supported "
            f"by this rnnkit (it reads version {FORMAT_VERSION})"
        )
    weights = path / WEIGHTS
    if not weights.is_file():
        raise BundleError(f"{weights}: missing")
    expected = config.get("checksums", {}).get(WEIGHTS)
    if expected != sha256(weights):
        raise BundleError(f"{weights}: corrupted (its SHA-256 does not match {CONFIG})")
    try:
        state = load_file(weights)
        model = ModelConfig.from_json(config["model"])
        bundle = Bundle(
            DataConfig(**config["data"]),
            model,
            TrainConfig(**config["training"]),
            Vocabulary.from_json(config["vocab"]),
            list(config["labels"]),
            state,
        )
    except SafetensorError as error:
        raise BundleError(f"{weights}: corrupted ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{path / CONFIG}: corrupted or incomplete ({error!r})") from None
    metrics_path = path / METRICS
    bundle.metrics = _read_json(metrics_path) if metrics_path.exists() else {}
    return bundle
