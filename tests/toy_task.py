"""A task rnnkit does not have, defined here and nowhere else: a number regressed from each
text (mean squared error), registered from outside the package. Its description is one
``TaskSpec``: options, configurations, its estimator (the shared lifecycle plus reading its
data, building its model and predicting) and its HTTP endpoint. Bundles, ``rnnkit serve``
(with ``RNNKIT_TASKS=tests.toy_task_plugin``, which registers it) and the estimator's save and
load take it as they take the built-in tasks; nothing in ``src/rnnkit`` names it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, StrictStr
from torch import Tensor, nn

from rnnkit.bundle import Bundle
from rnnkit.models.config import EncoderConfig
from rnnkit.models.encoder import Encoder
from rnnkit.nn.registry import CellNames
from rnnkit.options import Option, OptionTable
from rnnkit.serve.app import Endpoint
from rnnkit.serve.config import ServeConfig
from rnnkit.serve.http import check_text_list
from rnnkit.tasks.estimator import TaskEstimator
from rnnkit.tasks.registry import TaskSpec
from rnnkit.tasks.shared import DEVICE, PRECISION, THREADS, training_option
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.config import TrainConfig
from rnnkit.train.step import Objective

NAME = "text_regression"


@dataclass(frozen=True)
class RegressionData:
    min_freq: int = 1  # keep words seen this often


@dataclass(frozen=True)
class RegressionModel:
    vocab_size: int
    cell: str = "lstm"
    embed_dim: int = 16
    hidden_size: int = 16

    @property
    def encoder(self) -> EncoderConfig:
        return EncoderConfig(
            self.vocab_size,
            cell=self.cell,
            embed_dim=self.embed_dim,
            hidden_size=self.hidden_size,
            bidirectional=False,
            dropout=0.0,
            embed_dropout=0.0,
            weight_dropout=0.0,
        )


OPTIONS = OptionTable(
    [
        Option("cell", "recurrent cell", section="model", choices=CellNames()),
        Option("embed_dim", "embedding size", section="model", type=int),
        Option("hidden", "hidden size", section="model", field="hidden_size", type=int),
        Option("min_freq", "keep words seen this often", section="data", type=int),
        training_option("epochs", "passes over the texts", type=int, optional=True, default=20),
        training_option("batch_size", "texts per batch", type=int, default=16),
        training_option("lr", "learning rate", type=float, default=0.01),
        training_option("seed", "random seed", type=int),
        PRECISION,
        THREADS,
        DEVICE,
    ],
    {"data": RegressionData, "model": RegressionModel, "training": TrainConfig},
)


class Regressor(nn.Module):
    """The shared encoder, its outputs' mean over each text's own steps, a linear layer."""

    def __init__(self, config: RegressionModel) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config.encoder)
        self.head = nn.Linear(config.hidden_size, 1)

    def forward(self, tokens: Tensor, lengths: Tensor) -> Tensor:
        outputs = self.encoder(tokens, lengths).outputs  # (T, B, H), zero at padding
        mean = outputs.sum(0) / lengths.to(outputs)[:, None]
        return self.head(mean).squeeze(-1)  # (B,)


@dataclass(frozen=True)
class Batch:
    tokens: Tensor  # (T, B)
    lengths: Tensor  # (B,)
    target: Tensor  # (B,)

    @property
    def inputs(self) -> tuple[Tensor, ...]:
        return self.tokens, self.lengths

    @property
    def num_tokens(self) -> int:
        return int(self.lengths.sum())


class Batches:
    def __init__(self, ids: list[list[int]], values: Sequence[float], size: int, seed: int) -> None:
        self.ids, self.values, self.size, self.seed = ids, list(values), size, seed

    def __len__(self) -> int:
        return -(-len(self.ids) // self.size)

    def epoch(self, epoch: int) -> Iterator[Batch]:
        order = list(range(len(self.ids)))
        random.Random(self.seed + epoch).shuffle(order)
        for start in range(0, len(order), self.size):
            yield batch([self.ids[i] for i in order[start : start + self.size]],
                        [self.values[i] for i in order[start : start + self.size]])  # fmt: skip


def batch(ids: list[list[int]], values: Sequence[float]) -> Batch:
    lengths = torch.tensor([max(len(x), 1) for x in ids])
    tokens = torch.zeros(int(lengths.max()), len(ids), dtype=torch.long)
    for column, row in enumerate(ids):
        tokens[: len(row), column] = torch.tensor(row or [Vocabulary.unk_id])
    return Batch(tokens, lengths, torch.tensor(values, dtype=torch.float32))


def squared_error(outputs: Tensor, batch: Any) -> tuple[Tensor, int]:
    return ((outputs.float() - batch.target) ** 2).sum(), int(batch.target.numel())


class TextRegressor(TaskEstimator):
    """A number for each text: ``fit(texts, values)``, ``predict(texts)``."""

    task = NAME
    options = OPTIONS
    fit_call = "fit(texts, values)"
    model_: Regressor
    vocab_: Vocabulary

    def _check_model(self) -> None:
        RegressionModel(4, **OPTIONS.config_values(self.get_params(), "model"))

    def fit(self, texts: Sequence[str], values: Sequence[float]) -> TextRegressor:
        self.check_params()
        counts: dict[str, int] = {}
        for text in texts:
            for word in text.split():
                counts[word] = counts.get(word, 0) + 1
        vocab = Vocabulary.build(counts, min_freq=self.data_config().min_freq)
        torch.manual_seed(self.seed)
        model = Regressor(
            RegressionModel(len(vocab), **OPTIONS.config_values(self.get_params(), "model"))
        )
        batches = Batches(
            [vocab.encode(t.split()) for t in texts], values, self.batch_size, self.seed
        )
        objective = Objective(squared_error, monitor="loss", higher_is_better=False)
        self._train(model, batches, None, objective, None)
        self.model_, self.vocab_ = model.eval(), vocab
        return self

    @torch.no_grad()
    def predict(self, texts: Sequence[str]) -> np.ndarray:
        self._check_fitted()
        found = self.model_(
            *batch([self.vocab_.encode(t.split()) for t in texts], [0.0] * len(texts)).inputs
        )
        return found.numpy()  # type: ignore[no-any-return]

    def _vocabulary(self) -> Vocabulary:
        return self.vocab_

    def _network(self, bundle: Bundle) -> Regressor:
        return Regressor(bundle.model)

    def _restore(self, bundle: Bundle) -> None:
        self.vocab_ = bundle.vocab


class RegressRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    texts: list[StrictStr] = Field(description="texts to score")


class RegressResponse(BaseModel):
    values: list[float]
    model: str


def create_endpoint(config: ServeConfig) -> Endpoint:
    model = TextRegressor.load(config.model)
    answered = [0]

    async def respond(request: RegressRequest) -> bytes:
        check_text_list(request.texts, config.max_batch, config.max_chars)
        answered[0] += 1
        values = [float(v) for v in model.predict(request.texts)]
        return json.dumps({"values": values, "model": "toy"}).encode()

    return Endpoint(
        summary="A number for each text",
        info={"model": "toy", "task": NAME},
        request=RegressRequest,
        response=RegressResponse,
        example='{"texts": ["..."]}',
        body_limit=config.max_body_bytes,
        body_flags="--max-batch x --max-chars",
        counters=lambda: {"requests": answered[0]},
        respond=respond,
    )


SPEC = TaskSpec(  # registered by the tests (and for rnnkit serve by tests/toy_task_plugin.py)
    NAME,
    title="a text regressor",
    plural="text regressors",
    options=OPTIONS,
    sections={"data": RegressionData, "model": RegressionModel, "training": TrainConfig},
    vocabulary=Vocabulary.from_json,
    estimator="tests.toy_task:TextRegressor",
    endpoint="tests.toy_task:create_endpoint",
    route="/regress",
    example='{"texts": ["..."]}',
    commands="tests.toy_task.TextRegressor.load, rnnkit serve",
)
