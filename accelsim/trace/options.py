"""What to trace and how (torch-free): :class:`TraceOptions` and its checks."""

from __future__ import annotations

import math

from dataclasses import dataclass, field

from accelsim.trace import TraceError
from accelsim.workload.optimizers import OPTIMIZERS

#: The training data sets (:mod:`accelsim.trace.dataset` builds them).
DATASETS = ("shapes", "digits")


@dataclass
class TraceOptions:
    """One ``accelsim trace`` run. Defaults are the shipped workloads' settings."""

    model: str
    input_shape: tuple[int, ...]
    out: str
    model_args: dict = field(default_factory=dict)
    batch: int = 32
    steps: int = 50
    classes: int = 10
    train_size: int = 512
    optimizer: str = "momentum"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    sparsity: float = 0.9  # Top-K sparsity of the masks (and of training with sparse_training)
    sparse_training: bool = False
    stats: bool = True  # measure value statistics (else only the graph and confidence)
    stats_every: int = 8
    mask_steps: int = 3
    mask_images: int = 2
    mask_channels: int = 8
    seed: int = 0
    name: str | None = None
    threads: int | None = None
    # -- convergence runs: data set, held-out evaluation, schedules, light statistics --------
    dataset: str = "shapes"  # one of DATASETS
    eval_size: int = 0  # held-out samples (0: no evaluation)
    eval_every: int | None = None  # evaluate every N steps (default: every epoch) and at the end
    lr_schedule: str = "constant"  # accelsim.trace.schedule.SCHEDULES
    warmup_steps: int = 0  # linear learning-rate warm-up
    lr_milestones: tuple[int, ...] = ()  # the step schedule's steps
    lr_gamma: float = 0.1  # the step schedule's factor
    sparsity_dense_steps: int = 0  # sparse training: dense steps first
    sparsity_ramp_steps: int = 0  # then sparsity ramped linearly to ``sparsity`` over these
    dense_layers: tuple[str, ...] = ()  # sparse training: modules whose GEMMs stay dense
    sparse_gradients: bool = True  # sparse training: Top-K of output gradients too
    stats_steps: int | None = None  # light mode: value statistics at this many steps only

    def validate(self) -> None:
        for key in ("batch", "steps", "train_size", "stats_every"):
            if getattr(self, key) < 1:
                raise TraceError(f"--{key.replace('_', '-')}: expected a positive integer, "
                                 f"got {getattr(self, key)}")
        if self.train_size < self.batch:
            raise TraceError(f"--train-size {self.train_size} is smaller than the batch "
                             f"{self.batch}")
        if not (math.isfinite(self.lr) and self.lr > 0):
            raise TraceError(f"--lr: expected a finite positive learning rate, got {self.lr}")
        if not 0 <= self.sparsity < 1:
            raise TraceError(f"--sparsity: expected 0 <= s < 1, got {self.sparsity}")
        if self.optimizer not in OPTIMIZERS:
            raise TraceError(f"--optimizer: expected one of {', '.join(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if self.mask_steps < 0:
            raise TraceError(f"--mask-steps: expected >= 0, got {self.mask_steps}")
        self.validate_convergence()

    def validate_convergence(self) -> None:
        """Checks of the convergence-run options (data set, evaluation, schedules)."""
        from accelsim.trace.schedule import SCHEDULES

        if self.dataset not in DATASETS:
            raise TraceError(f"--dataset: expected one of {', '.join(DATASETS)}, "
                             f"got {self.dataset!r}")
        if self.lr_schedule not in SCHEDULES:
            raise TraceError(f"--lr-schedule: expected one of {', '.join(SCHEDULES)}, "
                             f"got {self.lr_schedule!r}")
        for key in ("eval_size", "warmup_steps", "sparsity_dense_steps",
                    "sparsity_ramp_steps"):
            if getattr(self, key) < 0:
                raise TraceError(f"--{key.replace('_', '-')}: expected >= 0, "
                                 f"got {getattr(self, key)}")
        for key in ("eval_every", "stats_steps"):
            if getattr(self, key) is not None and getattr(self, key) < 1:
                raise TraceError(f"--{key.replace('_', '-')}: expected a positive integer, "
                                 f"got {getattr(self, key)}")
        if any(m < 0 for m in self.lr_milestones) or list(self.lr_milestones) != sorted(
                self.lr_milestones):
            raise TraceError(f"--lr-milestones: expected increasing steps >= 0, got "
                             f"{','.join(map(str, self.lr_milestones))}")
        if not (math.isfinite(self.lr_gamma) and self.lr_gamma > 0):
            raise TraceError(f"--lr-gamma: expected a finite positive factor, "
                             f"got {self.lr_gamma}")

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_size // self.batch)

    def sampled_steps(self) -> list[int]:
        """Steps whose value statistics are measured: every ``stats_every``-th, the last, and
        each of those one epoch later (the pairs of Mquans' change rates)."""
        if not self.stats:
            return []
        base = set(self._base_steps())
        later = {t + self.steps_per_epoch for t in base}
        return sorted(base | {t for t in later if t < self.steps})

    def _base_steps(self) -> list[int]:
        """Every ``stats_every``-th step and the last; with ``stats_steps`` (the light mode)
        that many steps spread evenly from the first to the last instead."""
        if self.stats_steps is None:
            return sorted(set(range(0, self.steps, self.stats_every)) | {self.steps - 1})
        count = min(self.stats_steps, self.steps)
        if count == 1:
            return [self.steps - 1]
        return sorted({round(i * (self.steps - 1) / (count - 1)) for i in range(count)})

    def evaluated_steps(self) -> list[int]:
        """Steps after whose update the held-out set is evaluated (none without one)."""
        if self.eval_size == 0:
            return []
        every = self.eval_every or self.steps_per_epoch
        return sorted({t for t in range(every - 1, self.steps, every)} | {self.steps - 1})

    def mask_steps_list(self) -> list[int]:
        """Sampled steps whose coordinate masks are stored: spread from first to last."""
        sampled = self._base_steps()
        if self.mask_steps == 0 or not self.stats:
            return []
        if self.mask_steps == 1:
            return [sampled[-1]]
        picks = {sampled[round(i * (len(sampled) - 1) / (self.mask_steps - 1))]
                 for i in range(self.mask_steps)}
        return sorted(picks)


def parse_steps(text: str) -> tuple[int, ...]:
    """``300,450`` -> (300, 450); empty -> ()."""
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise TraceError(f"--lr-milestones: expected comma-separated steps like 300,450, "
                         f"got {text!r}") from None


def parse_shape(text: str) -> tuple[int, ...]:
    """``3x32x32`` -> (3, 32, 32)."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise TraceError(f"--input: expected a per-sample shape like 3x32x32 or 784, got {text!r}")
    return shape
