"""Tokenizers: text in, a list of token strings out.

- ``word``: removes HTML line breaks (``<br />``, as in IMDB), lower-cases, and splits into
  words and single punctuation marks. Apostrophes inside a word stay in it, so both
  ``don't`` and the pre-tokenized ``n't`` of SST are one token, and so are the detached
  clitics ``'s``, ``'re``, ``'ve``, ``'ll``, ``'d`` and ``'m`` of pre-tokenized text.
- ``char``: lower-cases, folds runs of white space into one space, and returns the characters.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from rnnkit.errors import ConfigError

Tokenizer = Callable[[str], list[str]]

_HTML_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_WORD = re.compile(r"\w+(?:['\u2019]\w+)*|['\u2019](?:s|re|ve|ll|d|m)\b|[^\w\s]")
_SPACES = re.compile(r"\s+")


def word_tokenize(text: str) -> list[str]:
    """``"A <br />great film, isn't it?"`` -> ``a great film , isn't it ?`` (as a list)."""
    return _WORD.findall(_HTML_BREAK.sub(" ", text).lower())


def char_tokenize(text: str) -> list[str]:
    """``"Hi  there"`` -> ``["h", "i", " ", "t", "h", "e", "r", "e"]``."""
    return list(_SPACES.sub(" ", _HTML_BREAK.sub(" ", text).lower()).strip())


TOKENIZERS: dict[str, Tokenizer] = {"word": word_tokenize, "char": char_tokenize}


def get_tokenizer(name: str) -> Tokenizer:
    """The tokenizer called ``name`` (``word`` or ``char``)."""
    try:
        return TOKENIZERS[name]
    except KeyError:
        raise ConfigError(
            f"unknown tokenizer {name!r}: choose one of {', '.join(TOKENIZERS)}"
        ) from None
