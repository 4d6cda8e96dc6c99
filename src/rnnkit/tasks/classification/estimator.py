"""TextClassifier: a recurrent text classifier with a scikit-learn-style interface.

    clf = rnnkit.TextClassifier(epochs=3).fit(texts, labels)
    clf.predict(["a great film"]); clf.predict_proba(...); clf.score(texts, labels)
    clf.save("model/"); clf = rnnkit.TextClassifier.load("model/")

``__init__`` only stores its parameters, ``fit`` returns ``self``, learned state ends in ``_``,
and the estimator works with ``sklearn.base.clone``, ``Pipeline`` and ``cross_val_score``
(scikit-learn itself is not needed to use it).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rnnkit.bundle import Bundle, load_bundle, save_bundle
from rnnkit.data.batching import Batches
from rnnkit.data.config import DataConfig, StreamConfig
from rnnkit.data.corpus import Corpus
from rnnkit.data.splits import stratified_split
from rnnkit.errors import ConfigError, NotFittedError, field_error
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import LanguageModelConfig, ModelConfig
from rnnkit.models.ensemble import Ensemble, build_classifier, classifiers
from rnnkit.models.size import check_training_memory
from rnnkit.models.transfer import (
    Pretrained,
    check_pair,
    encoder_fields,
    load_encoder,
    merged_vocabulary,
)
from rnnkit.models.vectors import copy_vectors, load_vectors, vector_words
from rnnkit.plural import counted
from rnnkit.tasks.classification.options import NAME as CLASSIFICATION
from rnnkit.tasks.classification.options import OPTIONS, objective
from rnnkit.tasks.classification.scoring import batches_of, evaluate_batches, logits_in_order
from rnnkit.tasks.estimator import OptionsEstimator
from rnnkit.tasks.language_model.estimator import LanguageModel
from rnnkit.tasks.language_model.options import NAME as LANGUAGE_MODEL
from rnnkit.tasks.pretraining import Pretraining, check_minutes, documents_of, pretrain
from rnnkit.text.units import Units
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import resolve_device
from rnnkit.train.lr_find import RangeTest, lr_range_test
from rnnkit.train.precision import check_precision
from rnnkit.train.run import History
from rnnkit.train.trainer import Trainer
from rnnkit.validation import (
    check_classes,
    check_labels,
    check_texts,
    check_weights,
    finite_rows,
    natural_sorted,
)

log = logging.getLogger(__name__)


class TextClassifier(OptionsEstimator):
    """Tokenizer and vocabulary, embedding, recurrent encoder, pooling and a linear layer,
    trained with AdamW, warm-up and decay, gradient clipping and early stopping.

    Every parameter has the meaning of the ``rnnkit train`` option of the same name
    (``rnnkit train --help``); ``pooling`` takes one or more of last, mean, max and attention,
    separated by commas. ``valid_split`` of the training data is held out (stratified, seeded)
    to choose the best epoch; 0 trains on everything for ``epochs`` epochs.
    """

    options = OPTIONS

    def __init__(self, **params: Any) -> None:  # its own, for the signature set below
        super().__init__(**params)

    # -- scikit-learn protocol -------------------------------------------------------------

    _estimator_type = "classifier"

    def __sklearn_tags__(self) -> Any:
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True),
            classifier_tags=ClassifierTags(),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
            non_deterministic=True,
        )

    # -- configuration ---------------------------------------------------------------------

    def data_config(self) -> DataConfig:
        return DataConfig(**OPTIONS.config_values(self.get_params(), "data"))

    def train_config(self) -> TrainConfig:
        return TrainConfig(**OPTIONS.config_values(self.get_params(), "training"))

    def model_config(self, vocab_size: int, num_classes: int, embed_dim: int) -> ModelConfig:
        values = {**OPTIONS.config_values(self.get_params(), "model"), "embed_dim": embed_dim}
        return ModelConfig(vocab_size, num_classes, **values)

    # -- fitting ---------------------------------------------------------------------------

    def check_params(self) -> None:
        """Raise ``ConfigError`` naming the first parameter of the wrong type or out of its
        range; ``fit`` and ``rnnkit train`` call this before reading any data."""
        with self.in_params():
            OPTIONS.check_types(self.get_params())
            self.data_config(), self.train_config()
            check_precision(self.precision, resolve_device(self.device))
            self.model_config(3, 2, self.embed_dim if self.embed_dim is not None else 1)
            for name in ("threads", "embed_dim"):
                value = getattr(self, name)
                if value is not None and value < 1:
                    raise field_error(name, "at least 1", value)

    def fit(
        self,
        X: Sequence[str],
        y: Sequence[Any],
        *,
        unlabelled: Sequence[str] | None = None,
        pretrain_options: Mapping[str, Any] | None = None,
        pretrain_minutes: float | None = None,
    ) -> TextClassifier:
        """Train on texts ``X`` with labels ``y``; returns ``self``. With ``unlabelled`` (a
        list of texts, possibly empty), first pretrain language models on it and the training
        texts and start the encoder from them (:mod:`rnnkit.tasks.pretraining`;
        ``pretrain_options``: ``LanguageModel`` parameters, ``pretrain_minutes``: their time
        budget)."""
        self.check_params()
        check_minutes(pretrain_minutes)
        texts, labels = check_texts(X, "X"), check_labels(y)
        if len(texts) != len(labels):
            raise ConfigError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        values = np.asarray(labels)  # one type for all: 1 and 1.0 are one class, "1.0"
        classes = np.unique(values)
        corpus = Corpus.from_texts(texts, [str(v) for v in values], self.tokenizer, "X")
        pretraining = None
        if unlabelled is not None or pretrain_options is not None:
            pretraining = Pretraining(
                check_texts(unlabelled or [], "unlabelled", allow_empty=True),
                pretrain_options,
                pretrain_minutes,
            )
        return self.fit_corpus(corpus, classes=list(classes), pretraining=pretraining)

    def _prepare(
        self, train: Corpus, names: list[str], pretrained: Sequence[Pretrained] | None = None
    ) -> tuple[Vocabulary, SequenceClassifier | Ensemble, Batches]:
        """The vocabulary of ``train``, a fresh seeded model (its encoder from ``pretrained``,
        or from the ``encoder`` bundles) and shuffled training batches."""
        data, train_config = self.data_config(), self.train_config()
        if self.threads is not None:
            torch.set_num_threads(self.threads)
        counts = train.token_counts()
        vocab = Vocabulary.build(counts, min_freq=data.min_freq, max_size=data.max_vocab)
        if len(vocab) <= 2:
            most = max((c for t, c in counts.items() if t not in vocab), default=0)
            raise ConfigError(
                f"min_freq {data.min_freq} leaves no words in the vocabulary: the most "
                f"frequent token of the {len(train):,} training texts occurs {most:,} times; "
                f"lower min_freq to {max(1, most)} or less",
                field="min_freq",
            )
        if pretrained is None:
            pretrained = self._language_models()
        if self.vectors and self.vectors_vocab and not pretrained:
            vocab = vector_words(self.vectors, vocab, self.vectors_vocab)
        if pretrained:
            vocab, added = merged_vocabulary(pretrained, vocab)
            log.info(
                "vocabulary: the language model's %d words and %d training words it lacks, "
                "each starting as the mean of its embeddings",
                len(vocab) - 2 - added,
                added,
            )
        torch.manual_seed(train_config.seed)
        model = self.on_device(self._build_model(vocab, len(names), pretrained, counts))
        batches = Batches(
            train.encode(vocab),
            train.offsets,
            train.label_ids(names),
            batch_size=train_config.batch_size,
            max_len=data.max_len,
            shuffle=True,
            seed=train_config.seed,
        )
        return vocab, model, batches

    def lr_find(
        self,
        train: Corpus,
        *,
        min_lr: float = 1e-5,
        max_lr: float = 1.0,
        steps: int = 100,
    ) -> RangeTest:
        """The learning-rate range test (:mod:`rnnkit.train.lr_find`) on a fresh model with
        this classifier's settings; leaves the classifier unfitted."""
        self.check_params()
        names = natural_sorted(set(train.labels))
        with self.in_params():
            _, model, batches = self._prepare(train, names)
        config = self.train_config()
        return lr_range_test(
            model,
            batches,
            config,
            min_lr=min_lr,
            max_lr=max_lr,
            steps=steps,
            loss=objective(config.label_smoothing, members=model.config.ensemble).loss,
        )

    def fit_corpus(
        self,
        train: Corpus,
        valid: Corpus | None = None,
        *,
        classes: Sequence[Any] | None = None,
        checkpoints: CheckpointPolicy | None = None,
        pretraining: Pretraining | None = None,
    ) -> TextClassifier:
        """Train on tokenized data: the path ``fit`` and ``rnnkit train`` share. Without
        ``valid``, ``valid_split`` of ``train`` is held out for validation (if above 0). With
        ``checkpoints``, write training checkpoints (and resume from one if it says so). With
        ``pretraining``, first train language models on its documents and the training texts
        (after the split: never the validation texts) and start the encoder from them."""
        self.check_params()
        data, train_config = self.data_config(), self.train_config()
        check_classes(train)
        if classes is None:
            classes = natural_sorted(set(train.labels))
        names = [str(c) for c in classes]
        if valid is None and data.valid_split > 0:
            kept, held = stratified_split(train.labels, data.valid_split, train_config.seed)
            train, valid = train.subset(kept), train.subset(held)
        pretrained = None
        if pretraining is not None:
            with self.in_params():
                pretrained = pretrain(
                    [*pretraining.documents, *documents_of(train, self.tokenizer)],
                    self.get_params(),
                    pretraining.options,
                    minutes=pretraining.minutes,
                    verbose=self.verbose,
                    saved=pretraining.saved,
                    start=[
                        LanguageModel.load(p.source, command="--encoder")
                        for p in self._language_models()
                    ],
                )
        with self.in_params():
            vocab, model, batches = self._prepare(train, names, pretrained)
        evaluate = None
        if valid is not None:
            valid_batches = batches_of(valid, model, vocab, names, data.max_len)
            evaluate = lambda m: evaluate_batches(m, valid_batches, names, self.precision)[0]  # noqa: E731
        log.info(
            "training on %s (%s tokens), validating on %s; vocabulary %s, %s",
            counted(len(train), "text"),
            f"{batches.num_tokens:,}",
            f"{len(valid) if valid else 0:,}",
            f"{len(vocab):,}",
            counted(len(names), "class", "classes"),
        )
        trainer = Trainer(train_config, progress=self.verbose, checkpoints=checkpoints)
        target = objective(train_config.label_smoothing, members=model.config.ensemble)
        history = trainer.fit(model, batches, evaluate, target)
        self.model_, self.vocab_, self.history_ = model, vocab, history
        self.classes_ = np.asarray(classes)
        self.embed_dim_ = model.config.embed_dim
        self.metrics_: dict[str, Any] = history.summary()
        return self

    def _build_model(
        self,
        vocab: Vocabulary,
        num_classes: int,
        pretrained: Sequence[Pretrained] = (),
        counts: Mapping[str, int] | None = None,
    ) -> SequenceClassifier | Ensemble:
        """A fresh model; with ``vectors``, its embedding starts from them (their coverage of
        the training tokens ``counts`` reported); with language models (``encoder``), its
        embedding and recurrent stack start from theirs (in each member of an ensemble)."""
        if pretrained:
            fields = encoder_fields(pretrained)
            config = replace(
                self.model_config(len(vocab), num_classes, int(fields["embed_dim"])), **fields
            )
            check_training_memory(config)
            model = build_classifier(config)
            for member in classifiers(model):
                load_encoder(member.encoder, vocab, pretrained)
            return model
        vectors = load_vectors(self.vectors, vocab, counts=counts) if self.vectors else None
        embed_dim = self.embed_dim
        if embed_dim is None:
            embed_dim = vectors.dim if vectors else ModelConfig.embed_dim
        if vectors is not None and vectors.dim != embed_dim:
            raise ConfigError(
                f"embed_dim {embed_dim} differs from the dimension {vectors.dim} of the "
                f"vectors in {self.vectors}; leave embed_dim out to use theirs",
                field="embed_dim",
            )
        config = self.model_config(len(vocab), num_classes, embed_dim)
        check_training_memory(config)
        model = build_classifier(config)
        if vectors is not None and vectors.rows:
            for member in classifiers(model):
                copy_vectors(member.encoder.embedding.weight, vectors.rows)
        return model

    def _language_models(self) -> list[Pretrained]:
        """The language models ``encoder`` names (none without it), checked against this
        classifier's options: its tokenizer, and the sizes they decide."""
        if not self.encoder:
            return []
        folders = [part.strip() for part in str(self.encoder).split(",") if part.strip()]
        if not 1 <= len(folders) <= 2:
            raise ConfigError(
                f"encoder takes one language model, or a forward and a backward one "
                f"(FWD,BWD), got {len(folders)}",
                field="encoder",
            )
        if self.vectors:
            raise ConfigError(
                "encoder and vectors both give the embedding: choose one", field="encoder"
            )
        pretrained = []
        for position, folder in enumerate(folders):
            bundle = load_bundle(folder, task=LANGUAGE_MODEL, command="--encoder")
            assert isinstance(bundle.data, StreamConfig)
            assert isinstance(bundle.model, LanguageModelConfig)
            units = bundle.vocab
            assert isinstance(units, Units)
            if units.tokenizer_name != self.tokenizer:
                reads = (
                    "reads text as written (trained without --tokenizer)"
                    if units.tokenizer_name is None
                    else f"has --tokenizer {units.tokenizer_name}"
                )
                raise ConfigError(
                    f"{folder}: the language model {reads}, and this classifier's tokenizer "
                    f"is {self.tokenizer}: train the language model with --unit "
                    f"{self.tokenizer} --tokenizer {self.tokenizer}, or give this classifier "
                    "its tokenizer",
                    field="encoder",
                )
            if bundle.data.reverse != (position == 1):
                which = "the second (backward)" if position == 1 else "the first (forward)"
                raise ConfigError(
                    f"{folder}: {which} language model of encoder must "
                    f"{'' if position == 1 else 'not '}be trained with --reverse",
                    field="encoder",
                )
            pretrained.append(Pretrained(folder, bundle.model, units.tokens, bundle.state))
        try:
            check_pair(pretrained)
        except ValueError as error:
            raise ConfigError(str(error), field="encoder") from None
        fields = encoder_fields(pretrained)
        # embed_dim as --pretrain reads it: each language model's (the classifier
        # concatenates one per direction)
        fields["embed_dim"] = pretrained[0].config.embed_dim
        defaults = OPTIONS.defaults
        for param in ("cell", "layers", "hidden", "embed_dim", "bidirectional"):
            value, implied = getattr(self, param), fields[OPTIONS[param].name]
            if value != defaults[param] and value != implied:
                raise ConfigError(
                    f"{param} {value} contradicts the encoder, whose language model gives "
                    f"{OPTIONS[param].name} {implied}: cell, layers, hidden, embed_dim and "
                    "bidirectional come from the encoder; leave them out",
                    field=param,
                )
        return pretrained

    # -- prediction ------------------------------------------------------------------------

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_"):
            raise NotFittedError(
                "this TextClassifier is not fitted yet: call fit(texts, labels) or "
                "TextClassifier.load(path) first"
            )

    def inference_batches(self, corpus: Corpus) -> Batches:
        """The batches ``predict_proba_corpus`` runs ``corpus`` in (ONNX Runtime too)."""
        self._check_fitted()
        return batches_of(corpus, self.model_, self.vocab_, None, self.max_len)

    def predict_proba(self, X: Sequence[str], *, check_finite: bool = True) -> np.ndarray:
        """Class probabilities (n, C), columns in ``classes_`` order. A row the model could
        not compute (NaN or infinite outputs: damaged weights, or a diverged training) raises
        ``PredictionError``, or with ``check_finite=False`` comes back as NaN."""
        self._check_fitted()
        texts = check_texts(X, "X")
        corpus = Corpus.from_texts(texts, [""] * len(texts), self.tokenizer)
        return self.predict_proba_corpus(corpus, check_finite=check_finite)

    def predict_proba_corpus(self, corpus: Corpus, *, check_finite: bool = True) -> np.ndarray:
        self._check_fitted()
        batches = self.inference_batches(corpus)
        logits = logits_in_order(self.on_device(self.model_), batches, self.precision)
        probabilities = torch.softmax(logits, -1).numpy()
        return finite_rows(probabilities, raise_error=check_finite)

    def predict(self, X: Sequence[str]) -> np.ndarray:
        """The most likely class of each text, as a value of ``classes_``."""
        probabilities = self.predict_proba(X)
        return self.classes_[probabilities.argmax(1)]  # type: ignore[no-any-return]

    def score(self, X: Sequence[str], y: Sequence[Any]) -> float:
        """Accuracy of ``predict(X)`` against ``y``."""
        return float(np.mean(self.predict(X) == np.asarray(y)))

    def evaluate_corpus(self, corpus: Corpus) -> dict[str, Any]:
        """Accuracy, macro-F1, per-class metrics, confusion matrix and loss on labelled data;
        labels the model never saw are reported by name."""
        self._check_fitted()
        names = [str(c) for c in self.classes_]
        batches = batches_of(corpus, self.model_, self.vocab_, names, self.max_len)
        return evaluate_batches(self.on_device(self.model_), batches, names, self.precision)[1]

    # -- files -----------------------------------------------------------------------------

    def save(
        self,
        path: str | Path,
        metrics: dict[str, Any] | None = None,
        *,
        option: str = "",
        keep_others: bool = False,
    ) -> Path:
        """Write a model bundle folder (see :mod:`rnnkit.bundle`). A new folder, an empty one
        or an rnnkit model folder may be given; anything else (a file, a folder with other
        files) is refused with ``OutputError``, and nothing there is changed."""
        self._check_fitted()
        bundle = Bundle(
            self.data_config(),
            self.model_.config,
            self.train_config(),
            self.vocab_,
            self.classes_.tolist(),
            self.model_.state_dict(),
            metrics if metrics is not None else self.metrics_,
        )
        return save_bundle(path, bundle, option=option, keep_others=keep_others)

    @classmethod
    def load(cls, path: str | Path, *, command: str = "") -> TextClassifier:
        """A fitted classifier from a bundle folder written by ``save`` or ``rnnkit train``."""
        bundle = load_bundle(path, task=CLASSIFICATION, command=command)
        model_config = bundle.model
        assert isinstance(model_config, ModelConfig)
        assert isinstance(bundle.vocab, Vocabulary)
        clf = cls.from_bundle(bundle)
        model = build_classifier(model_config)
        check_weights(model, bundle.state, Path(path) / "model.safetensors")
        model.load_state_dict(bundle.state)
        model.eval()
        clf.model_, clf.vocab_, clf.classes_ = model, bundle.vocab, np.asarray(bundle.classes)
        clf.embed_dim_, clf.metrics_, clf.history_ = (
            model_config.embed_dim,
            bundle.metrics,
            History(),
        )
        return clf


TextClassifier.__init__.__signature__ = OPTIONS.signature(  # type: ignore[attr-defined]
    inspect.Parameter("verbose", inspect.Parameter.KEYWORD_ONLY, default=False, annotation="bool")
)
