"""Translator: an encoder-decoder with attention, with a scikit-learn-style interface.

    tr = rnnkit.Translator(unit="subword", vocab_size=8000).fit(german, english)
    tr.translate(["Ein Hund rennt."], beam=5)           # ["A dog is running."]
    tr.evaluate(german_test, english_test)              # BLEU, lower-cased BLEU, chrF
    tr.save("model/"); tr = rnnkit.Translator.load("model/")

Subword units are learnt from the training sentences (one vocabulary for both languages, or
one each), training pairs longer than ``max_len`` tokens on either side are left out (and
counted), and the network (:mod:`rnnkit.models.translator`) is trained with teacher forcing
and label smoothing, validated on the BLEU of greedy translations of held-out pairs, with early
stopping. Translations come from batched greedy or beam search
(:mod:`rnnkit.tasks.translation.decoding`).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.bundle import Bundle, load_bundle, save_bundle
from rnnkit.data.config import PairConfig
from rnnkit.data.pair_batching import PairBatches
from rnnkit.data.pairs import hold_out
from rnnkit.errors import ConfigError, NotFittedError, field_error
from rnnkit.models.config import EXTRA_TOKENS, SearchConfig, TranslatorConfig
from rnnkit.models.translator import TranslatorNet
from rnnkit.plural import counted
from rnnkit.tasks.estimator import OptionsEstimator
from rnnkit.tasks.translation.decoding import Searcher, check_beam, search_batches
from rnnkit.tasks.translation.options import BACKENDS, NAME, OPTIONS, objective, scores
from rnnkit.tasks.translation.options import bleu as corpus_bleu
from rnnkit.text.kinds import PairUnits, build_units
from rnnkit.text.units import EOD_ID, SPECIALS, Units
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import feed, model_device, resolve_device
from rnnkit.train.lr_find import RangeTest, lr_range_test
from rnnkit.train.precision import autocast, check_precision
from rnnkit.train.run import History
from rnnkit.train.trainer import Trainer
from rnnkit.validation import check_pairs, check_texts, check_weights

log = logging.getLogger(__name__)

DECODE_BATCH = 64  # sentences decoded side by side
UNITS = "units"  # the key of a checkpoint's extra that keeps the run's units


@dataclass(frozen=True)
class Translated:
    """One sentence's translation: the text, its token ids and their log-probability (the
    end of the sentence included)."""

    text: str
    tokens: list[int]
    log_prob: float


class Translator(OptionsEstimator):
    """Subword units, a bidirectional recurrent encoder, an attention decoder with input
    feeding and a tied output layer, trained with AdamW, warm-up and decay, label smoothing,
    gradient clipping and early stopping on validation BLEU. Every parameter has the meaning
    of the ``rnnkit translate train`` option of the same name (``rnnkit translate train
    --help``); ``beam``, ``length_penalty`` and ``max_ratio`` are how ``translate`` searches."""

    options = OPTIONS
    model_: TranslatorNet
    units_: PairUnits

    def __init__(self, **params: Any) -> None:  # its own, for the signature set below
        super().__init__(**params)

    # -- configuration ---------------------------------------------------------------------

    def data_config(self) -> PairConfig:
        return PairConfig(**OPTIONS.config_values(self.get_params(), "data"))

    def train_config(self) -> TrainConfig:
        return TrainConfig(**OPTIONS.config_values(self.get_params(), "training"))

    def model_config(self, source_size: int, target_size: int) -> TranslatorConfig:
        values = OPTIONS.config_values(self.get_params(), "model")
        return TranslatorConfig(source_size, target_size, **values)

    def check_params(self) -> None:
        """Raise ``ConfigError`` naming the first parameter of the wrong type or out of its
        range; ``fit`` and ``rnnkit translate train`` call this before reading any data."""
        with self.in_params():
            OPTIONS.check_types(self.get_params())
            self.data_config(), self.train_config(), self.model_config(100, 100)
            self._decoding()
            check_precision(self.precision, resolve_device(self.device))
            if self.threads is not None and self.threads < 1:
                raise field_error("threads", "at least 1", self.threads)

    def search_config(self) -> SearchConfig:
        return SearchConfig(**OPTIONS.config_values(self.get_params(), "decoding"))

    def _decoding(
        self, beam: int | None = None, length_penalty: float | None = None
    ) -> tuple[int, float, float]:
        """The search's settings: the estimator's, or ``beam`` and ``length_penalty``."""
        with self.in_params():
            config = self.search_config()
        beam = config.beam if beam is None else beam
        alpha = config.length_penalty if length_penalty is None else length_penalty
        check_beam(beam, alpha)
        return beam, alpha, config.max_ratio

    # -- fitting ---------------------------------------------------------------------------

    def _units(self, source: Sequence[str], target: Sequence[str]) -> PairUnits:
        data = self.data_config()

        def built(texts: Sequence[str]) -> Units:
            with self.in_params():
                return build_units(
                    data.unit, texts, max_size=data.max_vocab, min_freq=data.min_freq
                )

        if data.joint:
            units = built([*source, *target])
            pair = PairUnits(units, units)
        else:
            pair = PairUnits(built(source), built(target))
        if min(len(pair.source), len(pair.target)) <= len(SPECIALS):
            raise ConfigError(
                "the training text has no token seen min_freq times: lower min_freq",
                field="min_freq",
            )
        return pair

    def _prepare(
        self,
        source: Sequence[str],
        target: Sequence[str],
        checkpoints: CheckpointPolicy | None = None,
    ) -> tuple[PairUnits, TranslatorNet, PairBatches]:
        """What training starts from: the units learnt from the pairs (a resumed run's own:
        unigram training is not reproducible, and other units would scramble the weights'
        rows), a fresh network (seeded) and the training batches; torch's threads set."""
        config = self.train_config()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        saved = checkpoints.resumed_extra(UNITS) if checkpoints is not None else None
        units = PairUnits.from_json(saved) if saved else self._units(source, target)
        if checkpoints is not None:
            checkpoints.extra[UNITS] = units.to_json()
        sources, targets = self._encoded(units, source, target, what="training")
        torch.manual_seed(config.seed)
        with self.in_params():
            net = TranslatorNet(self.model_config(len(units.source), len(units.target)))
        net = self.on_device(net)
        batches = PairBatches(
            sources, targets, batch_size=config.batch_size, shuffle=True, seed=config.seed
        )
        return units, net, batches

    def _encoded(
        self, units: PairUnits, source: Sequence[str], target: Sequence[str], *, what: str
    ) -> tuple[list[list[int]], list[list[int]]]:
        """Both sides as ids, the pairs with a side longer than ``max_len`` left out (and
        reported)."""
        limit = self.data_config().max_len
        sources = units.source.encode_batch(source)
        targets = units.target.encode_batch(target)
        kept = [
            i
            for i, (s, t) in enumerate(zip(sources, targets, strict=True))
            if 0 < len(s) <= limit and 0 < len(t) <= limit
        ]
        if len(kept) < len(sources):
            longest = max(max(len(s), len(t)) for s, t in zip(sources, targets, strict=True))
            log.warning(
                "left out %s of %s %s pairs with a side longer than max_len %d tokens (the "
                "longest has %s); raise max_len to keep them",
                f"{len(sources) - len(kept):,}",
                f"{len(sources):,}",
                what,
                limit,
                f"{longest:,}",
            )
        if not kept:
            raise ConfigError(f"no {what} pair is within max_len {limit} tokens", field="max_len")
        return [sources[i] for i in kept], [targets[i] for i in kept]

    def fit(
        self,
        source: Sequence[str],
        target: Sequence[str],
        valid: tuple[Sequence[str], Sequence[str]] | None = None,
        *,
        checkpoints: CheckpointPolicy | None = None,
    ) -> Translator:
        """Train on the aligned sentences ``source`` and ``target``, validating on ``valid``
        (source and target sentences) or, without it, on a seeded ``valid_split`` of the
        pairs; returns ``self``."""
        self.check_params()
        source, target = check_pairs(source, target, "source", "target")
        config = self.train_config()
        if valid is None and self.valid_split > 0:
            (source, target), valid = hold_out(source, target, self.valid_split, config.seed)
        if valid is not None:
            valid = check_pairs(valid[0], valid[1], "valid source", "valid target")
        units, net, batches = self._prepare(source, target, checkpoints)
        self.model_, self.units_ = net, units
        evaluate = None
        if valid is not None:
            checked = valid

            def evaluate(model: torch.nn.Module) -> dict[str, float]:
                return self._validate(checked[0], checked[1])

        unit = f"{units.source.name} units"
        vocabularies = (
            f"one joint vocabulary of {len(units.source):,} {unit}"
            if units.joint
            else f"vocabularies of {len(units.source):,} and {len(units.target):,} {unit}"
        )
        log.info(
            "training on %s (%s target tokens), %s",
            counted(batches.num_pairs, "sentence pair"),
            f"{batches.num_tokens:,}",
            vocabularies,
        )
        trainer = Trainer(config, progress=self.verbose, checkpoints=checkpoints)
        history = trainer.fit(net, batches, evaluate, objective(config.label_smoothing))
        net.eval()
        self.history_ = history
        self.metrics_: dict[str, Any] = history.summary()
        return self

    @torch.no_grad()
    def _validate(self, source: Sequence[str], target: Sequence[str]) -> dict[str, float]:
        """BLEU of greedy translations and the loss per target token (teacher forcing)."""
        self.model_.eval()
        found = self._search(list(source), beam=1, length_penalty=0.0)
        hypotheses = [t.text for t in found]
        total, count = 0.0, 0
        device = model_device(self.model_)
        for batch in feed(self._loss_batches(source, target), device):
            with autocast(self.precision, device):
                scores = self.model_(*batch.inputs)
            loss_sum, size = objective(0.0).loss(scores, batch)
            total, count = total + float(loss_sum), count + size
        return {"bleu": corpus_bleu(hypotheses, target), "loss": total / max(count, 1)}

    def _loss_batches(self, source: Sequence[str], target: Sequence[str]) -> PairBatches:
        units = self.units_
        sources = [ids or [Vocabulary.unk_id] for ids in units.source.encode_batch(source)]
        targets = units.target.encode_batch(target)
        return PairBatches(sources, targets, batch_size=DECODE_BATCH)

    def lr_find(
        self,
        source: Sequence[str],
        target: Sequence[str],
        *,
        min_lr: float = 1e-5,
        max_lr: float = 1.0,
        steps: int = 100,
    ) -> RangeTest:
        """The learning-rate range test (:mod:`rnnkit.train.lr_find`) on a fresh model with
        these settings; leaves the translator unfitted."""
        self.check_params()
        source, target = check_pairs(source, target, "source", "target")
        _, net, batches = self._prepare(source, target)
        config = self.train_config()
        loss = objective(config.label_smoothing).loss
        return lr_range_test(
            net, batches, config, min_lr=min_lr, max_lr=max_lr, steps=steps, loss=loss
        )

    # -- translating -----------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this Translator is not fitted yet: call fit(source, target) or "
                "Translator.load(path) first"
            )

    def translate(
        self,
        texts: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> list[str]:
        """The translation of each text, in order (``beam`` and ``length_penalty`` default
        to the estimator's). ``backend="onnx"`` runs the graphs ``rnnkit export`` wrote into
        the folder the model was loaded from or saved to, in ONNX Runtime."""
        found = self.translations(texts, beam=beam, length_penalty=length_penalty, backend=backend)
        return [t.text for t in found]

    def translations(
        self,
        texts: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> list[Translated]:
        """``translate`` with each output's token ids and log-probability."""
        self._check_fitted()
        texts = check_texts(texts, "texts")
        beam, alpha, _ = self._decoding(beam, length_penalty)
        return self._search(texts, beam=beam, length_penalty=alpha, backend=backend)

    @torch.no_grad()
    def _search(
        self, texts: list[str], *, beam: int, length_penalty: float, backend: str = "torch"
    ) -> list[Translated]:
        """Each text's best output; a text with no token (empty, white space) translates to
        the empty text."""
        self.on_device(self.model_).eval()
        searcher, units = self._searcher(backend), self.units_
        encoded = units.source.encode_batch(texts)
        kept = [i for i, ids in enumerate(encoded) if ids]
        sources = [encoded[i] for i in kept]
        self._warn_long(sources)
        limits = [int(self.max_ratio * len(s)) + EXTRA_TOKENS for s in sources]
        with autocast(self.precision, model_device(self.model_)):
            found = search_batches(
                searcher,
                sources,
                limits,
                beam=beam,
                length_penalty=length_penalty,
                start=EOD_ID,
                end=EOD_ID,
                batch_size=DECODE_BATCH,
            )
        translated = [Translated("", [], 0.0)] * len(texts)
        for i, hypothesis in zip(kept, found, strict=True):
            text = units.target.decode(hypothesis.tokens)
            translated[i] = Translated(text, hypothesis.tokens, hypothesis.log_prob)
        return translated

    def _searcher(self, backend: str) -> Searcher:
        """What encodes and steps: the network, or its exported graphs in ONNX Runtime."""
        if backend not in BACKENDS:
            raise field_error("backend", " or ".join(BACKENDS), repr(backend))
        if backend == "torch":
            return self.model_
        from rnnkit.tasks.translation.runtime import OnnxTranslator  # the onnx extra

        folder = getattr(self, "path_", None)
        if folder is None:
            raise ConfigError(
                "backend onnx reads the model's folder: save(path), run rnnkit export PATH, "
                "then translate",
                field="backend",
            )
        key = (Path(folder), id(self.model_))  # the graphs are checked once per model and folder
        cached = getattr(self, "_onnx_searcher", None)
        if cached is None or cached[0] != key:
            searcher: Searcher = OnnxTranslator(folder, self.model_, threads=self.threads or 0)
            self._onnx_searcher = cached = (key, searcher)
        return cached[1]

    def _warn_long(self, sources: list[list[int]]) -> None:
        limit = self.data_config().max_len
        long = [i for i, s in enumerate(sources) if len(s) > limit]
        if long:
            log.warning(
                "%d sentence%s longer than max_len, the %d tokens the model was trained on "
                "at most (sentence %d has %d); translated whole, likely less well",
                len(long),
                "s are" if len(long) > 1 else " is",
                limit,
                long[0] + 1,
                len(sources[long[0]]),
            )

    @torch.no_grad()
    def attention_of(self, text: str, translation: Translated) -> tuple[list[str], list[str], Any]:
        """The source pieces, the output pieces (and the end) and the attention weights
        (outputs + 1, source) the decoder used for ``translation`` of ``text``."""
        self._check_fitted()
        net, units = self.on_device(self.model_).eval(), self.units_
        device = model_device(net)
        ids = units.source.encode(text) or [Vocabulary.unk_id]
        tokens = torch.tensor(ids, device=device)[:, None]
        memory, state = net.encode(tokens, torch.tensor([len(ids)], device=device))
        target_in = torch.tensor([EOD_ID, *translation.tokens], device=device)[:, None]
        weights = net.decode(memory, state, target_in).weights[0].cpu()  # (T, S)
        pieces = [units.source.decode([i]) or units.source.tokens[i] for i in ids]
        outputs = [units.target.decode([i]) for i in translation.tokens] + ["</s>"]
        return pieces, outputs, weights.float().numpy()

    def evaluate(
        self,
        source: Sequence[str],
        references: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> dict[str, Any]:
        """sacreBLEU's BLEU, lower-cased BLEU and chrF of the translations of ``source``
        against ``references`` (one each), with their signatures."""
        source, references = check_pairs(source, references, "source", "references")
        found = self.translate(source, beam=beam, length_penalty=length_penalty, backend=backend)
        beam, alpha, _ = self._decoding(beam, length_penalty)
        return {**scores(found, references), "beam": beam, "length_penalty": alpha}

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
            sections={"decoding": self.search_config()},
        )
        self.path_ = save_bundle(path, bundle, option=option, keep_others=keep_others)
        return self.path_

    @classmethod
    def load(cls, path: str | Path, *, command: str = "") -> Translator:
        """A fitted translator from a bundle folder written by ``save`` or ``rnnkit translate
        train``; another task's folder is refused, naming the commands that take it."""
        bundle = load_bundle(path, task=NAME, command=command)
        config = bundle.model
        assert isinstance(config, TranslatorConfig)
        assert isinstance(bundle.vocab, PairUnits)
        translator = cls.from_bundle(bundle)
        net = TranslatorNet(config)
        check_weights(net, bundle.state, Path(path) / "model.safetensors")
        net.load_state_dict(bundle.state)
        translator.model_, translator.units_ = net.eval(), bundle.vocab
        translator.metrics_, translator.history_ = bundle.metrics, History()
        translator.path_ = Path(path)
        return translator


Translator.__init__.__signature__ = OPTIONS.signature(  # type: ignore[attr-defined]
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool")
)
