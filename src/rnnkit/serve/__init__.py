"""The HTTP prediction server (``rnnkit serve``); needs the ``serve`` extra."""

from rnnkit.serve.config import ServeConfig

__all__ = ["ServeConfig"]
