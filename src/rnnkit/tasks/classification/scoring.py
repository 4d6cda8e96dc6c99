"""A model run over inference batches: the batches of a corpus, logits back in corpus order,
and the evaluation report of labelled batches. Shared by the estimator's prediction,
evaluation and validation."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F

from rnnkit.data.batching import Batches
from rnnkit.data.corpus import Corpus
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.device import feed, model_device
from rnnkit.train.metrics import classification_report
from rnnkit.train.precision import autocast
from rnnkit.validation import finite_rows

EVAL_BATCH_SIZE = 256  # texts per inference batch at most
# The fixed cost of one model call at inference (Python, kernel set-up): about 0.7 ms, worth
# 56 MFLOP at the 80 GFLOP/s one core reaches; inference batches of mixed lengths are cut where
# a separate call costs less than the padding it saves (design.md, decision 21). None: batches
# of EVAL_BATCH_SIZE only (what the benchmarks compare against).
CALL_FLOPS: float | None = 56e6


def batches_of(
    corpus: Corpus,
    model: torch.nn.Module,
    vocab: Vocabulary,
    names: Sequence[str] | None,
    max_len: int | None,
) -> Batches:
    """Inference batches of ``corpus`` for ``model`` (labelled with ``names`` where given):
    sorted by length, and cut where a separate call costs less than the padding it saves."""
    targets = corpus.label_ids(names) if names is not None else None
    flops = model.flops_per_token()  # type: ignore[operator]
    return Batches(
        corpus.encode(vocab),
        corpus.offsets,
        targets,
        batch_size=EVAL_BATCH_SIZE,
        max_len=max_len,
        call_cost=None if CALL_FLOPS is None else CALL_FLOPS / flops,
    )


@torch.no_grad()
def logits_in_order(model: torch.nn.Module, batches: Batches, precision: str) -> torch.Tensor:
    """Float32 logits (n, C) of every text, in corpus order, on the CPU; batches run sorted
    by length on the model's device."""
    model.eval()
    device = model_device(model)
    result: torch.Tensor | None = None
    for batch in feed(batches.epoch(), device):
        with autocast(precision, device):
            logits = model(*batch.inputs).float().cpu()
        if result is None:
            result = logits.new_empty(len(batches.lengths), logits.shape[1])
        result[torch.from_numpy(batch.index)] = logits
    assert result is not None  # a corpus holds at least one text
    return result


def evaluate_batches(
    model: torch.nn.Module, batches: Batches, names: Sequence[str], precision: str
) -> tuple[dict[str, float], dict[str, Any]]:
    """``({"accuracy", "macro_f1", "loss"}, full report)`` of ``model`` on labelled batches."""
    start = time.perf_counter()
    logits = logits_in_order(model, batches, precision)
    finite_rows(torch.softmax(logits, -1).numpy())  # NaN or infinite outputs: PredictionError
    targets = torch.from_numpy(batches.targets)
    report = classification_report(batches.targets, logits.argmax(1).numpy(), names)
    report["loss"] = float(F.cross_entropy(logits, targets))
    report["seconds"] = time.perf_counter() - start
    summary = {key: report[key] for key in ("accuracy", "macro_f1", "loss")}
    return summary, report
