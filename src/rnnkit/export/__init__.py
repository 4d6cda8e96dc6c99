"""What exporting any task's model to ONNX shares (:mod:`rnnkit.export.graph`); each task's
graph is written by ``rnnkit.tasks.<task>.export``."""
