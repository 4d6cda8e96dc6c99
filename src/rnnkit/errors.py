"""Errors a user can fix. The command line prints their message on one line and exits with 2."""

from __future__ import annotations

import re


class RnnkitError(Exception):
    """A problem with the user's data, options or files, with a message that says how to fix it."""


class DataError(RnnkitError, ValueError):
    """Input data that cannot be read: the message names the file, and the line where known."""


class ConfigError(RnnkitError, ValueError):
    """An option value that cannot work: the message names the option. ``field`` is the
    library's name of the option (a configuration field such as ``hidden_size``), which the
    message names; the command line shows its flag there instead (``--hidden``), and the
    estimator its parameter (``hidden``)."""

    def __init__(
        self, message: str, *, field: str | None = None, others: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.field = field
        self.others = others  # further fields the message names (min_lr ... below max_lr)

    @property
    def fields(self) -> tuple[str, ...]:
        return (self.field, *self.others) if self.field else self.others

    def naming(self, shown: dict[str, str]) -> ConfigError:
        """This error with each name in ``shown`` (its fields, in any spelling) spelled as
        ``shown`` says, wherever the name stands alone."""
        text = str(self)
        for name, spelled in shown.items():
            if spelled != name:
                text = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", spelled, text)
        return ConfigError(text, field=self.field, others=self.others)


def field_error(field: str, expected: str, value: object) -> ConfigError:
    """``ConfigError("FIELD must be EXPECTED, got VALUE", field=FIELD)``."""
    return ConfigError(f"{field} must be {expected}, got {value}", field=field)


class BundleError(RnnkitError):
    """A model bundle that is missing, incomplete or corrupted: the message names the file."""


class OutputError(RnnkitError):
    """A place to write that cannot be used: it holds files that are not rnnkit's, is a file
    where a folder is needed, is read-only or full, or another process is writing it. The
    message names it; nothing already there has been changed."""


class PredictionError(RnnkitError):
    """A model gave non-finite (NaN or infinite) outputs: its weights are damaged, or training
    diverged. ``rows`` are the positions of the texts concerned."""

    def __init__(self, message: str, rows: list[int]) -> None:
        super().__init__(message)
        self.rows = rows


class NotFittedError(RnnkitError, AttributeError):
    """An estimator used before ``fit`` (or ``load``)."""


class TrainingInterrupted(RnnkitError):
    """Training stopped by Ctrl-C after writing a checkpoint; ``checkpoint`` is its folder."""

    def __init__(self, message: str, checkpoint: str | None) -> None:
        super().__init__(message)
        self.checkpoint = checkpoint
