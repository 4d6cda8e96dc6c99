"""Sampling from a language model, one token at a time, and the streaming state it keeps.

    p = softmax(scores / T)                    temperature T; T = 0 is the most likely token
    top-k: keep the k most likely tokens; top-p: keep the smallest set of most likely tokens
    whose probabilities sum to at least p; then renormalize and draw.

A :class:`Generation` holds the recurrent state and the scores of the next token, nothing
else, so that each generated token costs the same time and memory however many came before
(what a recurrent model has over attention, whose cache grows with the text).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from rnnkit.errors import ConfigError, field_error
from rnnkit.text.unicode import check_unicode
from rnnkit.text.units import EOD_ID

State = tuple[Tensor, ...]
StepFn = Callable[[Tensor, State], tuple[Tensor, State]]  # (tokens (B,), state) -> scores


def check_sampling(temperature: object, top_k: object = None, top_p: object = None) -> None:
    """``ConfigError`` (its field the option) for a temperature that is not a number of 0 or
    more, a ``top_k`` that is not a whole number of at least 1 or a ``top_p`` outside (0, 1]."""
    if not _number(temperature):
        raise ConfigError(
            f"temperature must be a number, 0 (greedy) or more, got {temperature!r}",
            field="temperature",
        )
    if not 0.0 <= temperature < math.inf:  # type: ignore[operator]
        finite = ", and finite" if temperature >= 0 else ""  # type: ignore[operator]
        raise ConfigError(
            f"temperature must be 0 (greedy) or more{finite}, got {temperature!r}",
            field="temperature",
        )
    if top_k is not None and (isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral)):
        raise ConfigError(f"top_k must be a whole number, got {top_k!r}", field="top_k")
    if top_k is not None and top_k < 1:
        raise ConfigError(f"top_k must be at least 1, got {top_k}", field="top_k")
    if top_p is not None and (not _number(top_p) or not 0.0 < top_p <= 1.0):  # type: ignore[operator]
        raise ConfigError(f"top_p must be in (0, 1], got {top_p!r}", field="top_p")


def _number(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


SEEDS = 2**64  # a generation's seed is in [0, 2**64), what torch.Generator takes


def check_seed(seed: object, samples: int = 1) -> None:
    """``ConfigError`` (its field ``seed``) unless ``seed`` is None or a whole number in
    [0, 2**64) that leaves room for ``samples`` seeds (sample i draws with seed + i)."""
    if seed is None:
        return
    whole = isinstance(seed, numbers.Integral) and not isinstance(seed, bool)
    if not whole or not 0 <= int(seed) <= SEEDS - samples:  # type: ignore[call-overload]
        room = f" (with {samples} samples, seed + {samples - 1} too)" if samples > 1 else ""
        raise ConfigError(
            f"seed must be a whole number in [0, 2**64){room}, got {seed!r}", field="seed"
        )


def check_stop(stop: object) -> None:
    """``ConfigError`` (its field ``stop``) unless ``stop`` is None or a non-empty text: an
    empty one would be found at once, ending every sample before its first token."""
    if stop is not None and (not isinstance(stop, str) or not stop):
        raise ConfigError(
            f"stop must be a non-empty text (a sample ends once it contains it), got {stop!r}; "
            "leave it out to end samples at the end of a document or at the token limit",
            field="stop",
        )
    if stop is not None:
        check_unicode(stop, "stop", field="stop")


def filtered(scores: Tensor, top_k: int | None = None, top_p: float | None = None) -> Tensor:
    """``scores`` (..., V) with every token outside the top-k and the top-p set at -inf."""
    scores = scores.clone()
    if top_k is not None and top_k < scores.shape[-1]:
        keep = torch.zeros_like(scores, dtype=torch.bool)
        keep.scatter_(-1, torch.topk(scores, top_k, dim=-1).indices, True)  # exactly k
        scores = scores.masked_fill(~keep, -math.inf)
    if top_p is not None and top_p < 1.0:
        ordered, order = torch.sort(scores, dim=-1, descending=True)
        probs = torch.softmax(ordered, dim=-1)
        before = torch.cumsum(probs, dim=-1) - probs  # mass of the tokens ranked above
        drop = before >= top_p  # the first token is always kept
        scores.scatter_(-1, order, ordered.masked_fill(drop, -math.inf))
    return scores


def probabilities(
    scores: Tensor, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
) -> Tensor:
    """The distribution tokens are drawn from (..., V); temperature 0: all mass on the argmax.
    A temperature so small that ``scores / T`` overflows (1e-300 is 0 in float32) is the limit
    it tends to: greedy."""
    # a new tensor, so that the caller's scores stay as they are (few operations: this runs
    # once per generated token)
    scaled = scores.float().clone() if temperature == 0 else scores.float() / temperature
    scaled[..., :EOD_ID] = -math.inf  # padding and unknown are never written; <eod> ends a text
    if temperature == 0:
        best = scaled.argmax(-1, keepdim=True)
        return torch.zeros_like(scaled).scatter_(-1, best, 1.0)
    overflowed = ~torch.isfinite(scaled.amax(-1, keepdim=True))  # rows without a finite max
    if bool(overflowed.any()):
        greedy = probabilities(scores, 0.0)
        scaled = torch.where(overflowed, greedy, scaled)  # finite, then replaced below
    if top_k is not None or top_p is not None:
        scaled = filtered(scaled, top_k, top_p)
    probs = torch.softmax(scaled, dim=-1)
    return torch.where(overflowed, greedy, probs) if bool(overflowed.any()) else probs


def sample(
    scores: Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """One token id per row of ``scores`` (B, V) -> (B,)."""
    if temperature == 0:
        return probabilities(scores, 0.0).argmax(-1)
    probs = probabilities(scores, temperature, top_k, top_p)
    # the exponential race: with E_v ~ Exp(1), argmax_v p_v / E_v is drawn from p. It is what
    # torch.multinomial does for one draw (the same tokens for a seed), in fewer operations.
    race = torch.empty_like(probs).exponential_(generator=generator)
    return (probs / race).argmax(-1)


class Generation:
    """The state of ``B`` texts being generated: ``next_probs()``, ``feed(tokens)``,
    ``sample(...)`` (draw and feed). ``step`` runs the model one token further."""

    def __init__(self, step: StepFn, state: State, scores: Tensor) -> None:
        self._step, self.state, self.scores = step, state, scores  # scores (B, V)

    @property
    def batch_size(self) -> int:
        return int(self.scores.shape[0])

    def next_probs(
        self, temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None
    ) -> Tensor:
        """The distribution of each text's next token (B, V)."""
        check_sampling(temperature, top_k, top_p)
        return probabilities(self.scores, temperature, top_k, top_p)

    @torch.no_grad()
    def feed(self, tokens: Tensor | int) -> None:
        """Append one token to each text (an id, or a (B,) tensor of ids)."""
        if isinstance(tokens, int):
            tokens = torch.full((self.batch_size,), tokens, dtype=torch.long)
        self.scores, self.state = self._step(tokens.long(), self.state)

    def sample(
        self,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Draw each text's next token (B,), feed it, and return it."""
        check_sampling(temperature, top_k, top_p)
        tokens = sample(self.scores, temperature, top_k, top_p, generator)
        self.feed(tokens)
        return tokens


@dataclass(frozen=True)
class Sampling:
    """How each next token is drawn (see :mod:`rnnkit.tasks.language_model.generation`)."""

    temperature: float = 1.0
    top_k: int | None = None
    top_p: float | None = None

    def __post_init__(self) -> None:
        check_sampling(self.temperature, self.top_k, self.top_p)


def check_request(*, max_tokens: object, seed: object, samples: object, stop: object) -> None:
    """``ConfigError`` naming the first of a generation's arguments of the wrong type or out
    of its range (``samples``: ``num_samples``, the streams side by side)."""
    for name, value in (("max_tokens", max_tokens), ("num_samples", samples)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise field_error(name, "a whole number", repr(value))
        if value < 1:
            raise field_error(name, "at least 1", value)
    check_seed(seed, int(samples))  # type: ignore[call-overload]
    check_stop(stop)


def check_prompt(prompt: object) -> None:
    """``ConfigError`` unless ``prompt`` is a text of valid Unicode."""
    if not isinstance(prompt, str):
        raise ConfigError(
            f"prompt must be a text (str), got {type(prompt).__name__} {prompt!r:.40}",
            field="prompt",
        )
    check_unicode(prompt, "prompt", field="prompt")
