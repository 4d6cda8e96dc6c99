"""Export to other runtimes: ONNX (``export_onnx``) and prediction with it (``OnnxPredictor``).

Needs the ``onnx`` extra: ``pip install 'rnnkit[onnx]'``."""

from rnnkit.export.onnx import build_graph, export_onnx

__all__ = ["build_graph", "export_onnx"]
