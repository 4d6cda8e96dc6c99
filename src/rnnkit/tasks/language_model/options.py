"""Language modelling: its options, declared once (``OPTIONS``), and its objective.

The options are ``LanguageModel``'s parameters, the flags of ``rnnkit lm train`` and of
``rnnkit lr-find`` on a language model, the keys of ``--config`` files and recipes, and the
fields of the bundle's configuration (see :mod:`rnnkit.options`). The model's defaults suit a
character model on a laptop CPU; the recipes in ``recipes/`` tune them per corpus.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rnnkit.data.config import DOCUMENTS, UNIT_NAMES, StreamConfig
from rnnkit.models.config import SOFTMAXES, LanguageModelConfig
from rnnkit.nn.registry import CellNames
from rnnkit.options import Option, OptionTable
from rnnkit.tasks import shared
from rnnkit.tasks.shared import GROUPS, model_option, text_option, training_option
from rnnkit.text.tokenize import TOKENIZERS
from rnnkit.train.config import TrainConfig

if TYPE_CHECKING:
    from rnnkit.train.step import Objective

NAME = "language_model"
MONITOR = "loss"  # nats per token on the validation text, lower is better
EVAL_ROWS = 16  # streams scored side by side in evaluation
EMBED_DIM = 128  # the embedding size without --embed-dim or --vectors


def objective(unit: str = "word") -> Objective:
    """The summed negative log-likelihood of the next token (and AR, TAR), validated on the
    loss; the progress bar shows the perplexity, or bits per character."""
    from rnnkit.train.step import Objective

    def shown(loss: float) -> dict[str, str]:
        if unit == "char":
            return {"bpc": f"{loss / math.log(2):.3f}"}
        return {"ppl": f"{math.exp(min(loss, 700.0)):.1f}"}

    return Objective(_computed, monitor=MONITOR, higher_is_better=False, shown=shown)


def _computed(outputs: Any, batch: Any) -> Any:
    """The model computes its loss (``Carried``: the output layer needs the targets)."""
    loss_sum, count = outputs
    return loss_sum, count


def metrics(loss_sum: float, count: int, unit: str) -> dict[str, Any]:
    """Loss (nats per token), perplexity, bits per token, the count and the unit."""
    loss = loss_sum / max(count, 1)
    return {
        "loss": loss,
        "perplexity": math.exp(min(loss, 700.0)),
        "bits_per_token": loss / math.log(2),
        "tokens": count,
        "unit": unit,
    }


def _cutoffs_to_config(value: Any) -> tuple[int, ...]:
    if isinstance(value, (list, tuple)):
        return tuple(int(v) for v in value)
    return tuple(int(p) for p in str(value or "").split(",") if p.strip())


def _cutoffs_from_config(value: Any) -> str:
    return ",".join(map(str, value))


OPTIONS = OptionTable(
    [
        model_option(
            "cell",
            "recurrent cell (those rnnkit.nn.registry holds)",
            choices=CellNames(),
        ),
        model_option(
            "layers",
            "stacked recurrent layers",
            field="num_layers",
            type=int,
            metavar="N",
            default=1,
        ),
        model_option(
            "embed_dim",
            "embedding size",
            type=int,
            metavar="N",
            default=None,
            optional=True,
            shown=f"{EMBED_DIM}, or the dimension of --vectors",
        ),
        model_option(
            "hidden", "hidden size", field="hidden_size", type=int, metavar="N", default=512
        ),
        model_option(
            "dropout",
            "dropout on the embeddings, between layers and before the output layer",
            type=float,
            metavar="P",
            default=0.1,
        ),
        model_option(
            "embed_dropout",
            "in training, zero all occurrences of this fraction of the token types in a window",
            type=float,
            metavar="P",
            default=0.0,
        ),
        model_option(
            "locked_dropout",
            "--dropout keeps one mask per row for all steps of a window (variational)",
            type=bool,
        ),
        model_option(
            "weight_dropout",
            "DropConnect on the hidden-to-hidden matrices (AWD-LSTM)",
            type=float,
            metavar="P",
            default=0.0,
        ),
        Option(
            "vectors",
            "start the embedding from pretrained word vectors (GloVe or word2vec text, .gz "
            "read as well; word units; their dimension is the embedding size unless "
            "--embed-dim says otherwise); the coverage of the vocabulary is reported",
            group="model",
            default=None,
            optional=True,
            metavar="FILE",
        ),
        model_option(
            "tie_weights",
            "the output layer is the embedding (with a projection when --hidden differs)",
            type=bool,
        ),
        model_option(
            "softmax",
            "full, or adaptive: clusters of rarer tokens cost less (large word vocabularies)",
            choices=SOFTMAXES,
        ),
        model_option(
            "cutoffs",
            "the adaptive softmax's cluster boundaries, comma separated (default 2000,10000,"
            "50000 below the vocabulary size)",
            metavar="LIST",
            to_config=_cutoffs_to_config,
            from_config=_cutoffs_from_config,
        ),
        model_option(
            "activation_reg",
            "AR: alpha times the mean squared output of the last layer",
            type=float,
            metavar="X",
        ),
        model_option(
            "temporal_reg",
            "TAR: beta times the mean squared change of the last layer's outputs",
            type=float,
            metavar="X",
        ),
        text_option(
            "unit",
            "char, word (split on white space), subword (byte-level BPE) or unigram (pieces "
            "of a unigram language model, as SentencePiece)",
            choices=UNIT_NAMES,
        ),
        text_option(
            "tokenizer",
            "read text as rnnkit train's --tokenizer of that name does (lower-cased, "
            "punctuation split, HTML line breaks removed), so that a classifier can start from "
            "this model (rnnkit train --encoder); give the same --unit",
            choices=tuple(TOKENIZERS),
            optional=True,
            shown="text as written",
        ),
        text_option(
            "min_freq",
            "keep characters or words seen at least this often (rarer ones become <unk>)",
            type=int,
            metavar="N",
        ),
        text_option(
            "max_vocab",
            "largest vocabulary, counting the 3 special tokens (subword: its size, default 8000)",
            type=int,
            optional=True,
            metavar="N",
        ),
        text_option(
            "document",
            "what one document of a plain text file is: a line, a paragraph (blank-line "
            "separated) or the whole file; the state is reset between documents",
            choices=DOCUMENTS,
            optional=True,
            shown="line; a named dataset: its own documents",
        ),
        text_option(
            "window",
            "tokens per window of truncated backpropagation through time",
            type=int,
            metavar="N",
        ),
        text_option(
            "variable_window",
            "random window lengths around --window each epoch (AWD-LSTM)",
            type=bool,
        ),
        text_option(
            "reverse",
            "read each document from its end: a backward language model, the reverse "
            "direction of a bidirectional classifier (rnnkit train --encoder FWD,BWD); it "
            "scores text but does not generate",
            type=bool,
            switch="set",
        ),
        training_option(
            "epochs",
            "passes over the training text",
            type=int,
            optional=True,
            metavar="N",
            shown="about 1500 steps, 2 to 20 epochs",
        ),
        training_option(
            "batch_size",
            "streams side by side (rows of a window)",
            type=int,
            metavar="N",
            default=32,
        ),
        *shared.optimizer_options(lr=2e-3, weight_decay=0.01, warmup=0.02, schedule="cosine"),
        training_option(
            "patience",
            "stop after N epochs without a lower validation loss, keeping the best weights "
            "(0: never)",
            type=int,
            metavar="N",
            default=3,
        ),
        Option(
            "valid_split",
            "fraction of the training text held out (its tail) for validation when the corpus "
            "has no validation split",
            section="data",
            type=float,
            metavar="F",
        ),
        *shared.run_options("weights, dropout, window lengths"),
    ],
    {"model": LanguageModelConfig, "data": StreamConfig, "training": TrainConfig},
)

__all__ = ["EMBED_DIM", "EVAL_ROWS", "GROUPS", "MONITOR", "NAME", "OPTIONS", "metrics", "objective"]
