"""Data-parallel training on torch.distributed: who this process is, and the few collectives
the trainer needs.

Processes are started by ``torchrun`` (or ``rnnkit train --nproc N``, which runs it), which sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE`` and the rendezvous address;
``init_from_env`` joins the group with ``gloo`` on CPUs, and with ``nccl`` when the run's device
is CUDA, each process then taking the GPU of its local rank (``cuda:LOCAL_RANK``). The model is
wrapped in ``DistributedDataParallel``, which averages gradients across processes during
backward. NCCL moves CUDA tensors only, so the trainer's collectives run on ``World.device``.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

log = logging.getLogger(__name__)

CPU = torch.device("cpu")


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    device: torch.device = CPU  # where the collectives' tensors live

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def all_sum(self, values: list[float]) -> list[float]:
        """Elementwise sums of ``values`` over all processes (float64, so counts stay exact)."""
        if not self.distributed:
            return values
        tensor = torch.tensor(values, dtype=torch.float64, device=self.device)
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.tolist()]

    def gather(self, tensor: Tensor) -> list[Tensor]:
        """``tensor`` of every process, by rank (equal shapes)."""
        if not self.distributed:
            return [tensor]
        local = tensor.to(self.device)
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local)
        return [part.to(tensor.device) for part in parts]


def current(device: torch.device | None = None) -> World:
    """This process's place in the initialized process group (rank 0 of 1 without one), its
    collectives on ``device`` when the group's backend is NCCL."""
    if dist.is_available() and dist.is_initialized():
        on = device if dist.get_backend() == "nccl" and device is not None else None
        return World(dist.get_rank(), dist.get_world_size(), on or CPU)
    return World()


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env(device: str | None = "auto") -> World:
    """Join the process group torchrun describes in the environment: with NCCL, this process
    on GPU ``LOCAL_RANK``, when ``device`` (``--device``) resolves to CUDA; with gloo
    otherwise. Threads default to this machine's cores divided among its processes."""
    from rnnkit.train.device import resolve_device

    on = resolve_device(device)
    if not dist.is_initialized():
        backend = "gloo"
        if on.type == "cuda":
            local = int(os.environ.get("LOCAL_RANK", "0"))
            if local >= torch.cuda.device_count():
                from rnnkit.errors import ConfigError

                raise ConfigError(
                    f"process {local} of this machine has no GPU of its own: "
                    f"{torch.cuda.device_count()} GPUs for {os.environ.get('LOCAL_WORLD_SIZE')} "
                    "processes; lower --nproc, or use --device cpu",
                    field="device",
                )
            torch.cuda.set_device(local)
            on, backend = torch.device("cuda", local), "nccl"
        dist.init_process_group(backend)
        log.info("process %d of %d (%s backend)", dist.get_rank(), dist.get_world_size(), backend)
    return current(on)


def shutdown() -> None:
    """Leave the process group (a process exiting with gloo still set up can abort)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def default_threads() -> int:
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // local)
