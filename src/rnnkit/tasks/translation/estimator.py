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

import logging
from collections.abc import Sequence

import torch

from rnnkit.bundle import Bundle
from rnnkit.data.pair_batching import PairBatches
from rnnkit.data.pairs import hold_out
from rnnkit.errors import ConfigError
from rnnkit.models.config import TranslatorConfig
from rnnkit.models.translator import TranslatorNet
from rnnkit.plural import counted
from rnnkit.tasks.estimator import Trial
from rnnkit.tasks.translation.options import NAME, OPTIONS, objective
from rnnkit.tasks.translation.options import bleu as corpus_bleu
from rnnkit.tasks.translation.translating import DECODE_BATCH, Translating
from rnnkit.text.kinds import PairUnits, build_units
from rnnkit.text.units import SPECIALS, Units
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.device import feed, model_device
from rnnkit.train.precision import autocast
from rnnkit.validation import check_pairs

log = logging.getLogger(__name__)

UNITS = "units"  # the key of a checkpoint's extra that keeps the run's units


class Translator(Translating):
    """Subword units, a bidirectional recurrent encoder, an attention decoder with input
    feeding and a tied output layer, trained with AdamW, warm-up and decay, label smoothing,
    gradient clipping and early stopping on validation BLEU. Every parameter has the meaning
    of the ``rnnkit translate train`` option of the same name (``rnnkit translate train
    --help``); ``beam``, ``length_penalty`` and ``max_ratio`` are how ``translate`` searches."""

    task = NAME
    options = OPTIONS
    fit_call = "fit(source, target)"
    model_: TranslatorNet
    units_: PairUnits

    # -- configuration ---------------------------------------------------------------------

    def model_config(self, source_size: int, target_size: int) -> TranslatorConfig:
        values = OPTIONS.config_values(self.get_params(), "model")
        return TranslatorConfig(source_size, target_size, **values)

    def _check_model(self) -> None:
        self.model_config(100, 100)

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
        self._use_threads()
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
        self._train(net, batches, evaluate, objective(config.label_smoothing), checkpoints)
        net.eval()
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

    def _trial(self, source: Sequence[str], target: Sequence[str]) -> Trial:
        source, target = check_pairs(source, target, "source", "target")
        _, net, batches = self._prepare(source, target)
        return Trial(net, batches, objective(self.train_config().label_smoothing).loss)

    # -- what its bundle holds -------------------------------------------------------------

    def _vocabulary(self) -> PairUnits:
        return self.units_

    def _network(self, bundle: Bundle) -> TranslatorNet:
        return TranslatorNet(bundle.model)

    def _restore(self, bundle: Bundle) -> None:
        self.units_ = bundle.vocab
