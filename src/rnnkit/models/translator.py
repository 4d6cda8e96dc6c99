"""An encoder-decoder with attention on the shared encoder (Luong et al., 2015):

    m, (h_S, c_S) = Encoder(x)                        bidirectional, exact per source length
    s_0           = tanh(W_b [h_S fwd; h_S bwd])      per layer (c_0 = W_c' [c_S fwd; c_S bwd])
    s_t           = RNN([F[y_t-1]; h~_t-1], s_t-1)    input feeding: h~_0 = 0
    a_t, c_t      = Attention(s_t, m)                 masked at source padding
    h~_t          = tanh(W_c [c_t; s_t])              the attentional vector
    p(y_t | .)    = softmax(F P dropout(h~_t) + b)    tied to the target embedding F

``y_0`` is ``<eod>``, which also ends every target: one token starts and stops a sentence.
Training runs the decoder over the whole target at once (teacher forcing); without input
feeding the decoder's recurrence is one fused call over all steps. :meth:`TranslatorNet.step`
is one step of decoding, which greedy and beam search
(:mod:`rnnkit.tasks.translation.decoding`) and the ONNX graph run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.attention import Attention, Memory
from rnnkit.models.config import TranslatorConfig
from rnnkit.models.encoder import Encoder
from rnnkit.nn.base import RecurrentBase
from rnnkit.nn.dropout import dropout
from rnnkit.nn.layers import layer
from rnnkit.nn.masking import length_mask

State = tuple[Tensor, ...]


@dataclass(frozen=True)
class DecoderState:
    """The decoder between steps: its recurrent ``hidden`` states (each (L, B, D)) and
    ``feed``, the last attentional vector h~ (B, D), zeros before the first step."""

    hidden: State
    feed: Tensor

    def select(self, rows: Tensor) -> DecoderState:
        """The states of the hypotheses ``rows`` (beam search keeps some, repeats others)."""
        return DecoderState(tuple(s[:, rows] for s in self.hidden), self.feed[rows])


@dataclass(frozen=True)
class Search:
    """What a search carries from step to step: the decoder's state and the memory of each
    row's sentence (:mod:`rnnkit.tasks.translation.decoding` selects rows of both), and which
    sentence each row holds (None: row i holds sentence i)."""

    decoder: DecoderState
    memory: Memory
    sentences: Tensor | None = None

    def select(self, rows: Tensor) -> Search:
        """The rows ``rows``. A beam search mostly reorders the hypotheses of each sentence
        among its own rows: the memory, the same for all of them, is then left as it is (its
        copy was a tenth of a beam search's time)."""
        rows = rows.to(self.decoder.feed.device)  # the search keeps its indices on the CPU
        sentences = self.sentences
        if sentences is None:
            sentences = torch.arange(self.memory.mask.shape[0], device=rows.device)
        chosen = sentences[rows]
        same = chosen.shape == sentences.shape and bool(torch.equal(chosen, sentences))
        memory = self.memory if same else self.memory.select(rows)
        return Search(self.decoder.select(rows), memory, chosen)


@dataclass(frozen=True)
class Decoded:
    """Teacher-forced decoding: ``scores`` (T, B, V) over the target vocabulary (logits),
    ``weights`` (B, T, S) the attention of each target step over the source."""

    scores: Tensor
    weights: Tensor


class TranslatorNet(nn.Module):
    """``forward(source (S, B), lengths (B,), target_in (T, B)) -> scores (T, B, V)``;
    ``encode``, ``start``, ``step`` and ``decode`` for the parts."""

    def __init__(self, config: TranslatorConfig) -> None:
        super().__init__()
        self.config = config
        D, E, V = config.decoder_size, config.embed_dim, config.target_vocab_size
        self.encoder = Encoder(config)
        self.target_embedding = nn.Embedding(V, E, padding_idx=0)
        self.bridge = nn.ModuleList(nn.Linear(D, D) for _ in range(config.num_states))
        options: dict[str, Any] = {"num_layers": config.num_layers}
        if config.num_layers > 1:
            options["dropout"] = config.dropout
        if config.weight_dropout > 0:
            options["weight_dropout"] = config.weight_dropout
        width = E + (D if config.input_feeding else 0)
        self.decoder: RecurrentBase = layer(config.cell)(width, D, **options)
        self.attention = Attention(config.attention, D)
        self.combine = nn.Linear(2 * D, D, bias=False)
        self.projection = nn.Linear(D, E) if config.tie_weights and D != E else None
        self.output_bias: nn.Parameter | None = None
        self.output: nn.Linear | None = None
        if config.tie_weights:
            self.output_bias = nn.Parameter(torch.zeros(V))
        else:
            self.output = nn.Linear(D, V)

    # -- the encoder -----------------------------------------------------------------------

    def encode(self, source: Tensor, lengths: Tensor) -> tuple[Memory, DecoderState]:
        """The memory the decoder attends to, and its first state."""
        encoded = self.encoder(source, lengths)
        values = encoded.outputs.transpose(0, 1)  # (B, S, D)
        mask = length_mask(lengths.to(values.device), values.shape[1]).t()  # (B, S)
        return self.attention.memory(values, mask), self.start(encoded.state)

    def start(self, final: State) -> DecoderState:
        """s_0 from the encoder's final states: both directions of each layer side by side,
        through the bridge (tanh for h, linear for an LSTM's c)."""
        config = self.config
        directions, hidden = config.num_directions, []
        for number, (state, bridge) in enumerate(zip(final, self.bridge, strict=True)):
            layers, batch, size = state.shape
            joined = state.view(layers // directions, directions, batch, size)
            joined = joined.permute(0, 2, 1, 3).reshape(layers // directions, batch, -1)
            made = bridge(joined)
            hidden.append(torch.tanh(made) if number == 0 else made)
        feed = hidden[0].new_zeros(hidden[0].shape[1:])
        return DecoderState(tuple(hidden), feed)

    # -- the decoder -----------------------------------------------------------------------

    def scores(self, attentional: Tensor) -> Tensor:
        """Logits over the target vocabulary (..., V) of the attentional vectors (..., D)."""
        z = dropout(attentional, self.config.dropout, training=self.training)
        if self.output is not None:
            logits: Tensor = self.output(z)
            return logits
        if self.projection is not None:
            z = self.projection(z)
        return F.linear(z, self.target_embedding.weight, self.output_bias)

    def attend(self, s: Tensor, memory: Memory) -> tuple[Tensor, Tensor]:
        """h~ = tanh(W_c [c; s]) and the weights a, for decoder outputs ``s`` (B, T, D)."""
        context, weights = self.attention(s, memory)
        return torch.tanh(self.combine(torch.cat([context, s], dim=-1))), weights

    def decode(self, memory: Memory, state: DecoderState, target_in: Tensor) -> Decoded:
        """Teacher forcing: the scores of every step of ``target_in`` (T, B), each step reading
        the true previous token."""
        embedded = dropout(
            self.target_embedding(target_in), self.config.dropout, training=self.training
        )  # (T, B, E)
        if not self.config.input_feeding:  # the recurrence does not wait for attention
            s, _ = self.decoder(embedded, _hx(_like(state.hidden, embedded)))  # (T, B, D)
            attentional, weights = self.attend(s.transpose(0, 1), memory)  # (B, T, D)
            return Decoded(self.scores(attentional).transpose(0, 1), weights)
        step = self.decoder.stepper()
        hidden, feed = _like(state.hidden, embedded), state.feed
        outputs, all_weights = [], []
        for x in embedded:  # (B, E) per step
            s, hidden = step(torch.cat([x, feed.to(x.dtype)], dim=-1), hidden)
            attentional, weights = self.attend(s[:, None], memory)
            feed = attentional[:, 0]
            outputs.append(feed)
            all_weights.append(weights)
        scores = self.scores(torch.stack(outputs))  # (T, B, V)
        return Decoded(scores, torch.cat(all_weights, dim=1))

    def step(
        self, token: Tensor, state: DecoderState, memory: Memory
    ) -> tuple[Tensor, DecoderState, Tensor]:
        """One step of decoding: the previous tokens (B,) -> log-probabilities of the next
        (B, V), the next state, and the attention weights (B, S)."""
        x = self.target_embedding(token)
        if self.config.input_feeding:
            x = torch.cat([x, state.feed.to(x.dtype)], dim=-1)
        s, hidden = self.decoder.stepper()(x, _like(state.hidden, x))
        attentional, weights = self.attend(s[:, None], memory)
        feed = attentional[:, 0]
        log_probs = torch.log_softmax(self.scores(feed).float(), dim=-1)
        return log_probs, DecoderState(hidden, feed), weights[:, 0]

    def start_search(self, source: Tensor, lengths: Tensor) -> Search:
        """The search's start for a batch of sources (S, B) of ``lengths`` (B,), moved to the
        network's device."""
        device = next(self.parameters()).device
        memory, state = self.encode(source.to(device), lengths.to(device))
        return Search(state, memory)

    def search_step(self, tokens: Tensor, search: Search) -> tuple[Tensor, Search]:
        """``step`` as :mod:`rnnkit.tasks.translation.decoding` calls it: tokens and
        log-probabilities on the CPU, where the search picks its candidates; the state on the
        network's device."""
        tokens = tokens.to(search.decoder.feed.device)
        log_probs, state, _ = self.step(tokens, search.decoder, search.memory)
        return log_probs.cpu(), Search(state, search.memory, search.sentences)

    def forward(self, source: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        memory, state = self.encode(source, lengths)
        return self.decode(memory, state, target_in).scores

    def layer_groups(self) -> list[list[Tensor]]:
        """One group: a translator trains all its layers at one rate."""
        return [list(self.parameters())]


def _like(hidden: State, x: Tensor) -> State:
    """The states in the dtype of the decoder's input (under bf16 autocast the bridge makes
    bfloat16 states, while the embeddings stay float32)."""
    return tuple(h.to(x.dtype) for h in hidden)


def _hx(hidden: State) -> Tensor | State:
    return hidden[0] if len(hidden) == 1 else hidden
