"""``rnnkit train --resume``: which run a path names, the options it ran with, and what to do
when its checkpoint is damaged."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.bundle import CHECKPOINTS
from rnnkit.errors import ConfigError
from rnnkit.files import leftover_hint
from rnnkit.tasks import registry
from rnnkit.train.checkpoint import (
    BEST,
    LAST,
    META,
    CheckpointError,
    read_meta,
    verify_checkpoint,
)

RESUMABLE = ("lr", "threads", "device", "checkpoint_every", "quiet", "json")
# The options of any training command that name what the run reads: --out may hold none of
# them (check_out), and a resumed run finds them from any folder (saved absolute).
INPUTS = ("data", "valid", "test", "vectors", "config", "encoder", "pretrain", "pretrain_config")
PATHS = (*INPUTS, "data_dir")
JOINED = ("encoder",)  # several paths in one value, separated by commas (--encoder FWD,BWD)


def paths_of(name: str, value: Any) -> list[str]:
    """The paths the option ``name`` holds: none, one, a list (DATA of two files, --pretrain
    corpora) or, for --encoder, comma-separated ones."""
    if not value:
        return []
    values = value if isinstance(value, list) else [value]
    if name in JOINED:
        values = [part.strip() for v in values for part in str(v).split(",") if part.strip()]
    return [str(v) for v in values]


def input_paths(args: argparse.Namespace) -> list[str]:
    """Every file or folder the run ``args`` reads, as given."""
    return [path for name in INPUTS for path in paths_of(name, getattr(args, name, None))]


def saved_options(args: argparse.Namespace) -> dict[str, Any]:
    """The options of this run as JSON data for its checkpoints; file paths made absolute so
    that ``--resume`` works from another folder."""
    options: dict[str, Any] = {}
    for name, value in vars(args).items():
        if name in (
            *("run", "configure", "defaults", "resume", "resume_from", "nproc", "argv"),
            "command_parser",
        ):
            continue
        if name in JOINED and value:
            value = ",".join(_absolute(v) for v in paths_of(name, value))
        elif name in PATHS:
            value = [_absolute(v) for v in value] if isinstance(value, list) else _absolute(value)
        options[name] = value
    return options


def _absolute(value: Any) -> Any:
    """A path that exists, made absolute (``ARCHIVE#FOLDER`` left as it is)."""
    if isinstance(value, str) and "#" not in value and Path(value).exists():
        return str(Path(value).resolve())
    return value


def resumed(args: argparse.Namespace) -> argparse.Namespace:
    """The saved options of the run in ``args.resume``, with the few that may change.
    ``args.resume`` is the run's --out folder (resume from its last checkpoint) or one of its
    checkpoint folders (DIR/checkpoints/best)."""
    folder = run_folder(args.resume)
    given_path = Path(args.resume)
    source = given_path if (given_path / META).is_file() else folder / CHECKPOINTS / LAST
    given = [
        name
        for name, default in args.defaults.items()
        if name not in ("resume", "help", *RESUMABLE) and getattr(args, name, default) != default
    ]
    if given:
        names = ", ".join("DATA" if n == "data" else "--" + n.replace("_", "-") for n in given)
        raise ConfigError(
            f"--resume continues the run in {folder} with its own data and options; leave out "
            f"{names} (only {', '.join('--' + o.replace('_', '-') for o in RESUMABLE)} may "
            "change)"
        )
    if not (source / META).is_file() and (hint := leftover_hint(folder, f"{CHECKPOINTS}/{LAST}")):
        raise ConfigError(f"{source}: no checkpoint here{hint}")
    try:
        verify_checkpoint(source)
    except CheckpointError as error:
        raise CheckpointError(f"{error}; {_instead(folder, source)}") from None
    options = read_meta(source).get("extra", {}).get("args")
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: not written by rnnkit train")
    ran, ours = registry.of_command(options.get("command")), registry.of_command(args.command)
    if options.get("command") not in ran.cli:
        raise ConfigError(f"{source}: not written by an rnnkit training command")
    if ran is not ours:  # rnnkit train and rnnkit classify train are one command
        raise ConfigError(
            f"--resume {args.resume}: that run trains {ran.title}, and {ours.train_command} "
            f"trains {ours.title}; resume it with: {ran.train_command} --resume {folder}"
        )
    options = {
        **options,
        "out": str(folder),
        "resume": str(folder),
        "resume_from": str(source),
        "nproc": None,
    }
    for name in RESUMABLE:
        if getattr(args, name) != args.defaults.get(name):
            options[name] = getattr(args, name)
    return argparse.Namespace(**{**vars(args), **options})


def run_folder(resume: str) -> Path:
    """The --out folder of the run that ``--resume PATH`` continues: PATH itself, or the folder
    above PATH when PATH is its checkpoints folder or one checkpoint in it."""
    path = Path(resume)
    if (path / META).is_file() and path.parent.name == CHECKPOINTS:
        return path.parent.parent
    if path.name == CHECKPOINTS and (path / LAST / META).is_file():
        return path.parent
    return path


def _instead(folder: Path, damaged: Path) -> str:
    """What to run when the checkpoint ``damaged`` of the run in ``folder`` cannot be used."""
    best = folder / CHECKPOINTS / BEST
    if damaged != best and (best / META).is_file():
        try:
            verify_checkpoint(best)
            epoch = read_meta(best)["position"]["epoch"]
        except (CheckpointError, KeyError, TypeError):
            pass
        else:
            return (
                f"continue from the best epoch's checkpoint (after epoch {epoch}) with: "
                f"rnnkit train --resume {best}"
            )
    return "no intact checkpoint is left: start the run again"
