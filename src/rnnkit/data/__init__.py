"""Data: readers for labelled text files, named datasets, splits, tokenized corpora, batches."""
