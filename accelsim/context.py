"""The run context: what lowering, PE-array kinds and techniques may know about the run.

One :class:`RunContext` is made per run, after the system is built. It carries the system, the
workload (after the techniques' ``attach``), the workload's value statistics, the training step
being simulated and the seed. Nothing in it outlives the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from accelsim.hw.system import System
    from accelsim.workload.graph import Workload


@dataclass(frozen=True)
class RunContext:
    """``step``: the training step simulated (statistics are read at the sampled step nearest
    to it); ``seed``: the run's seed, for every random choice a model or technique makes."""

    system: System
    workload: Workload
    step: int | None = None
    seed: int = 0

    @property
    def value_stats(self):
        """The workload's traced value statistics, or None."""
        return self.workload.value_stats

    def with_workload(self, workload: Workload) -> RunContext:
        return RunContext(self.system, workload, self.step, self.seed)
