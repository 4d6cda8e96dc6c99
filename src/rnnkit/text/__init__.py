"""Text: tokenizers and the vocabulary."""

from rnnkit.text.tokenize import TOKENIZERS, char_tokenize, get_tokenizer, word_tokenize
from rnnkit.text.vocab import PAD, UNK, Vocabulary

__all__ = [
    "PAD",
    "TOKENIZERS",
    "UNK",
    "Vocabulary",
    "char_tokenize",
    "get_tokenizer",
    "word_tokenize",
]
