"""The progress bar of a sweep on the terminal: points done, failed, running and the time left.

The time left is extrapolated from the points finished by this run (skipped points cost
nothing), so it is rough where points differ much in cost. The command line shows it only on a
terminal and leaves it off with ``--quiet``.
"""

from __future__ import annotations

from rich.console import Console
from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                           TimeRemainingColumn)

from accelsim.sweep.execute import Summary


class SweepProgress:
    """A callable for :func:`accelsim.sweep.execute.run_sweep`'s ``progress``."""

    def __init__(self, console: Console) -> None:
        self.bar = Progress(TextColumn("sweep"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("points, {task.fields[failed]} failed, "
                                       "{task.fields[running]} running, "
                                       "{task.fields[skipped]} stored before"),
                            TimeRemainingColumn(), console=console, transient=True)
        self.task = None

    def __call__(self, summary: Summary, running: int) -> None:
        todo = summary.points - summary.skipped
        if self.task is None:
            self.bar.start()
            self.task = self.bar.add_task("sweep", total=todo, failed=0, running=running,
                                          skipped=summary.skipped)
        self.bar.update(self.task, completed=summary.finished, failed=summary.failed,
                        running=running)

    def close(self) -> None:
        if self.task is not None:
            self.bar.stop()
