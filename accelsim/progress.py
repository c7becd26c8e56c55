"""The progress bar of a run on the terminal: ops done, the simulated cycle and the time left.

It appears only once a run has taken a second (a quick run prints nothing) and only on a
terminal; the command line leaves it off with ``--quiet``. The time left is extrapolated from
the ops done so far, so it is rough where ops differ much in cost.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)

#: Seconds a run takes before its progress bar appears.
SHOW_AFTER_SECONDS = 1.0


class RunProgress:
    """A callable for :meth:`accelsim.sim.engine.Simulation.run`'s ``progress``."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.bar: Progress | None = None
        self.task = None

    def __call__(self, done: int, total: int, cycle: float) -> None:
        if self.bar is None:
            if time.monotonic() - self.started < SHOW_AFTER_SECONDS:
                return
            self.bar = Progress(TextColumn("simulating"), BarColumn(), MofNCompleteColumn(),
                                TextColumn("ops, cycle {task.fields[cycle]:,.0f}"),
                                TimeRemainingColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("run", total=total, cycle=cycle)
        self.bar.update(self.task, completed=done, cycle=cycle)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
