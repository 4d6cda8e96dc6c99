"""Data-parallel training on torch.distributed: who this process is, and the few collectives
the trainer needs.

Processes are started by ``torchrun`` (or ``rnnkit train --nproc N``, which runs it), which sets
``RANK``, ``WORLD_SIZE``, ``LOCAL_WORLD_SIZE`` and the rendezvous address; ``init_from_env``
joins the group with ``gloo`` on CPUs and ``nccl`` where CUDA is available. The model is wrapped
in ``DistributedDataParallel``, which averages gradients across processes during backward.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import Tensor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1

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
        tensor = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(tensor)
        return [float(v) for v in tensor.tolist()]

    def gather(self, tensor: Tensor) -> list[Tensor]:
        """``tensor`` of every process, by rank (equal shapes)."""
        if not self.distributed:
            return [tensor]
        parts = [torch.empty_like(tensor) for _ in range(self.size)]
        dist.all_gather(parts, tensor)
        return parts


def current() -> World:
    """This process's place in the initialized process group (rank 0 of 1 without one)."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


def launched() -> bool:
    """Whether torchrun started this process as one of several."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_from_env() -> World:
    """Join the process group torchrun describes in the environment; threads default to this
    machine's cores divided among its processes."""
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        log.info("process %d of %d (%s backend)", dist.get_rank(), dist.get_world_size(), backend)
    return current()


def shutdown() -> None:
    """Leave the process group (a process exiting with gloo still set up can abort)."""
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def default_threads() -> int:
    local = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    return max(1, (os.cpu_count() or 1) // local)
