"""The learning-rate range test (Smith, 2017): train briefly while the learning rate grows
geometrically from ``min_lr`` to ``max_lr``, and watch the loss.

    lr_k = min_lr * (max_lr / min_lr) ** (k / (steps - 1)),   k = 0 .. steps - 1

The loss falls once the rate is large enough to learn, then rises once it is too large. The
smoothed loss (a debiased moving average) marks the *edge*: the last rate before it first rises
above its lowest value so far by more than ``RISE`` of its starting value, both counted from
step ``SETTLE``, when the average has settled (earlier, one lucky first batch sets the bar).
The suggestion is a fifth of the edge. On the real curves of SST-2, TREC, MR and SST-5 (default
model, 100 steps) the edges were 1.2e-2, 3.9e-2, 2.2e-2 and 3.4e-2, so the suggestions 2.4e-3
to 7.7e-3 bracket the default 5e-3 that sweeps of whole trainings chose; a tenth of the rate at
the lowest smoothed loss, the earlier rule, gave 7.6e-4, 2.2e-3, 4.0e-6 and 1.3e-4, because on
curves that stay flat until the edge the lowest point falls wherever the noise puts it. The
test stops once the smoothed loss exceeds ``DIVERGED`` times its lowest. Like
:class:`rnnkit.train.trainer.Trainer`, this knows nothing about text; the model's weights are
changed, so it works on a fresh model.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from torch import nn

from rnnkit.errors import ConfigError
from rnnkit.plotting import pyplot, save_figure
from rnnkit.train.config import TrainConfig
from rnnkit.train.step import LossFn, Step, adamw, cross_entropy
from rnnkit.train.trainer import BatchSource

log = logging.getLogger(__name__)

SMOOTHING = 0.9  # exponential moving average of the loss, debiased
RISE = 0.05  # the edge: the smoothed loss rises this fraction of its start above its lowest
SETTLE = 10  # steps before the edge is looked for: about what the moving average spans
MARGIN = 5.0  # the suggestion is the edge divided by this
# Stop once the smoothed loss exceeds this multiple of its lowest: a classifier's loss starts at
# about ln(classes), so twice its lowest is well past the edge (4x, fastai's, let the 2-class
# SST-2 curve climb to 2.8 nats, four times chance, before the test called it diverged).
DIVERGED = 2.0


@dataclass
class RangeTest:
    """Learning rates tried, the raw and smoothed loss at each, and the suggestion."""

    lrs: list[float] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    smoothed: list[float] = field(default_factory=list)
    diverged: bool = False

    @property
    def best_lr(self) -> float:
        """The rate with the lowest smoothed loss."""
        return self.lrs[min(range(len(self.smoothed)), key=self.smoothed.__getitem__)]

    @property
    def edge_lr(self) -> float:
        """The last rate before the smoothed loss first rose ``RISE`` (of its value at the
        start) above its lowest so far, counted from step ``SETTLE`` (from a third of the
        steps in a shorter test); in a test that diverged before that, the rate before the
        last; the last rate tried if the loss never rose."""
        start = self._settled
        lowest, allowed = self.smoothed[start], RISE * abs(self.smoothed[start])
        for k, value in enumerate(self.smoothed[start:], start=start):
            if value > lowest + allowed or not math.isfinite(value):
                return self.lrs[max(k - 1, 0)]
            lowest = min(lowest, value)
        return self.lrs[-2] if self.diverged and len(self.lrs) > 1 else self.lrs[-1]

    @property
    def rose(self) -> bool:
        """Whether the loss rose past the edge within the rates tried."""
        return self.diverged or self.edge_lr != self.lrs[-1]

    @property
    def rose_at_once(self) -> bool:
        """Whether the loss rose from the first rates on: the test started too high."""
        return self.rose and self.edge_lr <= self.lrs[self._settled]

    @property
    def _settled(self) -> int:
        """The step the edge is looked for from: ``SETTLE``, or a third of a shorter test."""
        return min(SETTLE, (len(self.smoothed) - 1) // 3)

    @property
    def suggested_lr(self) -> float:
        return self.edge_lr / MARGIN


def lr_range_test(
    model: nn.Module,
    batches: BatchSource,
    config: TrainConfig,
    *,
    min_lr: float = 1e-5,
    max_lr: float = 1.0,
    steps: int = 100,
    loss: LossFn | None = None,
) -> RangeTest:
    """Run the range test with ``config``'s optimizer settings (AdamW, weight decay, clipping,
    precision) on the task's ``loss`` (default: cross-entropy with the configuration's label
    smoothing); batches come from as many epochs of ``batches`` as ``steps`` needs."""
    check_range(min_lr, max_lr, steps)
    parameters = [p for p in model.parameters() if p.requires_grad]
    optimizer = adamw(parameters, config.lr, config.weight_decay)
    step = Step(
        model,
        loss or cross_entropy(config.label_smoothing),
        optimizer,
        parameters,
        precision=config.precision,
        clip_norm=config.clip_norm,
    )
    result, average, epoch = RangeTest(), 0.0, 0
    model.train()
    while len(result.lrs) < steps:
        for batch in batches.epoch(epoch):
            k = len(result.lrs)
            if k == steps:
                break
            lr = min_lr * (max_lr / min_lr) ** (k / (steps - 1))
            for group in optimizer.param_groups:
                group["lr"] = lr
            loss_sum, count = step.loss(batch)
            step.update(loss_sum, 1.0 / max(count, 1))
            value = loss_sum.item() / max(count, 1)
            average = SMOOTHING * average + (1 - SMOOTHING) * value
            smoothed = average / (1 - SMOOTHING ** (k + 1))
            result.lrs.append(lr)
            result.losses.append(value)
            result.smoothed.append(smoothed)
            if not math.isfinite(value) or smoothed > DIVERGED * min(result.smoothed):
                result.diverged = True
                log.info("the loss diverged at learning rate %.3g; stopping", lr)
                return result
        epoch += 1
    return result


def check_range(min_lr: float, max_lr: float, steps: int) -> None:
    """The range test's own options, checked (``ConfigError`` naming the option)."""
    if not 0 < min_lr < max_lr < math.inf:
        raise ConfigError(
            f"min_lr must be positive and below max_lr, got {min_lr}, {max_lr}",
            field="min_lr",
            others=("max_lr",),
        )
    if steps < 2:
        raise ConfigError(f"steps must be at least 2, got {steps}", field="steps")


def plot_range_test(result: RangeTest, path: str) -> None:
    """Loss against learning rate (log scale) with the suggestion marked, to an image file."""
    plt = pyplot("--plot")
    figure, axes = plt.subplots(figsize=(6, 4))
    axes.plot(result.lrs, result.losses, alpha=0.3, label="loss")
    axes.plot(result.lrs, result.smoothed, label="smoothed loss")
    axes.axvline(result.edge_lr, color="r", linestyle=":", label="edge")
    axes.axvline(result.suggested_lr, color="k", linestyle="--", label="suggested")
    axes.set_xscale("log")
    axes.set_xlabel("learning rate")
    axes.set_ylabel("training loss")
    axes.legend()
    figure.tight_layout()
    save_figure(figure, path)


def describe(result: RangeTest, every: int = 10) -> list[str]:
    """A short table of the test, every ``every``-th step and the last."""
    lines = ["learning rate   loss     smoothed"]
    shown = sorted(set(range(0, len(result.lrs), every)) | {len(result.lrs) - 1})
    for k in shown:
        lines.append(f"{result.lrs[k]:13.3g}   {result.losses[k]:7.4f}  {result.smoothed[k]:7.4f}")
    return lines
