"""A translator's exported graphs in ONNX Runtime (``OnnxTranslator``): the ``Searcher`` that
greedy and beam search (:mod:`rnnkit.tasks.translation.decoding`) run on with ``backend="onnx"``.

The encoder graph starts a search, the decoder graph takes its steps
(:mod:`rnnkit.tasks.translation.export`); what passes between them is the same ``Search`` of torch
tensors that ``TranslatorNet`` passes, so the searches select its rows unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rnnkit.errors import BundleError, ConfigError
from rnnkit.export.graph import session
from rnnkit.models.attention import Memory
from rnnkit.models.translator import DecoderState, Search
from rnnkit.tasks.translation import ONNX_FILES
from rnnkit.tasks.translation.options import NAME

if TYPE_CHECKING:
    from rnnkit.models.translator import TranslatorNet

GRAPHS = ("encoder", "decoder")  # the metadata's name of each of ONNX_FILES


def _numpy(tensor: torch.Tensor, dtype: type) -> np.ndarray:
    return np.ascontiguousarray(tensor.detach().cpu().numpy().astype(dtype, copy=False))


class GraphSearcher:
    """``start_search`` and ``search_step`` computed by two ONNX Runtime sessions, the
    ``encoder`` and the ``decoder`` step graph. Tensors in and out are torch's, on the CPU,
    float32 (the mask bool)."""

    def __init__(self, encoder: Any, decoder: Any) -> None:
        self.encoder, self.decoder = encoder, decoder
        self.states = [i.name for i in decoder.get_inputs() if i.name in ("h", "c")]
        self.outputs = [o.name for o in decoder.get_outputs()]  # log_probs, h_n (, c_n), ...

    def start_search(self, source: torch.Tensor, lengths: torch.Tensor) -> Search:
        """The memory of the sources (S, B) of ``lengths`` (B,) and the decoder's first state."""
        feeds = {"source": _numpy(source, np.int64), "lengths": _numpy(lengths, np.int64)}
        names = ["values", "keys", "mask", *self.states, "feed"]
        found = dict(zip(names, self.encoder.run(names, feeds), strict=True))
        memory = Memory(*(torch.from_numpy(found[name]) for name in ("values", "keys", "mask")))
        hidden = tuple(torch.from_numpy(found[name]) for name in self.states)
        return Search(DecoderState(hidden, torch.from_numpy(found["feed"])), memory)

    def step(self, tokens: torch.Tensor, search: Search) -> tuple[torch.Tensor, Search, Any]:
        """One step from the previous ``tokens`` (N,): the log-probabilities of the next (N, V),
        the search after it, and the attention weights (N, S)."""
        memory, state = search.memory, search.decoder
        feeds = {
            "tokens": _numpy(tokens, np.int64),
            **{
                name: _numpy(s, np.float32)
                for name, s in zip(self.states, state.hidden, strict=True)
            },
            "feed": _numpy(state.feed, np.float32),
            "values": _numpy(memory.values, np.float32),
            "keys": _numpy(memory.keys, np.float32),
            "mask": _numpy(memory.mask, np.bool_),
        }
        log_probs, *hidden, feed, weights = (
            torch.from_numpy(a) for a in self.decoder.run(self.outputs, feeds)
        )
        next_search = Search(DecoderState(tuple(hidden), feed), memory, search.sentences)
        return log_probs, next_search, weights

    def search_step(self, tokens: torch.Tensor, search: Search) -> tuple[torch.Tensor, Search]:
        """``step`` as :mod:`rnnkit.tasks.translation.decoding` calls it."""
        log_probs, search, _ = self.step(tokens, search)
        return log_probs, search


class OnnxTranslator(GraphSearcher):
    """The graphs ``rnnkit export`` wrote into a translator's ``folder`` (``encoder.onnx``,
    ``decoder.onnx``) in ONNX Runtime. With ``net``, both must come from its weights (the
    SHA-256 the export recorded); without it, from the same weights as each other."""

    def __init__(self, folder: Path, net: TranslatorNet | None = None, *, threads: int = 0) -> None:
        folder = Path(folder)
        again = f"rnnkit export {folder}"
        paths = [folder / name for name in ONNX_FILES]
        sessions = [session(path, threads, f"run {again} first") for path in paths]
        digests = []
        for path, graph, loaded in zip(paths, GRAPHS, sessions, strict=True):
            metadata = loaded.get_modelmeta().custom_metadata_map
            if metadata.get("task") != NAME or metadata.get("graph") != graph:
                raise BundleError(
                    f"{path}: expected a translator's {graph} graph, found "
                    f"{_described(metadata)}; run {again} first"
                )
            digests.append(metadata.get("weights_sha256"))
        if net is not None:
            from rnnkit.export.graph import weights_digest

            expected = weights_digest(net)
            for path, digest in zip(paths, digests, strict=True):
                if digest != expected:
                    raise BundleError(
                        f"{path}: exported from other weights than this model's; run {again} again"
                    )
        elif digests[0] != digests[1]:
            raise BundleError(
                f"{paths[1]}: exported from other weights than {paths[0]}; run {again} again"
            )
        super().__init__(*sessions)


def _described(metadata: dict[str, str]) -> str:
    """What an ONNX file is, from the metadata rnnkit's exports write."""
    task = metadata.get("task")
    if task == NAME:
        return f"a translator's {metadata.get('graph', 'unnamed')} graph"
    if task:
        return f"a {task} graph"
    return "a graph without an rnnkit task (a classifier's, or not rnnkit's)"


def _in_memory(model: bytes) -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ConfigError(
            "exporting a translator checks its graphs in ONNX Runtime: pip install 'rnnkit[onnx]'"
        ) from None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1  # a made-up batch of three: no thread pool to spin
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])


@torch.no_grad()
def largest_difference(
    net: TranslatorNet, encoder: bytes, decoder: bytes, *, steps: int = 3
) -> float:
    """The largest absolute difference between ``net`` (in evaluation) and the serialized
    ``encoder`` and ``decoder`` graphs over a made-up batch of three sources of lengths 5, 2
    and 1 and ``steps`` decoder steps (log-probabilities, states, attention weights); inf
    when the masks differ."""
    graphs = GraphSearcher(_in_memory(encoder), _in_memory(decoder))
    config = net.config
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([5, 2, 1])
    source = torch.randint(0, config.vocab_size, (5, 3), generator=generator)
    source = source.masked_fill(torch.arange(5)[:, None] >= lengths, 0)  # padded with 0
    ours, theirs = graphs.start_search(source, lengths), net.start_search(source, lengths)
    if not torch.equal(ours.memory.mask, theirs.memory.mask):
        return float("inf")
    pairs = [
        (ours.memory.values, theirs.memory.values),
        (ours.memory.keys, theirs.memory.keys),
    ]
    for _ in range(steps + 1):
        pairs += zip(ours.decoder.hidden, theirs.decoder.hidden, strict=True)
        pairs.append((ours.decoder.feed, theirs.decoder.feed))
        tokens = torch.randint(0, config.target_vocab_size, (3,), generator=generator)
        log_probs, ours, weights = graphs.step(tokens, ours)
        expected, state, expected_weights = net.step(tokens, theirs.decoder, theirs.memory)
        theirs = Search(state, theirs.memory)
        pairs += [(log_probs, expected), (weights, expected_weights)]
    return max(float((a.double() - b.double()).abs().max()) for a, b in pairs)
