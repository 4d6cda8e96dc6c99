"""The sequence classifier: pooling ignores padding, results do not depend on the batch,
pretrained vectors load with their coverage."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import torch

from rnnkit.errors import ConfigError, DataError
from rnnkit.models import ModelConfig, Pooling, SequenceClassifier
from rnnkit.models.vectors import load_vectors
from rnnkit.text.vocab import Vocabulary


def test_pooling_equals_per_sequence_computation() -> None:
    torch.manual_seed(0)
    outputs = torch.randn(5, 3, 4, dtype=torch.float64)
    lengths = torch.tensor([5, 2, 3])
    for b, n in enumerate(lengths.tolist()):
        outputs[n:, b] = 0.0  # as the encoder returns them
    h_n = torch.randn(2, 3, 2, dtype=torch.float64)
    pooling = Pooling(("last", "mean", "max", "attention"), 4, 2).double()
    pooled = pooling(outputs, h_n, lengths)
    assert pooled.shape == (3, 16)
    for b, n in enumerate(lengths.tolist()):
        real = outputs[:n, b]
        torch.testing.assert_close(pooled[b, :4], torch.cat([h_n[0, b], h_n[1, b]]))
        torch.testing.assert_close(pooled[b, 4:8], real.mean(0))
        torch.testing.assert_close(pooled[b, 8:12], real.amax(0))
        scores = pooling.query(torch.tanh(pooling.attention(real))).squeeze(-1)
        torch.testing.assert_close(
            pooled[b, 12:], (torch.softmax(scores, 0)[:, None] * real).sum(0)
        )


def test_max_pooling_ignores_padding_even_when_outputs_are_negative() -> None:
    outputs = torch.full((4, 1, 2), -3.0)
    outputs[2:] = 0.0  # padding is zero, larger than every real value
    pooled = Pooling(("max",), 2, 1)(outputs, torch.zeros(1, 1, 2), torch.tensor([2]))
    assert pooled.tolist() == [[-3.0, -3.0]]


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_logits_of_a_text_do_not_depend_on_its_batch(cell: str) -> None:
    torch.manual_seed(0)
    config = ModelConfig(
        50,
        3,
        cell=cell,
        embed_dim=8,
        hidden_size=6,
        num_layers=2,
        pooling=("last", "mean", "max", "attention"),
    )
    model = SequenceClassifier(config).double().eval()
    text = torch.tensor([[5], [7], [9]])
    batch = torch.tensor([[5, 3, 1], [7, 4, 2], [9, 0, 8], [0, 0, 6]])
    alone = model(text, torch.tensor([3]))
    together = model(batch, torch.tensor([3, 2, 4]))
    torch.testing.assert_close(together[0], alone[0])


def test_frozen_embeddings_get_no_gradient() -> None:
    model = SequenceClassifier(
        ModelConfig(20, 2, embed_dim=4, hidden_size=3, freeze_embeddings=True)
    )
    model(torch.tensor([[1], [2]]), torch.tensor([2])).sum().backward()
    assert model.encoder.embedding.weight.grad is None
    assert model.classifier.weight.grad is not None


def test_model_config_errors_name_the_option() -> None:
    with pytest.raises(
        ConfigError, match="unknown cell 'lstmm': choose one of lstm, gru, rnn, bag"
    ):
        ModelConfig(10, 2, cell="lstmm")
    with pytest.raises(ConfigError, match="unknown pooling avg: choose one or more of last"):
        ModelConfig(10, 2, pooling=("max", "avg"))
    with pytest.raises(ConfigError, match=r"dropout must be in \[0, 1\), got 1.0"):
        ModelConfig(10, 2, dropout=1.0)


def test_vectors_in_glove_and_word2vec_formats_with_coverage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    vocab = Vocabulary.build({"good": 3, "film": 2, "zzz": 1})
    glove = tmp_path / "glove.txt"
    glove.write_text("good 0.1 0.2 0.3\nFilm 1 2 3\nother 4 5 6\n")
    with caplog.at_level(logging.INFO):
        vectors = load_vectors(glove, vocab)
    assert (vectors.dim, vectors.found, vectors.wanted) == (3, 2, 3)
    assert vectors.rows[vocab.index["film"]].tolist() == [1.0, 2.0, 3.0]
    assert "2 of 3 vocabulary words have a vector (66.7% coverage), dimension 3" in caplog.text
    word2vec = tmp_path / "w2v.txt"
    word2vec.write_text("2 2\ngood 1 1\nzzz 2 2\n")
    assert load_vectors(word2vec, vocab).found == 2


def test_vectors_file_errors_name_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_text("good 1 2 3\nfilm 1 2\n")
    with pytest.raises(
        DataError,
        match=r"bad\.txt, line 2: expected 3 numbers after the word, "
        "found 2",
    ):
        load_vectors(bad, Vocabulary.build({"good": 1}))


def _encoder_input(model: SequenceClassifier, tokens: torch.Tensor) -> torch.Tensor:
    seen: list[torch.Tensor] = []
    handle = model.encoder.rnn.register_forward_pre_hook(lambda _, args: seen.append(args[0]))
    model(tokens, torch.full((tokens.shape[1],), tokens.shape[0]))
    handle.remove()
    return seen[0]


def test_embed_dropout_drops_whole_word_types_in_a_batch() -> None:
    torch.manual_seed(0)
    config = ModelConfig(12, 2, embed_dim=5, hidden_size=3, dropout=0.0, embed_dropout=0.5)
    model = SequenceClassifier(config).train()
    tokens = torch.randint(2, 12, (30, 4))
    x = _encoder_input(model, tokens)
    plain = model.encoder.embedding(tokens)
    dropped = (x == 0).all(-1)
    assert dropped.any()
    assert not dropped.all()
    for word in tokens.unique():
        where = tokens == word
        assert dropped[where].all() or not dropped[where].any()  # every occurrence, or none
    torch.testing.assert_close(x[~dropped], 2.0 * plain[~dropped])  # kept, scaled by 1 / (1 - p)
    model.eval()
    torch.testing.assert_close(_encoder_input(model, tokens), plain)


def test_locked_dropout_on_embeddings_keeps_one_mask_per_text() -> None:
    torch.manual_seed(0)
    config = ModelConfig(12, 2, embed_dim=64, hidden_size=3, dropout=0.5, locked_dropout=True)
    model = SequenceClassifier(config).train()
    tokens = torch.full((9, 3), 4)  # one word everywhere: the mask alone varies
    x = _encoder_input(model, tokens)
    assert torch.equal(x, x[:1].expand_as(x))
    assert (x == 0).any()


def test_regularization_options_reach_the_encoder() -> None:
    config = ModelConfig(12, 2, num_layers=2, dropout=0.3, locked_dropout=True, weight_dropout=0.2)
    encoder = SequenceClassifier(config).encoder.rnn
    assert encoder.variational
    assert encoder.weight_dropout == 0.2
    assert encoder.dropout == 0.3
    with pytest.raises(ConfigError, match=r"weight_dropout must be in \[0, 1\), got 1.0"):
        ModelConfig(10, 2, weight_dropout=1.0)
    with pytest.raises(ConfigError, match=r"embed_dropout must be in \[0, 1\), got -0.1"):
        ModelConfig(10, 2, embed_dropout=-0.1)


def test_bag_model_is_blind_to_order_and_padding() -> None:
    torch.manual_seed(0)
    model = SequenceClassifier(ModelConfig(20, 3, cell="bag", embed_dim=6)).double().eval()
    assert model.encoder.rnn is None
    tokens = torch.tensor([[3, 7], [5, 2], [9, 0]])  # (T, B): lengths 3 and 2
    shuffled = torch.tensor([[9, 2], [3, 7], [5, 0]])
    lengths = torch.tensor([3, 2])
    logits = model(tokens, lengths)
    torch.testing.assert_close(model(shuffled, lengths)[0], logits[0])
    expected = model.classifier(model.encoder.embedding(tokens[:3, 0]).mean(0))
    torch.testing.assert_close(logits[0], expected)
    torch.testing.assert_close(model(tokens[:2, 1:], torch.tensor([2]))[0], logits[1])


def test_vectors_come_gzipped_or_zipped(tmp_path: Path) -> None:
    import gzip
    import zipfile

    from rnnkit.models.vectors import vectors_dim

    vocab = Vocabulary.build({"good": 2, "film": 1})
    text = b"good 0.1 0.2 0.3\nfilm 1 2 3\n"
    (tmp_path / "v.txt.gz").write_bytes(gzip.compress(text))
    with zipfile.ZipFile(tmp_path / "one.zip", "w") as zipped:
        zipped.writestr("glove.3d.txt", text)
    with zipfile.ZipFile(tmp_path / "two.zip", "w") as zipped:
        zipped.writestr("glove.3d.txt", text)
        zipped.writestr("glove.2d.txt", b"good 1 2\n")
    for source in ("v.txt.gz", "one.zip", "two.zip#glove.3d.txt"):
        vectors = load_vectors(f"{tmp_path}/{source}", vocab)
        assert vectors.found == 2, source
        assert vectors_dim(f"{tmp_path}/{source}") == 3
    assert load_vectors(f"{tmp_path}/two.zip#glove.2d.txt", vocab).dim == 2
    with pytest.raises(DataError, match=r"two\.zip#NAME \(it holds glove\.3d\.txt, glove\.2d"):
        load_vectors(tmp_path / "two.zip", vocab)
    (tmp_path / "bad.zip").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable zip file"):
        load_vectors(tmp_path / "bad.zip", vocab)


def test_vectors_vocab_adds_the_first_words_the_training_texts_lack(tmp_path: Path) -> None:
    from rnnkit.models.vectors import vector_words

    vocab = Vocabulary.build({"good": 3, "film": 1}, min_freq=2)
    glove = tmp_path / "glove.txt"
    glove.write_text("good 1 1\nfilm 2 2\nbad 3 3\nfun 4 4\n")
    extended = vector_words(glove, vocab, 2)
    assert extended.tokens == [*vocab.tokens, "film", "bad"]
    word2vec = tmp_path / "w2v.txt"
    word2vec.write_text("3 2\ngood 1 1\nfun 2 2\nbad 3 3\n")
    assert vector_words(word2vec, vocab, 5).tokens == [*vocab.tokens, "fun", "bad"]


def test_a_word_only_the_vectors_know_keeps_its_vector_in_the_model(tmp_path: Path) -> None:
    from rnnkit import TextClassifier

    glove = tmp_path / "glove.txt"
    glove.write_text("good 1 0\nbad 0 1\nsplendid 0.5 0.25\n")
    clf = TextClassifier(
        vectors=str(glove), epochs=1, freeze_embeddings=True, hidden=4,
        valid_split=0.0, verbose=False,
    )  # fmt: skip
    clf.fit(["good film", "bad film", "good", "bad"], [1, 0, 1, 0])
    row = clf.model_.encoder.embedding.weight[clf.vocab_.index["splendid"]]
    assert row.tolist() == [0.5, 0.25]
    assert (
        "splendid"
        not in TextClassifier(
            vectors=str(glove), vectors_vocab=0, epochs=1, hidden=4, valid_split=0.0, verbose=False
        )
        .fit(["good film", "bad film"], [1, 0])
        .vocab_.index
    )
