"""Training checkpoints: everything needed to continue a run exactly where it stopped.

    FOLDER/last/   written after every epoch and every ``every`` optimizer steps
    FOLDER/best/   a copy of the last checkpoint of the epoch with the best validation score

Each checkpoint is a folder of two files, without pickle:

    state-*.safetensors model weights ("model.*"), optimizer tensors ("optimizer.*"), the torch
                        random-number state of every process ("rng.torch")
    checkpoint.json     the state file's name and SHA-256, position (epoch, batch within the
                        epoch, optimizer steps), history, early-stopping state, scheduler and
                        optimizer settings, the caller's ``extra`` data (rnnkit train: its
                        command line)

A new checkpoint writes a new state file and then replaces checkpoint.json in one rename, so
a process killed at any instant leaves a complete checkpoint behind.

The batch order of an epoch is a function of the seed and the epoch number, so the position
and the random-number state are enough to replay the rest of the run step for step.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.errors import OutputError, RnnkitError
from rnnkit.files import (
    cause,
    check_sha256,
    sha256,
    unsupported_version,
    write_bytes,
    write_file,
)

if TYPE_CHECKING:
    from torch import Tensor

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "rnnkit-checkpoint", 1
META = "checkpoint.json"
LAST, BEST = "last", "best"


class CheckpointError(RnnkitError):
    """A checkpoint is missing, truncated or altered."""


@dataclass
class CheckpointPolicy:
    """Where and how often the trainer writes checkpoints, and whether it resumes from one."""

    folder: Path
    every: int = 0  # also every this many optimizer steps (0: only at the end of each epoch)
    resume: bool = False  # continue from resume_from, or folder/last
    resume_from: Path | None = None  # a checkpoint folder to continue from (None: last)
    extra: dict[str, Any] = field(default_factory=dict)  # saved as is, e.g. the command line

    @property
    def last(self) -> Path:
        return self.folder / LAST

    @property
    def best(self) -> Path:
        return self.folder / BEST

    def resumed_extra(self, key: str) -> Any:
        """What the checkpoint a resumed run continues saved under ``key`` in ``extra`` (None
        when not resuming, or when it saved nothing there)."""
        if not self.resume:
            return None
        return read_meta(self.resume_from or self.last).get("extra", {}).get(key)


@dataclass
class TrainingState:
    """The trainer's state between two steps."""

    model: dict[str, Tensor]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any]
    rng: Tensor
    position: dict[str, Any]  # epoch (0-based), batch (batches done in it), steps
    progress: dict[str, Any]  # the unfinished epoch's loss sum, texts, tokens and seconds
    history: dict[str, Any]
    best: dict[str, Any]  # best_key, waited
    extra: dict[str, Any] = field(default_factory=dict)
    cuda_rng: Tensor | None = None  # (processes, state) of the GPU's generator, on CUDA
    scaler: dict[str, Any] | None = None  # fp16's loss scale and its growth counter

    def describe(self) -> str:
        p = self.position
        return f"epoch {p['epoch'] + 1}, {p['batch']} batches into it, step {p['steps']}"


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors of an optimizer state dict by flat name, and the rest as JSON-able data."""
    tensors: dict[str, Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
    from torch import Tensor

    for index, values in state["state"].items():
        plain["state"][str(index)] = {}
        for key, value in values.items():
            if isinstance(value, Tensor):
                tensors[f"optimizer.{index}.{key}"] = value
            else:
                plain["state"][str(index)][key] = value
    return tensors, plain


def _join_optimizer(tensors: dict[str, Tensor], plain: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(i): dict(v) for i, v in plain["state"].items()}
    for name, value in tensors.items():
        _, index, key = name.split(".", 2)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": plain["param_groups"]}


def _publish(folder: Path, write_state: Callable[[Path], object], meta: dict[str, Any]) -> Path:
    """Make ``folder`` a checkpoint whose state ``write_state(path)`` writes, so that at every
    instant the folder holds a complete one: the state goes to a new file, then
    checkpoint.json, which names that file, is replaced in one rename; older state files go
    last, with what a process killed while writing here left staged. (Swapping whole folders
    would leave an instant with none: two renames.)"""
    name = f"state-{time.time_ns()}.safetensors"
    try:
        write_file(folder / name, write_state, output_error=False)
        meta = {**meta, "state_file": name, "checksums": {name: sha256(folder / name)}}
        text = json.dumps(meta, indent=1) + "\n"
        write_file(folder / META, lambda staging: staging.write_text(text), output_error=False)
    except OSError as error:
        (folder / name).unlink(missing_ok=True)
        kept = "; the previous checkpoint there is intact" if (folder / META).is_file() else ""
        raise OutputError(f"{folder}: cannot write the checkpoint ({cause(error)}){kept}") from None
    for old in folder.glob("state-*.safetensors"):
        if old.name != name:
            old.unlink(missing_ok=True)
    for staged in (*folder.glob(".state-*"), *folder.glob(f".{META}.*")):  # a killed writer's
        staged.unlink(missing_ok=True)
    return folder


def save_checkpoint(path: Path, state: TrainingState) -> Path:
    """Write ``state`` as the checkpoint in the folder ``path``, replacing the one there."""
    from safetensors.torch import save

    optimizer_tensors, optimizer_plain = _split_optimizer(state.optimizer)
    tensors = {
        **{f"model.{k}": v for k, v in state.model.items()},
        **optimizer_tensors,
        "rng.torch": state.rng,
        **({"rng.cuda": state.cuda_rng} if state.cuda_rng is not None else {}),
    }
    meta = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "position": state.position,
        "progress": state.progress,
        "history": state.history,
        "best": state.best,
        "scheduler": state.scheduler,
        "optimizer": optimizer_plain,
        "extra": state.extra,
        "scaler": state.scaler,
    }

    def write_state(target: Path) -> None:
        write_bytes(target, save({k: v.detach().cpu().contiguous() for k, v in tensors.items()}))

    return _publish(path, write_state, meta)


def is_checkpoint_folder(path: Path) -> bool:
    """Whether the folder ``path`` holds nothing but what ``save_checkpoint`` writes there: a
    checkpoint, or the state file of a first one that was interrupted before its
    checkpoint.json (a process killed while it wrote ``best/``)."""
    if not path.is_dir():
        return False
    staged = ("state-", ".state-", f".{META}.")
    if not (path / META).is_file():
        return all(p.name.startswith(staged) for p in path.iterdir())
    try:
        if json.loads((path / META).read_text()).get("format") != FORMAT:
            return False
    except (OSError, ValueError, AttributeError):
        return False
    return all(p.name == META or p.name.startswith(staged) for p in path.iterdir())


def read_meta(path: Path) -> dict[str, Any]:
    """checkpoint.json of the checkpoint folder ``path``, checked."""
    meta_path = path / META
    if not meta_path.is_file():
        raise CheckpointError(
            f"{path}: no checkpoint here (missing {META}); checkpoints are written by "
            "rnnkit train --out DIR into DIR/checkpoints"
        )
    try:
        meta = json.loads(meta_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{meta_path}: corrupted ({error})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise CheckpointError(f"{meta_path}: not an rnnkit checkpoint")
    version = meta.get("format_version")
    if version != FORMAT_VERSION or not isinstance(version, int):
        raise CheckpointError(f"{meta_path}: {unsupported_version(version, FORMAT_VERSION)}")
    return meta


def verify_checkpoint(path: Path) -> tuple[dict[str, Any], Path]:
    """checkpoint.json of the checkpoint folder ``path`` and its state file, whose checksum is
    checked; a missing, truncated or altered file raises ``CheckpointError`` naming it."""
    meta = read_meta(path)
    name = meta.get("state_file")
    if not isinstance(name, str) or "/" in name:
        raise CheckpointError(f"{path / META}: corrupted (no state_file)")
    state_path = path / name
    expected = meta.get("checksums", {}).get(name)
    check_sha256(state_path, expected, listed_in=META, error=CheckpointError)
    return meta, state_path


def load_checkpoint(path: Path) -> TrainingState:
    """The training state in the checkpoint folder ``path``; a missing, truncated or altered
    file raises ``CheckpointError`` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta, state_path = verify_checkpoint(path)
    try:
        tensors = load_file(state_path)
        return TrainingState(
            model={k[6:]: v for k, v in tensors.items() if k.startswith("model.")},
            optimizer=_join_optimizer(
                {k: v for k, v in tensors.items() if k.startswith("optimizer.")},
                meta["optimizer"],
            ),
            scheduler=meta["scheduler"],
            rng=tensors["rng.torch"],
            position=meta["position"],
            progress=meta["progress"],
            history=meta["history"],
            best=meta["best"],
            extra=meta.get("extra", {}),
            cuda_rng=tensors.get("rng.cuda"),
            scaler=meta.get("scaler"),
        )
    except SafetensorError as error:
        raise CheckpointError(f"{state_path}: corrupted ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path / META}: corrupted or incomplete ({error!r})") from None


def copy_checkpoint(source: Path, target: Path) -> Path:
    """Make ``target`` a copy of the checkpoint in ``source``."""
    import shutil

    meta = read_meta(source)
    meta.pop("checksums", None)
    state = source / meta.pop("state_file")
    return _publish(target, lambda path: shutil.copyfile(state, path), meta)
