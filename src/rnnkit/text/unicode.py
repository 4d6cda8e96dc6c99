"""Text that is valid Unicode: what every tokenizer can read and every file can hold."""

from __future__ import annotations

from rnnkit.errors import ConfigError


def check_unicode(text: str, name: str, *, field: str | None = None) -> None:
    """``ConfigError`` naming ``name`` and the character when ``text`` holds a lone surrogate
    (U+D800 to U+DFFF alone, as JSON's "\\ud800" or bytes that are not UTF-8 in a
    command-line argument read): no tokenizer can read it, nor can it be written back.
    ``field``: the option ``name`` is, for a message in the words of the command line."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise ConfigError(
            f"{name}: character {error.start + 1} is a lone surrogate (U+{code:04X}), which is "
            "not valid Unicode; send UTF-8 text (bytes that are not UTF-8, or an unpaired "
            "\\uD8xx escape in JSON, read this way)",
            field=field,
        ) from None
