"""Translation: its options, declared once (``OPTIONS``), its objective and its scores.

The options are ``Translator``'s parameters, the flags of ``rnnkit translate train`` (and of
``rnnkit translate lr-find``), the keys of ``--config`` files and recipes, and the fields of
the bundle's configuration (see :mod:`rnnkit.options`); the decoding options (``beam``,
``length_penalty``, ``max_ratio``) are saved with the model too, and the commands that
translate can change them. Scores are sacreBLEU's: BLEU (cased, detokenized, its 13a
tokenization), BLEU on lower-cased text (what published Multi30k figures report) and chrF, each
with its signature.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rnnkit.data.config import UNIT_NAMES, PairConfig
from rnnkit.errors import ConfigError
from rnnkit.models.config import ATTENTIONS, EXTRA_TOKENS, SearchConfig, TranslatorConfig
from rnnkit.nn.registry import CellNames
from rnnkit.options import Option, OptionTable
from rnnkit.tasks import shared
from rnnkit.tasks.shared import model_option, text_option, training_option
from rnnkit.train.config import TrainConfig

if TYPE_CHECKING:
    from rnnkit.train.step import Objective

NAME = "translation"
BACKENDS = ("torch", "onnx")  # onnx: the graphs rnnkit export wrote into the model's folder
MONITOR = "bleu"  # sacreBLEU of greedy translations of the validation pairs, higher is better
GROUPS = {"model": "model", "text": "text", "training": "training", "decoding": "decoding"}


def objective(label_smoothing: float) -> Objective:
    """Cross-entropy of each target token (the sentence's end included) given the true
    previous ones, with label smoothing; validated on BLEU, ties to the lower loss."""
    from rnnkit.train.step import Objective, cross_entropy

    return Objective(cross_entropy(label_smoothing), monitor=MONITOR, higher_is_better=True)


def _sacrebleu() -> Any:
    try:
        import sacrebleu
    except ImportError:
        raise ConfigError(
            "translation scores need sacrebleu: pip install 'rnnkit[translate]' (or pip "
            "install sacrebleu)"
        ) from None
    return sacrebleu


def bleu(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """sacreBLEU's corpus BLEU (cased, 13a tokenization, one reference per sentence)."""
    sacrebleu = _sacrebleu()
    return float(sacrebleu.corpus_bleu(list(hypotheses), [list(references)]).score)


def scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """BLEU, lower-cased BLEU and chrF of ``hypotheses`` against one reference each, with
    sacreBLEU's signatures, and the number of sentences."""
    sacrebleu = _sacrebleu()
    hyps, refs = list(hypotheses), [list(references)]
    metrics = {
        "bleu": sacrebleu.metrics.BLEU(),
        "bleu_lc": sacrebleu.metrics.BLEU(lowercase=True),
        "chrf": sacrebleu.metrics.CHRF(),
    }
    found: dict[str, Any] = {}
    for name, metric in metrics.items():
        found[name] = round(float(metric.corpus_score(hyps, refs).score), 4)
        found[f"{name}_signature"] = str(metric.get_signature())
    found["sentences"] = len(hyps)
    return found


_DECODING = (
    Option(
        "beam",
        "beam width of the search (1: greedy)",
        section="decoding",
        group="decoding",
        type=int,
        metavar="N",
    ),
    Option(
        "length_penalty",
        "alpha of the length penalty ((5 + length) / 6) ** alpha that divides a finished "
        "hypothesis' log-probability (0: none; longer outputs win as it grows)",
        section="decoding",
        group="decoding",
        type=float,
        metavar="A",
    ),
    Option(
        "max_ratio",
        f"a translation has at most max_ratio x (source tokens) + {EXTRA_TOKENS} tokens",
        section="decoding",
        group="decoding",
        type=float,
        metavar="R",
    ),
)

OPTIONS = OptionTable(
    [
        model_option(
            "cell",
            "recurrent cell of the encoder and the decoder (those rnnkit.nn.registry holds)",
            choices=CellNames(),
        ),
        model_option(
            "layers",
            "stacked recurrent layers (encoder and decoder)",
            field="num_layers",
            type=int,
            metavar="N",
            default=1,
        ),
        model_option(
            "embed_dim", "embedding size (source and target)", type=int, metavar="N", default=256
        ),
        model_option(
            "hidden",
            "hidden size of each encoder direction; the decoder has directions x hidden",
            field="hidden_size",
            type=int,
            metavar="N",
            default=256,
        ),
        model_option("bidirectional", "the encoder reads the source both ways", type=bool),
        model_option(
            "attention",
            "score of the attention: dot (Luong), general (Luong, a matrix between) or "
            "additive (Bahdanau)",
            choices=ATTENTIONS,
        ),
        model_option(
            "input_feeding",
            "the previous step's attentional vector joins the decoder's input (Luong)",
            type=bool,
        ),
        model_option(
            "tie_weights",
            "the output layer is the target embedding (with a projection)",
            type=bool,
        ),
        model_option(
            "dropout",
            "dropout on the embeddings, between layers and before the output layer",
            type=float,
            metavar="P",
            default=0.3,
        ),
        model_option(
            "embed_dropout",
            "in training, zero all occurrences of this fraction of the source token types",
            type=float,
            metavar="P",
            default=0.0,
        ),
        model_option(
            "weight_dropout",
            "DropConnect on the hidden-to-hidden matrices",
            type=float,
            metavar="P",
            default=0.0,
        ),
        text_option(
            "unit",
            "subword (byte-level BPE), unigram (pieces of a unigram language model, as "
            "SentencePiece), word (split on white space) or char",
            choices=UNIT_NAMES,
        ),
        text_option(
            "joint",
            "one vocabulary learnt from both languages (else one per language)",
            type=bool,
        ),
        text_option(
            "vocab_size",
            "tokens per vocabulary, the 3 special tokens included",
            field="max_vocab",
            type=int,
            metavar="N",
        ),
        text_option(
            "min_freq", "word and char units: keep tokens seen this often", type=int, metavar="N"
        ),
        text_option(
            "max_len",
            "leave out training pairs with a side longer than this many tokens (reported)",
            type=int,
            metavar="N",
        ),
        Option(
            "source",
            "the source language: multi30k's de or en, a CSV/TSV header's column, a JSON Lines "
            "field; recorded with the model, so that rnnkit translate evaluate scores it in "
            "its own direction",
            section="data",
            group="pairs",
            optional=True,
            metavar="NAME",
            shown="de for multi30k, else the first column or the field 'source'",
        ),
        Option(
            "target",
            "the target language, likewise",
            section="data",
            group="pairs",
            optional=True,
            metavar="NAME",
            shown="en for multi30k, else the second column or the field 'target'",
        ),
        Option(
            "valid_split",
            "fraction of the training pairs held out for validation when none are given",
            section="data",
            type=float,
            metavar="F",
        ),
        training_option(
            "epochs",
            "passes over the training pairs",
            type=int,
            optional=True,
            metavar="N",
            shown="about 1500 steps, 2 to 20 epochs",
        ),
        training_option(
            "batch_size", "sentence pairs per batch", type=int, metavar="N", default=64
        ),
        *shared.optimizer_options(lr=2e-3, weight_decay=0.01, warmup=0.02, schedule="linear"),
        training_option(
            "patience",
            "stop after N epochs without a better validation BLEU, keeping the best weights "
            "(0: never)",
            type=int,
            metavar="N",
            default=3,
        ),
        training_option(
            "label_smoothing",
            "spread this much of each target's probability over the others",
            type=float,
            metavar="X",
            default=0.1,
        ),
        *shared.run_options("weights, dropout, batch order"),
        *_DECODING,
    ],
    {
        "model": TranslatorConfig,
        "data": PairConfig,
        "training": TrainConfig,
        "decoding": SearchConfig,
    },
)

DECODING = tuple(o.param for o in OPTIONS if o.section == "decoding")  # the search's options

__all__ = [
    "BACKENDS",
    "DECODING",
    "GROUPS",
    "MONITOR",
    "NAME",
    "OPTIONS",
    "bleu",
    "objective",
    "scores",
]
