"""Worker of same_work.py: the torch operators one step of each workload runs, counted by the
profiler, printed as JSON. Uses only what both trees have (rnnkit.nn, rnnkit.models)."""

from __future__ import annotations

import collections
import json

import torch
from torch.profiler import ProfilerActivity, profile

import rnnkit.nn
from rnnkit.models.classifier import SequenceClassifier
from rnnkit.models.config import ModelConfig


def count(run: object) -> dict[str, int]:
    run()  # type: ignore[operator]
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        run()  # type: ignore[operator]
    ops = collections.Counter(e.name for e in prof.events() if e.name.startswith("aten::"))
    return dict(sorted(ops.items()))


def main() -> None:
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x = torch.randn(12, 4, 16, requires_grad=True)
    lengths = torch.tensor([12, 7, 9, 3])
    tokens = torch.randint(1, 50, (12, 4))
    target = torch.tensor([0, 1, 1, 0])
    result = {}
    for cell, layer_class in (("LSTM", rnnkit.nn.LSTM), ("GRU", rnnkit.nn.GRU)):
        for impl in ("fused", "reference"):
            layer = layer_class(16, 8, num_layers=2, bidirectional=True, impl=impl).train()

            def layer_step(layer: torch.nn.Module = layer) -> None:
                output, _ = layer(x, lengths=lengths)
                output.sum().backward()

            result[f"{cell} layer, {impl}, training step"] = count(layer_step)
    for cell in ("lstm", "gru"):
        for pooling in (("last", "max", "mean"), ("attention",)):
            config = ModelConfig(50, 2, cell=cell, embed_dim=16, hidden_size=8, pooling=pooling)
            model = SequenceClassifier(config)

            def train_step(model: torch.nn.Module = model) -> None:
                model.train()
                logits = model(tokens, lengths)
                torch.nn.functional.cross_entropy(logits, target, reduction="sum").backward()

            def inference(model: torch.nn.Module = model) -> None:
                model.eval()
                with torch.no_grad():
                    model(tokens, lengths)

            name = f"classifier {cell}, {'+'.join(pooling)}"
            result[f"{name}, training step"] = count(train_step)
            result[f"{name}, inference"] = count(inference)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
