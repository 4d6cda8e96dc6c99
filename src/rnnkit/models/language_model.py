"""A recurrent language model on the shared encoder:

    h_t, state   = RNN(E[x_t], state)             state zeroed where x_t is <eod>
    z_t          = P dropout(h_t)                  P: a projection, where one is needed
    p(x_t+1 | .) = softmax(W z_t + b)              W = E (tied), or an adaptive softmax

``<eod>`` ends a document and starts the next, so the state is reset exactly at document
boundaries. A window of a stream is run as its documents' segments: each segment a sequence of
a padded batch with its own length, the first of each row starting from the carried state and
the others from zeros, through the exact variable-length path of ``rnnkit.nn`` (one fused call
for the whole window when it holds no boundary). :meth:`LanguageModelNet.step` is one step of
generation, and the graph ``rnnkit export`` writes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from rnnkit.models.config import LanguageModelConfig
from rnnkit.models.encoder import Encoder
from rnnkit.nn import registry
from rnnkit.nn.base import RecurrentBase
from rnnkit.nn.dropout import dropout, locked_dropout
from rnnkit.text.units import EOD_ID

State = tuple[Tensor, ...]
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]


@dataclass(frozen=True)
class Scored:
    """The loss of a window: ``loss_sum`` (nats, summed over its ``count`` targets),
    ``penalty`` (AR and TAR, already scaled as a sum over targets: the trainer's mean adds
    alpha * mean(h^2) + beta * mean((h_t - h_t-1)^2)), and the state after its last step."""

    loss_sum: Tensor
    count: int
    penalty: Tensor
    state: State


def zero_state(config: LanguageModelConfig, batch: int, like: Tensor) -> State:
    num_states = registry.named(config.cell).num_states
    shape = (config.num_layers, batch, config.hidden_size)
    return tuple(like.new_zeros(shape) for _ in range(num_states))


class Carried(nn.Module):
    """What the trainer runs: ``forward(tokens, targets, fresh) -> (loss sum + penalty,
    count)``, starting from the state the previous window left (detached: truncated
    backpropagation through time), or from zeros where ``fresh`` (the rows' first window)."""

    def __init__(self, net: LanguageModelNet) -> None:
        super().__init__()
        self.net = net
        self.state: State | None = None

    def get_extra_state(self) -> Tensor:
        """The carried state, in the model's state dict, so that a checkpoint taken mid-epoch
        resumes exactly: (states, L, B, H), or empty before the first window."""
        return torch.stack(self.state) if self.state is not None else torch.zeros(0)

    def set_extra_state(self, state: Tensor) -> None:
        self.state = tuple(state.unbind(0)) if state.numel() else None

    def forward(self, tokens: Tensor, targets: Tensor, fresh: Tensor | bool) -> tuple[Tensor, int]:
        state = self.state
        if bool(fresh) or state is None or state[0].shape[1] != tokens.shape[1]:
            state = None
        elif state[0].device != tokens.device:  # resumed from a checkpoint, read on the CPU
            state = tuple(s.to(tokens.device) for s in state)
        scored = self.net.score(tokens, targets, state)
        self.state = tuple(s.detach() for s in scored.state)
        return scored.loss_sum + scored.penalty, scored.count


class LanguageModelNet(nn.Module):
    """``hidden(tokens (T, B), state) -> (h (T, B, output_size), raw (T, B, H), state)``;
    ``logits(h)``; ``score(tokens, targets, state) -> Scored``; ``step(token (B,), state)``."""

    def __init__(self, config: LanguageModelConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = Encoder(config)
        self.projection = (
            nn.Linear(config.hidden_size, config.embed_dim) if config.projected else None
        )
        self.decoder: nn.Linear | None = None  # untied full softmax
        self.output_bias: nn.Parameter | None = None  # tied: W is the embedding
        self.adaptive: nn.AdaptiveLogSoftmaxWithLoss | None = None
        if config.softmax == "adaptive":
            self.adaptive = nn.AdaptiveLogSoftmaxWithLoss(
                config.output_size, config.vocab_size, list(config.clusters), div_value=4.0
            )
        elif config.tie_weights:
            self.output_bias = nn.Parameter(torch.zeros(config.vocab_size))
        else:
            self.decoder = nn.Linear(config.output_size, config.vocab_size)

    @property
    def rnn(self) -> RecurrentBase:
        assert self.encoder.rnn is not None  # the configuration refuses bag
        return self.encoder.rnn

    def zero_state(self, batch: int) -> State:
        return zero_state(self.config, batch, self.encoder.embedding.weight)

    # -- the recurrence, reset at document boundaries ---------------------------------------

    def hidden(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, Tensor, State]:
        """Outputs after dropout and projection (T, B, output_size), the last layer's raw
        outputs (T, B, H) for AR and TAR, and the final state."""
        x = self.encoder.embed(tokens)  # (T, B, E)
        if state is None:
            state = self.zero_state(tokens.shape[1])
        # the input's dtype: a window under bf16 autocast leaves a bfloat16 state behind
        state = tuple(s.to(x.dtype) for s in state)
        raw, final = run_segments(self.rnn, x, state, tokens == EOD_ID)
        config = self.config
        if config.locked_dropout:
            h = locked_dropout(raw, config.dropout, training=self.training)
        else:
            h = dropout(raw, config.dropout, training=self.training)
        if self.projection is not None:
            h = self.projection(h)
        return h, raw, final

    def logits(self, h: Tensor) -> Tensor:
        """Scores over the vocabulary (..., V): logits, or log-probabilities for the adaptive
        softmax (the same thing to softmax and sampling)."""
        if self.adaptive is not None:
            with _float32(h.device.type):
                flat = self.adaptive.log_prob(_wide(h.reshape(-1, h.shape[-1])))
            return flat.reshape(*h.shape[:-1], -1)
        if self.decoder is not None:
            scores: Tensor = self.decoder(h)
            return scores
        return F.linear(h, self.encoder.embedding.weight, self.output_bias)

    def score(self, tokens: Tensor, targets: Tensor, state: State | None = None) -> Scored:
        """The summed negative log-likelihood of ``targets`` (T, B) after ``tokens`` (T, B)."""
        h, raw, final = self.hidden(tokens, state)
        flat_h, flat_y = h.reshape(-1, h.shape[-1]), targets.reshape(-1)
        if self.adaptive is not None:
            with _float32(h.device.type):
                loss_sum = -self.adaptive(_wide(flat_h), flat_y).output.sum()
        else:
            loss_sum = F.cross_entropy(_wide(self.logits(flat_h)), flat_y, reduction="sum")
        count = flat_y.numel()
        penalty = loss_sum.new_zeros(())
        config = self.config
        if self.training and config.activation_reg > 0:
            # AR on the dropped outputs, as in AWD-LSTM
            dropped = h if self.projection is None else raw
            penalty = penalty + config.activation_reg * _wide(dropped).pow(2).mean(-1).sum()
        if self.training and config.temporal_reg > 0 and tokens.shape[0] > 1:
            change = _wide(raw[1:] - raw[:-1]).pow(2).mean(-1)  # (T - 1, B)
            same_document = tokens[1:] != EOD_ID
            penalty = penalty + config.temporal_reg * (change * same_document).sum() * (
                count / max(change.numel(), 1)
            )
        return Scored(loss_sum, count, penalty, final)

    def step(self, token: Tensor, state: State) -> tuple[Tensor, State]:
        """One step of generation: ``token`` (B,) -> scores (B, V) and the next state. In
        evaluation, what ``hidden`` does for one step without its segments: the state zeroed
        where the token is <eod>, one call of the stack."""
        if self.training:
            h, _, final = self.hidden(token[None], state)
            return self.logits(h[0]), final
        return self.stepper()(token, state)

    def stepper(self) -> StepFn:
        """The evaluation ``step`` with its modules and weights looked up once, for the loop
        that generates text (a few microseconds of lookups per token are a tenth of its
        time for a model of hidden size 512)."""
        if self.training:
            raise RuntimeError("LanguageModelNet.stepper runs in evaluation: call eval()")
        embedding, rnn_step = self.encoder.embedding.weight, self.rnn.stepper()
        projection, logits = self.projection, self.logits

        def step(token: Tensor, state: State) -> tuple[Tensor, State]:
            reset = token == EOD_ID
            if bool(reset.any()):  # rare when sampling: skip the masking otherwise
                keep = (~reset)[None, :, None].to(state[0].dtype)
                state = tuple(s * keep for s in state)
            out, final = rnn_step(F.embedding(token, embedding), state)
            return logits(out if projection is None else projection(out)), final

        return step

    def forward(self, tokens: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """Scores over the vocabulary at every step (T, B, V), and the final state."""
        h, _, final = self.hidden(tokens, state)
        return self.logits(h), final


def run_segments(rnn: nn.Module, x: Tensor, state: State, reset: Tensor) -> tuple[Tensor, State]:
    """Run ``rnn`` over ``x`` (T, B, I) from ``state`` (each (L, B, H)), zeroing the state
    before each step where ``reset`` (T, B) is true: the window is cut into segments at the
    resets, and the segments run as one batch of variable-length sequences."""
    total, rows = reset.shape
    if not bool(reset.any()):
        return _call(rnn, x, state, None)
    starts = reset.clone()
    starts[0] = True
    seg_row, seg_start = starts.t().nonzero(as_tuple=True)  # ordered by row, then time
    following = torch.cat([seg_start[1:], seg_start.new_tensor([0])])
    same_row = torch.cat(
        [seg_row[1:] == seg_row[:-1], seg_row.new_tensor([False], dtype=torch.bool)]
    )
    seg_end = torch.where(same_row, following, torch.full_like(seg_start, total))
    lengths = seg_end - seg_start
    longest = int(lengths.max())
    steps = torch.arange(longest, device=x.device)
    time = seg_start[None] + steps[:, None]  # (T', S)
    valid = steps[:, None] < lengths[None]
    time = torch.where(valid, time, 0)
    row = seg_row[None].expand_as(time)
    inputs = x[time, row]  # (T', S, I)
    carried = (seg_start == 0) & ~reset[0, seg_row]  # first segments not reset at once
    hx = tuple(torch.where(carried[None, :, None], s[:, seg_row], 0.0) for s in state)
    outputs, finals = _call(rnn, inputs, hx, lengths)
    out = x.new_zeros((total, rows, outputs.shape[-1]))
    out = out.index_put((time[valid], row[valid]), outputs[valid].to(out.dtype))
    last = ~same_row  # each row's last segment, in row order
    return out, tuple(f[:, last] for f in finals)


def _float32(device_type: str) -> torch.autocast:
    """No autocast inside: the adaptive softmax writes its clusters' bf16 log-probabilities
    into a float32 output (``index_copy_`` refuses the mix), and its log-sum-exp is safer in
    float32 anyway."""
    return torch.autocast(device_type, enabled=False)


def _wide(x: Tensor) -> Tensor:
    """float32 for the half-precision outputs of autocast; float32 and float64 as they are."""
    return x.float() if x.dtype in (torch.bfloat16, torch.float16) else x


def _call(rnn: nn.Module, x: Tensor, state: State, lengths: Tensor | None) -> tuple[Tensor, State]:
    hx = state if len(state) > 1 else state[0]
    outputs, final = rnn(x, hx, lengths=lengths)
    return outputs, final if isinstance(final, tuple) else (final,)
