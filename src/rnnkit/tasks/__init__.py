"""The tasks rnnkit trains models for, one module each: its options (an ``OptionTable``), its
objective (loss and monitored metric), and the head and reader it adds to the shared encoder
and data pipeline. :mod:`rnnkit.tasks.classification.options` is the first; language modelling,
pretraining and translation follow it. Nothing here imports torch at import time."""
