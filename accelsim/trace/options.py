"""What to trace and how (torch-free): :class:`TraceOptions` and its checks."""

from __future__ import annotations

import math

from dataclasses import dataclass, field

from accelsim.trace import TraceError
from accelsim.workload.optimizers import OPTIMIZERS


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

    @property
    def steps_per_epoch(self) -> int:
        return max(1, self.train_size // self.batch)

    def sampled_steps(self) -> list[int]:
        """Steps whose value statistics are measured: every ``stats_every``-th, the last, and
        each of those one epoch later (the pairs of Mquans' change rates)."""
        if not self.stats:
            return []
        base = set(range(0, self.steps, self.stats_every)) | {self.steps - 1}
        later = {t + self.steps_per_epoch for t in base}
        return sorted(base | {t for t in later if t < self.steps})

    def mask_steps_list(self) -> list[int]:
        """Sampled steps whose coordinate masks are stored: spread from first to last."""
        sampled = sorted(set(range(0, self.steps, self.stats_every)) | {self.steps - 1})
        if self.mask_steps == 0 or not self.stats:
            return []
        if self.mask_steps == 1:
            return [sampled[-1]]
        picks = {sampled[round(i * (len(sampled) - 1) / (self.mask_steps - 1))]
                 for i in range(self.mask_steps)}
        return sorted(picks)


def parse_shape(text: str) -> tuple[int, ...]:
    """``3x32x32`` -> (3, 32, 32)."""
    try:
        shape = tuple(int(part) for part in text.lower().split("x"))
    except ValueError:
        shape = ()
    if not shape or any(d < 1 for d in shape):
        raise TraceError(f"--input: expected a per-sample shape like 3x32x32 or 784, got {text!r}")
    return shape
