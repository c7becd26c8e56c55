"""Mquans input change rates between consecutive inputs (numpy).

"Consecutive inputs" in training are the same sample in consecutive epochs: the tracer's
dataset is a fixed training set read in the same order every epoch, so batch position i of step
t and of step t + steps_per_epoch hold the same sample. A layer's input (for the sampled images)
is linearly quantized into 2^b levels over [min, max] of the earlier input; the change rate at
bit-width b is the share of input elements whose level differs between the two. Input neurons
(channels of a feature map, features of a vector) are split into the ``critical`` class (the
``critical_fraction`` with the largest mean |dL/dx| at the earlier step) and the ``tolerant``
rest; each class gets its own rate.

Each sampled image is one sample pair: the rate is the mean of the pairs' own rates (equal
element counts, so it is also the share over all their elements) and its spread is the
Student-t confidence interval over the pairs (:func:`accelsim.trace.stats.reuse.mean_interval`).
"""

from __future__ import annotations

import numpy as np

from accelsim.trace.stats.reuse import mean_interval

BITS = (2, 3, 4, 6, 8)
CRITICAL_FRACTION = 0.25


def quantize(x: np.ndarray, lo: float, hi: float, bits: int) -> np.ndarray:
    levels = 1 << bits
    scale = levels / (hi - lo) if hi > lo else 0.0
    return np.clip(np.floor((x - lo) * scale), 0, levels - 1).astype(np.int32)


def change_rates(before: np.ndarray, after: np.ndarray, channel_axis: int,
                 sensitivity: np.ndarray | None = None, bits=BITS,
                 critical_fraction: float = CRITICAL_FRACTION,
                 confidence: float = 0.95) -> dict:
    """Change rates of the sample pairs ``before[i]``, ``after[i]`` (axis 0: samples): per
    bit-width for ``all`` inputs and, given per-channel ``sensitivity``, for the ``critical``
    and ``tolerant`` classes. Returns ``rate``, ``low`` and ``high`` (each ``{class: [per
    bit-width]}``: the mean over the pairs and its ``confidence`` interval) and ``samples``."""
    before = before.astype(np.float32)
    after = after.astype(np.float32)
    samples = before.shape[0]
    lo, hi = float(before.min()), float(before.max())
    changed = {b: quantize(before, lo, hi, b) != quantize(after, lo, hi, b) for b in bits}
    chosen = {"all": None}
    if sensitivity is not None and len(sensitivity) == before.shape[channel_axis]:
        count = max(1, round(critical_fraction * len(sensitivity)))
        critical = np.zeros(len(sensitivity), dtype=bool)
        critical[np.argsort(-sensitivity)[:count]] = True
        chosen.update({name: keep for name, keep in (("critical", critical),
                                                      ("tolerant", ~critical)) if keep.any()})
    result: dict = {"rate": {}, "low": {}, "high": {}, "samples": samples}
    for name, keep in chosen.items():
        per_pair = np.array([[float((changed[b] if keep is None else
                                     np.compress(keep, changed[b], axis=channel_axis))[i].mean())
                              for b in bits] for i in range(samples)])
        mean, low, high = mean_interval(per_pair, confidence)
        result["rate"][name] = mean.tolist()
        result["low"][name] = low.tolist()
        result["high"][name] = high.tolist()
    return result
