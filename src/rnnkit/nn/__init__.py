"""Recurrent networks from their equations: cells, and layers that unroll them over time.

- :mod:`rnnkit.nn.cells`: ``RNNCell``, ``LSTMCell``, ``GRUCell`` (one step each).
- :mod:`rnnkit.nn.layers`: ``RNN``, ``LSTM``, ``GRU`` (stacked, bidirectional, exact on
  padded batches given ``lengths``), with a readable and a fused implementation.
- :mod:`rnnkit.nn.registry`: ``CellSpec``, what each cell is (gates, step, fused kernel, ONNX
  operator, the name configurations give it); ``register`` a new one.
- :mod:`rnnkit.nn.masking`: helpers for padded batches of variable-length sequences.

The cells and layers are imported when first used, so that :mod:`rnnkit.nn.registry` (the
names of the cells) loads without torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rnnkit._lazy import lazy_names

if TYPE_CHECKING:
    from rnnkit.nn.cells import GRUCell, LSTMCell, RNNCell, gru_step, lstm_step, rnn_step
    from rnnkit.nn.layers import GRU, LSTM, RNN, RecurrentBase

__all__ = [
    "GRU",
    "LSTM",
    "RNN",
    "GRUCell",
    "LSTMCell",
    "RNNCell",
    "RecurrentBase",
    "gru_step",
    "lstm_step",
    "rnn_step",
]

__getattr__ = lazy_names(
    __name__,
    {
        **dict.fromkeys(
            ("GRUCell", "LSTMCell", "RNNCell", "gru_step", "lstm_step", "rnn_step"), ".cells"
        ),
        **dict.fromkeys(("GRU", "LSTM", "RNN", "RecurrentBase"), ".layers"),
    },
)
