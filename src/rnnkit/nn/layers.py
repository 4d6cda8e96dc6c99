"""Recurrent layers: cells unrolled over time, stacked and bidirectional, exact on padded batches.

The layers take the constructor arguments, parameter names and return values of
``torch.nn.RNN``, ``torch.nn.LSTM`` and ``torch.nn.GRU`` (a state dict loads in
both directions), plus two things torch's padded layers lack:

- ``forward(input, hx=None, *, lengths=None)``: with ``lengths`` each sequence is
  processed for exactly its own length. Outputs at padding are zero, ``h_n`` (and
  ``c_n``) hold each sequence's state at its own end, and the reverse direction
  starts at its last real token: a sequence's results never depend on its batch
  or on the padding that follows it.
- ``impl``: ``"reference"`` runs the readable loop over time built from the cells,
  ``"fused"`` runs PyTorch's fused kernels on the padded tensor (no packing) and
  restores the exact semantics around them, ``"auto"`` (default) picks ``"fused"``.

and two regularizers for training (Gal and Ghahramani, 2016; Merity et al., 2018), drawn the
same way on both paths so that they stay comparable under one seed:

- ``variational=True``: the ``dropout`` between layers keeps one mask per sequence for all
  time steps ("locked" dropout) instead of a new mask at every step;
- ``weight_dropout``: DropConnect on each hidden-to-hidden matrix ``weight_hh``, one mask per
  forward call, so the fused kernel runs on the dropped matrix unchanged.

Shapes (``batch_first=False``; with ``batch_first=True`` swap T and B in input and
output): input (T, B, I) or unbatched (T, I); ``lengths`` (B,); ``hx`` and ``h_n``
(L * D, B, H) with L = ``num_layers`` and D = 2 if ``bidirectional`` else 1;
output (T, B, D * H).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any, ClassVar, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.nn import _fused, _reference
from rnnkit.nn.dropout import dropout_between_layers, dropout_mask
from rnnkit.nn.masking import Padding

Impl = Literal["auto", "reference", "fused"]
Lengths = Tensor | Sequence[int]
State = tuple[Tensor, ...]
_IMPLS = ("auto", "reference", "fused")


class RecurrentBase(nn.Module):
    """Parameters, input checks and the loop over layers and directions shared by all layers."""

    mode: str  # the kernel family: "LSTM", "GRU", "RNN_TANH" or "RNN_RELU"
    num_gates: ClassVar[int]
    num_states: ClassVar[int] = 1

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
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                f"{name}: dropout={dropout} has no effect with num_layers=1: dropout is "
                "applied between stacked layers, not after the last one",
                UserWarning,
                stacklevel=2,
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
        self._weight_names: list[list[str]] = []  # per (layer, direction), in torch's order
        rows = self.num_gates * hidden_size
        for layer in range(num_layers):
            layer_input = input_size if layer == 0 else hidden_size * self.num_directions
            for direction in range(self.num_directions):
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes: list[tuple[str, tuple[int, ...]]] = [
                    ("weight_ih", (rows, layer_input)),
                    ("weight_hh", (rows, hidden_size)),
                ]
                if bias:
                    shapes += [("bias_ih", (rows,)), ("bias_hh", (rows,))]
                for kind, shape in shapes:
                    self.register_parameter(kind + suffix, nn.Parameter(torch.empty(shape)))
                self._weight_names.append([kind + suffix for kind, _ in shapes])
        self.reset_parameters()

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    def reset_parameters(self) -> None:
        """Uniform in (-1/sqrt(H), 1/sqrt(H)), as in ``torch.nn``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    @property
    def flat_weights(self) -> list[Tensor]:
        """All parameters in ``torch.nn``'s ``_flat_weights`` order."""
        return [getattr(self, name) for names in self._weight_names for name in names]

    def _forward_weights(self) -> list[list[Tensor]]:
        """Each (layer, direction)'s weights for this forward pass: in training with
        ``weight_dropout``, ``weight_hh`` with a DropConnect mask drawn once for all time steps
        (as in AWD-LSTM), so both paths and the fused kernel see the same dropped matrix."""
        weights = [[getattr(self, name) for name in names] for names in self._weight_names]
        if self.training and self.weight_dropout > 0:
            for group in weights:
                w = group[1]
                group[1] = w * dropout_mask(
                    w.shape, self.weight_dropout, dtype=w.dtype, device=w.device
                )
        return weights

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

    def _run(
        self, input: Tensor, hx: State | None, lengths: Lengths | None
    ) -> tuple[Tensor, State]:
        x, unbatched = self._check_input(input)  # (T, B, I)
        total_len = x.shape[0]
        state = self._check_state(hx, x, unbatched)  # each (L * D, B, H)
        padding = None
        if lengths is not None:
            checked, shortest, longest = self._check_lengths(lengths, x, unbatched)
            x = x[:longest]  # outputs past the longest sequence are zero anyway
            if shortest < longest:
                padding = Padding.of(checked, longest)
                x = torch.where(padding.valid.unsqueeze(-1), x, 0.0)
        use_fused = self.impl != "reference"
        weights = self._forward_weights()
        locked = self.variational and self.dropout > 0 and self.training and self.num_layers > 1
        if use_fused and padding is None and not locked:  # torch's kernel is exact here
            output, state = _fused.kernel(
                self.mode,
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
            output, state = self._stack(x, state, padding, weights, fused=use_fused)
        if output.shape[0] < total_len:
            output = F.pad(output, (0, 0, 0, 0, 0, total_len - output.shape[0]))
        if unbatched:
            return output.squeeze(1), tuple(s.squeeze(1) for s in state)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, state

    def _stack(
        self,
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
                    self.mode, x, states, padding, layer_weights, training=self.training
                )
            else:
                x, layer_finals = _reference.layer(self.mode, x, states, padding, layer_weights)
            finals += layer_finals
            if self.dropout > 0 and self.training and layer + 1 < self.num_layers:
                x = dropout_between_layers(
                    x, self.dropout, variational=self.variational, training=True
                )
        return x, tuple(torch.stack(parts) for parts in zip(*finals, strict=True))

    # -- input checks ----------------------------------------------------------------------

    def _check_input(self, input: Tensor) -> tuple[Tensor, bool]:
        """Return the input as (T, B, I) and whether it came unbatched."""
        name = type(self).__name__
        if not isinstance(input, Tensor):
            raise ValueError(f"{name}: expected input to be a Tensor, got {type(input).__name__}")
        layout = "(batch, time, input_size)" if self.batch_first else "(time, batch, input_size)"
        if input.dim() not in (2, 3):
            raise ValueError(
                f"{name}: expected input with 3 dimensions {layout} or 2 (time, input_size), "
                f"got {input.dim()} dimensions with shape {tuple(input.shape)}"
            )
        if input.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input feature size {self.input_size} (input_size), "
                f"got {input.shape[-1]} in input of shape {tuple(input.shape)}"
            )
        if 0 in input.shape:
            raise ValueError(f"{name}: expected a non-empty input, got shape {tuple(input.shape)}")
        if not input.is_floating_point():
            raise ValueError(f"{name}: expected a floating-point input, got {input.dtype}")
        if input.dim() == 2:
            return input.unsqueeze(1), True
        return (input.transpose(0, 1) if self.batch_first else input), False

    def _check_state(self, hx: State | None, x: Tensor, unbatched: bool) -> State:
        """Return the initial state as a tuple of (L * D, B, H) tensors, zeros when omitted."""
        name = type(self).__name__
        rows, batch = self.num_layers * self.num_directions, x.shape[1]
        if hx is None:
            zeros = x.new_zeros(rows, batch, self.hidden_size)
            return (zeros,) * self.num_states
        expected = (rows, self.hidden_size) if unbatched else (rows, batch, self.hidden_size)
        labels = ("h_0", "c_0") if self.num_states == 2 else ("hx",)
        for label, tensor in zip(labels, hx, strict=True):
            if not isinstance(tensor, Tensor) or tuple(tensor.shape) != expected:
                got = tuple(tensor.shape) if isinstance(tensor, Tensor) else type(tensor).__name__
                raise ValueError(
                    f"{name}: expected {label} of shape {expected} "
                    f"(num_layers * num_directions, batch, hidden_size), got {got}"
                )
            if tensor.dtype != x.dtype:
                raise ValueError(
                    f"{name}: expected {label} of dtype {x.dtype} like the input, "
                    f"got {tensor.dtype}"
                )
        return tuple(t.unsqueeze(1) if unbatched else t for t in hx)

    def _check_lengths(
        self, lengths: Lengths, x: Tensor, unbatched: bool
    ) -> tuple[Tensor, int, int]:
        """Return ``lengths`` as int64 on the input's device (each in [1, T]), its min and max."""
        name = type(self).__name__
        if unbatched:
            raise ValueError(
                f"{name}: lengths needs a batched input (3 dimensions), got an unbatched input "
                f"of shape {tuple(x.squeeze(1).shape)}"
            )
        if not isinstance(lengths, Tensor):
            lengths = torch.as_tensor(lengths)
        if lengths.dtype == torch.bool or lengths.is_floating_point() or lengths.is_complex():
            raise ValueError(
                f"{name}: lengths must be an integer tensor, got dtype {lengths.dtype}"
            )
        batch, total_len = x.shape[1], x.shape[0]
        if tuple(lengths.shape) != (batch,):
            raise ValueError(
                f"{name}: expected lengths of shape ({batch},) (batch,), got {tuple(lengths.shape)}"
            )
        lengths = lengths.to(device=x.device, dtype=torch.int64)
        shortest, longest = (int(v) for v in lengths.aminmax())
        if shortest < 1:
            index = int(torch.argmin(lengths))
            raise ValueError(
                f"{name}: every sequence needs at least one step, got lengths[{index}] = {shortest}"
            )
        if longest > total_len:
            index = int(torch.argmax(lengths))
            raise ValueError(
                f"{name}: lengths[{index}] = {longest} is longer than the time dimension "
                f"of the input ({total_len})"
            )
        return lengths, shortest, longest


class RNN(RecurrentBase):
    r"""Simple (Elman) RNN layer, stacked and optionally bidirectional.

    .. math::
        S_t = f(W X_t + H S_{t-1} + b)

    for each layer and direction, with ``f`` = tanh (default) or relu; the input
    of layer ``k > 0`` is the output of layer ``k - 1``. See :class:`rnnkit.nn.RNNCell`.

    ``forward(input, hx=None, *, lengths=None)`` returns ``(output, h_n)``.
    """

    num_gates = 1

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        nonlinearity: Literal["tanh", "relu"] = "tanh",
        num_layers: int = 1,
        bias: bool = True,
        batch_first: bool = False,
        dropout: float = 0.0,
        bidirectional: bool = False,
        impl: Impl = "auto",
        variational: bool = False,
        weight_dropout: float = 0.0,
    ) -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"RNN: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}")
        self.nonlinearity = nonlinearity
        self.mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"
        super().__init__(
            input_size,
            hidden_size,
            num_layers=num_layers,
            bias=bias,
            batch_first=batch_first,
            dropout=dropout,
            bidirectional=bidirectional,
            impl=impl,
            variational=variational,
            weight_dropout=weight_dropout,
        )

    def extra_repr(self) -> str:
        text = super().extra_repr()
        return text if self.nonlinearity == "tanh" else f"{text}, nonlinearity='relu'"

    def forward(
        self, input: Tensor, hx: Tensor | None = None, *, lengths: Lengths | None = None
    ) -> tuple[Tensor, Tensor]:
        output, state = self._run(input, None if hx is None else (hx,), lengths)
        return output, state[0]


class LSTM(RecurrentBase):
    r"""Long short-term memory layer, stacked and optionally bidirectional.

    Each layer and direction runs :class:`rnnkit.nn.LSTMCell` over time:

    .. math::
        \begin{aligned}
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t \\
        h_t &= o_t \odot \tanh(c_t)
        \end{aligned}

    ``forward(input, hx=None, *, lengths=None)`` takes ``hx = (h_0, c_0)`` and
    returns ``(output, (h_n, c_n))``.
    """

    mode = "LSTM"
    num_gates = 4
    num_states = 2

    def forward(
        self,
        input: Tensor,
        hx: tuple[Tensor, Tensor] | None = None,
        *,
        lengths: Lengths | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise ValueError(f"LSTM: expected hx to be a tuple (h_0, c_0), got {type(hx).__name__}")
        output, (h_n, c_n) = self._run(input, None if hx is None else tuple(hx), lengths)
        return output, (h_n, c_n)


class GRU(RecurrentBase):
    r"""Gated recurrent unit layer, stacked and optionally bidirectional.

    Each layer and direction runs :class:`rnnkit.nn.GRUCell` over time:

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    ``forward(input, hx=None, *, lengths=None)`` returns ``(output, h_n)``.
    """

    mode = "GRU"
    num_gates = 3

    def forward(
        self, input: Tensor, hx: Tensor | None = None, *, lengths: Lengths | None = None
    ) -> tuple[Tensor, Tensor]:
        output, state = self._run(input, None if hx is None else (hx,), lengths)
        return output, state[0]
