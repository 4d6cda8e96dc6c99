"""RecurrentBase: what every recurrent layer shares, whatever its cell.

Parameters in ``torch.nn``'s names and order, built from the cell's
:class:`rnnkit.nn.registry.CellSpec`; the choice between the readable and the fused path;
the loop over layers and directions; a generic ``forward``. The layers' behaviour (lengths,
``impl``, dropout, shapes) is described in :mod:`rnnkit.nn.layers`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn import _fused, _reference, registry
from rnnkit.nn.checks import Lengths, State, check_input, check_lengths, check_state
from rnnkit.nn.dropout import dropout_between_layers, dropout_mask
from rnnkit.nn.masking import Padding
from rnnkit.nn.registry import CellSpec

Impl = Literal["auto", "reference", "fused"]
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]
_IMPLS = ("auto", "reference", "fused")


class RecurrentBase(nn.Module):
    """Parameters, the loop over layers and directions, and a generic ``forward``, for any
    cell of :mod:`rnnkit.nn.registry`: a subclass sets ``mode`` (the cell's name there)."""

    mode: str  # the cell: "LSTM", "GRU", "RNN_TANH", "RNN_RELU" or another registered one

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        impl: Impl = "auto",
        variational: bool = False,
        weight_dropout: float = 0.0,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if not isinstance(getattr(self, "mode", None), str):
            raise TypeError(f"{name}: a RecurrentBase subclass must set mode to a cell's name")
        try:
            cell = self.cell
        except ValueError as error:
            raise ValueError(f"{name}: {error}") from None
        self._check_options(
            cell, input_size, hidden_size, num_layers, dropout, impl, weight_dropout
        )
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.impl: Impl = impl
        self.variational = variational
        self.weight_dropout = float(weight_dropout)
        self._register_weights(cell)
        self.reset_parameters()

    def _check_options(
        self,
        cell: CellSpec,
        input_size: int,
        hidden_size: int,
        num_layers: int,
        dropout: float,
        impl: Impl,
        weight_dropout: float,
    ) -> None:
        """ValueError naming the layer and the option for an option out of its range."""
        name = type(self).__name__
        for option, value in (
            ("input_size", input_size),
            ("hidden_size", hidden_size),
            ("num_layers", num_layers),
        ):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {option} must be a positive integer, got {value!r}")
        for option, rate in (("dropout", dropout), ("weight_dropout", weight_dropout)):
            if (
                isinstance(rate, bool)
                or not isinstance(rate, (int, float))
                or not (0.0 <= rate <= 1.0)
            ):
                raise ValueError(f"{name}: {option} must be a number in [0, 1], got {rate!r}")
        if impl not in _IMPLS:
            raise ValueError(f"{name}: impl must be one of {_IMPLS}, got {impl!r}")
        self._check_fused(impl, cell)
        if weight_dropout > 0 and not cell.has_weight_hh:
            raise ValueError(
                f"{name}: weight_dropout acts on weight_hh, which the {cell.mode} cell lacks"
            )
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1: dropout is "
                "applied between stacked layers, not after the last one",
                UserWarning,
                stacklevel=3,  # the line that made the layer
            )

    def _register_weights(self, cell: CellSpec) -> None:
        """weight_ih_l{k}[_reverse], weight_hh_..., bias_ih_..., bias_hh_..., as torch.nn names
        and shapes them."""
        self._weight_names: list[list[str]] = []  # per (layer, direction), in torch's order
        rows = cell.num_gates * self.hidden_size
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: list[tuple[str, tuple[int, ...]]] = [("weight_ih", (rows, layer_input))]
                if cell.has_weight_hh:
                    shapes.append(("weight_hh", cell.weight_hh_shape(self.hidden_size)))
                if self.bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for kind, shape in shapes:
                    self.register_parameter(kind + suffix, nn.Parameter(torch.empty(shape)))
                self._weight_names.append([kind + suffix for kind, _ in shapes])

    @property
    def cell(self) -> CellSpec:
        """What the cell ``mode`` is: gates, states, step, kernel (:mod:`rnnkit.nn.registry`)."""
        return registry.get(self.mode)

    @property
    def num_gates(self) -> int:
        return self.cell.num_gates

    @property
    def num_states(self) -> int:
        return self.cell.num_states

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Uniform in (-1/sqrt(H), 1/sqrt(H)), as in ``torch.nn``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def layer_weights(self, layer: int, direction: int = 0) -> list[Tensor]:
        """The parameters of one layer and direction (1: reverse) in the order the cell's step
        takes them: ``weight_ih``, ``weight_hh``, then ``bias_ih``, ``bias_hh`` if ``bias``."""
        name = type(self).__name__
        if not 0 <= layer < self.num_layers:
            raise ValueError(f"{name}: layer must be in [0, {self.num_layers}), got {layer}")
        if not 0 <= direction < self.num_directions:
            raise ValueError(
                f"{name}: direction must be in [0, {self.num_directions}), got {direction}"
            )
        names = self._weight_names[layer * self.num_directions + direction]
        return [getattr(self, n) for n in names]

    @property
    def flat_weights(self) -> list[Tensor]:
        """All parameters in ``torch.nn``'s ``_flat_weights`` order."""
        return [getattr(self, name) for names in self._weight_names for name in names]

    def _forward_weights(self, cell: CellSpec) -> list[list[Tensor]]:
        """Each (layer, direction)'s weights for this forward pass: in training with
        ``weight_dropout``, ``weight_hh`` with a DropConnect mask drawn once for all time steps
        (as in AWD-LSTM), so both paths and the fused kernel see the same dropped matrix."""
        weights = [[getattr(self, name) for name in names] for names in self._weight_names]
        if self.training and self.weight_dropout > 0 and cell.has_weight_hh:
            for group in weights:
                w = group[1]
                group[1] = w * dropout_mask(
                    w.shape, self.weight_dropout, dtype=w.dtype, device=w.device
                )
        return weights

    def _check_fused(self, impl: str, cell: CellSpec) -> None:
        if impl == "fused" and cell.kernel is None:
            raise ValueError(
                f"{type(self).__name__}: impl='fused' needs a fused kernel and the "
                f"{cell.mode} cell has none; use impl='auto' or 'reference'"
            )

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}"
        defaults: dict[str, Any] = {
            "num_layers": 1,
            "bias": True,
            "batch_first": False,
            "dropout": 0.0,
            "bidirectional": False,
            "impl": "auto",
            "variational": False,
            "weight_dropout": 0.0,
        }
        for option, default in defaults.items():
            if getattr(self, option) != default:
                text += f", {option}={getattr(self, option)!r}"
        return text

    # -- forward ---------------------------------------------------------------------------

    def forward(
        self, input: Tensor, hx: Any = None, *, lengths: Lengths | None = None
    ) -> tuple[Tensor, Any]:
        """``(output, h_n)`` for a cell with one state, ``(output, (h_n, c_n, ...))`` for more;
        ``hx`` likewise (``RNN``, ``LSTM`` and ``GRU`` narrow these types)."""
        if hx is not None and self.num_states == 1:
            hx = (hx,)
        output, state = self._run(input, None if hx is None else tuple(hx), lengths)
        return output, (state[0] if len(state) == 1 else state)

    def step(self, x: Tensor, hx: State) -> tuple[Tensor, State]:
        """One time step of the whole stack in one direction, for generation: ``x`` (B, I)
        and the states (each (L, B, H)) -> the top layer's output (B, H) and the new states.
        The cell's step once per layer (the readable path): for one token, a fused kernel
        call costs more than the work (about 9 ms against well under 1 for hidden 512 and
        batch 1 here)."""
        return self.stepper()(x, hx)

    def stepper(self) -> StepFn:
        """``step`` with the weights looked up once, for a loop that calls it at every token
        (in training, the weight-dropout mask is drawn here, once for all its steps)."""
        if self.bidirectional:
            raise ValueError(f"{type(self).__name__}.step runs one direction only")
        cell_step, weights = self.cell.step, self._forward_weights(self.cell)
        between = self.dropout if self.training else 0.0  # dropout between layers
        if self.num_layers == 1:  # no stacking: each op costs about as much as the work here

            def one_layer(x: Tensor, hx: State) -> tuple[Tensor, State]:
                state = cell_step(x, tuple(s[0] for s in hx), weights[0])
                return state[0], tuple(s.unsqueeze(0) for s in state)

            return one_layer

        def stacked(x: Tensor, hx: State) -> tuple[Tensor, State]:
            finals: list[State] = []
            for layer, layer_weights in enumerate(weights):
                state = cell_step(x, tuple(s[layer] for s in hx), layer_weights)
                finals.append(state)
                x = state[0]
                if between > 0 and layer + 1 < len(weights):
                    x = F.dropout(x, between, training=True)
            return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

        return stacked

    def _run(
        self, input: Tensor, hx: State | None, lengths: Lengths | None
    ) -> tuple[Tensor, State]:
        name, cell = type(self).__name__, self.cell
        x, unbatched = check_input(
            name, input, input_size=self.input_size, batch_first=self.batch_first
        )  # (T, B, I)
        total_len = x.shape[0]
        state = check_state(
            name,
            hx,
            x,
            unbatched,
            rows=self.num_layers * self.num_directions,
            hidden_size=self.hidden_size,
            num_states=cell.num_states,
        )  # each (L * D, B, H)
        padding = None
        if lengths is not None:
            checked, shortest, longest = check_lengths(name, lengths, x, unbatched)
            x = x[:longest]  # outputs past the longest sequence are zero anyway
            if shortest < longest:
                padding = Padding.of(checked, longest)
                x = torch.where(padding.valid.unsqueeze(-1), x, 0.0)
        self._check_fused(self.impl, cell)
        use_fused = self.impl != "reference" and cell.kernel is not None
        weights = self._forward_weights(cell)
        locked = self.variational and self.dropout > 0 and self.training and self.num_layers > 1
        if use_fused and padding is None and not locked:  # torch's kernel is exact here
            output, state = _fused.kernel(
                cell,
                x,
                state,
                [w for group in weights for w in group],
                num_layers=self.num_layers,
                dropout=self.dropout,
                training=self.training,
                bidirectional=self.bidirectional,
            )
        else:
            if padding is None and use_fused:  # locked dropout: layer by layer, all full length
                full = torch.full((x.shape[1],), x.shape[0], dtype=torch.long, device=x.device)
                padding = Padding.of(full, x.shape[0])
            output, state = self._stack(cell, x, state, padding, weights, fused=use_fused)
        if output.shape[0] < total_len:
            output = F.pad(output, (0, 0, 0, 0, 0, total_len - output.shape[0]))
        if unbatched:
            return output.squeeze(1), tuple(s.squeeze(1) for s in state)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _stack(
        self,
        cell: CellSpec,
        x: Tensor,
        state: State,
        padding: Padding | None,
        weights: list[list[Tensor]],
        *,
        fused: bool,
    ) -> tuple[Tensor, State]:
        """Layers one after another: (T, B, I) -> (T, B, D * H), and the final states."""
        directions = self.num_directions
        finals: list[State] = []
        for layer in range(self.num_layers):
            first = layer * directions
            states = [tuple(s[first + d] for s in state) for d in range(directions)]
            layer_weights = weights[first : first + directions]
            if fused:
                assert padding is not None  # _run makes one where the kernel is not called
                x, layer_finals = _fused.layer(
                    cell, x, states, padding, layer_weights, training=self.training
                )
            else:
                x, layer_finals = _reference.layer(cell, x, states, padding, layer_weights)
            finals += layer_finals
            if self.dropout > 0 and self.training and layer + 1 < self.num_layers:
                x = dropout_between_layers(
                    x, self.dropout, variational=self.variational, training=True
                )
        return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))
