"""A trainer that knows neither text nor task.

It takes a model called as ``model(*batch.inputs) -> outputs``, a source of batches with
``inputs``, ``target`` (of any shape) and ``num_tokens``, an ``Objective`` (the task's loss
``(outputs, batch) -> (sum, count)`` and the validation metric to watch, with its direction),
and an ``evaluate(model) -> metrics`` callback, and trains with AdamW, linear warm-up then
linear or cosine decay, gradient clipping, validation after every epoch and early stopping that
restores the best weights. Each step is :class:`rnnkit.train.step.Step`, on the device the
model is on; batches reach it through :func:`rnnkit.train.device.feed` (on a GPU, built ahead
in a background thread and copied from pinned memory).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import math
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol

import torch
from torch import Tensor, nn

from rnnkit.errors import ConfigError, TrainingInterrupted
from rnnkit.plural import counted
from rnnkit.train import distributed
from rnnkit.train.checkpoint import (
    META,
    CheckpointPolicy,
    read_meta,
)
from rnnkit.train.config import TrainConfig, auto_epochs
from rnnkit.train.device import deterministic_kernels, feed, model_device
from rnnkit.train.distributed import World
from rnnkit.train.fine_tuning import layer_groups, unfreeze_top
from rnnkit.train.precision import check_precision
from rnnkit.train.progress import EpochProgress
from rnnkit.train.resuming import Live, restore_run, save_run
from rnnkit.train.run import (
    TIME_STEPS,
    UNLIMITED_EPOCHS,
    History,
    Progress,
    RunState,
    describe_epoch,
    lr_factor,
)
from rnnkit.train.step import BatchLike, Objective, Step, adamw, cross_entropy

log = logging.getLogger(__name__)


class BatchSource(Protocol):
    def __len__(self) -> int: ...

    def epoch(self, epoch: int) -> Iterable[BatchLike]: ...


Evaluate = Callable[[nn.Module], dict[str, float]]


class Trainer:
    """``fit(model, batches, evaluate)``; with ``checkpoints``, writes checkpoints, resumes
    from them, and turns Ctrl-C into a checkpoint and ``TrainingInterrupted``. Inside a
    torch.distributed process group it trains data-parallel (see ``rnnkit.train.distributed``).
    """

    def __init__(
        self,
        config: TrainConfig,
        *,
        progress: bool = False,
        checkpoints: CheckpointPolicy | None = None,
    ) -> None:
        self.config = config
        self.progress = progress
        self.checkpoints = checkpoints
        self.world = World()
        self._stop_requested = False
        self._checkpointed = False  # policy.last is this run's (written or resumed from)

    def fit(
        self,
        model: nn.Module,
        batches: BatchSource,
        evaluate: Evaluate | None = None,
        objective: Objective | None = None,
    ) -> History:
        """Train ``model`` in place to minimize ``objective.loss`` (default: cross-entropy with
        the configuration's label smoothing, monitoring accuracy); with ``evaluate``, stop early
        on ``objective.monitor`` and end with the best epoch's weights."""
        config = self.config
        if objective is None:
            objective = Objective(cross_entropy(config.label_smoothing))
        device = model_device(model)
        check_precision(config.precision, device)
        self.world = distributed.current(device)
        self._checkpointed = False
        net, batches = self._distribute(model, batches)
        groups = layer_groups(model, config)
        optimizer = adamw(
            [{"params": group, "lr": config.lr * rate} for group, rate in groups],
            config.lr,
            config.weight_decay,
        )
        self._groups = [group for group, _ in groups]
        self._step = step = Step(
            net,
            objective.loss,
            optimizer,
            model.parameters(),
            precision=config.precision,
            clip_norm=config.clip_norm,
        )
        epochs, total_steps = self._plan(len(batches))
        run = RunState(History(planned_epochs=epochs))
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, self._factor(run, total_steps))
        self._live = Live(model, step, scheduler, self.world)
        if self.checkpoints is not None and self.checkpoints.resume:
            restore_run(self.checkpoints, self._live, run)
            self._checkpointed = True
        with deterministic_kernels(config.deterministic), self._stop_on_interrupt():
            while run.epoch < epochs and not (run.history.stopped_early or run.history.out_of_time):
                if config.unfreeze == "gradual":
                    unfreeze_top(self._groups, run.epoch + 1)
                record = self._train_epoch(batches, epochs, run, objective)
                self._end_epoch(record, evaluate, objective, run)
        history = run.history
        if run.best_state is not None:
            model.load_state_dict(run.best_state)
            log.info(
                "restored the weights of epoch %d (best validation %s %.4f)",
                history.best_epoch,
                objective.monitor,
                history.best_score,
            )
        else:
            history.best_epoch = len(history.epochs)
        model.eval()
        return history

    def _distribute(self, model: nn.Module, batches: BatchSource) -> tuple[nn.Module, BatchSource]:
        """The module the steps run (``model``, or it wrapped for data-parallel training) and
        this process's share of ``batches``."""
        if not self.world.distributed:
            return model, batches
        if self.config.unfreeze == "gradual":
            raise ConfigError(
                "unfreeze gradual changes the trained parameters each epoch, which "
                "data-parallel training cannot follow: use one process, or unfreeze none",
                field="unfreeze",
            )
        from torch.nn.parallel import DistributedDataParallel

        device = model_device(model)
        net = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None
        )
        torch.manual_seed(self.config.seed * 7919 + self.world.rank)  # dropout differs by process
        return net, batches.shard(self.world.rank, self.world.size)  # type: ignore[attr-defined]

    def _plan(self, batches: int) -> tuple[int, int]:
        """The epochs and the steps the schedule plans for, ``batches`` an epoch."""
        config = self.config
        epochs = config.epochs or auto_epochs(batches)
        if config.max_minutes and not config.epochs:
            epochs = UNLIMITED_EPOCHS
        total_steps = epochs * batches
        if config.max_steps:
            total_steps = min(total_steps, config.max_steps)
            epochs = min(epochs, -(-total_steps // batches))
        return epochs, total_steps

    def _factor(self, run: RunState, total_steps: int) -> Callable[[int], float]:
        """The learning rate's factor at a step: over the steps, or with --max-minutes over
        the time budget."""
        config = self.config
        if not config.max_minutes:
            return lambda step: lr_factor(step, total_steps, config)
        budget = config.max_minutes * 60

        def factor(step: int) -> float:
            spent = (run.history.seconds + run.progress.seconds) / budget
            return lr_factor(min(int(spent * TIME_STEPS), TIME_STEPS), TIME_STEPS, config)

        return factor

    def _end_epoch(
        self,
        record: dict[str, Any],
        evaluate: Evaluate | None,
        objective: Objective,
        run: RunState,
    ) -> None:
        """Validate, keep the best weights, decide on early stopping, write checkpoints."""
        history, improved, monitor = run.history, False, objective.monitor
        model = self._live.model
        if evaluate is not None:
            model.eval()
            metrics = evaluate(model)  # every process scores the whole set: same decisions
            record["valid"] = metrics
            key = objective.key(metrics)
            if run.best_key is None or key > run.best_key:
                run.best_key, run.best_state, run.waited = key, _copy_state(model), 0
                history.best_epoch, history.best_score = record["epoch"], metrics[monitor]
                improved = True
            else:
                run.waited += 1
        history.epochs.append(record)
        log.info("%s", describe_epoch(record, monitor))
        if evaluate is not None and self.config.patience and run.waited >= self.config.patience:
            history.stopped_early = True
            log.info(
                "stopping early: no better validation %s in %s",
                monitor,
                counted(run.waited, "epoch"),
            )
        run.epoch, run.batch, run.progress = run.epoch + 1, 0, Progress()
        if self.checkpoints is not None:
            self._save(run, best=improved)

    def _train_epoch(
        self, batches: BatchSource, epochs: int, run: RunState, objective: Objective
    ) -> dict[str, Any]:
        step, scheduler = self._live.step, self._live.scheduler
        world, history, progress = self.world, run.history, run.progress
        epoch, skip = run.epoch, run.batch
        step.net.train()
        shown = EpochProgress(
            feed(itertools.islice(batches.epoch(epoch), skip, None), step.device),
            run,
            epochs,
            len(batches),
            objective,
            shown=self.progress and world.is_main,
        )
        start = time.perf_counter() - progress.seconds
        for index, batch in enumerate(shown, start=skip):
            if self._spent(run):
                break
            loss_sum, size = step.loss(batch)
            # One collective per step: the global target count, loss and stop request, so
            # every process scales, checks and stops alike.
            local_loss = loss_sum.item()
            total, global_loss, stop = world.all_sum(
                [size, local_loss, float(self._stop_requested)]
            )
            if not math.isfinite(global_loss):
                raise FloatingPointError(self._diverged(global_loss, epoch, index, scheduler))
            # DDP averages gradients over processes: scale so that they add up to the gradient
            # of the mean loss over the whole (global) batch.
            step.update(loss_sum, world.size / max(total, 1))
            scheduler.step()
            history.steps += 1
            if history.first_step_at is None:
                history.first_step_at = time.perf_counter()
            progress.loss_sum += local_loss
            progress.seen += size
            progress.tokens += batch.num_tokens
            progress.seconds = time.perf_counter() - start
            run.batch = index + 1
            shown.update()
            self._after_step(run, bool(stop))
        return self._epoch_record(run, len(batches))

    def _after_step(self, run: RunState, stop: bool) -> None:
        """Write a checkpoint when one is due or a stop was asked for, then stop if asked."""
        policy, steps = self.checkpoints, run.history.steps
        if policy is not None and (stop or (policy.every and steps % policy.every == 0)):
            self._save(run)
        if stop:
            raise TrainingInterrupted(
                f"stopped by Ctrl-C at epoch {run.epoch + 1}, after batch {run.batch} (step "
                f"{steps}); checkpoint written to {policy.last if policy else '-'}",
                str(policy.last) if policy else None,
            )

    def _epoch_record(self, run: RunState, batches: int) -> dict[str, Any]:
        """The epoch's line of the history, its sums over every process."""
        history, progress = run.history, run.progress
        total_loss, seen, tokens = self.world.all_sum(
            [progress.loss_sum, progress.seen, progress.tokens]
        )
        seconds = progress.seconds
        history.seconds += seconds
        history.tokens += int(tokens)
        return {
            "epoch": run.epoch + 1,
            "train_loss": total_loss / max(seen, 1),
            "seconds": seconds,
            "tokens_per_second": tokens / seconds if seconds else 0.0,
            "batches": [run.batch, batches],  # fewer when a step or time limit stopped it
        }

    def _spent(self, run: RunState) -> bool:
        """Whether the run has taken its --max-steps or spent its --max-minutes (which it
        records and logs)."""
        config, history = self.config, run.history
        if config.max_steps and history.steps >= config.max_steps:
            return True
        if config.max_minutes and history.seconds + run.progress.seconds >= config.max_minutes * 60:
            history.out_of_time = True
            log.info("stopping: %g minutes of training spent (--max-minutes)", config.max_minutes)
            return True
        return False

    def _diverged(
        self, loss: float, epoch: int, step: int, scheduler: torch.optim.lr_scheduler.LRScheduler
    ) -> str:
        message = (
            f"the training loss became {loss} at step {scheduler.last_epoch + 1} (epoch "
            f"{epoch + 1}, batch {step + 1}; learning rate {scheduler.get_last_lr()[0]:.3g}); "
            "lower --lr"
        )
        policy = self.checkpoints
        # Not a previous run's checkpoint left in the folder: that one has other options.
        if policy is not None and self._checkpointed and (policy.last / META).is_file():
            where = read_meta(policy.last)["position"]
            message += (
                f". The last good checkpoint, {policy.last} (epoch {where['epoch'] + 1}, "
                f"{where['batch']} batches into it, step {where['steps']}), is intact"
            )
        return message

    # -- checkpoints (rnnkit.train.resuming) ----------------------------------------------

    def _save(self, run: RunState, *, best: bool = False) -> None:
        assert self.checkpoints is not None
        save_run(self.checkpoints, self._live, run, best)
        self._checkpointed = True

    @contextlib.contextmanager
    def _stop_on_interrupt(self) -> Iterator[None]:
        """With checkpoints, the first Ctrl-C asks to stop after the running step (which then
        writes a checkpoint); a second one interrupts at once."""
        if self.checkpoints is None or threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def request_stop(signum: int, frame: Any) -> None:
            self._stop_requested = True
            signal.signal(signal.SIGINT, previous)
            log.warning("stopping after this step to write a checkpoint (Ctrl-C again: at once)")

        signal.signal(signal.SIGINT, request_stop)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)
            self._stop_requested = False


def _copy_state(model: nn.Module) -> dict[str, Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}
