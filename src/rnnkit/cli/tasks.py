"""Every task's command line from one factory, the same shape for each:

    rnnkit GROUP train DATA --out DIR        train and write a model bundle
    rnnkit GROUP evaluate MODEL DATA         score a model
    rnnkit GROUP lr-find DATA                the learning-rate range test
    rnnkit GROUP VERB MODEL ...              use a model (predict, generate, text)

(``rnnkit classify ...``, ``rnnkit lm ...``, ``rnnkit translate ...``), and the commands a task
also gives at the top level (the classifier's ``rnnkit train``, ``evaluate``, ``lr-find`` and
``predict``; a language model's ``rnnkit generate``). A task describes its command line once, as
a :class:`TaskCommands` in its folder (``rnnkit/tasks/<task>/cli.py``) that its ``TaskSpec``
names; this module builds the parsers from it: the training command's skeleton (its data, --out
and --config, validation and test data, the task's option table, checkpoints and
data-parallel runs), the range test's and the evaluation's, and the task's own verb. Nothing
here imports torch: ``rnnkit --help`` stays fast.
"""

from __future__ import annotations

import argparse
import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rnnkit.cli.config_file import apply_config
from rnnkit.cli.runs import Prepare, TrainAndSave, add_out_options, add_run_options, run_training
from rnnkit.options import OptionTable

Adds = Callable[[argparse.ArgumentParser], None]
Runs = Callable[[argparse.Namespace], int]


@dataclass(frozen=True)
class Data:
    """The data a task trains on, as the training command and the range test read it: the
    positional (``metavar``, ``nargs``, ``help``), its validation and test data (``--valid``,
    ``--test``: their nargs and help) and the options that say how it is read."""

    metavar: str
    help: str
    reading: Adds
    nargs: str | None = "?"
    valid_help: str = "validation data (read like DATA)"
    test_help: str = "test data, scored after training"
    no_test_help: str = "score no test data after training, not even a dataset's own"
    many: bool = False  # --valid and --test take several paths (a translator's two files)


@dataclass(frozen=True)
class Train:
    """The training command: its --help, the task's option groups (title by key of the
    table's ``group``), what it adds after them, and the two functions ``run_training``
    calls (``prepare``: the options checked before any data is read; ``fit``: train and
    write the bundle)."""

    help: str
    description: str
    examples: str
    groups: dict[str, str]
    prepare: Prepare
    fit: TrainAndSave
    extra: Adds | None = None


@dataclass(frozen=True)
class Command:
    """Any other command of a task: its help and description, what its parser adds and what
    runs it. ``takes_texts``: TEXT arguments may come after its options."""

    help: str
    description: str
    add: Adds
    run: Runs
    epilog: str | None = None
    takes_texts: bool = False


@dataclass(frozen=True)
class RangeTest:
    """The learning-rate range test (``lr-find``): its help, and ``read``, which gives from
    the command's arguments a fresh estimator, its options checked, and the training data
    its ``lr_find`` takes (positional arguments). Its options are the training command's."""

    help: str
    description: str
    read: Callable[[argparse.Namespace], tuple[Any, tuple[Any, ...]]]
    epilog: str | None = None


@dataclass(frozen=True)
class TaskCommands:
    """A task's command line: its group's word and help, its options, its data, and its
    commands (``train``, ``evaluate``, ``lr-find`` and ``verb``, the word of its model's
    use); ``top_level``: those also given as ``rnnkit WORD``; ``default``: the command that
    ``rnnkit GROUP MODEL ...`` is short for."""

    group: str
    help: str
    description: str
    options: OptionTable
    data: Data
    train: Train
    evaluate: Command
    lr_find: RangeTest
    verb: str
    use: Command
    top_level: tuple[str, ...] = ()
    default: str | None = None
    words: tuple[str, ...] = field(init=False, default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "words", ("train", "evaluate", "lr-find", self.verb))


def add_task_commands(commands: Any, task: TaskCommands) -> None:
    """``rnnkit GROUP COMMAND`` for each of the task's commands, and its top-level ones."""
    group = commands.add_parser(task.group, help=task.help, description=task.description)
    sub = group.add_subparsers(dest=f"{task.group}_command", metavar="COMMAND", required=True)
    for word in task.words:
        _add(sub, task, word, nested=True)
    for word in task.top_level:
        _add(commands, task, word, nested=False)


def shorthand(tasks: list[TaskCommands], argv: list[str]) -> list[str]:
    """``rnnkit GROUP MODEL ...`` is ``rnnkit GROUP <default> MODEL ...`` for a task with a
    default command (``rnnkit translate MODEL`` translates)."""
    for task in tasks:
        if (
            task.default is not None
            and len(argv) >= 2
            and argv[0] == task.group
            and argv[1] not in (*task.words, "-h", "--help")
        ):
            return [task.group, task.default, *argv[1:]]
    return argv


def _add(commands: Any, task: TaskCommands, word: str, *, nested: bool) -> None:
    where = f" (also rnnkit {task.group} {word})" if not nested else ""
    if word == "train":
        _add_train(commands, task, where)
    elif word == "lr-find":
        _add_lr_find(commands, task, where)
    else:
        command = task.evaluate if word == "evaluate" else task.use
        parser = _parser(commands, word, command.help + where, command.description, command.epilog)
        command.add(parser)
        parser.set_defaults(run=command.run, takes_texts=command.takes_texts)


def _parser(commands: Any, word: str, help: str, description: str, epilog: str | None) -> Any:
    """The parser of command ``word``, its description and epilog shown as written."""
    return commands.add_parser(
        word,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def _add_data(parser: argparse.ArgumentParser, data: Data, *, training: bool) -> None:
    """The data positional: optional in training (``--resume`` brings its own), else
    required."""
    if data.many:
        nargs: str | None = "*" if training else "+"
    else:
        nargs = data.nargs if training else None
    kwargs: dict[str, Any] = {"default": []} if data.many and training else {}
    parser.add_argument("data", metavar=data.metavar, nargs=nargs, help=data.help, **kwargs)


def _add_train(commands: Any, task: TaskCommands, where: str) -> None:
    train, data = task.train, task.data
    parser = _parser(commands, "train", train.help + where, train.description, train.examples)
    _add_data(parser, data, training=True)
    add_out_options(parser)
    paths = {"nargs": "+"} if data.many else {}
    split = parser.add_mutually_exclusive_group()
    split.add_argument("--valid", metavar="PATH", help=data.valid_help, **paths)
    task.options.add_argument(split, "valid_split")
    tests = parser.add_mutually_exclusive_group()
    tests.add_argument("--test", metavar="PATH", help=data.test_help, **paths)
    tests.add_argument("--no-test", action="store_true", help=data.no_test_help)
    data.reading(parser)
    task.options.add_arguments(parser, train.groups)
    if train.extra is not None:
        train.extra(parser)
    add_run_options(parser, functools.partial(run_training, prepare=train.prepare, train=train.fit))


def _add_lr_find(commands: Any, task: TaskCommands, where: str) -> None:
    from rnnkit.cli.ranges import add_range_options, run_range_test

    command = task.lr_find
    parser = _parser(commands, "lr-find", command.help + where, command.description, command.epilog)
    _add_data(parser, task.data, training=False)
    parser.add_argument(
        "--config", metavar="FILE", help="JSON object of options (as for the training command)"
    )
    add_range_options(parser)
    task.data.reading(parser)
    task.options.add_arguments(parser, task.train.groups)
    run = functools.partial(run_range_test, read=command.read)
    parser.set_defaults(run=run, configure=functools.partial(apply_config, parser))
