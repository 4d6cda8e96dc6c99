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

import inspect
import logging
import numbers
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.bundle import Bundle, load_bundle, save_bundle
from rnnkit.data.config import StreamConfig
from rnnkit.data.documents import check_lengths, hold_out_tail
from rnnkit.data.stream import StreamBatches, eval_windows, token_stream
from rnnkit.errors import ConfigError, NotFittedError, field_error
from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.language_model import Carried, LanguageModelNet, State
from rnnkit.models.vectors import copy_vectors, load_vectors, vectors_dim
from rnnkit.plural import counted
from rnnkit.tasks.estimator import OptionsEstimator
from rnnkit.tasks.language_model import ONNX_FILE
from rnnkit.tasks.language_model.generation import (
    Generation,
    StepFn,
    check_sampling,
    check_seed,
    check_stop,
)
from rnnkit.tasks.language_model.options import (
    EMBED_DIM,
    EVAL_ROWS,
    NAME,
    OPTIONS,
    metrics,
    objective,
)
from rnnkit.text.kinds import build_units, units_from_json
from rnnkit.text.unicode import check_unicode
from rnnkit.text.units import EOD_ID, Units
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import model_device, resolve_device
from rnnkit.train.lr_find import RangeTest, lr_range_test
from rnnkit.train.precision import autocast, check_precision
from rnnkit.train.run import History
from rnnkit.train.trainer import Trainer
from rnnkit.validation import check_texts, check_weights

log = logging.getLogger(__name__)

UNITS = "units"  # the key of a checkpoint's extra that keeps the run's units
BACKENDS = ("torch", "onnx")  # onnx: the graph rnnkit export wrote into the model's folder


@dataclass(frozen=True)
class Sampling:
    """How each next token is drawn (see :mod:`rnnkit.tasks.language_model.generation`)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        check_sampling(self.temperature, self.top_k, self.top_p)


def check_request(*, max_tokens: object, seed: object, samples: object, stop: object) -> None:
    """``ConfigError`` naming the first of a generation's arguments of the wrong type or out
    of its range (``samples``: ``num_samples``, the streams side by side)."""
    for name, value in (("max_tokens", max_tokens), ("num_samples", samples)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise field_error(name, "a whole number", repr(value))
        if value < 1:
            raise field_error(name, "at least 1", value)
    check_seed(seed, int(samples))  # type: ignore[call-overload]
    check_stop(stop)


def check_prompt(prompt: object) -> None:
    """``ConfigError`` unless ``prompt`` is a text of valid Unicode."""
    if not isinstance(prompt, str):
        raise ConfigError(
            f"prompt must be a text (str), got {type(prompt).__name__} {prompt!r:.40}",
            field="prompt",
        )
    check_unicode(prompt, "prompt", field="prompt")


class LanguageModel(OptionsEstimator):
    """Units (characters, words or BPE pieces), embedding, a one-direction recurrent stack
    and an output layer tied to the embedding (or an adaptive softmax), trained on the next
    token with AdamW, warm-up and decay, gradient clipping and early stopping on the
    validation loss. Every parameter has the meaning of the ``rnnkit lm train`` option of the
    same name (``rnnkit lm train --help``)."""

    options = OPTIONS
    model_: LanguageModelNet  # fitted: the network and its units
    units_: Units

    def __init__(self, **params: Any) -> None:  # its own, for the signature set below
        super().__init__(**params)

    # -- configuration ---------------------------------------------------------------------

    def data_config(self) -> StreamConfig:
        return StreamConfig(**OPTIONS.config_values(self.get_params(), "data"))

    def train_config(self) -> TrainConfig:
        return TrainConfig(**OPTIONS.config_values(self.get_params(), "training"))

    def model_config(self, vocab_size: int, embed_dim: int | None = None) -> LanguageModelConfig:
        """The network's configuration; the embedding size is ``embed_dim`` (the vectors')
        where the ``embed_dim`` parameter is None, else ``EMBED_DIM``."""
        values = OPTIONS.config_values(self.get_params(), "model")
        if values["embed_dim"] is None:
            values["embed_dim"] = embed_dim or EMBED_DIM
        return LanguageModelConfig(vocab_size, **values)

    def check_params(self) -> None:
        """Raise ``ConfigError`` naming the first parameter of the wrong type or out of its
        range; ``fit`` and ``rnnkit lm train`` call this before reading any data."""
        with self.in_params():
            OPTIONS.check_types(self.get_params())
            self.data_config(), self.train_config(), self.model_config(60_000)
            check_precision(self.precision, resolve_device(self.device))
            if self.threads is not None and self.threads < 1:
                raise field_error("threads", "at least 1", self.threads)

    # -- fitting ---------------------------------------------------------------------------

    def _prepare(
        self, train: Sequence[str], units: Units | None = None
    ) -> tuple[Units, LanguageModelNet, StreamBatches]:
        data, config = self.data_config(), self.train_config()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
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
            ours, theirs = net.state_dict(), start.model_.state_dict()
            for name in sorted(set(ours) | set(theirs)):
                shapes = [tuple(w[name].shape) if name in w else None for w in (ours, theirs)]
                if shapes[0] != shapes[1]:
                    raise ConfigError(
                        f"the starting language model's {name} is {shapes[1]}, this model's "
                        f"{shapes[0]}: leave the sizes (cell, layers, hidden, embed_dim, "
                        "softmax, cutoffs) as it has them",
                        field="hidden",
                    )
            net.load_state_dict(theirs)
        valid_stream = None if not valid else token_stream(valid, units, reverse=data.reverse)
        evaluate = None
        if valid_stream is not None:

            def evaluate(model: torch.nn.Module) -> dict[str, float]:
                assert isinstance(model, Carried)
                return self._score(model.net, valid_stream, units.name)

        log.info(
            "training on %s (%s tokens in %s), vocabulary %s %s units",
            counted(len(train), "document"),
            f"{batches.num_tokens:,}",
            counted(batches.batch_size, "stream"),
            f"{len(units):,}",
            units.name,
        )
        trainer = Trainer(self.train_config(), progress=self.verbose, checkpoints=checkpoints)
        carried = Carried(net)
        history = trainer.fit(carried, batches, evaluate, objective(units.name))
        net.eval()
        self.model_, self.units_, self.history_ = net, units, history
        self.metrics_: dict[str, Any] = history.summary()
        return self

    def lr_find(
        self,
        documents: Sequence[str],
        *,
        min_lr: float = 1e-5,
        max_lr: float = 1.0,
        steps: int = 100,
    ) -> RangeTest:
        """The learning-rate range test (:mod:`rnnkit.train.lr_find`) on a fresh model with
        these settings; leaves the model unfitted."""
        self.check_params()
        _, net, batches = self._prepare(check_texts(documents, "documents"))
        return lr_range_test(
            Carried(net),
            batches,
            self.train_config(),
            min_lr=min_lr,
            max_lr=max_lr,
            steps=steps,
            loss=objective().loss,
        )

    # -- scoring ---------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this LanguageModel is not fitted yet: call fit(documents) or "
                "LanguageModel.load(path) first"
            )

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

    def _warn_unknown(self, what: str, texts: Sequence[str], then: str) -> list[str]:
        """Warn that ``what`` (the prompt, the text) has tokens the vocabulary lacks, naming
        the first ten, and ``then`` what became of them; the tokens found, none if none."""
        unknown: dict[str, None] = {}
        for text in texts:
            unknown.update(dict.fromkeys(self.units_.unknown(text)))
            if len(unknown) > 10:
                break
        if unknown:
            shown = ", ".join(repr(t) for t in list(unknown)[:10])
            more = ", ..." if len(unknown) > 10 else ""
            unit = {"char": "character", "word": "word"}.get(self.units_.name, "token")
            log.warning(
                "%s has %s %s%s the model never saw (%s%s)%s",
                what,
                f"{len(unknown)}{'+' if len(unknown) > 10 else ''}",
                unit,
                "s" if len(unknown) > 1 else "",
                shown,
                more,
                then,
            )
        return list(unknown)

    # -- generation ------------------------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """``<eod>`` (a document starts) and the prompt's ids; tokens the vocabulary lacks
        become ``<unk>``, with a warning that names them."""
        self.check_generates()
        check_prompt(prompt)
        self._warn_unknown("the prompt", [prompt], "; each reads as <unk>")
        return [EOD_ID, *self.units_.encode(prompt)]

    def check_generates(self) -> None:
        """``ConfigError`` unless this model can generate: it is fitted and reads text
        forwards (a backward model only scores text)."""
        self._check_fitted()
        if self.reverse:
            raise ConfigError(
                "this language model reads text backwards (reverse): it starts the backward "
                "direction of a classifier and scores text, and generates nothing; generate "
                "with a model trained without --reverse",
                field="reverse",
            )

    @torch.no_grad()
    def start(self, prompt: str = "", *, streams: int = 1, backend: str = "torch") -> Generation:
        """The model after reading ``prompt`` (from a document's start), ``streams`` copies
        side by side: ``next_probs()``, ``feed(token)``, ``sample(...)``. ``backend="onnx"``
        runs every step in ONNX Runtime, with the graph ``rnnkit export`` wrote into the
        folder the model was loaded from or saved to."""
        if backend not in BACKENDS:
            raise field_error("backend", " or ".join(BACKENDS), repr(backend))
        ids = torch.tensor(self.prompt_ids(prompt), dtype=torch.long)[:, None]
        net = self.model_.eval()
        if backend == "torch":
            net = self.on_device(net)
        if backend == "onnx":  # the prompt one step at a time, as the graph runs
            step, state = self._onnx_step(), net.zero_state(streams)
            for token in ids[:, 0]:
                scores, state = step(token.expand(streams), state)
            return Generation(step, state, scores)
        device = model_device(net)
        with autocast(self.precision, device):
            scores, state = net(ids.to(device).expand(-1, streams))
        return Generation(self._stepper(net), state, scores[-1].float().cpu())

    def _stepper(self, net: LanguageModelNet) -> StepFn:
        """The step ``Generation.feed`` calls (under no_grad) once per token: tokens in and
        scores out on the CPU (where sampling draws, the same for a seed on any device), the
        state on the model's device."""
        step, device = net.stepper(), model_device(net)
        if self.precision == "fp32" and device.type == "cpu":  # nothing to enter or move
            return step

        def at_precision(tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            with autocast(self.precision, device):
                scores, state = step(tokens.to(device), state)
            return scores.float().cpu(), state

        return at_precision

    def _onnx_step(self) -> StepFn:
        from rnnkit.tasks.language_model.runtime import (
            OnnxStep,  # the onnx extra, imported when used
        )

        folder = getattr(self, "path_", None)
        if folder is None:
            raise ConfigError(
                "backend onnx reads the model's folder: save(path), run rnnkit export PATH, "
                "then generate",
                field="backend",
            )
        return OnnxStep(folder / ONNX_FILE, self.model_, threads=self.threads or 0)

    def stream(
        self,
        prompt: str = "",
        *,
        max_tokens: int = 200,
        sampling: Sampling | None = None,
        seed: int | None = None,
        streams: int = 1,
        stop: str | None = None,
        backend: str = "torch",
    ) -> Iterator[list[str]]:
        """The text each stream adds, token by token: one list (a piece per stream) per step.
        A stream ends at ``<eod>`` or once its text contains ``stop``; the iterator ends when
        all have, or after ``max_tokens``."""
        check_request(max_tokens=max_tokens, seed=seed, samples=streams, stop=stop)
        sampling = sampling or Sampling()
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        state = self.start(prompt, streams=streams, backend=backend)
        decoders = [self.units_.stream_decoder(prompt) for _ in range(streams)]
        texts = [""] * streams
        done = [False] * streams
        for _ in range(max_tokens):
            tokens = state.sample(
                sampling.temperature, sampling.top_k, sampling.top_p, generator
            ).tolist()
            pieces = []
            for i, token in enumerate(tokens):
                piece = ""
                if not done[i]:
                    if token == EOD_ID:
                        done[i] = True
                    else:
                        piece = decoders[i].add(token)
                        if stop and stop in texts[i] + piece:
                            cut = (texts[i] + piece).index(stop) + len(stop)
                            piece = (texts[i] + piece)[len(texts[i]) : cut]
                            done[i] = True
                        texts[i] += piece
                pieces.append(piece)
            yield pieces
            if all(done):
                return

    def generate(
        self,
        prompt: str = "",
        *,
        max_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        num_samples: int = 1,
        stop: str | None = None,
        backend: str = "torch",
    ) -> list[str]:
        """``num_samples`` continuations of ``prompt`` (without it); deterministic for a
        ``seed``; ``temperature=0`` is greedy; ``backend`` as in ``start``."""
        self.check_generates()
        check_request(max_tokens=max_tokens, seed=seed, samples=num_samples, stop=stop)
        check_prompt(prompt)
        sampling = Sampling(temperature, top_k, top_p)
        texts = [""] * num_samples
        for pieces in self.stream(
            prompt,
            max_tokens=max_tokens,
            sampling=sampling,
            seed=seed,
            streams=num_samples,
            stop=stop,
            backend=backend,
        ):
            texts = [t + p for t, p in zip(texts, pieces, strict=True)]
        return texts

    # -- files -----------------------------------------------------------------------------

    def save(
        self,
        path: str | Path,
        metrics: dict[str, Any] | None = None,
        *,
        option: str = "",
        keep_others: bool = False,
    ) -> Path:
        """Write a model bundle folder (see :mod:`rnnkit.bundle`), its units included."""
        self._check_fitted()
        bundle = Bundle(
            self.data_config(),
            self.model_.config,
            self.train_config(),
            self.units_,
            [],
            self.model_.state_dict(),
            metrics if metrics is not None else self.metrics_,
            task=NAME,
        )
        self.path_ = save_bundle(path, bundle, option=option, keep_others=keep_others)
        return self.path_

    @classmethod
    def load(cls, path: str | Path, *, command: str = "") -> LanguageModel:
        """A fitted language model from a bundle folder written by ``save`` or ``rnnkit lm
        train``; a classifier's folder is refused, naming the commands that take it."""
        bundle = load_bundle(path, task=NAME, command=command)
        config = bundle.model
        assert isinstance(config, LanguageModelConfig)
        assert isinstance(bundle.vocab, Units)
        lm = cls.from_bundle(bundle)
        net = LanguageModelNet(config)
        check_weights(net, bundle.state, Path(path) / "model.safetensors")
        net.load_state_dict(bundle.state)
        lm.model_, lm.units_ = net.eval(), bundle.vocab
        lm.metrics_, lm.history_, lm.path_ = bundle.metrics, History(), Path(path)
        return lm


LanguageModel.__init__.__signature__ = OPTIONS.signature(  # type: ignore[attr-defined]
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool")
)
