"""Options declared once, and everything derived from them.

An :class:`Option` names one setting in each of its spellings: the library's name (the field
of the configuration that holds it, torch's name where torch has one: ``hidden_size``), the
estimator's parameter and ``--config`` key (``hidden``), and the command-line flag
(``--hidden``), with its type, default (the configuration field's, unless given), help and
choices. An :class:`OptionTable` (one per task) derives from them argparse's arguments, the
estimator's signature and type checks, the configurations built from parameters, the
parameters rebuilt from a saved configuration, and the translation of a library error's field
to a flag or a parameter. Nothing here imports torch, so ``--help`` stays fast.

JSON files of options (``rnnkit train --config FILE``, ``TextClassifier.from_config``): one JSON
object whose keys are option names, with or without dashes (``"embed-dim"``, ``"--embed-dim"``
and ``"embed_dim"`` are the same option).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import json
import numbers
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError

UNSET: Any = object()


@dataclass(frozen=True)
class Option:
    """One option. ``section`` is the configuration holding it ("model", "data", "training",
    as in a bundle's config.json), or "" for the estimator's own (threads, vectors)."""

    param: str
    help: str
    section: str = ""
    field: str = ""  # the configuration's field; default: param
    flag: str = ""  # default: --param with dashes
    type: type = str  # int, float, bool or str
    default: Any = UNSET  # default: the configuration field's
    optional: bool = False  # None is allowed
    choices: Collection[str] | None = None  # a live collection: rnnkit.nn.registry.CellNames
    metavar: str | None = None
    shown: str | None = None  # what --help says the default is
    group: str = ""  # the --help section
    listed_before: str = ""  # in --help, just before this option (default: in table order)
    switch: str = "toggle"  # bools: "toggle" (--x / --no-x) or "set" (--x sets it)
    to_config: Callable[[Any], Any] | None = None  # parameter value -> configuration value
    from_config: Callable[[Any], Any] | None = None  # and back

    @property
    def name(self) -> str:
        """The library's name."""
        return self.field or self.param

    @property
    def cli_flag(self) -> str:
        return self.flag or "--" + self.param.replace("_", "-")


def option_name(key: object) -> str:
    """``"--embed-dim"`` -> ``"embed_dim"``."""
    return str(key).lstrip("-").replace("-", "_")


class OptionTable:
    """A task's options, in the order of the estimator's parameters."""

    def __init__(self, options: Iterable[Option], configs: Mapping[str, type]) -> None:
        self.configs = dict(configs)  # section -> configuration dataclass
        self.options: dict[str, Option] = {}
        for option in options:
            default = option.default
            if default is UNSET:
                default = self._field_default(option)
                if option.from_config is not None:
                    default = option.from_config(default)
            self.options[option.param] = dataclasses.replace(option, default=default)

    def _field_default(self, option: Option) -> Any:
        config = self.configs[option.section]
        for item in dataclasses.fields(config):
            if item.name == option.name:
                return item.default
        raise KeyError(f"{config.__name__} has no field {option.name!r}")

    def __iter__(self) -> Iterator[Option]:
        return iter(self.options.values())

    def __getitem__(self, param: str) -> Option:
        return self.options[param]

    @property
    def defaults(self) -> dict[str, Any]:
        return {option.param: option.default for option in self}

    # -- the estimator ---------------------------------------------------------------------

    def signature(self, *extra: inspect.Parameter) -> inspect.Signature:
        """Keyword-only parameters with their defaults (what scikit-learn's ``get_params``
        and ``clone`` read), then ``extra``."""
        parameters = [
            inspect.Parameter(
                o.param,
                inspect.Parameter.KEYWORD_ONLY,
                default=o.default,
                annotation=f"{o.type.__name__} | None" if o.optional else o.type.__name__,
            )
            for o in self
        ]
        self_parameter = inspect.Parameter("self", inspect.Parameter.POSITIONAL_OR_KEYWORD)
        return inspect.Signature([self_parameter, *parameters, *extra], return_annotation="None")

    def check_types(self, params: Mapping[str, Any]) -> None:
        """Whole numbers where an option wants them (``embed_dim=16.5`` is refused before any
        data is read, rather than failing deep inside torch), numbers where it wants numbers."""
        for option in self:
            value = params[option.param]
            if value is None and option.optional:
                continue
            bad = isinstance(value, bool) and option.type is not bool
            if option.type is int and (bad or not isinstance(value, numbers.Integral)):
                expected = "a whole number"
            elif option.type is float and (bad or not isinstance(value, numbers.Real)):
                expected = "a number"
            else:
                continue
            raise ConfigError(
                f"{option.param} must be {expected}, got {value!r}", field=option.param
            )

    def config_values(self, params: Mapping[str, Any], section: str) -> dict[str, Any]:
        """The fields of the ``section`` configuration that ``params`` set."""
        values = {}
        for option in self:
            if option.section == section:
                value = params[option.param]
                values[option.name] = option.to_config(value) if option.to_config else value
        return values

    def params_from_configs(self, configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
        """The parameters that rebuild saved configurations (``{section: fields}``)."""
        params = {}
        for option in self:
            if option.section:
                value = configs[option.section][option.name]
                params[option.param] = option.from_config(value) if option.from_config else value
        return params

    # -- errors ----------------------------------------------------------------------------

    def knows(self, name: str) -> bool:
        """Whether ``name`` is an option's library name or parameter."""
        return any(name in (option.name, option.param) for option in self)

    def shown(self, error: ConfigError, spelling: str) -> ConfigError:
        """``error`` with the options it names (its fields, in the library's or the
        estimator's spelling) spelled as "flag" (``--hidden``) or "param" (``hidden``)."""
        shown = {}
        for option in self:
            if {option.name, option.param} & set(error.fields):
                target = option.cli_flag if spelling == "flag" else option.param
                shown[option.name] = shown[option.param] = target
        return error.naming(shown)

    # -- the command line ------------------------------------------------------------------

    def add_argument(self, group: Any, param: str) -> Any:
        """Add the option ``param`` to the argparse parser or group ``group``."""
        import argparse

        option = self.options[param]
        if option.type is bool and option.switch == "set":
            return group.add_argument(
                option.cli_flag, dest=param, action="store_true", help=option.help
            )
        if option.type is bool:
            return group.add_argument(
                option.cli_flag,
                dest=param,
                action=argparse.BooleanOptionalAction,
                default=option.default,
                help=f"{option.help} (default: {'yes' if option.default else 'no'})",
            )
        default = "none" if option.default is None else str(option.default)
        shown = default if option.shown is None else option.shown
        extra: dict[str, Any] = {}
        if option.type is not str:
            extra["type"] = option.type
        if option.choices is not None:
            extra["choices"] = option.choices
        if option.metavar is not None:
            extra["metavar"] = option.metavar
        return group.add_argument(
            option.cli_flag,
            dest=param,
            default=option.default,
            help=f"{option.help} (default: {shown})",
            **extra,
        )

    def add_arguments(self, parser: Any, groups: Mapping[str, str]) -> None:
        """Every option whose ``group`` is a key of ``groups``, under that group's title."""
        made = {key: parser.add_argument_group(title) for key, title in groups.items()}
        listed = [o for o in self if not o.listed_before]
        for option in self:
            if option.listed_before:
                listed.insert(listed.index(self.options[option.listed_before]), option)
        for option in listed:
            if option.group in made:
                self.add_argument(made[option.group], option.param)


def read_config(path: str | Path, option: str = "--config") -> dict[str, Any]:
    """The JSON object of options in ``path``; errors name ``option`` and the file."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{option} {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{option} {path}: cannot read it ({error})") from None
    try:
        values = json.loads(text)
    except json.JSONDecodeError as error:
        raise ConfigError(
            f"{option} {path}, line {error.lineno}, column {error.colno}: not valid JSON "
            f"({error.msg})"
        ) from None
    if not isinstance(values, dict):
        raise ConfigError(f"{option} {path}: expected a JSON object of options, got {values!r}")
    return values


def config_options(
    path: str | Path,
    known: Collection[str],
    refused: Callable[[str], str],
    shown: Callable[[str], str] = repr,
) -> Iterator[tuple[str, str, Any]]:
    """Each option of the JSON file ``path`` as (name, key, value), ``name`` the key read as
    an option name (``option_name``); ConfigError for a key none of ``known`` names:
    ``refused(key)``, and the closest known name (as ``shown`` writes it) as a suggestion."""
    for key, value in read_config(path).items():
        name = option_name(key)
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f"; did you mean {shown(close[0])}?" if close else ""
            raise ConfigError(refused(repr(key)) + hint)
        yield name, key, value
