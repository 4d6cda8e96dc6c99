"""Every task rnnkit trains models for, by name: the one place where bundles, the server,
export and the command line look a task up, instead of branching on its name.

A task is one :class:`TaskSpec`, registered with :func:`register`. The built-in ones live in
``rnnkit/tasks/<name>/__init__.py`` and are registered when first asked for. A task defined
outside rnnkit registers its own spec when its module is imported: by the program that uses
it, or, so that the command line and the server know it too, named in the ``rnnkit.tasks``
entry points of an installed package or in ``$RNNKIT_TASKS`` (modules, separated by commas),
which are imported at the first lookup (``tests/toy_task.py`` is one). A spec names its heavy
parts (estimator, endpoint, exporter) as ``"module:attr"`` strings, imported when used, so
that looking a task up (``rnnkit --help``, reading a bundle's header) imports no torch.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rnnkit.errors import ConfigError
from rnnkit.options import OptionTable

BUILTIN = ("classification", "language_model", "translation")
PLUGINS_ENV = "RNNKIT_TASKS"  # modules that register tasks, separated by commas
ENTRY_POINTS = "rnnkit.tasks"  # the entry-point group of installed packages' tasks


@dataclass(frozen=True)
class TaskSpec:
    """One task.

    - ``name``: what a bundle's config.json records as its ``task``.
    - ``title``, ``plural``: how messages name one model and several ("a classifier",
      "classifiers").
    - ``options``: its option table (parameters, flags, config keys, configuration fields).
    - ``sections``: config.json's configuration sections and the class each is read as
      (``data``, ``model``, ``training``, and any of its own: a translator's ``decoding``); a
      class with ``from_json`` is read with it, any other from its fields.
    - ``vocabulary``: reads config.json's ``vocab`` (a vocabulary, units, a pair of units).
    - ``check``: ``(bundle, config_path)`` raises ``BundleError`` when the bundle's labels or
      vocabulary disagree with its model's sizes, or None.
    - ``estimator``, ``endpoint``, ``exporter``: ``"module:attr"`` of its estimator class, of
      ``create_app(ServeConfig)`` that serves it, and of ``export(model, out, quantize)`` that
      writes its ONNX graphs (None: not served, or not exported).
    - ``route``: the endpoint's path (``/predict``) and ``example``: a request's body.
    - ``commands``: the commands that take its bundles, for messages; ``train_command``: the
      one that trains it (what ``--resume`` names); ``cli``: the command-line words that are
      its (``lm`` and ``generate``), which decide how an option is shown; ``command_line``:
      ``"module:attr"`` of its :class:`rnnkit.cli.tasks.TaskCommands`, or None.
    - ``files``: the files besides the bundle's own that rnnkit writes into its folder (its
      ONNX exports).
    """

    name: str
    title: str
    plural: str
    options: OptionTable
    sections: Mapping[str, type]
    vocabulary: Callable[[Any], Any]
    estimator: str
    check: Callable[[Any, Path], None] | None = None
    endpoint: str | None = None
    route: str = ""
    example: str = ""
    exporter: str | None = None
    commands: str = ""
    train_command: str = ""
    cli: tuple[str, ...] = ()
    command_line: str | None = None
    files: tuple[str, ...] = field(default=())

    def load(self, part: str) -> Any:
        """The object the ``"module:attr"`` string of field ``part`` names, imported now."""
        where = getattr(self, part)
        if not where:
            raise LookupError(f"the task {self.name!r} has no {part}")
        module, _, attribute = str(where).partition(":")
        return getattr(importlib.import_module(module), attribute)

    def read_section(self, section: str, values: Mapping[str, Any]) -> Any:
        """The configuration of config.json's ``section`` from its JSON ``values``."""
        kind = self.sections[section]
        reader = getattr(kind, "from_json", None)
        return reader(dict(values)) if reader is not None else kind(**values)


_TASKS: dict[str, TaskSpec] = {}


def register(spec: TaskSpec) -> TaskSpec:
    """Make ``spec`` known under ``spec.name``; returns it. A name is registered once."""
    if not isinstance(spec, TaskSpec):
        raise ValueError(f"register: expected a TaskSpec, got {type(spec).__name__}")
    if spec.name in _TASKS:
        raise ValueError(f"register: a task {spec.name!r} is already registered")
    if not {"data", "model", "training"} <= set(spec.sections):
        raise ValueError(f"register: task {spec.name!r} lacks a data, model or training section")
    _TASKS[spec.name] = spec
    return spec


def unregister(name: str) -> TaskSpec:
    """Forget the task ``name`` and return its spec (tests restore the registry with this)."""
    spec = get(name)
    del _TASKS[name]
    return spec


def get(name: str) -> TaskSpec:
    """The spec of the task ``name`` (a built-in one is registered on first use, the others'
    modules imported at the first lookup of an unknown name); LookupError naming the known
    tasks for another name."""
    if name not in _TASKS and name in BUILTIN:
        importlib.import_module(f"rnnkit.tasks.{name}")  # registers its spec
    if name not in _TASKS:
        _discover()
    if name not in _TASKS:
        raise LookupError(f"unknown task {name!r}: rnnkit knows {', '.join(map(repr, names()))}")
    return _TASKS[name]


def names() -> tuple[str, ...]:
    """The registered tasks, the built-in ones first."""
    for name in BUILTIN:
        get(name)
    _discover()
    return (*BUILTIN, *(name for name in _TASKS if name not in BUILTIN))


_discovered = False


def _discover() -> None:
    """Import, once, the modules of the tasks defined outside rnnkit: ``$RNNKIT_TASKS`` and
    the ``rnnkit.tasks`` entry points."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    from importlib.metadata import entry_points

    modules = [m.strip() for m in os.environ.get(PLUGINS_ENV, "").split(",") if m.strip()]
    modules += [point.value.partition(":")[0] for point in entry_points(group=ENTRY_POINTS)]
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as error:
            raise ConfigError(
                f"${PLUGINS_ENV} or an rnnkit.tasks entry point names {module}, which cannot "
                f"be imported ({error})"
            ) from None


def specs() -> tuple[TaskSpec, ...]:
    return tuple(get(name) for name in names())


def of_command(command: str | None) -> TaskSpec:
    """The task whose command-line words include ``command`` (``lm``, ``generate``), else the
    classifier's, whose commands are the top-level ones (``train``, ``predict``)."""
    return next((spec for spec in specs() if command in spec.cli), get("classification"))
