"""Ensembles of classifiers: evaluation averages the members' probabilities, training gives each
member its own loss's gradient, and variable length stays exact."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnnkit.errors import ConfigError
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import ModelConfig
from rnnkit.models.ensemble import Ensemble, build_classifier, classifiers
from rnnkit.train.step import cross_entropy, each_member
from tests.conftest import padded_batch

V, C, K = 30, 3, 3
LENGTHS = [9, 1, 4, 6, 9, 2]
NO_DROPOUT = {"dropout": 0.0, "embed_dropout": 0.0, "weight_dropout": 0.0}


def config(**options: object) -> ModelConfig:
    sizes: dict[str, object] = {"embed_dim": 6, "hidden_size": 5, "ensemble": K, **options}
    return ModelConfig(V, C, **sizes)  # type: ignore[arg-type]


def alone(model: Ensemble, k: int) -> SequenceClassifier:
    """Member ``k`` as a classifier of its own, from a copy of its weights in float64."""
    member = SequenceClassifier(replace(model.config, ensemble=1)).double()
    prefix = f"members.{k}."
    state = {n[len(prefix) :]: t for n, t in model.state_dict().items() if n.startswith(prefix)}
    member.load_state_dict(state)
    return member.eval()


def test_one_member_is_a_classifier_and_more_are_an_ensemble() -> None:
    assert type(build_classifier(config(ensemble=1))) is SequenceClassifier
    model = build_classifier(config())
    assert isinstance(model, Ensemble)
    assert len(classifiers(model)) == K
    first, second = (dict(m.named_parameters()) for m in classifiers(model)[:2])
    assert not torch.equal(first["encoder.rnn.weight_hh_l0"], second["encoder.rnn.weight_hh_l0"])
    with pytest.raises(ConfigError, match="ensemble must be at least 1, got 0"):
        config(ensemble=0)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_evaluation_gives_the_log_of_the_members_mean_probability(cell: str) -> None:
    torch.manual_seed(0)
    model = build_classifier(config(cell=cell)).eval()
    assert isinstance(model, Ensemble)
    tokens, lengths = padded_batch(LENGTHS, V)
    with torch.no_grad():
        log_p = model(tokens, lengths)
        expected = torch.stack(
            [torch.softmax(alone(model, k)(tokens, lengths), -1) for k in range(K)]
        ).mean(0)  # float64, each member run on its own
    assert log_p.shape == (len(LENGTHS), C)
    torch.testing.assert_close(log_p.exp().double(), expected, atol=1e-6, rtol=0)
    torch.testing.assert_close(torch.softmax(log_p, -1).double(), expected, atol=1e-6, rtol=0)


def test_training_gives_each_member_the_gradient_of_its_own_loss() -> None:
    torch.manual_seed(1)
    model = build_classifier(config(**NO_DROPOUT)).train()
    assert isinstance(model, Ensemble)
    tokens, lengths = padded_batch(LENGTHS, V)

    class Batch:
        target = torch.tensor([0, 1, 2, 0, 1, 2])

    outputs = model(tokens, lengths)
    assert outputs.shape == (K, len(LENGTHS), C)
    total, count = each_member(cross_entropy())(outputs, Batch())
    assert count == len(LENGTHS)
    total.backward()
    for member in classifiers(model):
        reference = SequenceClassifier(replace(model.config, ensemble=1))
        reference.load_state_dict(member.state_dict())
        own, _ = cross_entropy()(reference(tokens, lengths), Batch())
        (own / K).backward()
        for (name, got), expected in zip(
            member.named_parameters(), reference.parameters(), strict=True
        ):
            assert expected.grad is not None, name
            assert got.grad is not None, name
            torch.testing.assert_close(got.grad, expected.grad, atol=1e-6, rtol=1e-5)


def test_a_text_gets_the_same_probabilities_alone_and_padded_in_a_batch() -> None:
    torch.manual_seed(2)
    model = build_classifier(config(num_layers=2)).eval()
    tokens, lengths = padded_batch(LENGTHS, V)
    with torch.no_grad():
        together = model(tokens, lengths)
        for i, length in enumerate(LENGTHS):
            single = model(tokens[:length, i : i + 1], lengths[i : i + 1])
            torch.testing.assert_close(single[0], together[i], atol=1e-6, rtol=0)


def test_layer_groups_put_each_level_of_every_member_together() -> None:
    model = build_classifier(config(num_layers=2))
    groups = model.layer_groups()
    member_groups = classifiers(model)[0].layer_groups()
    assert len(groups) == len(member_groups) == 4  # embedding, 2 layers, head
    for level, group in enumerate(groups):
        assert len(group) == K * len(member_groups[level])
    assert sum(len(g) for g in groups) == len(list(model.parameters()))
