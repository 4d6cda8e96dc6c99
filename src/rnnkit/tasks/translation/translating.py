"""What a translator does once fitted: translate. ``Translating`` holds the verbs
(``translate``, ``translations``, ``evaluate``, ``attention_of``) on the torch network or on
the ONNX Runtime graphs of its export; the searches themselves are
:mod:`rnnkit.tasks.translation.decoding`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from rnnkit.errors import field_error
from rnnkit.models.config import EXTRA_TOKENS, SearchConfig
from rnnkit.models.translator import TranslatorNet
from rnnkit.tasks.estimator import TaskEstimator
from rnnkit.tasks.translation.decoding import Searcher, check_beam, search_batches
from rnnkit.tasks.translation.options import BACKENDS, scores
from rnnkit.text.kinds import PairUnits
from rnnkit.text.units import EOD_ID
from rnnkit.text.vocab import Vocabulary
from rnnkit.train.device import model_device
from rnnkit.train.precision import autocast
from rnnkit.validation import check_pairs, check_texts

log = logging.getLogger(__name__)

DECODE_BATCH = 64  # sentences decoded side by side


@dataclass(frozen=True)
class Translated:
    """One sentence's translation: the text, its token ids and their log-probability (the
    end of the sentence included)."""

    text: str
    tokens: list[int]
    log_prob: float


class Translating(TaskEstimator):
    """A translator's searches: a subclass fits ``model_`` and ``units_``."""

    model_: TranslatorNet
    units_: PairUnits

    def search_config(self) -> SearchConfig:
        config: SearchConfig = self.section("decoding")
        return config

    def _decoding(
        self, beam: int | None = None, length_penalty: float | None = None
    ) -> tuple[int, float, float]:
        """The search's settings: the estimator's, or ``beam`` and ``length_penalty``."""
        with self.in_params():
            config = self.search_config()
        beam = config.beam if beam is None else beam
        alpha = config.length_penalty if length_penalty is None else length_penalty
        check_beam(beam, alpha)
        return beam, alpha, config.max_ratio

    # -- translating -----------------------------------------------------------------------

    def translate(
        self,
        texts: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> list[str]:
        """The translation of each text, in order (``beam`` and ``length_penalty`` default
        to the estimator's). ``backend="onnx"`` runs the graphs ``rnnkit export`` wrote into
        the folder the model was loaded from or saved to, in ONNX Runtime."""
        found = self.translations(texts, beam=beam, length_penalty=length_penalty, backend=backend)
        return [t.text for t in found]

    def translations(
        self,
        texts: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> list[Translated]:
        """``translate`` with each output's token ids and log-probability."""
        self._check_fitted()
        texts = check_texts(texts, "texts")
        beam, alpha, _ = self._decoding(beam, length_penalty)
        return self._search(texts, beam=beam, length_penalty=alpha, backend=backend)

    @torch.no_grad()
    def _search(
        self, texts: list[str], *, beam: int, length_penalty: float, backend: str = "torch"
    ) -> list[Translated]:
        """Each text's best output; a text with no token (empty, white space) translates to
        the empty text."""
        self.on_device(self.model_).eval()
        searcher, units = self._searcher(backend), self.units_
        encoded = units.source.encode_batch(texts)
        kept = [i for i, ids in enumerate(encoded) if ids]
        sources = [encoded[i] for i in kept]
        self._warn_long(sources)
        limits = [int(self.max_ratio * len(s)) + EXTRA_TOKENS for s in sources]
        with autocast(self.precision, model_device(self.model_)):
            found = search_batches(
                searcher,
                sources,
                limits,
                beam=beam,
                length_penalty=length_penalty,
                start=EOD_ID,
                end=EOD_ID,
                batch_size=DECODE_BATCH,
            )
        translated = [Translated("", [], 0.0)] * len(texts)
        for i, hypothesis in zip(kept, found, strict=True):
            text = units.target.decode(hypothesis.tokens)
            translated[i] = Translated(text, hypothesis.tokens, hypothesis.log_prob)
        return translated

    def _searcher(self, backend: str) -> Searcher:
        """What encodes and steps: the network, or its exported graphs in ONNX Runtime."""
        if backend not in BACKENDS:
            raise field_error("backend", " or ".join(BACKENDS), repr(backend))
        if backend == "torch":
            return self.model_
        from rnnkit.tasks.translation.runtime import OnnxTranslator  # the onnx extra

        folder = self._exported("translate")
        key = (Path(folder), id(self.model_))  # the graphs are checked once per model and folder
        cached = getattr(self, "_onnx_searcher", None)
        if cached is None or cached[0] != key:
            searcher: Searcher = OnnxTranslator(folder, self.model_, threads=self.threads or 0)
            self._onnx_searcher = cached = (key, searcher)
        return cached[1]

    def _warn_long(self, sources: list[list[int]]) -> None:
        limit = self.data_config().max_len
        long = [i for i, s in enumerate(sources) if len(s) > limit]
        if long:
            log.warning(
                "%d sentence%s longer than max_len, the %d tokens the model was trained on "
                "at most (sentence %d has %d); translated whole, likely less well",
                len(long),
                "s are" if len(long) > 1 else " is",
                limit,
                long[0] + 1,
                len(sources[long[0]]),
            )

    @torch.no_grad()
    def attention_of(self, text: str, translation: Translated) -> tuple[list[str], list[str], Any]:
        """The source pieces, the output pieces (and the end) and the attention weights
        (outputs + 1, source) the decoder used for ``translation`` of ``text``."""
        self._check_fitted()
        net, units = self.on_device(self.model_).eval(), self.units_
        device = model_device(net)
        ids = units.source.encode(text) or [Vocabulary.unk_id]
        tokens = torch.tensor(ids, device=device)[:, None]
        memory, state = net.encode(tokens, torch.tensor([len(ids)], device=device))
        target_in = torch.tensor([EOD_ID, *translation.tokens], device=device)[:, None]
        weights = net.decode(memory, state, target_in).weights[0].cpu()  # (T, S)
        pieces = [units.source.decode([i]) or units.source.tokens[i] for i in ids]
        outputs = [units.target.decode([i]) for i in translation.tokens] + ["</s>"]
        return pieces, outputs, weights.float().numpy()

    def evaluate(
        self,
        source: Sequence[str],
        references: Sequence[str],
        *,
        beam: int | None = None,
        length_penalty: float | None = None,
        backend: str = "torch",
    ) -> dict[str, Any]:
        """sacreBLEU's BLEU, lower-cased BLEU and chrF of the translations of ``source``
        against ``references`` (one each), with their signatures."""
        source, references = check_pairs(source, references, "source", "references")
        found = self.translate(source, beam=beam, length_penalty=length_penalty, backend=backend)
        beam, alpha, _ = self._decoding(beam, length_penalty)
        return {**scores(found, references), "beam": beam, "length_penalty": alpha}
