"""Counts in messages: ``counted(1, "document")`` is "1 document", ``counted(2000, "text")``
"2,000 texts"."""

from __future__ import annotations


def counted(count: int, noun: str, plural: str | None = None) -> str:
    """``count`` with thousands separators and ``noun``, plural (``plural``, or ``noun`` + s)
    unless the count is one."""
    return f"{count:,} {noun if count == 1 else plural or noun + 's'}"
