"""``--config FILE``: a JSON object of a command's options, as defaults that the command line
overrides.

Keys are option names with or without their dashes, in either spelling (``"embed-dim"``,
``"--embed-dim"`` or ``"embed_dim"``); values are JSON numbers, strings, booleans or null, and a
list where the option takes several comma-separated values (``"pooling": ["max", "mean"]``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rnnkit.cli.parser import Parser
from rnnkit.errors import ConfigError
from rnnkit.options import config_options

# What says where a run is and how it is started, rather than how it trains: a config file
# that set nproc would have every process it starts start more.
NOT_IN_FILES = frozenset({"help", "config", "data", "out", "resume", "nproc"})


def configurable(parser: Parser) -> dict[str, argparse.Action]:
    """The options of ``parser`` a config file may set, by destination."""
    return {
        action.dest: action
        for action in parser.declared
        if action.option_strings and action.dest not in NOT_IN_FILES
    }


def apply_config(parser: Parser, path: str | Path) -> dict[str, Any]:
    """Make the options in ``path`` the defaults of ``parser``; returns them, checked."""
    actions = configurable(parser)
    defaults = {}
    for dest, key, value in config_options(
        path,
        actions,
        lambda key: f"--config {path}: {key} is not an option of this command",
        lambda dest: _flag(actions[dest]),
    ):
        defaults[dest] = _checked(actions[dest], value, f"--config {path}: {key!r}")
    parser.set_defaults(**defaults)
    return defaults


def _flag(action: argparse.Action) -> str:
    return max(action.option_strings, key=len)


def _checked(action: argparse.Action, value: Any, where: str) -> Any:
    """``value`` as the command line would have given it to ``action``."""
    takes_no_value = action.nargs == 0 or isinstance(action, argparse.BooleanOptionalAction)
    if takes_no_value:
        if not isinstance(value, bool):
            raise ConfigError(f"{where} must be true or false, got {value!r}")
        return value
    if value is None:
        if action.default is not None:
            raise ConfigError(f"{where} cannot be null")
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        value = ",".join(value)
    kind: Any = action.type if action.type in (int, float) else str
    ok = {
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }[kind]
    if not ok:
        name = {int: "an integer", float: "a number", str: "a string"}[kind]
        raise ConfigError(f"{where} must be {name}, got {value!r}")
    value = kind(value)
    if action.choices is not None and value not in action.choices:
        choices = ", ".join(map(str, action.choices))
        raise ConfigError(f"{where} must be one of {choices}, got {value!r}")
    return value
