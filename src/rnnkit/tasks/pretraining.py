"""Pretraining a classifier's encoder as language models on the user's own text (ULMFiT).

    documents = unlabelled text + the classifier's training texts (never its validation or
                test texts: the caller splits first)
    forward LM on the documents; for a bidirectional classifier also a backward LM (reverse)
    -> the classifier's embedding and recurrent stack (:mod:`rnnkit.models.transfer`)

The language models read text through the classifier's tokenizer, so their vocabulary is the
classifier's tokens, and take the classifier's sizes (cell, layers, hidden, embedding); the
other options come from ``options`` (``rnnkit lm train``'s, e.g. a ``--pretrain-config`` file)
over :data:`PRETRAIN_DEFAULTS`.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from rnnkit.bundle import load_bundle
from rnnkit.data.config import StreamConfig
from rnnkit.data.corpus import Corpus
from rnnkit.errors import ConfigError
from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.transfer import Pretrained, check_pair, encoder_fields
from rnnkit.models.vectors import vectors_dim
from rnnkit.plural import counted
from rnnkit.tasks.classification.options import OPTIONS as CLASSIFIER_OPTIONS
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.language_model.options import NAME as LANGUAGE_MODEL
from rnnkit.tasks.language_model.options import OPTIONS as LM_OPTIONS
from rnnkit.text.units import Units

log = logging.getLogger(__name__)

# what a language model for fine-tuning starts from, where ``rnnkit lm train``'s defaults
# suit generation instead: words, so an adaptive softmax; AWD-LSTM's window
PRETRAIN_DEFAULTS: dict[str, Any] = {"softmax": "adaptive", "window": 70, "batch_size": 32}
DIRECTIONS = ("forward", "backward")  # the backward model reads its text from the end
SIZES = ("cell", "layers", "hidden", "embed_dim")  # the same parameters in both tables
DECIDED = ("unit", "tokenizer", "reverse", "vectors", *SIZES)  # what the classifier decides


@dataclass(frozen=True)
class Pretraining:
    """What ``TextClassifier.fit_corpus`` pretrains on and how: ``documents`` (unlabelled
    text, to which the classifier's training texts are added), the language models'
    ``options``, a time budget in ``minutes`` for all of them, and ``saved``, which may write
    each model as soon as it is trained (see :func:`pretrain`)."""

    documents: Sequence[str] = ()
    options: Mapping[str, Any] | None = None
    minutes: float | None = None
    saved: Callable[[LanguageModel, str], str] | None = None


def check_minutes(minutes: float | None) -> None:
    """``ConfigError`` (its field ``pretrain_minutes``) unless ``minutes`` is None or a
    positive number: the pretraining's time budget, shared by its language models."""
    if minutes is not None and (
        isinstance(minutes, bool)
        or not isinstance(minutes, (int, float))
        or not 0 < minutes < math.inf
    ):
        raise ConfigError(
            f"pretrain_minutes must be a positive, finite number, got {minutes!r}",
            field="pretrain_minutes",
        )


def documents_of(corpus: Corpus, tokenizer: str) -> list[str]:
    """The texts of a tokenized corpus as strings its tokenizer reads back to the same tokens:
    words joined by spaces, characters by nothing."""
    joiner = " " if tokenizer == "word" else ""
    types, ids, offsets = corpus.types, corpus.ids, corpus.offsets
    return [
        joiner.join(types[i] for i in ids[offsets[n] : offsets[n + 1]]) for n in range(len(corpus))
    ]


def language_model_options(
    classifier: Mapping[str, Any], options: Mapping[str, Any] | None, *, reverse: bool
) -> dict[str, Any]:
    """The parameters of one language model for a classifier with parameters ``classifier``."""
    given = dict(options or {})
    clashes = sorted(k for k in given if k in DECIDED)
    if clashes:
        raise ConfigError(
            f"the pretraining options set {', '.join(clashes)}, which the classifier decides "
            "(its tokenizer and sizes; reverse for the backward model): set them on the "
            "classifier instead",
            field="pretrain",
        )
    unknown = sorted(k for k in given if not LM_OPTIONS.knows(k))
    if unknown:
        raise ConfigError(
            f"unknown language-model options {', '.join(unknown)} (see rnnkit lm train --help)",
            field="pretrain",
        )
    tokenizer = classifier["tokenizer"]
    params = {
        **PRETRAIN_DEFAULTS,
        "min_freq": classifier["min_freq"],
        "max_vocab": classifier["max_vocab"],
        "seed": classifier["seed"],
        "precision": classifier["precision"],
        "deterministic": classifier["deterministic"],
        "device": classifier["device"],
        **given,
        "unit": tokenizer,
        "tokenizer": tokenizer,
        "reverse": reverse,
        **{size: classifier[size] for size in SIZES},
    }
    if classifier["vectors"]:  # the language model's embedding starts from them
        params["vectors"] = classifier["vectors"]
        if params["embed_dim"] is None:
            params["embed_dim"] = vectors_dim(classifier["vectors"])
    if params["embed_dim"] is None:
        params["embed_dim"] = classifier["hidden"]
    if tokenizer == "char":
        params["softmax"] = given.get("softmax", "full")
    return params


def pretrain(
    documents: Sequence[str],
    classifier: Mapping[str, Any],
    options: Mapping[str, Any] | None = None,
    *,
    minutes: float | None = None,
    verbose: bool = False,
    saved: Callable[[LanguageModel, str], str] | None = None,
    start: Sequence[LanguageModel] = (),
) -> list[Pretrained]:
    """Train the language model(s) a classifier with parameters ``classifier`` starts from:
    forward, and backward too when it is bidirectional; ``minutes`` is shared between them.
    ``saved(model, name)`` (name ``forward`` or ``backward``) may write each one as soon as it
    is trained and return where, for messages. With ``start`` (fitted language models, forward
    then backward), fine-tune those on the documents instead (ULMFiT's second stage), keeping
    their units and sizes; ``options`` then change their other settings."""
    check_minutes(minutes)
    if not documents:
        raise ConfigError("pretraining has no text: give unlabelled text or training texts")
    directions = DIRECTIONS[: len(start) or (2 if classifier["bidirectional"] else 1)]
    models = []
    for position, name in enumerate(directions):
        params = language_model_options(classifier, options, reverse=name == "backward")
        if start:  # their settings, with the given options (checked above) over them
            params = {**start[position].get_params(), "vectors": None, **(options or {})}
            params.pop("verbose", None)
        if minutes is not None:
            params["max_minutes"] = minutes / len(directions)
        lm = LanguageModel(verbose=verbose, **params)
        verb = "fine-tuning" if start else "pretraining"
        log.info("%s the %s language model on %s", verb, name, counted(len(documents), "document"))
        lm.fit(documents, start=start[position] if start else None)
        source = saved(lm, name) if saved is not None else f"the {name} language model"
        models.append(as_pretrained(lm, source))
    return models


def as_pretrained(lm: LanguageModel, source: str) -> Pretrained:
    """A fitted language model as the classifier's encoder takes it."""
    units = lm.units_
    assert isinstance(units, Units)
    return Pretrained(
        source,
        lm.model_.config,
        units.tokens,
        {k: v.detach().cpu() for k, v in lm.model_.state_dict().items()},
    )


def encoders(
    classifier: Any, train: Corpus, pretraining: Pretraining | None = None
) -> list[Pretrained] | None:
    """What the classifier's encoder starts from: language models trained now on
    ``pretraining``'s documents and the training texts ``train`` (the classifier's ``split``
    keeps its validation texts out), fine-tuned from the ``encoder`` ones when it names some;
    without ``pretraining``, the ``encoder`` language models as they are; None for neither."""
    if pretraining is None:
        return load_encoders(classifier) or None
    start = [LanguageModel.load(p.source, command="--encoder") for p in load_encoders(classifier)]
    with classifier.in_params():
        return pretrain(
            [*pretraining.documents, *documents_of(train, classifier.tokenizer)],
            classifier.get_params(),
            pretraining.options,
            minutes=pretraining.minutes,
            verbose=classifier.verbose,
            saved=pretraining.saved,
            start=start,
        )


def load_encoders(classifier: Any) -> list[Pretrained]:
    """The language models the classifier's ``encoder`` names (none without it), checked
    against its options: its tokenizer, and the sizes they decide."""
    with classifier.in_params():
        if not classifier.encoder:
            return []
        folders = [part.strip() for part in str(classifier.encoder).split(",") if part.strip()]
        if not 1 <= len(folders) <= 2:
            raise ConfigError(
                f"encoder takes one language model, or a forward and a backward one "
                f"(FWD,BWD), got {len(folders)}",
                field="encoder",
            )
        if classifier.vectors:
            raise ConfigError(
                "encoder and vectors both give the embedding: choose one", field="encoder"
            )
        pretrained = [
            _load_encoder(folder, position == 1, classifier.tokenizer)
            for position, folder in enumerate(folders)
        ]
        try:
            check_pair(pretrained)
        except ValueError as error:
            raise ConfigError(str(error), field="encoder") from None
        fields = encoder_fields(pretrained)
        # embed_dim as --pretrain reads it: each language model's (the classifier
        # concatenates one per direction)
        fields["embed_dim"] = pretrained[0].config.embed_dim
        defaults = CLASSIFIER_OPTIONS.defaults
        for param in ("cell", "layers", "hidden", "embed_dim", "bidirectional"):
            name = CLASSIFIER_OPTIONS[param].name
            value, implied = getattr(classifier, param), fields[name]
            if value != defaults[param] and value != implied:
                raise ConfigError(
                    f"{param} {value} contradicts the encoder, whose language model gives "
                    f"{name} {implied}: cell, layers, hidden, embed_dim and bidirectional come "
                    "from the encoder; leave them out",
                    field=param,
                )
        return pretrained


def _load_encoder(folder: str, backward: bool, tokenizer: str) -> Pretrained:
    """The language model in ``folder``, checked: read with the classifier's ``tokenizer``,
    and backward (``--reverse``) when it is the second of two."""
    bundle = load_bundle(folder, task=LANGUAGE_MODEL, command="--encoder")
    assert isinstance(bundle.data, StreamConfig)
    assert isinstance(bundle.model, LanguageModelConfig)
    units = bundle.vocab
    assert isinstance(units, Units)
    if units.tokenizer_name != tokenizer:
        reads = (
            "reads text as written (trained without --tokenizer)"
            if units.tokenizer_name is None
            else f"has --tokenizer {units.tokenizer_name}"
        )
        raise ConfigError(
            f"{folder}: the language model {reads}, and this classifier's tokenizer "
            f"is {tokenizer}: train the language model with --unit "
            f"{tokenizer} --tokenizer {tokenizer}, or give this "
            "classifier its tokenizer",
            field="encoder",
        )
    if bundle.data.reverse != backward:
        which = "the second (backward)" if backward else "the first (forward)"
        raise ConfigError(
            f"{folder}: {which} language model of encoder must "
            f"{'' if backward else 'not '}be trained with --reverse",
            field="encoder",
        )
    return Pretrained(folder, bundle.model, units.tokens, bundle.state)
