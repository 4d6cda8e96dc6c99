"""LanguageModel: a recurrent language model with a scikit-learn-style interface.

    lm = rnnkit.LanguageModel(unit="char", epochs=2).fit(documents)
    lm.evaluate(documents)                      # loss, perplexity, bits per token, tokens
    lm.generate("ROMEO:", max_tokens=200, temperature=0.8, seed=0)
    state = lm.start("ROMEO:"); state.sample(0.8); state.next_probs()
    lm.save("model/"); lm = rnnkit.LanguageModel.load("model/")

Training reads the documents as one stream per batch row and runs truncated backpropagation
through time over windows, carrying the state from window to window and resetting it at each
document boundary (:mod:`rnnkit.data.stream`, :mod:`rnnkit.models.language_model`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rnnkit.bundle import Bundle
from rnnkit.data.documents import check_lengths, hold_out_tail
from rnnkit.data.stream import StreamBatches, eval_windows, token_stream
from rnnkit.errors import ConfigError
from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.language_model import Carried, LanguageModelNet
from rnnkit.models.vectors import copy_vectors, load_vectors, vectors_dim
from rnnkit.plural import counted
from rnnkit.tasks.estimator import Trial
from rnnkit.tasks.language_model.generating import Generating
from rnnkit.tasks.language_model.options import (
    EMBED_DIM,
    EVAL_ROWS,
    NAME,
    OPTIONS,
    metrics,
    objective,
)
from rnnkit.text.kinds import build_units, units_from_json
from rnnkit.text.units import EOD_ID, Units
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.device import model_device
from rnnkit.train.precision import autocast
from rnnkit.validation import check_texts

log = logging.getLogger(__name__)

UNITS = "units"  # the key of a checkpoint's extra that keeps the run's units
BACKENDS = ("torch", "onnx")  # onnx: the graph rnnkit export wrote into the model's folder


class LanguageModel(Generating):
    """Units (characters, words or BPE pieces), embedding, a one-direction recurrent stack
    and an output layer tied to the embedding (or an adaptive softmax), trained on the next
    token with AdamW, warm-up and decay, gradient clipping and early stopping on the
    validation loss. Every parameter has the meaning of the ``rnnkit lm train`` option of the
    same name (``rnnkit lm train --help``)."""

    task = NAME
    options = OPTIONS
    fit_call = "fit(documents)"
    model_: LanguageModelNet  # fitted: the network and its units
    units_: Units

    # -- configuration ---------------------------------------------------------------------

    def model_config(self, vocab_size: int, embed_dim: int | None = None) -> LanguageModelConfig:
        """The network's configuration; the embedding size is ``embed_dim`` (the vectors')
        where the ``embed_dim`` parameter is None, else ``EMBED_DIM``."""
        values = OPTIONS.config_values(self.get_params(), "model")
        if values["embed_dim"] is None:
            values["embed_dim"] = embed_dim or EMBED_DIM
        return LanguageModelConfig(vocab_size, **values)

    def _check_model(self) -> None:
        self.model_config(60_000)

    # -- fitting ---------------------------------------------------------------------------

    def _prepare(
        self, train: Sequence[str], units: Units | None = None
    ) -> tuple[Units, LanguageModelNet, StreamBatches]:
        data, config = self.data_config(), self.train_config()
        self._use_threads()
        if units is None:
            with self.in_params():
                units = build_units(
                    data.unit,
                    train,
                    max_size=data.max_vocab,
                    min_freq=data.min_freq,
                    tokenizer=data.tokenizer,
                )
        if len(units) <= 3:
            raise ConfigError(
                "the training text has no token seen min_freq times: lower min_freq",
                field="min_freq",
            )
        stream = token_stream(train, units, reverse=data.reverse)
        torch.manual_seed(config.seed)
        with self.in_params():
            dim = vectors_dim(self.vectors) if self.vectors and self.embed_dim is None else None
            net = LanguageModelNet(self.model_config(len(units), dim))
            if self.vectors:
                self._load_vectors(net, units, stream)
            net = self.on_device(net)
            batches = StreamBatches(
                stream,
                batch_size=config.batch_size,
                window=data.window,
                variable=data.variable_window,
                seed=config.seed,
            )
        return units, net, batches

    def _load_vectors(self, net: LanguageModelNet, units: Units, stream: np.ndarray) -> None:
        """The embedding rows of the words ``vectors`` has (the others keep their scale), and
        their coverage of the training tokens ``stream``."""
        if units.name != "word":
            raise ConfigError(
                f"pretrained embeddings (vectors) are of words, and this model reads unit "
                f"{units.name}: give unit word",
                field="vectors",
                others=("unit",),
            )
        ids, counts = np.unique(stream, return_counts=True)
        tokens = units.vocab.tokens
        seen = {tokens[i]: int(c) for i, c in zip(ids, counts, strict=True) if i != EOD_ID}
        vectors = load_vectors(self.vectors, units.vocab, counts=seen)
        if vectors.dim != net.config.embed_dim:
            raise ConfigError(
                f"embed_dim {net.config.embed_dim} differs from the dimension {vectors.dim} of "
                f"the vectors in {self.vectors}: leave embed_dim out to use theirs",
                field="embed_dim",
            )
        if vectors.rows:
            copy_vectors(net.encoder.embedding.weight, vectors.rows)

    def fit(
        self,
        documents: Sequence[str],
        valid: Sequence[str] | None = None,
        *,
        checkpoints: CheckpointPolicy | None = None,
        start: LanguageModel | None = None,
    ) -> LanguageModel:
        """Train on ``documents`` (strings; each one a document, the state reset between
        them), validating on ``valid`` or, without it, on the held-out tail ``valid_split`` of
        the documents; returns ``self``. With ``start``, a fitted model of the same sizes,
        continue from its weights and units (fine-tuning it on new text, whose words it lacks
        read as unknown)."""
        self.check_params()
        train = check_texts(documents, "documents")
        check_lengths(train, "documents[{}]")
        data = self.data_config()
        if valid is None and data.valid_split > 0:
            train, valid = hold_out_tail(train, data.valid_split)
        elif valid is not None:
            valid = check_texts(valid, "valid", allow_empty=True)
            check_lengths(valid, "valid[{}]")
        if start is not None:
            start._check_fitted()
            if start.data_config().reverse != data.reverse:
                raise ConfigError(
                    "the starting language model reads its text in the other direction: "
                    "give reverse as it was trained",
                    field="reverse",
                )
        units = start.units_ if start else None
        saved = checkpoints.resumed_extra(UNITS) if checkpoints is not None else None
        if saved:  # a resumed run's own units: unigram training is not reproducible
            units = units_from_json(saved)
        units, net, batches = self._prepare(train, units)
        if checkpoints is not None:
            checkpoints.extra[UNITS] = units.to_json()
        if start is not None:
            _continue_from(net, start.model_)
        evaluate = None
        if valid:
            stream = token_stream(valid, units, reverse=data.reverse)

            def evaluate(model: torch.nn.Module) -> dict[str, float]:
                assert isinstance(model, Carried)
                return self._score(model.net, stream, units.name)

        log.info(
            "training on %s (%s tokens in %s), vocabulary %s %s units",
            counted(len(train), "document"),
            f"{batches.num_tokens:,}",
            counted(batches.batch_size, "stream"),
            f"{len(units):,}",
            units.name,
        )
        self._train(Carried(net), batches, evaluate, objective(units.name), checkpoints)
        self.model_, self.units_ = net.eval(), units
        return self

    def _trial(self, documents: Sequence[str]) -> Trial:
        _, net, batches = self._prepare(check_texts(documents, "documents"))
        return Trial(Carried(net), batches, objective().loss)

    # -- scoring ---------------------------------------------------------------------------

    @torch.no_grad()
    def _score(self, net: LanguageModelNet, stream: np.ndarray, unit: str) -> dict[str, Any]:
        """Every token of ``stream`` after the first, scored from the state of the tokens
        before it (``EVAL_ROWS`` streams at once, the tail continuing the last)."""
        net.eval()
        device = model_device(net)
        total, count, state = 0.0, 0, None
        for tokens, targets, continues in eval_windows(
            stream, batch_size=EVAL_ROWS, window=self.data_config().window * 2
        ):
            if continues is not None and state is not None and state[0].shape[1] != 1:
                state = tuple(s[:, continues] for s in state)
            with autocast(self.precision, device):
                scored = net.score(tokens.to(device), targets.to(device), state)
            total += float(scored.loss_sum)
            count += scored.count
            state = scored.state
        return metrics(total, count, unit)

    def evaluate(self, documents: Sequence[str]) -> dict[str, Any]:
        """Loss (nats per token), perplexity, bits per token, tokens and unit on
        ``documents``, each scored from the start of its document."""
        self._check_fitted()
        documents = check_texts(documents, "documents")
        check_lengths(documents, "documents[{}]")
        stream = token_stream(documents, self.units_, reverse=self.reverse)
        unknown = int(np.count_nonzero(stream == Vocabulary.unk_id))
        if unknown:
            self._warn_unknown(
                "the text",
                documents,
                f"; {unknown:,} of its tokens {'is' if unknown == 1 else 'are'} scored as <unk>",
            )
        return self._score(self.on_device(self.model_), stream, self.units_.name)

    # -- what its bundle holds -------------------------------------------------------------

    def _vocabulary(self) -> Units:
        return self.units_

    def _network(self, bundle: Bundle) -> LanguageModelNet:
        return LanguageModelNet(bundle.model)

    def _restore(self, bundle: Bundle) -> None:
        self.units_ = bundle.vocab


def _continue_from(net: torch.nn.Module, start: torch.nn.Module) -> None:
    """``start``'s weights into ``net``; ConfigError naming the first weight whose shape
    differs."""
    ours, theirs = net.state_dict(), start.state_dict()
    for name in sorted(set(ours) | set(theirs)):
        shapes = [tuple(w[name].shape) if name in w else None for w in (ours, theirs)]
        if shapes[0] != shapes[1]:
            raise ConfigError(
                f"the starting language model's {name} is {shapes[1]}, this model's "
                f"{shapes[0]}: leave the sizes (cell, layers, hidden, embed_dim, softmax, "
                "cutoffs) as it has them",
                field="hidden",
            )
    net.load_state_dict(theirs)
