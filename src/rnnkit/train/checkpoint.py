"""Training checkpoints: everything needed to continue a run exactly where it stopped.

    FOLDER/last/   written after every epoch and every ``every`` optimizer steps
    FOLDER/best/   a copy of the last checkpoint of the epoch with the best validation score

Each checkpoint is a folder written atomically (``rnnkit.files.write_folder``), without pickle:

    state.safetensors   model weights ("model.*"), optimizer tensors ("optimizer.*"), the torch
                        random-number state ("rng.torch")
    checkpoint.json     position (epoch, batch within the epoch, optimizer steps), history,
                        early-stopping state, scheduler and optimizer settings, the caller's
                        ``extra`` data (rnnkit train: its command line), and the SHA-256 of
                        state.safetensors

The batch order of an epoch is a function of the seed and the epoch number, so the position
and the random-number state are enough to replay the rest of the run step for step.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnnkit.errors import RnnkitError
from rnnkit.files import sha256, write_folder

log = logging.getLogger(__name__)

FORMAT, FORMAT_VERSION = "rnnkit-checkpoint", 1
STATE, META = "state.safetensors", "checkpoint.json"
LAST, BEST = "last", "best"


class CheckpointError(RnnkitError):
    """A checkpoint is missing, truncated or altered."""


@dataclass
class CheckpointPolicy:
    """Where and how often the trainer writes checkpoints, and whether it resumes from one."""

    folder: Path
    every: int = 0  # also every this many optimizer steps (0: only at the end of each epoch)
    resume: bool = False  # continue from folder/last
    extra: dict[str, Any] = field(default_factory=dict)  # saved as is, e.g. the command line

    @property
    def last(self) -> Path:
        return self.folder / LAST

    @property
    def best(self) -> Path:
        return self.folder / BEST


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

    def describe(self) -> str:
        p = self.position
        return f"epoch {p['epoch'] + 1}, {p['batch']} batches into it, step {p['steps']}"


def _split_optimizer(state: dict[str, Any]) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Tensors of an optimizer state dict by flat name, and the rest as JSON-able data."""
    tensors: dict[str, Tensor] = {}
    plain: dict[str, Any] = {"param_groups": state["param_groups"], "state": {}}
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


def save_checkpoint(path: Path, state: TrainingState) -> Path:
    """Write ``state`` to the folder ``path`` atomically."""
    from safetensors.torch import save_file

    optimizer_tensors, optimizer_plain = _split_optimizer(state.optimizer)
    tensors = {
        **{f"model.{k}": v for k, v in state.model.items()},
        **optimizer_tensors,
        "rng.torch": state.rng,
    }

    def write(staging: Path) -> None:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, staging / STATE)
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
            "checksums": {STATE: sha256(staging / STATE)},
        }
        (staging / META).write_text(json.dumps(meta, indent=1) + "\n")

    return write_folder(path, write)


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
    if meta.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{meta_path}: checkpoint format {meta.get('format_version')} is not supported "
            f"by this rnnkit (it reads version {FORMAT_VERSION})"
        )
    return meta


def load_checkpoint(path: Path) -> TrainingState:
    """The training state in the checkpoint folder ``path``; a missing, truncated or altered
    file raises ``CheckpointError`` naming it."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    meta = read_meta(path)
    state_path = path / STATE
    if not state_path.is_file():
        raise CheckpointError(f"{state_path}: missing")
    if meta.get("checksums", {}).get(STATE) != sha256(state_path):
        raise CheckpointError(
            f"{state_path}: corrupted (its SHA-256 does not match {META}); resume from "
            f"{path.parent / BEST} instead if it is intact, or start again"
        )
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
        )
    except SafetensorError as error:
        raise CheckpointError(f"{state_path}: corrupted ({error})") from None
    except (KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path / META}: corrupted or incomplete ({error!r})") from None


def copy_checkpoint(source: Path, target: Path) -> Path:
    """Copy the checkpoint folder ``source`` to ``target`` atomically."""
    import shutil

    def write(staging: Path) -> None:
        for name in (STATE, META):
            shutil.copyfile(source / name, staging / name)

    return write_folder(target, write)


def torch_rng() -> Tensor:
    return torch.get_rng_state()
