"""What every task's training command shares: --out and --config, the options of checkpoints
and data-parallel runs, the run itself (torchrun for --nproc, the process group, the locks on
--resume and --out, the options checked before any data is read, then the task's training),
the estimator the options describe, the checkpoints' policy, and the figures and the line that
end a run. :mod:`rnnkit.cli.tasks` builds each task's commands with these."""

from __future__ import annotations

import argparse
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnnkit.bundle import CHECKPOINTS, check_bundle_target
from rnnkit.cli.common import add_output_options, print_json
from rnnkit.cli.config_file import apply_config
from rnnkit.cli.resume import RESUMABLE, input_paths, resumed, run_folder, saved_options
from rnnkit.errors import ConfigError
from rnnkit.files import FolderLock

if TYPE_CHECKING:
    from rnnkit.options import OptionTable
    from rnnkit.tasks.estimator import TaskEstimator
    from rnnkit.train.checkpoint import CheckpointPolicy


def add_out_options(parser: argparse.ArgumentParser) -> None:
    """--out and --config, as every training command has them."""
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="folder to write the model bundle to: a new or empty folder, or an rnnkit model "
        "folder, which is replaced atomically (anything else is refused before training); "
        "training checkpoints go to DIR/checkpoints",
    )
    parser.add_argument(
        "--config",
        metavar="FILE",
        help="JSON object of options for this command, e.g. a recipe; options given on the "
        "command line override it",
    )


def add_run_options(parser: Any, run: Callable[[argparse.Namespace], int]) -> None:
    """The output, checkpoint and data-parallel options every training command has, and its
    defaults: ``run``, --config read into the parser, the declared defaults (for --resume)."""
    add_output_options(parser, "the metrics.json object", "progress bar or log lines")
    runs = parser.add_argument_group("checkpoints and data-parallel training")
    runs.add_argument(
        "--checkpoint-every",
        type=int,
        default=0,
        metavar="N",
        help="also write a checkpoint every N optimizer steps (always: after every epoch; "
        "kept: DIR/checkpoints/last and best)",
    )
    runs.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run whose --out was DIR from its last checkpoint (or from the "
        "checkpoint folder given, such as DIR/checkpoints/best), with its data and options; "
        f"only {', '.join('--' + o.replace('_', '-') for o in RESUMABLE)} may be given again",
    )
    runs.add_argument(
        "--nproc",
        type=int,
        metavar="N",
        help="train data-parallel in N processes on this machine (runs torchrun "
        "--standalone --nproc_per_node N); see docs/distributed.md for several machines",
    )
    parser.set_defaults(
        resume_from=None,  # the checkpoint folder --resume continues (set by resumed())
        run=run,
        configure=functools.partial(apply_config, parser),
        defaults=parser.defaults(),
    )


def run_options(args: argparse.Namespace, data: str = "DATA") -> argparse.Namespace:
    """The options of this run, a resumed run's saved ones, with ``data`` (the positional's
    name) and --out required and --checkpoint-every checked, before any data is read."""
    saved = resumed(args) if args.resume else None
    if saved is not None:
        args = saved
    elif not args.data or args.out is None:
        raise ConfigError(f"{data} and --out are required (or --resume DIR to continue a run)")
    if args.checkpoint_every < 0:
        raise ConfigError(
            f"--checkpoint-every must be zero or positive, got {args.checkpoint_every}"
        )
    return args


Prepare = Callable[[argparse.Namespace], argparse.Namespace]
TrainAndSave = Callable[..., int]


def run_training(args: argparse.Namespace, prepare: Prepare, train: TrainAndSave) -> int:
    """What every training command does around its training: torchrun for --nproc, the
    process group, the locks on --resume and --out, the options ``prepare`` checks before any
    data is read, quiet processes other than rank 0, then ``train``."""
    from rnnkit.train import distributed

    if args.nproc is not None:
        return launch(args, prepare)
    start = time.perf_counter()
    world = (
        distributed.init_from_env(getattr(args, "device", "auto"))
        if distributed.launched()
        else distributed.World()
    )
    with contextlib.ExitStack() as stack:
        if world.is_main and args.resume:  # held before its checkpoint is read
            stack.enter_context(FolderLock(run_folder(args.resume), option="--resume"))
        args = prepare(args)
        # rank 0 alone prints and writes; a resumed run is as quiet as the run it continues
        quiet = args.quiet or not world.is_main
        if quiet:
            logging.getLogger("rnnkit").setLevel(logging.WARNING)
        threads = args.threads
        if world.distributed and not threads:
            threads = distributed.default_threads()
        if world.is_main:  # the output checked and held before any work
            check_out(args)
            stack.enter_context(FolderLock(Path(args.out), option="--out"))
        return train(args, world, start, quiet=quiet, threads=threads)


def check_out(args: argparse.Namespace) -> None:
    """Refuse an --out that cannot become a model folder without losing anything: among
    others, one that holds a file or folder the run reads (DATA, --encoder, --pretrain, ...)."""
    check_bundle_target(args.out, option="--out", inputs=input_paths(args))


def estimator_from(
    estimator: type[TaskEstimator],
    args: argparse.Namespace,
    *,
    quiet: bool,
    threads: int | None = None,
) -> Any:
    """The ``estimator`` the options in ``args`` describe (``threads``, when given, instead of
    ``--threads``); progress shown unless ``quiet``."""
    options: OptionTable = estimator.options
    values = vars(args)
    params = {name: values.get(name, default) for name, default in options.defaults.items()}
    if threads is not None:
        params["threads"] = threads
    return estimator(**params, verbose=not quiet)


def checkpoint_policy(args: argparse.Namespace) -> CheckpointPolicy:
    """Where and how often a training command writes checkpoints, and what it resumes."""
    from rnnkit.train.checkpoint import CheckpointPolicy

    return CheckpointPolicy(
        Path(args.out) / CHECKPOINTS,
        every=args.checkpoint_every,
        resume=bool(args.resume),
        resume_from=Path(args.resume_from) if args.resume_from else None,
        extra={"args": saved_options(args)},
    )


def run_metrics(estimator: Any, start: float) -> dict[str, Any]:
    """The training run's figures in metrics.json: time, speed, epochs, optimizer steps, time
    to first step, and the batches of the last epoch when --max-steps or --max-minutes cut
    it short."""
    done, history = estimator.metrics_, estimator.history_
    first = history.first_step_at
    last = history.epochs[-1].get("batches") if history.epochs else None
    return {
        "train_seconds": round(done["train_seconds"], 3),
        "train_tokens_per_second": round(done["train_tokens_per_second"], 1),
        "epochs_run": done["epochs_run"],
        "best_epoch": done["best_epoch"],
        "steps": history.steps,
        "seconds_to_first_step": round(first - start, 3) if first is not None else None,
        **({"last_epoch_batches": last} if last and last[0] < last[1] else {}),
    }


def print_trained(metrics: dict[str, Any], path: Path, *, as_json: bool) -> None:
    """The line that ends a training command, then the metrics as JSON if asked."""
    epochs = metrics["epochs_run"]
    done = f"{epochs} epoch{'' if epochs == 1 else 's'}"
    if "last_epoch_batches" in metrics:  # cut short: say how far it went
        batches, total = metrics["last_epoch_batches"]
        whole = f"{epochs - 1} epoch{'' if epochs == 2 else 's'} and " if epochs > 1 else ""
        done = f"{whole}{batches:,} of the {total:,} batches of epoch {epochs}"
    print(
        f"trained {done} in {metrics['train_seconds']:.1f} s "
        f"({metrics['train_tokens_per_second']:,.0f} tokens/s); wrote {path}"
    )
    if as_json:
        print_json(metrics)


def launch(args: argparse.Namespace, prepare: Prepare) -> int:
    """A training command with ``--nproc N`` (its options checked by ``prepare``): the same
    command in N processes under torchrun."""
    import subprocess
    import sys

    if args.nproc < 1:
        raise ConfigError(f"--nproc must be at least 1, got {args.nproc}")
    # Everything the processes would check first, checked here, so that none starts in vain.
    target = run_folder(args.resume) if args.resume else Path(args.out or ".")
    with FolderLock(target, option="--resume" if args.resume else "--out"):
        check_out(prepare(argparse.Namespace(**vars(args))))
    argv, skip = [], False
    for item in args.argv:
        if skip:
            skip = False
        elif item == "--nproc":
            skip = True
        elif not item.startswith("--nproc="):
            argv.append(item)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={args.nproc}",
        "-m",
        "rnnkit",
        *argv,
    ]
    return subprocess.call(command)
