"""Recurrent cells written from their equations.

Each cell is one step of a recurrence: it maps an input ``x`` and the previous
state to the next state. The equations live in plain functions (``rnn_step``,
``lstm_step``, ``gru_step``) so that the cell modules here and the readable
reference path of the layers (:mod:`rnnkit.nn._reference`) run the very same
code. Parameter names, shapes and gate order are those of ``torch.nn.RNNCell``,
``torch.nn.LSTMCell`` and ``torch.nn.GRUCell``, so ``load_state_dict`` works in
both directions.

Shapes: ``B`` batch, ``I`` input size, ``H`` hidden size.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

Nonlinearity = Literal["tanh", "relu"]
LSTMState = tuple[Tensor, Tensor]

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu}


def rnn_step(
    x: Tensor,
    s: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    nonlinearity: Nonlinearity = "tanh",
) -> Tensor:
    r"""One step of the simple (Elman) RNN.

    .. math::
        S_i = f(W X_i + H S_{i-1} + b)

    with ``W = weight_ih`` (H, I), ``H = weight_hh`` (H, H),
    ``b = bias_ih + bias_hh`` and ``f`` = tanh or relu.
    """
    f = _ACTIVATIONS[nonlinearity]
    return f(F.linear(x, weight_ih, bias_ih) + F.linear(s, weight_hh, bias_hh))


def lstm_step(
    x: Tensor,
    state: LSTMState,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> LSTMState:
    r"""One step of the LSTM (Hochreiter and Schmidhuber, 1997, with a forget gate).

    .. math::
        \begin{aligned}
        i_t &= \sigma(W_{ii} x_t + b_{ii} + W_{hi} h_{t-1} + b_{hi}) && \text{input gate} \\
        f_t &= \sigma(W_{if} x_t + b_{if} + W_{hf} h_{t-1} + b_{hf}) && \text{forget gate} \\
        g_t &= \tanh(W_{ig} x_t + b_{ig} + W_{hg} h_{t-1} + b_{hg}) && \text{candidate} \\
        o_t &= \sigma(W_{io} x_t + b_{io} + W_{ho} h_{t-1} + b_{ho}) && \text{output gate} \\
        c_t &= f_t \odot c_{t-1} + i_t \odot g_t && \text{cell state } C \\
        h_t &= o_t \odot \tanh(c_t) && \text{hidden vector } H
        \end{aligned}

    ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) stack the gates in the order i, f, g, o.
    """
    h, c = state
    gates = F.linear(x, weight_ih, bias_ih) + F.linear(h, weight_hh, bias_hh)  # (B, 4H)
    i, f, g, o = gates.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c = f * c + i * g
    h = o * torch.tanh(c)
    return h, c


def gru_step(
    x: Tensor,
    h: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
) -> Tensor:
    r"""One step of the GRU (Cho et al., 2014), in PyTorch's formulation.

    .. math::
        \begin{aligned}
        r_t &= \sigma(W_{ir} x_t + b_{ir} + W_{hr} h_{t-1} + b_{hr}) && \text{reset gate} \\
        z_t &= \sigma(W_{iz} x_t + b_{iz} + W_{hz} h_{t-1} + b_{hz}) && \text{update gate} \\
        n_t &= \tanh(W_{in} x_t + b_{in} + r_t \odot (W_{hn} h_{t-1} + b_{hn})) && \text{new} \\
        h_t &= (1 - z_t) \odot n_t + z_t \odot h_{t-1}
        \end{aligned}

    ``weight_ih`` (3H, I) and ``weight_hh`` (3H, H) stack the gates in the order r, z, n.
    """
    x_r, x_z, x_n = F.linear(x, weight_ih, bias_ih).chunk(3, dim=-1)  # 3 x (B, H)
    h_r, h_z, h_n = F.linear(h, weight_hh, bias_hh).chunk(3, dim=-1)  # 3 x (B, H)
    r = torch.sigmoid(x_r + h_r)
    z = torch.sigmoid(x_z + h_z)
    n = torch.tanh(x_n + r * h_n)
    return (1 - z) * n + z * h


class _CellBase(nn.Module):
    """Parameters shared by all cells: ``weight_ih``, ``weight_hh``, ``bias_ih``, ``bias_hh``."""

    num_gates: int = 1

    def __init__(self, input_size: int, hidden_size: int, *, bias: bool = True) -> None:
        super().__init__()
        name = type(self).__name__
        for option, value in (("input_size", input_size), ("hidden_size", hidden_size)):
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"{name}: {option} must be a positive integer, got {value!r}")
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        rows = self.num_gates * hidden_size
        self.weight_ih = nn.Parameter(torch.empty(rows, input_size))
        self.weight_hh = nn.Parameter(torch.empty(rows, hidden_size))
        self.bias_ih: nn.Parameter | None
        self.bias_hh: nn.Parameter | None
        if bias:
            self.bias_ih = nn.Parameter(torch.empty(rows))
            self.bias_hh = nn.Parameter(torch.empty(rows))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Uniform in (-1/sqrt(H), 1/sqrt(H)), as in ``torch.nn``."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            nn.init.uniform_(weight, -bound, bound)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, bias={self.bias}"

    def _check_input(self, x: Tensor) -> tuple[Tensor, bool]:
        """Return ``x`` as (B, I) and whether it came without a batch dimension."""
        name = type(self).__name__
        if x.dim() not in (1, 2):
            raise ValueError(
                f"{name}: expected input of shape (batch, input_size) or (input_size,), "
                f"got shape {tuple(x.shape)}"
            )
        if x.shape[-1] != self.input_size:
            raise ValueError(
                f"{name}: expected input feature size {self.input_size} (input_size), "
                f"got {x.shape[-1]}"
            )
        unbatched = x.dim() == 1
        return (x.unsqueeze(0) if unbatched else x), unbatched

    def _check_state(self, state: Tensor | None, x: Tensor, unbatched: bool, what: str) -> Tensor:
        """Return ``state`` as (B, H), zeros when it is None."""
        batch = x.shape[0]
        if state is None:
            return x.new_zeros(batch, self.hidden_size)
        expected = (self.hidden_size,) if unbatched else (batch, self.hidden_size)
        if tuple(state.shape) != expected:
            raise ValueError(
                f"{type(self).__name__}: expected {what} of shape {expected}, "
                f"got {tuple(state.shape)}"
            )
        return state.unsqueeze(0) if unbatched else state


class RNNCell(_CellBase):
    r"""Simple RNN cell.

    .. math::
        S_i = f(W X_i + H S_{i-1} + b)

    ``W`` is ``weight_ih`` (H, I), ``H`` is ``weight_hh`` (H, H), ``b`` is
    ``bias_ih + bias_hh`` and ``f`` is ``tanh`` (default) or ``relu``.

    Input ``x`` (B, I) or (I,); state ``s`` (B, H) or (H,), zeros when omitted.
    Returns the next state, shaped like ``s``.
    """

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        *,
        bias: bool = True,
        nonlinearity: Nonlinearity = "tanh",
    ) -> None:
        if nonlinearity not in _ACTIVATIONS:
            raise ValueError(
                f"RNNCell: nonlinearity must be 'tanh' or 'relu', got {nonlinearity!r}"
            )
        self.nonlinearity: Nonlinearity = nonlinearity
        super().__init__(input_size, hidden_size, bias=bias)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nonlinearity={self.nonlinearity!r}"

    def forward(self, x: Tensor, s: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(x)
        s = self._check_state(s, x, unbatched, "state")
        s = rnn_step(
            x,
            s,
            self.weight_ih,
            self.weight_hh,
            self.bias_ih,
            self.bias_hh,
            nonlinearity=self.nonlinearity,
        )
        return s.squeeze(0) if unbatched else s


class LSTMCell(_CellBase):
    r"""Long short-term memory cell: two states, the cell state C and the hidden vector H,
    controlled by sigmoid forget, input and output gates.

    .. math::
        \begin{aligned}
        i &= \sigma(W_{ii} x + b_{ii} + W_{hi} h + b_{hi}) \\
        f &= \sigma(W_{if} x + b_{if} + W_{hf} h + b_{hf}) \\
        g &= \tanh(W_{ig} x + b_{ig} + W_{hg} h + b_{hg}) \\
        o &= \sigma(W_{io} x + b_{io} + W_{ho} h + b_{ho}) \\
        c' &= f \odot c + i \odot g \\
        h' &= o \odot \tanh(c')
        \end{aligned}

    ``weight_ih`` (4H, I) and ``weight_hh`` (4H, H) stack the gates in the order i, f, g, o.
    Input ``x`` (B, I) or (I,); ``state = (h, c)``, each (B, H) or (H,), zeros when omitted.
    Returns ``(h', c')``.
    """

    num_gates = 4

    def forward(self, x: Tensor, state: LSTMState | None = None) -> LSTMState:
        x, unbatched = self._check_input(x)
        h, c = (None, None) if state is None else state
        h = self._check_state(h, x, unbatched, "h")
        c = self._check_state(c, x, unbatched, "c")
        h, c = lstm_step(x, (h, c), self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return (h.squeeze(0), c.squeeze(0)) if unbatched else (h, c)


class GRUCell(_CellBase):
    r"""Gated recurrent unit cell.

    .. math::
        \begin{aligned}
        r &= \sigma(W_{ir} x + b_{ir} + W_{hr} h + b_{hr}) \\
        z &= \sigma(W_{iz} x + b_{iz} + W_{hz} h + b_{hz}) \\
        n &= \tanh(W_{in} x + b_{in} + r \odot (W_{hn} h + b_{hn})) \\
        h' &= (1 - z) \odot n + z \odot h
        \end{aligned}

    ``weight_ih`` (3H, I) and ``weight_hh`` (3H, H) stack the gates in the order r, z, n.
    Input ``x`` (B, I) or (I,); ``h`` (B, H) or (H,), zeros when omitted. Returns ``h'``.
    """

    num_gates = 3

    def forward(self, x: Tensor, h: Tensor | None = None) -> Tensor:
        x, unbatched = self._check_input(x)
        h = self._check_state(h, x, unbatched, "h")
        h = gru_step(x, h, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        return h.squeeze(0) if unbatched else h


# -- the steps as the layers call them (rnnkit.nn.registry names them): (x, state, weights)
# -> the next state, a tuple of one tensor (h) or two (h, c)


def rnn_tanh_state_step(x: Tensor, state: tuple[Tensor, ...], weights: Any) -> tuple[Tensor]:
    return (rnn_step(x, state[0], *weights, nonlinearity="tanh"),)


def rnn_relu_state_step(x: Tensor, state: tuple[Tensor, ...], weights: Any) -> tuple[Tensor]:
    return (rnn_step(x, state[0], *weights, nonlinearity="relu"),)


def lstm_state_step(x: Tensor, state: tuple[Tensor, ...], weights: Any) -> LSTMState:
    h, c = state
    return lstm_step(x, (h, c), *weights)


def gru_state_step(x: Tensor, state: tuple[Tensor, ...], weights: Any) -> tuple[Tensor]:
    return (gru_step(x, state[0], *weights),)
