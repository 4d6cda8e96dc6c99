"""The shared encoder: per-step outputs and final states as the recurrent layer gives them,
frozen and unfrozen layer by layer, and moved between models with one vocabulary."""

from __future__ import annotations

import pytest
import torch

from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import EncoderConfig, ModelConfig
from rnnkit.models.encoder import Encoder
from rnnkit.text.vocab import Vocabulary


def test_outputs_and_states_are_the_recurrent_stack_on_the_embeddings() -> None:
    torch.manual_seed(0)
    config = EncoderConfig(12, embed_dim=5, hidden_size=3, num_layers=2, cell="lstm")
    encoder = Encoder(config).eval()
    tokens = torch.randint(1, 12, (7, 4))
    lengths = torch.tensor([7, 3, 5, 1])
    encoded = encoder(tokens, lengths)
    assert encoder.rnn is not None
    outputs, (h_n, c_n) = encoder.rnn(encoder.embedding(tokens), lengths=lengths)
    torch.testing.assert_close(encoded.outputs, outputs)
    torch.testing.assert_close(encoded.h_n, h_n)
    torch.testing.assert_close(encoded.state[1], c_n)
    assert encoded.outputs.shape == (7, 4, encoder.output_size) == (7, 4, 6)


def test_freeze_and_unfreeze_count_layers_from_the_bottom() -> None:
    encoder = Encoder(EncoderConfig(10, embed_dim=4, hidden_size=3, num_layers=2))
    assert len(encoder.groups()) == 3  # embedding, layer 0, layer 1
    encoder.freeze(2)
    trainable = [[p.requires_grad for p in group] for group in encoder.groups()]
    assert trainable == [[False], [False] * 8, [True] * 8]
    encoder.unfreeze(1)
    assert [p.requires_grad for p in encoder.groups()[1]] == [False] * 8
    encoder.unfreeze()
    assert all(p.requires_grad for p in encoder.parameters())
    with pytest.raises(ValueError, match=r"count must be in \[0, 3\]"):
        encoder.freeze(4)


def test_a_frozen_encoder_is_not_trained_and_its_head_is() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(10, 2, embed_dim=4, hidden_size=3))
    model.encoder.freeze()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.SGD(parameters, lr=0.5)
    tokens, lengths = torch.randint(1, 10, (5, 3)), torch.tensor([5, 2, 4])
    model(tokens, lengths).sum().backward()
    optimizer.step()
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if k.startswith("encoder."))
    assert not torch.equal(before["classifier.weight"], after["classifier.weight"])


def test_an_encoder_moves_to_a_model_with_another_head_and_the_same_vocabulary() -> None:
    torch.manual_seed(0)
    vocab = Vocabulary.build({"good": 3, "film": 2, "bad": 2})
    source = SequenceClassifier(ModelConfig(len(vocab), 2, embed_dim=4, hidden_size=3))
    target = SequenceClassifier(ModelConfig(len(vocab), 5, embed_dim=4, hidden_size=3))
    target.encoder.transfer(source.encoder, vocab, vocab)
    tokens, lengths = torch.tensor([[2], [3]]), torch.tensor([2])
    source.eval(), target.eval()
    torch.testing.assert_close(
        target.encoder(tokens, lengths).outputs, source.encoder(tokens, lengths).outputs
    )
    other = Vocabulary.build({"good": 3, "film": 2, "dull": 2})
    with pytest.raises(ValueError, match="vocabularies differ"):
        target.encoder.transfer(source.encoder, other, vocab)
    wider = SequenceClassifier(ModelConfig(len(vocab), 2, embed_dim=4, hidden_size=5))
    with pytest.raises(ValueError, match="differ in configuration"):
        wider.encoder.transfer(source.encoder, vocab, vocab)
