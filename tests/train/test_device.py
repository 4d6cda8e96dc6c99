"""Devices, batch feeding, the fp16 gradient scaler and deterministic kernels, as far as a
machine without a GPU can check them (tests/cuda runs the rest on a GPU)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError
from rnnkit.train.checkpoint import TrainingState, load_checkpoint, save_checkpoint
from rnnkit.train.config import TrainConfig
from rnnkit.train.device import deterministic_kernels, feed, resolve_device, to_device
from rnnkit.train.step import Step, adamw
from rnnkit.train.trainer import Trainer
from tests.train.test_trainer import Blobs

NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@NO_GPU
def test_auto_is_the_cpu_without_a_gpu() -> None:
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device(" CPU ") == torch.device("cpu")


@NO_GPU
@pytest.mark.parametrize("spec", ["cuda", "cuda:1"])
def test_cuda_without_a_gpu_is_refused_with_the_way_out(spec: str) -> None:
    with pytest.raises(ConfigError, match=rf"^device {spec}: .*; use device cpu or auto$"):
        resolve_device(spec)


@pytest.mark.parametrize("spec", ["gpu", "cuda:x", "mps:0"])
def test_unknown_devices_are_named(spec: str) -> None:
    with pytest.raises(ConfigError, match=rf"unknown device '{spec}': choose auto, cpu, cuda"):
        resolve_device(spec)


@dataclass(frozen=True)
class Item:
    tokens: Tensor
    parts: tuple[Tensor, ...]
    index: np.ndarray
    fresh: bool


def items(count: int) -> Iterator[Item]:
    for i in range(count):
        yield Item(torch.full((3,), i), (torch.tensor([i]),), np.array([i]), i == 0)


def test_to_device_moves_tensors_and_keeps_the_rest() -> None:
    item = next(items(1))
    moved = to_device(item, torch.device("meta"))
    assert moved.tokens.device.type == "meta"
    assert moved.parts[0].device.type == "meta"
    assert moved.index is item.index
    assert moved.fresh is True
    assert to_device(item, torch.device("cpu")).tokens is item.tokens  # no copy where it is


def test_feed_in_the_background_keeps_order_and_values() -> None:
    fed = list(feed(items(20), torch.device("cpu"), background=True))
    assert [int(item.tokens[0]) for item in fed] == list(range(20))
    assert [item.fresh for item in fed] == [True] + [False] * 19


def test_feed_raises_the_producers_error_at_its_batch() -> None:
    def failing() -> Iterator[Item]:
        yield from items(3)
        raise ValueError("row 4 is bad")

    stream = feed(failing(), torch.device("cpu"), background=True)
    assert [int(next(stream).tokens[0]) for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ValueError, match="row 4 is bad"):
        next(stream)


def test_feed_stops_its_thread_when_the_consumer_stops_early() -> None:
    before = threading.active_count()
    stream = feed(items(1000), torch.device("cpu"), background=True)
    assert int(next(stream).tokens[0]) == 0
    stream.close()  # what a break out of the training loop does
    assert threading.active_count() == before
    assert not any(t.name == "rnnkit-feed" for t in threading.enumerate())


def _grads_after_update(precision: str, clip_norm: float) -> list[Tensor]:
    torch.manual_seed(0)
    model = nn.Linear(4, 3)
    x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    step = Step(
        model,
        lambda out, batch: (out.sum(), 1),
        adamw(list(model.parameters()), 1e-3, 0.0),
        model.parameters(),
        precision=precision,
        clip_norm=clip_norm,
    )
    # a float32 loss (no autocast), so that only the scaling differs between the two runs
    loss = nn.functional.cross_entropy(model(x), y, reduction="sum")
    step.update(loss, 1 / 8)
    return [p.grad.clone() for p in model.parameters() if p.grad is not None]


def test_fp16_scales_the_loss_and_unscales_before_clipping() -> None:
    """torch's CPU kernels lack a float16 LSTM, not a gradient scaler: the scaler's part of
    the fp16 step is checked here on a linear model. Scaling by a power of two is exact, so
    the clipped gradients equal float32's."""
    for clip_norm in (0.0, 0.05):
        got, expected = (
            _grads_after_update("fp16", clip_norm),
            _grads_after_update("fp32", clip_norm),
        )
        for g, e in zip(got, expected, strict=True):
            torch.testing.assert_close(g, e, rtol=0, atol=0)


def test_fp16_skips_a_step_whose_gradients_overflowed() -> None:
    model = nn.Linear(2, 2)
    before = [p.detach().clone() for p in model.parameters()]
    step = Step(
        model,
        lambda out, batch: (out.sum(), 1),
        adamw(list(model.parameters()), 1e-1, 0.0),
        model.parameters(),
        precision="fp16",
    )
    scale = step.scaler.get_scale()
    step.update(model(torch.ones(1, 2)).sum() * float("inf"), 1.0)
    assert step.scaler.get_scale() == scale / 2
    for p, b in zip(model.parameters(), before, strict=True):
        assert torch.equal(p.detach(), b)


def test_deterministic_kernels_are_restored_afterwards() -> None:
    assert not torch.are_deterministic_algorithms_enabled()
    with deterministic_kernels():
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.deterministic
        assert not torch.backends.cudnn.benchmark
    assert not torch.are_deterministic_algorithms_enabled()


def test_two_deterministic_runs_with_one_seed_give_identical_weights() -> None:
    weights = []
    for _ in range(2):
        torch.manual_seed(3)
        model = nn.Sequential(nn.Linear(2, 16), nn.Dropout(0.3), nn.Linear(16, 2))
        Trainer(TrainConfig(epochs=3, lr=0.05, deterministic=True, seed=3)).fit(model, Blobs())
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    assert torch.equal(weights[0], weights[1])
    assert not torch.are_deterministic_algorithms_enabled()


def test_a_checkpoint_keeps_the_gpu_random_state_and_the_loss_scale(tmp_path: Path) -> None:
    model = nn.Linear(2, 2)
    optimizer = adamw(list(model.parameters()), 1e-3, 0.0)
    scaler = {"scale": 1024.0, "growth_factor": 2.0, "backoff_factor": 0.5}
    scaler |= {"growth_interval": 2000, "_growth_tracker": 7}
    cuda_rng = torch.arange(16, dtype=torch.uint8)[None]
    state = TrainingState(
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler={},
        rng=torch.get_rng_state()[None],
        position={"epoch": 0, "batch": 1, "steps": 1},
        progress={},
        history={},
        best={"key": None, "waited": 0},
        cuda_rng=cuda_rng,
        scaler=scaler,
    )
    save_checkpoint(tmp_path / "last", state)
    loaded = load_checkpoint(tmp_path / "last")
    assert loaded.scaler == scaler
    assert loaded.cuda_rng is not None
    assert torch.equal(loaded.cuda_rng, cuda_rng)
