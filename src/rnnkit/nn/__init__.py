"""Recurrent networks from their equations: cells, and layers that unroll them over time.

- :mod:`rnnkit.nn.cells`: ``RNNCell``, ``LSTMCell``, ``GRUCell`` (one step each).
- :mod:`rnnkit.nn.layers`: ``RNN``, ``LSTM``, ``GRU`` (stacked, bidirectional, exact on
  padded batches given ``lengths``), with a readable and a fused implementation.
- :mod:`rnnkit.nn.registry`: ``CellSpec``, what each cell is (gates, step, fused kernel, ONNX
  operator); ``register`` a new one and subclass ``RecurrentBase`` with its ``mode``.
- :mod:`rnnkit.nn.masking`: helpers for padded batches of variable-length sequences.
"""

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
