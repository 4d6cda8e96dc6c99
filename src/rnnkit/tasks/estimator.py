"""What every rnnkit estimator shares, written once.

``OptionsEstimator``: parameters from a task's option table, stored by ``__init__`` and read
back by ``get_params`` (the scikit-learn protocol), a readable ``repr``, ``from_config`` for
JSON option files (recipes), the device and the translation of a library error's field to the
parameter's name.

``TaskEstimator``: the lifecycle of a task's estimator on top of that: its signature, its
configurations built from the parameters (one per section of its task's spec), every parameter
checked before any data is read, training through the ``Trainer``, the learning-rate range
test, the error of an unfitted estimator, and ``save``/``load`` of its bundle. A task's
estimator adds only what differs: reading its data, building its model and its prediction
verbs; ``_network``, ``_restore``, ``_vocabulary`` and ``_labels`` tell the lifecycle what its
bundle holds.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, TypeVar

import torch
from torch import nn

from rnnkit.bundle import WEIGHTS, Bundle, load_bundle, save_bundle
from rnnkit.errors import ConfigError, NotFittedError, field_error
from rnnkit.options import OptionTable, config_options
from rnnkit.tasks import registry
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import model_device, resolve_device
from rnnkit.train.lr_find import RangeTest, lr_range_test
from rnnkit.train.precision import check_precision
from rnnkit.train.run import History
from rnnkit.train.trainer import Trainer
from rnnkit.validation import check_weights

E = TypeVar("E", bound="OptionsEstimator")
M = TypeVar("M", bound=nn.Module)


class Trial(NamedTuple):
    """What a learning-rate range test trains: a fresh model, its batches and its loss."""

    model: nn.Module
    batches: Any
    loss: Any


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
        refused = f"is not a {cls.__name__} parameter"
        for name, _, value in config_options(path, names, lambda key: f"{path}: {key} {refused}"):
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


T = TypeVar("T", bound="TaskEstimator")
SHARED = ("data", "model", "training")  # the sections every task's configuration has


class TaskEstimator(OptionsEstimator):
    """A subclass sets ``task`` (its name in :mod:`rnnkit.tasks.registry`), ``options`` (the
    spec's table) and ``fit_call`` (how it is fitted, for the error of an unfitted one), and
    implements the hooks; its ``__init__`` gets the table's signature."""

    task: ClassVar[str]
    fit_call: ClassVar[str] = "fit(...)"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "options" not in cls.__dict__:
            return

        def __init__(self: TaskEstimator, **params: Any) -> None:
            OptionsEstimator.__init__(self, **params)

        verbose = inspect.Parameter(
            "verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool"
        )
        __init__.__signature__ = cls.options.signature(verbose)  # type: ignore[attr-defined]
        __init__.__qualname__ = f"{cls.__qualname__}.__init__"
        cls.__init__ = __init__  # type: ignore[method-assign,assignment]

    # -- configuration ---------------------------------------------------------------------

    def section(self, name: str) -> Any:
        """The configuration of the spec's section ``name`` that the parameters give (the
        model's: see the subclass's ``model_config``, which needs the data's sizes too)."""
        kind = registry.get(self.task).sections[name]
        return kind(**self.options.config_values(self.get_params(), name))

    def data_config(self) -> Any:
        return self.section("data")

    def train_config(self) -> TrainConfig:
        config: TrainConfig = self.section("training")
        return config

    def own_sections(self) -> dict[str, Any]:
        """The configurations of the sections of the task's own (a translator's decoding)."""
        sections = registry.get(self.task).sections
        return {name: self.section(name) for name in sections if name not in SHARED}

    def check_params(self) -> None:
        """Raise ``ConfigError`` naming the first parameter of the wrong type or out of its
        range; ``fit`` and the training commands call this before reading any data."""
        with self.in_params():
            self.options.check_types(self.get_params())
            self.data_config(), self.train_config()
            self._check_model()
            self.own_sections()
            check_precision(self.precision, resolve_device(self.device))
            if self.threads is not None and self.threads < 1:
                raise field_error("threads", "at least 1", self.threads)

    def _check_model(self) -> None:
        """Build the model's configuration with stand-in sizes, so that its fields are
        checked before any data is read."""

    # -- training --------------------------------------------------------------------------

    def _use_threads(self) -> None:
        """The ``threads`` parameter, applied to torch (None: torch's default)."""
        if self.threads is not None:
            torch.set_num_threads(self.threads)

    def _train(
        self,
        model: nn.Module,
        batches: Any,
        evaluate: Any,
        objective: Any,
        checkpoints: CheckpointPolicy | None,
    ) -> History:
        """``model`` trained on ``batches`` by the ``Trainer`` (validated by ``evaluate``,
        toward ``objective``, writing ``checkpoints``); ``history_`` and ``metrics_`` set."""
        trainer = Trainer(self.train_config(), progress=self.verbose, checkpoints=checkpoints)
        self.history_ = trainer.fit(model, batches, evaluate, objective)
        self.metrics_: dict[str, Any] = self.history_.summary()
        return self.history_

    def lr_find(
        self, *data: Any, min_lr: float = 1e-5, max_lr: float = 1.0, steps: int = 100
    ) -> RangeTest:
        """The learning-rate range test (:mod:`rnnkit.train.lr_find`) of a fresh model with
        these settings, trained on ``data`` as ``fit`` takes it (a classifier's ``Corpus``, a
        language model's documents, a translator's source and target sentences); leaves the
        estimator unfitted."""
        self.check_params()
        model, batches, loss = self._trial(*data)
        config = self.train_config()
        return lr_range_test(
            model, batches, config, min_lr=min_lr, max_lr=max_lr, steps=steps, loss=loss
        )

    def _trial(self, *data: Any) -> Trial:
        """A fresh model for ``data``, its batches and its loss: what the range test trains."""
        raise NotImplementedError

    # -- the fitted estimator --------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            name = type(self).__name__
            raise NotFittedError(
                f"this {name} is not fitted yet: call {self.fit_call} or {name}.load(path) first"
            )

    def _exported(self, verb: str) -> Path:
        """The folder it was saved to or loaded from, where ``rnnkit export`` writes its ONNX
        graphs (``backend="onnx"`` reads them); ConfigError for a model never saved, which
        has none, naming what comes before ``verb``."""
        folder: Path | None = getattr(self, "path_", None)
        if folder is None:
            raise ConfigError(
                "backend onnx reads the model's folder: save(path), run rnnkit export PATH, "
                f"then {verb}",
                field="backend",
            )
        return folder

    def _vocabulary(self) -> Any:
        """What turns its text into ids, as its bundle saves it (``to_json``)."""
        raise NotImplementedError

    def _labels(self) -> list[Any]:
        """Its classes, as its bundle lists them (none for most tasks)."""
        return []

    def _network(self, bundle: Bundle) -> nn.Module:
        """A fresh network of the configuration ``bundle.model``, for ``load``."""
        raise NotImplementedError

    def _restore(self, bundle: Bundle) -> None:
        """Set the fitted state other than ``model_`` (its vocabulary, its classes) from the
        bundle ``load`` read."""

    def save(
        self,
        path: str | Path,
        metrics: dict[str, Any] | None = None,
        *,
        option: str = "",
        keep_others: bool = False,
    ) -> Path:
        """Write a model bundle folder (see :mod:`rnnkit.bundle`): a new folder, an empty one
        or an rnnkit model folder may be given; anything else (a file, a folder with other
        files) is refused with ``OutputError``, and nothing there is changed. ``option``
        names the path in messages; ``keep_others``: see ``save_bundle``."""
        self._check_fitted()
        bundle = Bundle(
            self.data_config(),
            self.model_.config,
            self.train_config(),
            self._vocabulary(),
            self._labels(),
            self.model_.state_dict(),
            metrics if metrics is not None else self.metrics_,
            task=self.task,
            sections=self.own_sections(),
        )
        self.path_ = save_bundle(path, bundle, option=option, keep_others=keep_others)
        return self.path_

    @classmethod
    def load(cls: type[T], path: str | Path, *, command: str = "") -> T:
        """A fitted estimator from a bundle folder written by ``save`` or its training
        command; another task's folder is refused, naming the commands that take it (or
        ``command`` for what refused it)."""
        bundle = load_bundle(path, task=cls.task, command=command)
        estimator = cls.from_bundle(bundle)
        network = estimator._network(bundle)
        check_weights(network, bundle.state, Path(path) / WEIGHTS)
        network.load_state_dict(bundle.state)
        estimator.model_ = network.eval()
        estimator._restore(bundle)
        estimator.metrics_, estimator.history_ = bundle.metrics, History()
        estimator.path_ = Path(path)
        return estimator
