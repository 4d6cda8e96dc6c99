"""What each recurrent cell is, in one place: a :class:`CellSpec` per cell kind.

A layer (:class:`rnnkit.nn.RecurrentBase`) names its cell by ``mode`` and finds here
everything it needs about it: how many gate blocks its matrices stack, how many state
tensors it carries, its readable step (the reference path), torch's fused kernel for it
(the fast path), how that kernel is kept exact in padding, and the ONNX operator that
computes it; and for the models and the command line, the ``name`` configurations give it
(``--cell lstm``), with the layer class that runs it. The entries of ``LSTM``, ``GRU``,
``RNN_TANH`` and ``RNN_RELU`` are below; a new cell is one step function and one
:func:`register` call::

    register(CellSpec("INDRNN", name="indrnn", num_gates=1, step=indrnn_step,
                      hh_shape=lambda h: (h,)))

after which every task takes ``cell="indrnn"`` (a layer class is made for it from
``RecurrentBase``: ``rnnkit.nn.layers.layer(name)``). A cell with no fused kernel runs the reference
path under ``impl="auto"``.

Nothing here imports torch: the built-in steps and kernels are named as ``"module:attr"``
(:class:`lazy`) and imported at their first call, so that the names of the cells are known
to configurations and to ``rnnkit --help`` without it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from torch import Tensor

State = tuple["Tensor", ...]
StepFn = Callable[["Tensor", State, Sequence["Tensor"]], State]
"""``(x (B, I), state (each (B, H)), weights of one layer and direction) -> next state``."""


class Kernel(Protocol):
    """A fused multi-layer kernel in torch's calling convention: ``x`` (T, B, I), each state
    (L * D, B, H), ``weights`` in ``torch.nn``'s ``_flat_weights`` order, time-major."""

    def __call__(
        self,
        x: Tensor,
        state: State,
        weights: list[Tensor],
        *,
        has_biases: bool,
        num_layers: int,
        dropout: float,
        training: bool,
        bidirectional: bool,
    ) -> tuple[Tensor, State]: ...


@dataclass(frozen=True)
class CellSpec:
    """One cell kind, as the layers, the fused path and the ONNX export see it.

    - ``mode``: the name layers use (``RecurrentBase.mode``), such as ``"LSTM"``.
    - ``num_gates``: gate blocks stacked in ``weight_ih`` (G * H, I) and the biases (G * H,).
    - ``step``: the readable step, ``(x, state, weights) -> state``; ``weights`` are
      ``weight_ih, weight_hh, bias_ih, bias_hh`` (no ``weight_hh`` without ``has_weight_hh``;
      no biases with ``bias=False``).
    - ``num_states``: state tensors carried, each (B, H): 1 (h), or 2 for the LSTM (h, c).
      The first is the output at each step.
    - ``kernel``: torch's fused kernel, or None: the layers then run ``step`` only.
    - ``padding_feature``: how the fused kernel keeps the state exact in padding, as the sign
      (-1, 0 or +1) of the saturating weight of the padding feature (an input feature, 1 at
      padding and 0 elsewhere) on each gate block; None when the kernel needs no feature
      (a state kept by masking, as the GRU's and the tanh RNN's). See :mod:`rnnkit.nn._fused`.
    - ``onnx_operator``, ``onnx_gate_order``: the ONNX operator computing the cell and the
      order in which it expects torch's gate blocks (``blocks[i] for i in order``), or None.
    - ``onnx_activations``: ONNX's ``activations`` attribute for one direction, empty for the
      operator's default; ``onnx_attributes``: its other attributes, as (name, value) pairs.
    - ``has_weight_hh``: whether the cell has a hidden-to-hidden weight.
    - ``hh_shape``: ``hidden_size -> shape`` of ``weight_hh``; None for (G * H, H).
    - ``name``: what configurations and ``--cell`` call it (``"lstm"``), or None for a mode
      only its layer class uses (a relu RNN is ``RNN(nonlinearity="relu")``).
    - ``layer``: ``"module:attr"`` of its layer class, or None for one made from
      ``RecurrentBase`` (:func:`layer`).
    """

    mode: str
    num_gates: int
    step: StepFn
    num_states: int = 1
    kernel: Kernel | None = None
    padding_feature: tuple[int, ...] | None = None
    onnx_operator: str | None = None
    onnx_gate_order: tuple[int, ...] | None = None
    onnx_activations: tuple[str, ...] = ()
    onnx_attributes: tuple[tuple[str, int | str], ...] = ()
    has_weight_hh: bool = True
    hh_shape: Callable[[int], tuple[int, ...]] | None = None
    name: str | None = None
    layer: str | None = None

    def __post_init__(self) -> None:
        where = f"CellSpec {self.mode!r}"
        if not isinstance(self.mode, str) or not self.mode:
            raise ValueError(f"CellSpec: mode must be a non-empty string, got {self.mode!r}")
        for option, value in (("num_gates", self.num_gates), ("num_states", self.num_states)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{where}: {option} must be a positive integer, got {value!r}")
        if self.padding_feature is not None and (
            len(self.padding_feature) != self.num_gates
            or any(sign not in (-1, 0, 1) for sign in self.padding_feature)
        ):
            raise ValueError(
                f"{where}: padding_feature must hold one sign (-1, 0 or 1) per gate block "
                f"({self.num_gates}), got {self.padding_feature!r}"
            )
        if (self.onnx_operator is None) != (self.onnx_gate_order is None):
            raise ValueError(f"{where}: give both onnx_operator and onnx_gate_order, or neither")
        if self.onnx_gate_order is not None and sorted(self.onnx_gate_order) != list(
            range(self.num_gates)
        ):
            raise ValueError(
                f"{where}: onnx_gate_order must be a permutation of range({self.num_gates}), "
                f"got {self.onnx_gate_order!r}"
            )
        if self.hh_shape is not None and not self.has_weight_hh:
            raise ValueError(f"{where}: hh_shape given for a cell without weight_hh")
        if self.name is not None and (not self.name.isidentifier() or self.name == "bag"):
            raise ValueError(f"{where}: name must be a word other than 'bag', got {self.name!r}")

    def weight_hh_shape(self, hidden_size: int) -> tuple[int, ...]:
        """The shape of ``weight_hh`` for ``hidden_size``: (G * H, H) unless ``hh_shape``."""
        if self.hh_shape is not None:
            return self.hh_shape(hidden_size)
        return (self.num_gates * hidden_size, hidden_size)


_CELLS: dict[str, CellSpec] = {}


def register(spec: CellSpec) -> CellSpec:
    """Make ``spec`` known under ``spec.mode``; returns it. A mode is registered once."""
    if not isinstance(spec, CellSpec):
        raise ValueError(f"register: expected a CellSpec, got {type(spec).__name__}")
    if spec.mode in _CELLS:
        raise ValueError(
            f"register: a cell {spec.mode!r} is already registered; unregister it first"
        )
    if spec.name is not None and spec.name in cell_names():
        raise ValueError(f"register: a cell is already named {spec.name!r}")
    _CELLS[spec.mode] = spec
    return spec


def unregister(mode: str) -> CellSpec:
    """Forget the cell ``mode`` and return its spec (tests restore the registry with this)."""
    spec = get(mode)
    del _CELLS[mode]
    return spec


def get(mode: str) -> CellSpec:
    """The spec of the cell ``mode``, such as ``"LSTM"``."""
    try:
        return _CELLS[mode]
    except KeyError:
        raise ValueError(
            f"unknown cell {mode!r}: the registered cells are {', '.join(names())}"
        ) from None


def names() -> tuple[str, ...]:
    """The modes of the registered cells, sorted."""
    return tuple(sorted(_CELLS))


def cell_names() -> tuple[str, ...]:
    """The names configurations give the registered cells, in the order of registration."""
    return tuple(spec.name for spec in _CELLS.values() if spec.name is not None)


def named(name: str) -> CellSpec:
    """The spec of the cell configurations call ``name`` (``"lstm"``)."""
    for spec in _CELLS.values():
        if spec.name == name:
            return spec
    raise ValueError(f"unknown cell {name!r}: the registered cells are {', '.join(cell_names())}")


class CellNames:
    """The registered cells' names, read when asked (``in``, iteration), so that a cell
    registered after an option table was built is among its choices; with ``extra``, more
    (a classifier's ``bag``)."""

    def __init__(self, *extra: str) -> None:
        self.extra = extra

    def __contains__(self, name: object) -> bool:
        return name in (*cell_names(), *self.extra)

    def __iter__(self) -> Iterator[str]:
        return iter((*cell_names(), *self.extra))

    def __len__(self) -> int:
        return len(cell_names()) + len(self.extra)

    def __repr__(self) -> str:
        return repr(tuple(self))


class lazy:
    """A callable named ``"module:attr"``, imported at its first call."""

    def __init__(self, where: str) -> None:
        self.where = where
        self._target: Callable[..., Any] | None = None

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._target is None:
            module, _, attribute = self.where.partition(":")
            self._target = getattr(importlib.import_module(module), attribute)
        return self._target(*args, **kwargs)


# -- the built-in cells: steps from rnnkit.nn.cells, kernels from torch (nn._fused) ----------


def _torch_cell(mode: str, name: str | None, **fields: Any) -> None:
    """Register one of torch's cells: its step ``<mode>_state_step`` in rnnkit.nn.cells, its
    kernel ``torch_<mode>`` (nn._fused), and with a ``name``, its layer class in nn.layers."""
    where = mode.lower()
    layer = f"rnnkit.nn.layers:{mode.split('_')[0]}" if name else None
    step, kernel = f"rnnkit.nn.cells:{where}_state_step", f"rnnkit.nn._fused:torch_{where}"
    register(CellSpec(mode, step=lazy(step), kernel=lazy(kernel), name=name, layer=layer, **fields))


_torch_cell(
    "LSTM",
    "lstm",
    num_gates=4,
    num_states=2,
    padding_feature=(-1, 1, 0, 0),  # input gate i -> 0, forget gate f -> 1: c passes through
    onnx_operator="LSTM",
    onnx_gate_order=(0, 3, 1, 2),  # i, f, g, o -> i, o, f, c
)
_torch_cell(
    "GRU",
    "gru",
    num_gates=3,
    onnx_operator="GRU",
    onnx_gate_order=(1, 0, 2),  # r, z, n -> z, r, h
    onnx_attributes=(("linear_before_reset", 1),),  # as torch computes n
)
_torch_cell(
    "RNN_TANH",
    "rnn",
    num_gates=1,
    onnx_operator="RNN",
    onnx_gate_order=(0,),
    onnx_activations=("Tanh",),
)
_torch_cell(
    "RNN_RELU",
    None,
    num_gates=1,
    padding_feature=(-1,),  # state -> 0 in padding, where it could overflow
    onnx_operator="RNN",
    onnx_gate_order=(0,),
    onnx_activations=("Relu",),
)
