"""What a language model does once fitted besides scoring text: generate it. ``Generating``
holds the verbs (``start``, ``stream``, ``generate``) on the torch network or on the ONNX
Runtime step of its exported graph; sampling itself is in
:mod:`rnnkit.tasks.language_model.generation`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import torch

from rnnkit.errors import ConfigError, field_error
from rnnkit.models.language_model import LanguageModelNet, State
from rnnkit.tasks.estimator import TaskEstimator
from rnnkit.tasks.language_model import ONNX_FILE
from rnnkit.tasks.language_model.generation import (
    Generation,
    Sampling,
    StepFn,
    check_prompt,
    check_request,
)
from rnnkit.text.units import EOD_ID, Units
from rnnkit.train.device import model_device
from rnnkit.train.precision import autocast

log = logging.getLogger(__name__)

BACKENDS = ("torch", "onnx")  # onnx: the graph rnnkit export wrote into the model's folder


class Generating(TaskEstimator):
    """A language model's generation: a subclass fits ``model_`` and ``units_``."""

    model_: LanguageModelNet
    units_: Units

    def _warn_unknown(self, what: str, texts: Sequence[str], then: str) -> list[str]:
        """Warn that ``what`` (the prompt, the text) has tokens the vocabulary lacks, naming
        the first ten, and ``then`` what became of them; the tokens found, none if none."""
        unknown: dict[str, None] = {}
        for text in texts:
            unknown.update(dict.fromkeys(self.units_.unknown(text)))
            if len(unknown) > 10:
                break
        if unknown:
            shown = ", ".join(repr(t) for t in list(unknown)[:10])
            more = ", ..." if len(unknown) > 10 else ""
            unit = {"char": "character", "word": "word"}.get(self.units_.name, "token")
            log.warning(
                "%s has %s %s%s the model never saw (%s%s)%s",
                what,
                f"{len(unknown)}{'+' if len(unknown) > 10 else ''}",
                unit,
                "s" if len(unknown) > 1 else "",
                shown,
                more,
                then,
            )
        return list(unknown)

    # -- generation ------------------------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """``<eod>`` (a document starts) and the prompt's ids; tokens the vocabulary lacks
        become ``<unk>``, with a warning that names them."""
        self.check_generates()
        check_prompt(prompt)
        self._warn_unknown("the prompt", [prompt], "; each reads as <unk>")
        return [EOD_ID, *self.units_.encode(prompt)]

    def check_generates(self) -> None:
        """``ConfigError`` unless this model can generate: it is fitted and reads text
        forwards (a backward model only scores text)."""
        self._check_fitted()
        if self.reverse:
            raise ConfigError(
                "this language model reads text backwards (reverse): it starts the backward "
                "direction of a classifier and scores text, and generates nothing; generate "
                "with a model trained without --reverse",
                field="reverse",
            )

    @torch.no_grad()
    def start(self, prompt: str = "", *, streams: int = 1, backend: str = "torch") -> Generation:
        """The model after reading ``prompt`` (from a document's start), ``streams`` copies
        side by side: ``next_probs()``, ``feed(token)``, ``sample(...)``. ``backend="onnx"``
        runs every step in ONNX Runtime, with the graph ``rnnkit export`` wrote into the
        folder the model was loaded from or saved to."""
        if backend not in BACKENDS:
            raise field_error("backend", " or ".join(BACKENDS), repr(backend))
        ids = torch.tensor(self.prompt_ids(prompt), dtype=torch.long)[:, None]
        net = self.model_.eval()
        if backend == "torch":
            net = self.on_device(net)
        if backend == "onnx":  # the prompt one step at a time, as the graph runs
            step, state = self._onnx_step(), net.zero_state(streams)
            for token in ids[:, 0]:
                scores, state = step(token.expand(streams), state)
            return Generation(step, state, scores)
        device = model_device(net)
        with autocast(self.precision, device):
            scores, state = net(ids.to(device).expand(-1, streams))
        return Generation(self._stepper(net), state, scores[-1].float().cpu())

    def _stepper(self, net: LanguageModelNet) -> StepFn:
        """The step ``Generation.feed`` calls (under no_grad) once per token: tokens in and
        scores out on the CPU (where sampling draws, the same for a seed on any device), the
        state on the model's device."""
        step, device = net.stepper(), model_device(net)
        if self.precision == "fp32" and device.type == "cpu":  # nothing to enter or move
            return step

        def at_precision(tokens: torch.Tensor, state: State) -> tuple[torch.Tensor, State]:
            with autocast(self.precision, device):
                scores, state = step(tokens.to(device), state)
            return scores.float().cpu(), state

        return at_precision

    def _onnx_step(self) -> StepFn:
        from rnnkit.tasks.language_model.runtime import (
            OnnxStep,  # the onnx extra, imported when used
        )

        return OnnxStep(
            self._exported("generate") / ONNX_FILE, self.model_, threads=self.threads or 0
        )

    def stream(
        self,
        prompt: str = "",
        *,
        max_tokens: int = 200,
        sampling: Sampling | None = None,
        seed: int | None = None,
        streams: int = 1,
        stop: str | None = None,
        backend: str = "torch",
    ) -> Iterator[list[str]]:
        """The text each stream adds, token by token: one list (a piece per stream) per step.
        A stream ends at ``<eod>`` or once its text contains ``stop``; the iterator ends when
        all have, or after ``max_tokens``."""
        check_request(max_tokens=max_tokens, seed=seed, samples=streams, stop=stop)
        sampling = sampling or Sampling()
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        state = self.start(prompt, streams=streams, backend=backend)
        decoders = [self.units_.stream_decoder(prompt) for _ in range(streams)]
        texts = [""] * streams
        done = [False] * streams
        for _ in range(max_tokens):
            tokens = state.sample(
                sampling.temperature, sampling.top_k, sampling.top_p, generator
            ).tolist()
            pieces = []
            for i, token in enumerate(tokens):
                piece = ""
                if not done[i]:
                    if token == EOD_ID:
                        done[i] = True
                    else:
                        piece = decoders[i].add(token)
                        if stop and stop in texts[i] + piece:
                            cut = (texts[i] + piece).index(stop) + len(stop)
                            piece = (texts[i] + piece)[len(texts[i]) : cut]
                            done[i] = True
                        texts[i] += piece
                pieces.append(piece)
            yield pieces
            if all(done):
                return

    def generate(
        self,
        prompt: str = "",
        *,
        max_tokens: int = 200,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        seed: int | None = None,
        num_samples: int = 1,
        stop: str | None = None,
        backend: str = "torch",
    ) -> list[str]:
        """``num_samples`` continuations of ``prompt`` (without it); deterministic for a
        ``seed``; ``temperature=0`` is greedy; ``backend`` as in ``start``."""
        self.check_generates()
        check_request(max_tokens=max_tokens, seed=seed, samples=num_samples, stop=stop)
        check_prompt(prompt)
        sampling = Sampling(temperature, top_k, top_p)
        texts = [""] * num_samples
        for pieces in self.stream(
            prompt,
            max_tokens=max_tokens,
            sampling=sampling,
            seed=seed,
            streams=num_samples,
            stop=stop,
            backend=backend,
        ):
            texts = [t + p for t, p in zip(texts, pieces, strict=True)]
        return texts
