"""The parameter count from a configuration's sizes, against real models."""

from __future__ import annotations

import pytest

from rnnkit.errors import ConfigError
from rnnkit.models.config import ModelConfig
from rnnkit.models.ensemble import build_classifier
from rnnkit.models.size import check_training_memory, parameter_count

CONFIGS = [
    {},
    {"cell": "gru", "num_layers": 2, "bidirectional": False},
    {"cell": "rnn", "num_layers": 3, "pooling": ("attention", "mean")},
    {"cell": "lstm", "num_layers": 2, "pooling": ("attention",), "hidden_size": 7},
    {"cell": "bag"},
    {"ensemble": 3, "cell": "gru"},
]


@pytest.mark.parametrize("options", CONFIGS)
def test_the_count_is_that_of_the_model(options: dict[str, object]) -> None:
    config = ModelConfig(50, 3, embed_dim=12, **{"hidden_size": 10, **options})  # type: ignore[arg-type]
    model = build_classifier(config)
    assert parameter_count(config) == sum(p.numel() for p in model.parameters())


def test_a_model_larger_than_memory_is_refused_with_the_sizes() -> None:
    config = ModelConfig(100, 2, hidden_size=1000)
    assert check_training_memory(config, available=10**12) == parameter_count(config)
    with pytest.raises(
        ConfigError, match=r"9,064,802 parameters .* training needs at least 145.0 MB .* has 1.0 MB"
    ):
        check_training_memory(config, available=10**6)


def test_the_configuration_names_every_built_in_layer() -> None:
    from rnnkit.models.config import CELLS
    from rnnkit.nn.layers import LAYERS

    assert set(CELLS) == {*LAYERS, "bag"}  # config.py stays torch-free, so it lists them
