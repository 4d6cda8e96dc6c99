"""CoNLL-U (Universal Dependencies): sentences of tokens with their part-of-speech tags.

One token a line, ten tab-separated columns (ID, FORM, LEMMA, UPOS, XPOS, FEATS, HEAD, DEPREL,
DEPS, MISC), ``#`` comment lines, a blank line after each sentence. A sentence's tokens are its
FORM column as the file gives it (the treebank's own tokenization, not rnnkit's), its tags the
UPOS column. Multiword-token lines (IDs such as ``3-4``) and empty nodes (``5.1``) are left out:
the words they span or add are not tokens of the sentence. A malformed line is named with its
file and line; with ``skip_bad_rows`` its sentence is left out and counted.
"""

from __future__ import annotations

from pathlib import Path

from rnnkit.data.examples import LabeledTexts, ReadOptions
from rnnkit.data.rows import Collector, decode, read_bytes, split_lines

COLUMNS = 10
FORM, UPOS = 1, 3


def read_conllu(path: Path, options: ReadOptions) -> LabeledTexts:
    source = str(path)
    sink = Collector(source, options, labelled=False)
    tokens: list[str] = []
    tags: list[str] = []
    broken = False  # the sentence being read has a bad line

    def end_sentence() -> None:
        nonlocal broken
        if tokens and not broken:
            sink.add_tagged(list(tokens), list(tags))
        tokens.clear()
        tags.clear()
        broken = False

    lines = split_lines(decode(read_bytes(path), options.encoding, source))
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            end_sentence()
            continue
        if line.startswith("#"):
            continue
        problem = _problem(columns := line.split("\t"))
        if problem:
            if not broken:
                sink.bad(f"line {number}", problem)
            broken = True
            continue
        word_id = columns[0]
        if "-" in word_id or "." in word_id:  # a multiword token, or an empty node
            continue
        tokens.append(columns[FORM])
        tags.append(columns[UPOS])
    end_sentence()
    return sink.result("conllu")


def _problem(columns: list[str]) -> str:
    """What is wrong with a word line split into ``columns``, or ``""``."""
    if len(columns) != COLUMNS:
        return f"expected {COLUMNS} tab-separated columns, found {len(columns)}"
    word_id = columns[0]
    first, dash, last = word_id.partition("-")
    whole, dot, part = word_id.partition(".")
    if dash and first.isdigit() and last.isdigit():
        return ""
    if dot and whole.isdigit() and part.isdigit():
        return ""
    if not word_id.isdigit():
        return f"expected a word ID such as 1, 3-4 or 5.1, found {word_id!r}"
    if not columns[FORM] or not columns[UPOS]:
        return "empty FORM or UPOS column"
    return ""
