"""Confidence skipping over a training run: which samples skip, per step and per epoch.

The rule is confidence skipping's (Shin et al., DAC 2020; :mod:`accelsim.techniques.
confidence_skip`): a sample skips its backward work when it is predicted correctly with a
true-class probability of at least tau. :func:`skipped` applies it to a trace's per-sample
arrays (steps x batch); :func:`per_epoch` groups the steps into epochs of ``steps_per_epoch``
steps (the last epoch may be partial) and gives, per epoch, the samples seen, the samples
skipped and their ratio; :func:`over_run` the same over every step. Every sample counts
once per step it is trained on, so an epoch's rate is the share of its per-sample backward
passes that are skipped, as the paper's "gradient computations skipped" counts them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def skipped(correct: np.ndarray, p_true: np.ndarray, tau: float) -> np.ndarray:
    """Boolean array (same shape): correct and p_true >= tau."""
    return np.asarray(correct, dtype=bool) & (np.asarray(p_true, dtype=np.float32)
                                              >= np.float32(tau))


@dataclass(frozen=True)
class EpochSkip:
    epoch: int
    first_step: int
    last_step: int
    samples: int
    skipped: int

    @property
    def rate(self) -> float:
        return self.skipped / self.samples if self.samples else 0.0


def per_epoch(mask: np.ndarray, steps_per_epoch: int) -> list[EpochSkip]:
    """One :class:`EpochSkip` per epoch of the (steps, batch) ``mask`` of skipped samples."""
    if steps_per_epoch < 1:
        raise ValueError(f"steps_per_epoch must be >= 1, got {steps_per_epoch}")
    mask = np.asarray(mask, dtype=bool)
    rows = []
    for epoch, start in enumerate(range(0, mask.shape[0], steps_per_epoch)):
        part = mask[start:start + steps_per_epoch]
        rows.append(EpochSkip(epoch, start, start + len(part) - 1, int(part.size),
                              int(np.count_nonzero(part))))
    return rows


def over_run(mask: np.ndarray) -> float:
    """The share of all per-sample backward passes of the run that are skipped."""
    mask = np.asarray(mask, dtype=bool)
    return float(np.count_nonzero(mask)) / mask.size if mask.size else 0.0
