"""Names a package imports from its modules only when first used (PEP 562's module
``__getattr__``), so that importing the package, for ``rnnkit --help`` or a configuration,
imports no torch."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_names(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A ``__getattr__`` for ``package``: each name of ``homes`` is imported from its module
    (``homes[name]``, relative to the package when it starts with a dot) when first asked for,
    and kept in the package; a name that is itself a module of the package is that module."""

    def attribute(name: str) -> Any:
        if name not in homes:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(homes[name], package)
        value = module if module.__name__ == f"{package}.{name}" else getattr(module, name)
        setattr(sys.modules[package], name, value)
        return value

    return attribute
