"""Float sums in a given order, for statistics accumulated in bulk that must equal the same
additions made one at a time.

``x += a; x += b`` rounds after each addition; numpy's ``sum`` adds pairwise and may round
differently. :func:`ordered_sum` adds left to right (``np.add.accumulate``), so a counter
accumulated in bulk is bit-identical to the one accumulated transfer by transfer.
"""

from __future__ import annotations

import numpy as np


def ordered_sum(start: float, increments: np.ndarray) -> float:
    """``start`` plus each of ``increments`` in turn, rounded after each addition."""
    if len(increments) == 0:
        return start
    values = np.concatenate(([start], np.asarray(increments, dtype=float)))
    return float(np.add.accumulate(values)[-1])
