"""Pieces every command shares: the flags of library errors and log lines, the device options,
texts from arguments or --input read as they come, and JSON output."""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from rnnkit.errors import ConfigError, DataError
from rnnkit.tasks.shared import DEVICE_HELP
from rnnkit.text.unicode import check_unicode
from rnnkit.train.precision import PRECISION_HELP, PRECISIONS, check_precision

if TYPE_CHECKING:  # imported where used: --help must not import torch
    from rnnkit.options import OptionTable
    from rnnkit.tasks.estimator import OptionsEstimator, TaskEstimator


E = TypeVar("E", bound="OptionsEstimator")
T = TypeVar("T", bound="TaskEstimator")

# Library fields whose flag is not --FIELD-WITH-DASHES (the table of the task has its own).
FLAGS = {"text_cols": "--text-col", "label_col": "--label-col"}


def task_options(command: str | None) -> OptionTable:
    """The option table of the task a command serves (its spec's ``cli`` words: ``lm`` and
    ``generate`` a language model's, ``translate`` a translator's; the others a
    classifier's)."""
    from rnnkit.tasks import registry

    return registry.of_command(command).options


def flagged(error: ConfigError, command: str | None = None) -> ConfigError:
    """A library error in the command line's words: the option it names shown as its flag
    (``hidden_size must be at least 1`` -> ``--hidden must be at least 1``), as the task of
    ``command`` declares it."""
    options = task_options(command)
    others = [name for name in error.fields if not options.knows(name)]
    shown = {name: FLAGS.get(name, "--" + name.replace("_", "-")) for name in others}
    return options.shown(error, "flag").naming(shown)


def flag_names(command: str | None) -> dict[str, str]:
    """The task's option names that cannot be mistaken for a plain word (``max_len``,
    ``vocab_size``), each with its flag: what the command line shows in a library's log line
    instead."""
    names = {}
    for option in task_options(command):
        for name in (option.name, option.param):
            if "_" in name:
                names[name] = option.cli_flag
    return names


def print_json(value: Any) -> None:
    """One line of strict JSON (NaN and infinity are not JSON, so they raise here)."""
    print(json.dumps(value, ensure_ascii=False, allow_nan=False))


def add_output_options(parser: argparse.ArgumentParser, json: str, quiet: str) -> None:
    """The "output" group: --json (``json`` says what it prints as the last line) and --quiet
    (``quiet`` says what it silences)."""
    output = parser.add_argument_group("output")
    output.add_argument("--json", action="store_true", help=f"print {json} as the last line")
    output.add_argument("--quiet", action="store_true", help=f"no {quiet}")


def add_device_options(parser: argparse.ArgumentParser, *, precision: bool = True) -> None:
    """--device, --precision (unless not ``precision``) and --threads of a command that runs
    a model."""
    parser.add_argument(
        "--device",
        default="auto",
        metavar="DEVICE",
        help=f"{DEVICE_HELP} (default: auto)",
    )
    if precision:
        parser.add_argument(
            "--precision",
            choices=PRECISIONS,
            help=f"{PRECISION_HELP} (default: as the model was trained)",
        )
    parser.add_argument(
        "--threads", type=int, metavar="N", help="CPU threads for torch (default: all cores)"
    )


def apply_run_options(estimator: E, args: argparse.Namespace) -> E:
    """A loaded estimator with the command's --device and --precision (checked together:
    fp16 needs a GPU); the model moves to the device at its first use."""
    from rnnkit.train.device import resolve_device

    estimator.device = getattr(args, "device", None) or "auto"
    device = resolve_device(estimator.device)
    onnx = getattr(args, "backend", "torch") == "onnx"  # its float32 graph: see warn_not_applied
    if getattr(args, "precision", None) and not onnx:
        check_precision(args.precision, device)
        estimator.precision = args.precision
    return estimator


def load_for(args: argparse.Namespace, estimator: type[T], command: str) -> T:
    """The bundle at ``args.model`` as ``estimator`` for ``command`` (which its messages
    name), with --threads, --device and --precision applied."""
    warn_not_applied(args)
    set_threads(args.threads)
    return apply_run_options(estimator.load(args.model, command=command), args)


def warn_not_applied(args: argparse.Namespace) -> None:
    """Say so when --precision other than fp32 is given with --backend onnx, which runs the
    exported float32 graph in ONNX Runtime whatever the precision (and leaves it unchecked)."""
    precision = getattr(args, "precision", None)
    if getattr(args, "backend", "torch") == "onnx" and precision not in (None, "fp32"):
        print(
            f"rnnkit: warning: --precision {args.precision} does not apply to --backend onnx "
            "(ONNX Runtime runs the exported float32 graph); ignored",
            file=sys.stderr,
        )


def set_threads(threads: int | None) -> None:
    """``--threads N``: torch's CPU threads; None leaves torch's default (all cores)."""
    if threads is None:
        return
    if threads < 1:
        raise ConfigError(f"--threads must be at least 1, got {threads}")
    import torch

    torch.set_num_threads(threads)


MAX_LINE_CHARS = 1_000_000  # the longest line of --input: one text, which no model reads whole


def input_texts(texts: list[str], input: str | None, encoding: str) -> Iterable[str]:
    """The texts of a command that reads them as TEXT arguments or from ``--input FILE`` (one a
    line, read as it comes, ``.gz`` decompressed; ``-``: standard input), never both. A line
    over ``MAX_LINE_CHARS`` characters is an error naming the file and line, found before
    more of it is read."""
    if texts and input:
        raise ConfigError("give texts on the command line or --input, not both")
    if texts:
        for number, text in enumerate(texts, start=1):
            check_unicode(text, f"TEXT {number}")
        return list(texts)
    if input and input != "-":
        path = Path(input)
        if path.is_dir():
            raise ConfigError(f"--input {input}: is a folder; give a file with one text a line")
        if not path.exists():  # a pipe such as /dev/stdin is read as well
            raise ConfigError(f"--input {input}: no such file")
        return _lines(path, input, encoding)
    return _lines(None, "standard input", encoding)


def _lines(path: Path | None, name: str, encoding: str) -> Iterator[str]:
    """The lines of ``path`` (standard input if None) without their line breaks (LF or CRLF),
    each decoded on its own so that an error names its line."""
    import codecs
    import gzip

    from rnnkit.data.rows import decode

    try:
        wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    except LookupError:
        raise ConfigError(f"--encoding {encoding}: no such text encoding") from None
    with contextlib.ExitStack() as stack:
        if path is None:
            stream: Any = sys.stdin.buffer
        elif path.name.endswith(".gz"):
            stream = stack.enter_context(gzip.open(path, "rb"))
        else:
            stream = stack.enter_context(path.open("rb"))
        if wide:  # LF is not one byte in these: the whole file, split as text
            yield from _numbered(decode(stream.read(), encoding, name).split("\n"), name)
            return
        number, limit = 0, 4 * MAX_LINE_CHARS + 2  # UTF-8: up to 4 bytes a character; CRLF
        while line := stream.readline(limit):
            number += 1
            if len(line) == limit and not line.endswith(b"\n"):
                raise _too_long(name, number)  # the rest of it is not read
            text = decode(line, encoding, f"{name}, line {number}", numbered=False)
            yield _checked(text.removesuffix("\n").removesuffix("\r"), name, number)


def _numbered(lines: list[str], name: str) -> Iterator[str]:
    if lines and lines[-1] == "":
        lines.pop()
    for number, line in enumerate(lines, start=1):
        yield _checked(line.removesuffix("\r"), name, number)


def _checked(text: str, name: str, number: int) -> str:
    if len(text) > MAX_LINE_CHARS:
        raise _too_long(name, number)
    return text


def _too_long(name: str, number: int) -> DataError:
    return DataError(
        f"{name}, line {number}: longer than {MAX_LINE_CHARS:,} characters; one text a line "
        "(is the file cut into lines, and read with its --encoding?)"
    )


def text_chunks(args: argparse.Namespace, size: int) -> Iterator[list[str]]:
    """A command's texts (its TEXT arguments or ``--input``, read with ``--encoding``; checked
    now, read as used) in lists of ``size``."""
    return chunks(input_texts(args.texts, args.input, args.encoding), size)


def chunks(lines: Iterable[str], size: int) -> Iterator[list[str]]:
    """``lines`` in lists of ``size``, so that a long input streams in bounded memory."""
    iterator = iter(lines)
    while chunk := list(itertools.islice(iterator, size)):
        yield chunk
