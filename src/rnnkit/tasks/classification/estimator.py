"""TextClassifier: a recurrent text classifier with a scikit-learn-style interface.

    clf = rnnkit.TextClassifier(epochs=3).fit(texts, labels)
    clf.predict(["a great film"]); clf.predict_proba(...); clf.score(texts, labels)
    clf.save("model/"); clf = rnnkit.TextClassifier.load("model/")

``__init__`` only stores its parameters, ``fit`` returns ``self``, learned state ends in ``_``,
and the estimator works with ``sklearn.base.clone``, ``Pipeline`` and ``cross_val_score``
(scikit-learn itself is not needed to use it).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from rnnkit.bundle import Bundle
from rnnkit.data.batching import Batches
from rnnkit.data.corpus import Corpus
from rnnkit.data.splits import stratified_split
from rnnkit.errors import ConfigError, field_error
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import ModelConfig
from rnnkit.models.ensemble import Ensemble, build_classifier, classifiers
from rnnkit.models.size import check_training_memory
from rnnkit.models.transfer import (
    Pretrained,
    encoder_fields,
    load_encoder,
    merged_vocabulary,
)
from rnnkit.models.vectors import copy_vectors, load_vectors, vector_words
from rnnkit.plural import counted
from rnnkit.tasks.classification.options import NAME as CLASSIFICATION
from rnnkit.tasks.classification.options import OPTIONS, objective
from rnnkit.tasks.classification.scoring import batches_of, evaluate_batches, logits_in_order
from rnnkit.tasks.estimator import TaskEstimator, Trial
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.checkpoint import CheckpointPolicy
from rnnkit.validation import (
    check_classes,
    check_labels,
    check_texts,
    finite_rows,
    natural_sorted,
)

log = logging.getLogger(__name__)


class TextClassifier(TaskEstimator):
    """Tokenizer and vocabulary, embedding, recurrent encoder, pooling and a linear layer,
    trained with AdamW, warm-up and decay, gradient clipping and early stopping.

    Every parameter has the meaning of the ``rnnkit train`` option of the same name
    (``rnnkit train --help``); ``pooling`` takes one or more of last, mean, max and attention,
    separated by commas. ``valid_split`` of the training data is held out (stratified, seeded)
    to choose the best epoch; 0 trains on everything for ``epochs`` epochs.
    """

    task = CLASSIFICATION
    options = OPTIONS
    fit_call = "fit(texts, labels)"
    model_: SequenceClassifier | Ensemble  # fitted: the network, its vocabulary and classes
    vocab_: Vocabulary

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

    def model_config(self, vocab_size: int, num_classes: int, embed_dim: int) -> ModelConfig:
        values = {**OPTIONS.config_values(self.get_params(), "model"), "embed_dim": embed_dim}
        return ModelConfig(vocab_size, num_classes, **values)

    def _check_model(self) -> None:
        self.model_config(3, 2, self.embed_dim if self.embed_dim is not None else 1)
        if self.embed_dim is not None and self.embed_dim < 1:
            raise field_error("embed_dim", "at least 1", self.embed_dim)

    # -- fitting ---------------------------------------------------------------------------

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
        pretraining = None
        if (unlabelled, pretrain_options, pretrain_minutes) != (None, None, None):
            from rnnkit.tasks import pretraining as stage  # the stage above the estimators

            stage.check_minutes(pretrain_minutes)
            if unlabelled is not None or pretrain_options is not None:
                documents = check_texts(unlabelled or [], "unlabelled", allow_empty=True)
                pretraining = stage.Pretraining(documents, pretrain_options, pretrain_minutes)
        texts, labels = check_texts(X, "X"), check_labels(y)
        if len(texts) != len(labels):
            raise ConfigError(f"X has {len(texts)} texts but y has {len(labels)} labels")
        values = np.asarray(labels)  # one type for all: 1 and 1.0 are one class, "1.0"
        classes = np.unique(values)
        corpus = Corpus.from_texts(texts, [str(v) for v in values], self.tokenizer, "X")
        train, valid = self.split(corpus)
        pretrained = stage.encoders(self, train, pretraining) if pretraining else None
        return self.fit_corpus(
            train, valid, classes=list(classes), pretrained=pretrained, split=False
        )

    def split(self, train: Corpus, valid: Corpus | None = None) -> tuple[Corpus, Corpus | None]:
        """The training and validation data ``fit_corpus`` would use (parameters and classes
        checked first): ``valid``, or without it, ``valid_split`` of ``train`` held out
        (stratified, seeded; none when it is 0). Pretraining reads the training part only."""
        self.check_params()
        check_classes(train)
        split, seed = self.data_config().valid_split, self.train_config().seed
        if valid is None and split > 0:
            kept, held = stratified_split(train.labels, split, seed)
            train, valid = train.subset(kept), train.subset(held)
        return train, valid

    def _prepare(
        self, train: Corpus, names: list[str], pretrained: Sequence[Pretrained] | None = None
    ) -> tuple[Vocabulary, SequenceClassifier | Ensemble, Batches]:
        """The vocabulary of ``train``, a fresh seeded model (its encoder from ``pretrained``,
        or from the ``encoder`` bundles) and shuffled training batches."""
        data, train_config = self.data_config(), self.train_config()
        self._use_threads()
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
        if pretrained is None and self.encoder:
            from rnnkit.tasks.pretraining import load_encoders  # the stage above

            pretrained = load_encoders(self)
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
        model = self.on_device(self._build_model(vocab, len(names), pretrained or (), counts))
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

    def _trial(self, train: Corpus) -> Trial:
        names = natural_sorted(set(train.labels))
        with self.in_params():
            _, model, batches = self._prepare(train, names)
        target = objective(self.train_config().label_smoothing, members=model.config.ensemble)
        return Trial(model, batches, target.loss)

    def fit_corpus(
        self,
        train: Corpus,
        valid: Corpus | None = None,
        *,
        classes: Sequence[Any] | None = None,
        checkpoints: CheckpointPolicy | None = None,
        pretrained: Sequence[Pretrained] | None = None,
        split: bool = True,
    ) -> TextClassifier:
        """Train on tokenized data: the path ``fit`` and ``rnnkit train`` share. Without
        ``valid``, ``valid_split`` of ``train`` is held out for validation (``split``; False
        when the caller split the data already). With ``checkpoints``, write training
        checkpoints (and resume from one if it says so). With ``pretrained`` encoders
        (:mod:`rnnkit.tasks.pretraining`, which trains them on the training part of ``split``),
        the embedding and recurrent stack start from them."""
        if classes is None:  # the classes of the training data as given, before any split
            classes = natural_sorted(set(train.labels))
        if split:
            train, valid = self.split(train, valid)
        else:
            self.check_params()
        data, train_config = self.data_config(), self.train_config()
        names = [str(c) for c in classes]
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
        target = objective(train_config.label_smoothing, members=model.config.ensemble)
        self._train(model, batches, evaluate, target, checkpoints)
        self.model_, self.vocab_ = model, vocab
        self.classes_ = np.asarray(classes)
        self.embed_dim_ = model.config.embed_dim
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

    # -- prediction ------------------------------------------------------------------------

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

    # -- what its bundle holds -------------------------------------------------------------

    def _vocabulary(self) -> Vocabulary:
        return self.vocab_

    def _labels(self) -> list[Any]:
        return self.classes_.tolist()  # type: ignore[no-any-return]

    def _network(self, bundle: Bundle) -> SequenceClassifier | Ensemble:
        return build_classifier(bundle.model)

    def _restore(self, bundle: Bundle) -> None:
        self.vocab_, self.classes_ = bundle.vocab, np.asarray(bundle.classes)
        self.embed_dim_ = bundle.model.embed_dim
