"""Model bundles: a folder that holds everything needed to use a trained model, without pickle.

    model.safetensors   the weights
    config.json         format version, task, data, model and training configuration, vocabulary,
                        label names, and the SHA-256 of model.safetensors and of the data
                        settings with the vocabulary
    metrics.json        validation and test scores, training time and speed
    checkpoints/        rnnkit train's training checkpoints (last/, best/), kept when a new
                        bundle is written over the folder (see rnnkit.train.checkpoint)

A bundle is written to a temporary folder and renamed into place, so a crash or a full disk
never leaves a half-written bundle where a good one was; a folder that holds anything rnnkit did
not write is never replaced (``check_target``), and one process at a time writes a folder.
Loading checks the weights' checksum and the configuration against the weights, and names the
file at fault when one is missing, corrupted or inconsistent.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import BundleError
from rnnkit.files import (
    FolderLock,
    check_sha256,
    check_target,
    leftover_hint,
    sha256,
    unsupported_version,
    write_bytes,
    write_folder,
)
from rnnkit.tasks import registry
from rnnkit.train.checkpoint import is_checkpoint_folder
from rnnkit.train.config import TrainConfig

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)

FORMAT = "rnnkit-bundle"
# config.json's checksum of how text becomes token ids (its data section and vocabulary),
# beside the weights' one: either changed by hand changes every prediction silently.
TEXT = "text"
FORMAT_VERSION = 2
# Version 1 (rnnkit 0.1): no "task" (every bundle a classifier) and the weights named before the
# encoder was its own module; both are read as version 2 (tests/fixtures/format1).
READABLE_VERSIONS = (1, 2)
WEIGHTS, CONFIG, METRICS = "model.safetensors", "config.json", "metrics.json"
CHECKPOINTS = "checkpoints"  # written by rnnkit train during training; kept across saves
PRETRAINED = "lm"  # a classifier's folder: the language models rnnkit train --pretrain wrote
SECTIONS = ("data", "model", "training")  # config.json's sections of every task


@dataclass
class Bundle:
    """What a model folder holds: its configurations (``data``, ``model``, ``train``, and in
    ``sections`` the ones of its task's own, such as a translator's ``decoding``), the
    vocabulary (a classifier's vocabulary, a language model's units, a translator's pair of
    units: anything with ``to_json``), a classifier's labels (none for the other tasks), the
    weights, the metrics, and the task (its name in :mod:`rnnkit.tasks.registry`)."""

    data: Any
    model: Any
    train: TrainConfig
    vocab: Any
    classes: list[Any]
    state: dict[str, Tensor]
    metrics: dict[str, Any] = field(default_factory=dict)
    task: str = "classification"
    sections: dict[str, Any] = field(default_factory=dict)


def own_entries() -> frozenset[str]:
    """The names rnnkit writes into a model folder: the bundle's files, its checkpoints and
    every task's exports."""
    exports = {name for spec in registry.specs() for name in spec.files}
    return frozenset({WEIGHTS, CONFIG, METRICS, CHECKPOINTS, *exports})


def foreign_entries(path: Path) -> list[str]:
    """What in the folder ``path`` rnnkit did not write (replacing the folder would lose it).
    A model's files count as rnnkit's only beside the ``config.json`` of an rnnkit bundle;
    ``checkpoints/`` only when it holds rnnkit checkpoints."""
    entries = sorted(path.iterdir(), key=lambda p: p.name)
    bundle = (path / CONFIG).is_file() and _is_bundle_config(path / CONFIG)
    found = []
    for entry in entries:
        name = entry.name
        if name == CHECKPOINTS:
            if not _is_checkpoints(entry):
                found.append(f"{CHECKPOINTS} (not rnnkit's)")
        elif name == CONFIG and not bundle:
            found.append(f"{CONFIG} (not an rnnkit model's)")
        elif bundle and _is_own(entry):
            continue
        else:
            found.append(name)
    return found


def _is_bundle_config(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("format") == FORMAT)
    except (OSError, ValueError, AttributeError):
        return False


def _is_checkpoints(folder: Path) -> bool:
    """Whether ``folder`` holds only rnnkit checkpoint folders (last, best)."""
    if not folder.is_dir():
        return False
    return all(p.name in ("last", "best") and is_checkpoint_folder(p) for p in folder.iterdir())


def _is_own(entry: Path) -> bool:
    """Whether ``entry``, beside a bundle's config.json, is one of the bundle's own."""
    name = entry.name
    if name in own_entries() or _is_export_leftover(name):
        return True
    return name == PRETRAINED and _is_bundles(entry)


def _is_bundles(folder: Path) -> bool:
    """Whether ``folder`` holds only rnnkit model folders (the language models of ``lm/``)."""
    if not folder.is_dir():
        return False
    return all(p.is_dir() and _is_bundle_config(p / CONFIG) for p in folder.iterdir())


def _is_export_leftover(name: str) -> bool:
    """A staging file that an interrupted ``rnnkit export`` into the folder left."""
    exports = {name for spec in registry.specs() for name in spec.files}
    return any(name.startswith(f".{onnx}.tmp-") for onnx in exports)


def check_bundle_target(
    path: str | Path, *, option: str = "", inputs: Sequence[str | Path] = ()
) -> Path:
    """Refuse (``OutputError``) a place that cannot become a model folder without losing
    anything: a file, the current folder, a folder that holds ``inputs`` or anything rnnkit
    did not write, a place that cannot be written. New and empty folders and rnnkit's own
    model folders pass."""
    return check_target(
        Path(path), option=option, folder=True, inputs=inputs, foreign=foreign_entries
    )


def save_bundle(
    path: str | Path, bundle: Bundle, *, option: str = "", keep_others: bool = False
) -> Path:
    """Write ``bundle`` to the folder ``path`` atomically, replacing the model there (its
    checkpoints are kept); ``check_bundle_target`` decides what may be replaced. With
    ``keep_others`` (for a folder checked before a long run), files that are not rnnkit's and
    appeared in the folder since are kept in the new one instead of refusing to save."""
    from safetensors.torch import save

    keep = [CHECKPOINTS]
    if keep_others and Path(path).is_dir():
        others = [p.name for p in Path(path).iterdir() if p.name not in own_entries()]
        keep += others
        others = [name for name in others if name != PRETRAINED]  # written by this run
        if others:
            log.warning(
                "%s: keeping %s, which appeared in it during training", path, ", ".join(others)
            )
        path = check_target(Path(path), option=option, folder=True, foreign=lambda p: [])
    else:
        path = check_bundle_target(path, option=option)

    def write(staging: Path) -> None:
        state = {name: t.detach().cpu().contiguous() for name, t in bundle.state.items()}
        write_bytes(staging / WEIGHTS, save(state, metadata={"format": FORMAT}))
        vocab = bundle.vocab.to_json()
        config = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "task": bundle.task,
            "data": asdict(bundle.data),
            "model": asdict(bundle.model),
            "training": asdict(bundle.train),
            **{name: asdict(section) for name, section in bundle.sections.items()},
            "labels": list(bundle.classes),
            "vocab": vocab,
            "checksums": {
                WEIGHTS: sha256(staging / WEIGHTS),
                TEXT: text_checksum(asdict(bundle.data), vocab),
            },
        }
        (staging / CONFIG).write_text(json.dumps(config, indent=1) + "\n")
        (staging / METRICS).write_text(json.dumps(bundle.metrics, indent=1) + "\n")

    with FolderLock(path, option=option):
        return write_folder(path, write, keep=tuple(keep), what="the model bundle")


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


def load_bundle(path: str | Path, *, task: str | None = None, command: str = "") -> Bundle:
    """Read a bundle folder; never unpickles. With ``task``, a model of another task is
    refused (``BundleError`` naming its task and the commands that take it, or ``command``)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from rnnkit.models.classifier import rename_legacy

    path = Path(path)
    config, version, found = _read_header(path)
    spec = registry.get(found)
    if task is not None and found != task:
        taker = command or "this"
        wanted = registry.get(task).title if task in registry.names() else task
        raise BundleError(
            f"{path}: {taker} takes {wanted}, and this bundle holds {spec.title} (task "
            f"{found!r}): use it with {spec.commands}"
        )
    weights = path / WEIGHTS
    expected = config.get("checksums", {}).get(WEIGHTS)
    check_sha256(weights, expected, listed_in=CONFIG, error=BundleError)
    expected_text = config.get("checksums", {}).get(TEXT)  # bundles before it have none
    if expected_text is not None and expected_text != text_checksum(
        config.get("data"), config.get("vocab")
    ):
        raise BundleError(
            f"{path / CONFIG}: its vocabulary or data settings were altered (their SHA-256 does "
            "not match the one recorded when the model was saved); every prediction would change"
        )
    if not isinstance(config.get("labels"), list):
        raise BundleError(f"{path / CONFIG}: corrupted (labels is not a list)")
    try:
        state = load_file(weights)
        if version == 1:
            state = rename_legacy(state)
        own = [name for name in spec.sections if name not in SECTIONS]
        bundle = Bundle(
            spec.read_section("data", config["data"]),
            spec.read_section("model", config["model"]),
            spec.read_section("training", config["training"]),
            spec.vocabulary(config["vocab"]),
            list(config["labels"]),
            state,
            task=found,
            # a section of its own that an earlier release did not write: its defaults
            sections={name: spec.read_section(name, config.get(name, {})) for name in own},
        )
    except SafetensorError as error:
        raise BundleError(f"{weights}: corrupted ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise BundleError(f"{path / CONFIG}: corrupted or incomplete ({error!r})") from None
    if spec.check is not None:  # the configuration against the weights' sizes
        spec.check(bundle, path / CONFIG)
    metrics_path = path / METRICS
    bundle.metrics = _read_json(metrics_path) if metrics_path.exists() else {}
    return bundle


def bundle_task(path: str | Path) -> str:
    """The task of the bundle in the folder ``path``, from its config.json alone (the weights
    are not read); ``BundleError`` as ``load_bundle`` for a folder that is not a bundle."""
    return _read_header(Path(path))[2]


def _read_header(path: Path) -> tuple[dict[str, Any], int, str]:
    """config.json of the bundle ``path``, its format version and its task, checked."""
    if not path.is_dir():
        raise BundleError(f"{path}: no such model folder{leftover_hint(path)}")
    config = _read_json(path / CONFIG)
    if config.get("format") != FORMAT:
        raise BundleError(f"{path / CONFIG}: not an rnnkit model configuration")
    version = config.get("format_version")
    if version not in READABLE_VERSIONS or not isinstance(version, int):
        raise BundleError(f"{path / CONFIG}: {unsupported_version(version, FORMAT_VERSION)}")
    found = config.get("task", "classification") if version == 1 else config.get("task")
    if found not in registry.names():
        raise BundleError(
            f"{path / CONFIG}: a model for the task {found!r}; this rnnkit reads "
            f"{', '.join(map(repr, registry.names()))} models"
        )
    return config, version, found


def text_checksum(data: object, vocab: object) -> str:
    """SHA-256 of the data settings and the vocabulary in their JSON form."""
    text = json.dumps({"data": data, "vocab": vocab}, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
