"""Where a model runs: ``auto``, ``cpu``, ``cuda`` or ``cuda:N``, and moving batches there.

The model's device is the one place that says where work happens: the estimators move the
model there once (``device=``, ``--device``), and everything that runs it (the training step,
scoring, searches, generation) moves its inputs to ``model_device(model)``. Weights are saved
from and loaded to the CPU, so bundles and checkpoints do not depend on where they were made.

On CUDA, :func:`feed` builds the next batches in a background thread, in pinned memory, while
the GPU computes, and copies them without blocking; on the CPU it passes batches through (a
producer thread would compete with torch's own threads for the same cores).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import os
import queue
import threading
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError

DEVICES = "auto, cpu, cuda or cuda:N"
FEED_DEPTH = 2  # batches built ahead of the one the GPU is running
CUBLAS_WORKSPACE = ":4096:8"  # what cuBLAS needs for deterministic results (CUDA >= 10.2)

T = TypeVar("T")


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The device ``spec`` names, checked: ``auto`` (or None) is ``cuda`` when torch sees a
    GPU, else ``cpu``; ``cuda:N`` needs at least N + 1 GPUs."""
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    if spec == "auto":  # with its index, so that it compares equal to a model's device
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")
    if spec == "cpu":
        return torch.device("cpu")
    kind, _, index = spec.partition(":")
    if kind != "cuda" or (index and not index.isdigit()):
        raise ConfigError(f"unknown device {spec!r}: choose {DEVICES}", field="device")
    if not torch.cuda.is_available():
        why = (
            "this torch was built without CUDA (torch.version.cuda is None)"
            if torch.version.cuda is None
            else "torch sees no GPU here"
        )
        raise ConfigError(f"device {spec}: {why}; use device cpu or auto", field="device")
    count = torch.cuda.device_count()
    if index and int(index) >= count:
        raise ConfigError(
            f"device {spec}: this machine has {count} GPU{'s' if count != 1 else ''} "
            f"(cuda:0{f' to cuda:{count - 1}' if count > 1 else ''})",
            field="device",
        )
    return torch.device("cuda", int(index) if index else torch.cuda.current_device())


def model_device(model: nn.Module) -> torch.device:
    """The device of ``model``'s first parameter (or buffer); the CPU for a model with none."""
    for tensor in itertools.chain(model.parameters(), model.buffers()):
        return tensor.device
    return torch.device("cpu")


def to_device(value: T, device: torch.device, *, non_blocking: bool = False) -> T:
    """``value`` with every tensor in it on ``device``: a tensor, a tuple or list of them, or
    a dataclass (a batch) whose tensor fields (and tuples of them) are moved and other fields
    (numpy arrays, numbers) kept; a tensor already there is itself, not a copy."""
    if isinstance(value, Tensor):
        return value.to(device, non_blocking=non_blocking)  # type: ignore[return-value]
    if isinstance(value, tuple | list):
        return type(value)(to_device(v, device, non_blocking=non_blocking) for v in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        moved = {
            f.name: to_device(getattr(value, f.name), device, non_blocking=non_blocking)
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), Tensor | tuple | list)
        }
        return dataclasses.replace(value, **moved)
    return value


def pin(value: T) -> T:
    """``value`` with its tensors in page-locked memory, so a copy to the GPU need not wait."""
    if isinstance(value, Tensor):
        return value.pin_memory()  # type: ignore[return-value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        pinned = {
            f.name: getattr(value, f.name).contiguous().pin_memory()
            for f in dataclasses.fields(value)
            if isinstance(getattr(value, f.name), Tensor)
        }
        return dataclasses.replace(value, **pinned)
    return value


def feed(
    batches: Iterable[T], device: torch.device, *, background: bool | None = None
) -> Iterator[T]:
    """``batches`` on ``device``, in order. ``background`` (default: on CUDA only) builds up
    to ``FEED_DEPTH`` batches ahead in a thread, pinned when the device is a GPU; an error
    in the producer is raised here, at the batch it failed on."""
    if background is None:
        background = device.type == "cuda"
    if not background:
        for batch in batches:
            yield to_device(batch, device)
        return
    ready: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=FEED_DEPTH)
    stop = threading.Event()
    pinned = device.type == "cuda"

    def produce() -> None:
        try:
            for batch in batches:
                item = pin(batch) if pinned else batch
                while not stop.is_set():
                    try:
                        ready.put(("batch", item), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ready.put(("end", None))
        except BaseException as error:  # handed to the consumer, raised there
            ready.put(("error", error))

    producer = threading.Thread(target=produce, name="rnnkit-feed", daemon=True)
    producer.start()
    try:
        while True:
            kind, item = ready.get()
            if kind == "end":
                return
            if kind == "error":
                raise item
            yield to_device(item, device, non_blocking=pinned)
    finally:
        stop.set()
        while producer.is_alive():  # let a producer blocked on a full queue see the stop
            try:
                ready.get_nowait()
            except queue.Empty:
                producer.join(timeout=0.05)


@contextlib.contextmanager
def deterministic_kernels(enabled: bool = True) -> Iterator[None]:
    """Inside, with ``enabled``: torch's deterministic algorithms (an error for an operation
    that has none), cuDNN's deterministic algorithms without autotuning, and the cuBLAS
    workspace setting that deterministic cuBLAS needs (it takes effect for cuBLAS handles made
    after it is set: the first CUDA work of the process, when the run is the first). The
    settings before are restored on the way out."""
    if not enabled:
        yield
        return
    before = (
        torch.are_deterministic_algorithms_enabled(),
        torch.backends.cudnn.deterministic,
        torch.backends.cudnn.benchmark,
    )
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_WORKSPACE)
    torch.use_deterministic_algorithms(True)
    torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before[0])
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = before[1:]
