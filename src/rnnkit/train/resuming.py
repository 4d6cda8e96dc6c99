"""A training run's checkpoints: what ``Trainer`` writes after every epoch (and every N steps),
and how it continues from one. See :mod:`rnnkit.train.checkpoint` for the files."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnnkit.train.checkpoint import (
    META,
    CheckpointPolicy,
    TrainingState,
    copy_checkpoint,
    load_checkpoint,
    read_meta,
    save_checkpoint,
)
from rnnkit.train.distributed import World
from rnnkit.train.run import History, Progress, RunState
from rnnkit.train.step import Step

log = logging.getLogger("rnnkit.train.trainer")


@dataclass(frozen=True)
class Live:
    """What a checkpoint saves of a running training and restores into a new one: the model
    (unwrapped), its step (the optimizer and the gradient scaler), the learning-rate schedule
    and the processes."""

    model: nn.Module
    step: Step
    scheduler: torch.optim.lr_scheduler.LRScheduler
    world: World


def save_run(policy: CheckpointPolicy, live: Live, run: RunState, best: bool = False) -> None:
    """Write the run's checkpoint to ``policy.last`` (and copy it to ``policy.best``): the
    weights, the optimizer and schedule, every process's random state, where the run is, its
    history and its best so far. Every process gathers its random state; rank 0 writes."""
    world, step, optimizer = live.world, live.step, live.step.optimizer
    rng = torch.stack(world.gather(torch.get_rng_state()))  # (processes, state)
    device = step.device
    cuda_rng = None
    if device.type == "cuda":
        cuda_rng = torch.stack(world.gather(torch.cuda.get_rng_state(device)))
    if not world.is_main:
        return
    history = asdict(run.history)
    history["first_step_at"] = None  # a clock reading, meaningless in another process
    state = TrainingState(
        model=live.model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler={k: v for k, v in live.scheduler.state_dict().items() if k != "lr_lambdas"},
        rng=rng,
        position={"epoch": run.epoch, "batch": run.batch, "steps": run.history.steps},
        progress=asdict(run.progress),
        history=history,
        best={"key": list(run.best_key) if run.best_key else None, "waited": run.waited},
        extra=policy.extra,
        cuda_rng=cuda_rng,
        scaler=step.scaler.state_dict() if step.scaler.is_enabled() else None,
    )
    save_checkpoint(policy.last, state)
    if best:
        copy_checkpoint(policy.last, policy.best)
    log.debug("checkpoint: %s", state.describe())


def restore_run(policy: CheckpointPolicy, live: Live, run: RunState) -> None:
    """Continue the run from ``policy.resume_from`` (or its last checkpoint): the model,
    optimizer, schedule, this process's random state and ``run`` as they were (a new
    ``--lr`` scales the schedule from here)."""
    world, step, optimizer, scheduler = live.world, live.step, live.step.optimizer, live.scheduler
    source = policy.resume_from or policy.last
    state = load_checkpoint(source)
    if source != policy.last and world.is_main:  # last is whole again from here on
        copy_checkpoint(source, policy.last)
    live.model.load_state_dict(state.model)
    optimizer.load_state_dict(state.optimizer)
    scheduler.load_state_dict({**state.scheduler, "lr_lambdas": [None]})
    planned = [group["initial_lr"] for group in optimizer.param_groups]
    if scheduler.base_lrs != planned:  # resumed with a new --lr: scale from here
        scale = planned[-1] / scheduler.base_lrs[-1]
        scheduler.base_lrs = planned
        for group in optimizer.param_groups:
            group["lr"] *= scale
    rng = state.rng if state.rng.dim() == 2 else state.rng[None]
    torch.set_rng_state(rng[world.rank % len(rng)].clone())
    device = step.device
    if device.type == "cuda" and state.cuda_rng is not None:
        torch.cuda.set_rng_state(state.cuda_rng[world.rank % len(state.cuda_rng)], device)
    if state.scaler is not None and step.scaler.is_enabled():
        step.scaler.load_state_dict(state.scaler)
    run.history = History(**state.history)
    run.epoch, run.batch = state.position["epoch"], state.position["batch"]
    run.progress = Progress(**state.progress)
    key = state.best["key"]
    run.best_key = (float(key[0]), float(key[1])) if key else None
    run.waited = state.best["waited"]
    if run.best_key is not None:
        run.best_state = best_weights(policy, world, run, state)
    log.info("resuming from %s: %s", source, state.describe())


def best_weights(
    policy: CheckpointPolicy, world: World, run: RunState, last: TrainingState
) -> dict[str, Tensor] | None:
    """The best epoch's weights for a resumed run. The best is the checkpoint written at
    the end of epoch ``history.best_epoch``: ``best/`` when it is that one; the last
    checkpoint's own when that is it (the process died while copying it to ``best/``,
    which is repaired here); otherwise none, with a warning that the run ends with its
    last weights unless a later epoch is better."""
    at = {"epoch": run.history.best_epoch, "batch": 0}

    def is_best(position: dict[str, Any]) -> bool:
        return all(position[k] == v for k, v in at.items())

    if (policy.best / META).is_file() and is_best(read_meta(policy.best)["position"]):
        return load_checkpoint(policy.best).model
    if is_best(last.position):
        if world.is_main:
            copy_checkpoint(policy.last, policy.best)
        return last.model
    log.warning(
        "%s does not hold the weights of epoch %d, the best; this run ends with its last "
        "weights unless a later epoch is better",
        policy.best,
        run.history.best_epoch,
    )
    return None
