"""What every rnnkit estimator shares: parameters from a task's option table, stored by
``__init__`` and read back by ``get_params`` (the scikit-learn protocol), a readable ``repr``,
and ``from_config`` for JSON option files (recipes)."""

from __future__ import annotations

import contextlib
import difflib
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from rnnkit.errors import ConfigError

if TYPE_CHECKING:
    from torch import nn

    from rnnkit.bundle import Bundle
from rnnkit.options import OptionTable, option_name, read_config

E = TypeVar("E", bound="OptionsEstimator")
M = TypeVar("M", bound="nn.Module")


class OptionsEstimator:
    """A subclass sets ``options`` (its task's table); its parameters are the table's, then
    ``verbose`` (show progress)."""

    options: ClassVar[OptionTable]

    @classmethod
    def _params(cls) -> dict[str, Any]:
        return {**cls.options.defaults, "verbose": False}

    def __init__(self, **params: Any) -> None:
        defaults = self._params()
        unknown = [name for name in params if name not in defaults]
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got an unexpected keyword argument {unknown[0]!r}"
            )
        for name, default in defaults.items():
            setattr(self, name, params.get(name, default))

    if TYPE_CHECKING:  # the parameters are set from the option table; mypy sees them as Any

        def __getattr__(self, name: str) -> Any: ...

        def __setattr__(self, name: str, value: Any) -> None: ...

    @classmethod
    def _param_names(cls) -> list[str]:
        return list(cls._params())

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self: E, **params: Any) -> E:
        valid = set(self._param_names())
        for name, value in params.items():
            if name not in valid:
                known = ", ".join(sorted(valid))
                raise ValueError(
                    f"{type(self).__name__} has no parameter {name!r}; parameters: {known}"
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = self._params()
        changed = [f"{k}={v!r}" for k, v in self.get_params().items() if v != defaults[k]]
        return f"{type(self).__name__}({', '.join(changed)})"

    @classmethod
    def from_config(cls: type[E], path: str | Path, **overrides: Any) -> E:
        """An estimator with the options of a JSON file, as ``--config`` reads it (a recipe
        such as ``recipes/imdb.json``), then ``overrides``."""
        params: dict[str, Any] = {}
        names = cls._param_names()
        for key, value in read_config(path).items():
            name = option_name(key)
            if name not in names:
                close = difflib.get_close_matches(name, names, n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                raise ConfigError(f"{path}: {key!r} is not a {cls.__name__} parameter{hint}")
            if isinstance(value, list):
                value = ",".join(map(str, value))
            params[name] = value
        return cls(**{**params, **overrides})

    @classmethod
    def from_bundle(cls: type[E], bundle: Bundle) -> E:
        """An (unfitted) estimator with the options a bundle was trained with."""
        configs = {
            "model": asdict(bundle.model),
            "data": asdict(bundle.data),
            "training": asdict(bundle.train),
        }
        configs.update({name: asdict(section) for name, section in bundle.sections.items()})
        return cls(**cls.options.params_from_configs(configs))

    def on_device(self, model: M) -> M:
        """``model`` moved (in place) to the ``device`` parameter's device, where it is not
        already: fitting, loading and every prediction call this, so that changing
        ``device`` on a fitted estimator takes effect at its next use."""
        from rnnkit.train.device import model_device, resolve_device

        with self.in_params():
            device = resolve_device(self.device)
        if model_device(model) != device:
            model.to(device)
        return model

    @contextlib.contextmanager
    def in_params(self) -> Iterator[None]:
        """A library error about a field, as the estimator's user knows it: by its parameter
        (``hidden_size`` -> ``hidden``)."""
        try:
            yield
        except ConfigError as error:
            raise self.options.shown(error, "param") from None
