"""Seeded generators of the classic sequence tasks that show what recurrent networks can and
cannot do:

- :func:`negation`: sentences whose label depends on where a negator stands, not on which
  words occur, so an order-blind model scores about 0.5;
- :func:`adding`: the adding problem (Hochreiter and Schmidhuber, 1997), a test of memory over
  ``T`` steps;
- :func:`copy_memory`: the copy task (Arjovsky et al., 2016);
- :func:`parity`: the parity of a bit string.

Every generator takes ``seed`` and returns NumPy arrays or lists of strings; nothing is
downloaded.
"""

from rnnkit.synthetic.sequences import SequenceTask, adding, copy_memory, parity
from rnnkit.synthetic.text import NegationSplits, negation

__all__ = ["NegationSplits", "SequenceTask", "adding", "copy_memory", "negation", "parity"]
