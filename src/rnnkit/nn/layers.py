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
  restores the exact semantics around them, ``"auto"`` (default) picks ``"fused"``
  when the cell has a fused kernel and ``"reference"`` otherwise.

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

What each cell is (gates, states, step, kernel) comes from :mod:`rnnkit.nn.registry`, by the
layer's ``mode``: a layer for a newly registered cell is a subclass that sets ``mode``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
from typing import Literal

from torch import Tensor

from rnnkit.nn import registry
from rnnkit.nn.base import Impl, RecurrentBase
from rnnkit.nn.checks import Lengths

__all__ = ["GRU", "LAYERS", "LSTM", "RNN", "Impl", "Lengths", "RecurrentBase", "layer"]


class RNN(RecurrentBase):
    r"""Simple (Elman) RNN layer, stacked and optionally bidirectional.

    .. math::
        S_t = f(W X_t + H S_{t-1} + b)

    for each layer and direction, with ``f`` = tanh (default) or relu; the input
    of layer ``k > 0`` is the output of layer ``k - 1``. See :class:`rnnkit.nn.RNNCell`.

    ``forward(input, hx=None, *, lengths=None)`` returns ``(output, h_n)``.
    """

    mode = "RNN_TANH"  # RNN_RELU with nonlinearity="relu"

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

    def forward(
        self, input: Tensor, hx: Tensor | None = None, *, lengths: Lengths | None = None
    ) -> tuple[Tensor, Tensor]:
        output, state = self._run(input, None if hx is None else (hx,), lengths)
        return output, state[0]


_MADE: dict[str, type[RecurrentBase]] = {}  # the layer classes made for cells without one


def layer(name: str) -> type[RecurrentBase]:
    """The layer class of the cell configurations call ``name`` (:mod:`rnnkit.nn.registry`):
    its own (``LSTM``), or a ``RecurrentBase`` with its ``mode``, made once."""
    spec = registry.named(name)
    if spec.layer is not None:
        module, _, attribute = spec.layer.partition(":")
        found: type[RecurrentBase] = getattr(importlib.import_module(module), attribute)
        return found
    if spec.mode not in _MADE:
        doc = f"A layer of the {spec.mode} cell, stacked and optionally bidirectional."
        _MADE[spec.mode] = type(spec.mode, (RecurrentBase,), {"mode": spec.mode, "__doc__": doc})
    return _MADE[spec.mode]


class _Layers(Mapping[str, type[RecurrentBase]]):
    """Every registered cell's layer class by the name configurations give it, read from the
    registry each time: a cell registered later is in it."""

    def __getitem__(self, name: str) -> type[RecurrentBase]:
        if name not in registry.cell_names():
            raise KeyError(name)
        return layer(name)

    def __iter__(self) -> Iterator[str]:
        return iter(registry.cell_names())

    def __len__(self) -> int:
        return len(registry.cell_names())


LAYERS: Mapping[str, type[RecurrentBase]] = _Layers()
