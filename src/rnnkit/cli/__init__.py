"""The ``rnnkit`` command line. The library logs; this module prints.

User errors (bad data, options or files) print one line, ``rnnkit: error: ...``, on standard
error and exit with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from rnnkit import __version__
from rnnkit.cli import datasets, demo, export, lab, serve
from rnnkit.cli.common import flag_names, flagged
from rnnkit.cli.parser import Parser
from rnnkit.cli.tasks import TaskCommands, add_task_commands, shorthand
from rnnkit.errors import ConfigError, RnnkitError, TrainingInterrupted
from rnnkit.files import USER_ERRNOS, cause


def build_parser() -> Parser:
    parser = Parser(
        prog="rnnkit",
        description="Recurrent neural networks for text: train, evaluate and use classifiers, "
        "language models and translators.",
        epilog="Run 'rnnkit COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for task in task_commands():  # every task's, the same shape for each
        add_task_commands(commands, task)
    for module in (serve, export, datasets, demo, lab):
        module.add_parser(commands)
    return parser


def task_commands() -> list[TaskCommands]:
    """The command lines of the registered tasks that have one (their specs name them)."""
    from rnnkit.tasks import registry

    return [spec.load("command_line") for spec in registry.specs() if spec.command_line]


class _Lines(logging.Formatter):
    """``rnnkit: MESSAGE``, with the options a library message names by their library name
    (``max_len``) shown as their flags (``--max-len``), as ``flagged`` shows an error's."""

    def __init__(self, names: dict[str, str]) -> None:
        super().__init__("rnnkit: %(message)s")
        self.names = names
        alternatives = "|".join(map(re.escape, sorted(names, key=len, reverse=True)))
        # a name alone, not part of a word, a flag or a file name (data/max_len.txt)
        alone = rf"(?<![\w./-])({alternatives})(?![\w/-]|\.\w)"
        self.pattern = re.compile(alone) if names else None

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        return self.pattern.sub(lambda m: self.names[m[1]], text) if self.pattern else text


def _configure_logging(quiet: bool, command: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Lines(flag_names(command)))
    logger = logging.getLogger("rnnkit")
    logger.handlers[:] = [handler]
    logger.setLevel(logging.WARNING if quiet else logging.INFO)
    logger.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = _parse(shorthand(task_commands(), list(sys.argv[1:] if argv is None else argv)))
    if isinstance(args, int):
        return args
    _configure_logging(getattr(args, "quiet", False), args.command)
    return _run(args)


def _parse(argv: list[str]) -> argparse.Namespace | int:
    """The command line's arguments, its --config read into their defaults; 2 when that
    file is refused (argparse exits on the line's own errors)."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if getattr(args, "config", None):  # its options become defaults; parse the line again
        try:
            args.configure(args.config)
        except RnnkitError as error:
            shown = flagged(error, args.command) if isinstance(error, ConfigError) else error
            print(f"rnnkit: error: {shown}", file=sys.stderr)
            return 2
        args, extra = parser.parse_known_args(argv)
    takes_texts = getattr(args, "takes_texts", False)  # rnnkit predict M --top-k 1 "text"
    if extra and takes_texts and not any(e.startswith("-") for e in extra):
        args.texts += extra  # texts given after options: rnnkit predict M --top-k 1 "text"
    elif extra:  # the command's own usage, as argparse shows for its other errors
        args.command_parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv
    return args


def _run(args: argparse.Namespace) -> int:
    """Run the command; the exit status, and a one-line message for what is the user's to
    fix (2), an interruption (130) or a diverged loss (1)."""
    try:
        return int(args.run(args))
    except TrainingInterrupted as error:
        _report(f"rnnkit: {error}")
        if error.checkpoint:
            from rnnkit.tasks import registry

            folder = Path(error.checkpoint).parent.parent
            command = registry.of_command(args.command).train_command
            _report(f"rnnkit: resume with: {command} --resume {folder}")
        return 130
    except ConfigError as error:
        _report(f"rnnkit: error: {flagged(error, args.command)}")
        return 2
    except RnnkitError as error:
        _report(f"rnnkit: error: {error}")
        return 2
    except FloatingPointError as error:
        _report(f"rnnkit: error: {error}")
        return 1
    except KeyboardInterrupt:
        _report("rnnkit: interrupted")
        return 130
    except BrokenPipeError:  # e.g. rnnkit predict ... | head
        sys.stderr.close()
        return 0
    except OSError as error:  # a full disk, a read-only place: the user's to fix
        if error.errno not in USER_ERRNOS:
            raise
        where = f"{error.filename}: " if error.filename else ""
        _report(f"rnnkit: error: {where}cannot write ({cause(error)})")
        return 2
    except RuntimeError as error:  # torch's allocator: "... can't allocate memory ..."
        if "allocate" not in str(error):
            raise
        _report(
            f"rnnkit: error: out of memory ({str(error).splitlines()[0][:160]}); use a smaller "
            "model (--hidden, --embed-dim, --max-vocab), --batch-size or --max-len"
        )
        return 2
    except MemoryError:
        _report(
            "rnnkit: error: out of memory; use a smaller model (--hidden, --embed-dim, "
            "--max-vocab), --batch-size or --max-len"
        )
        return 2


def _report(line: str) -> None:
    """One line on standard error; in data-parallel training, from rank 0 alone (every process
    meets the same error)."""
    if os.environ.get("RANK", "0") == "0":
        print(line, file=sys.stderr)
