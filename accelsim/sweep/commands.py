"""The ``accelsim sweep`` and ``accelsim report`` commands: their options and what they print.

``accelsim sweep SWEEP.yaml [--db FILE] [--workers N | --scheduler tcp://HOST:PORT]
[--dry-run] [--quiet]`` runs a sweep (:mod:`accelsim.sweep.spec`) and stores every finished
point; ``accelsim report FILE.db --out DIR [--x AXIS] [--sweep NAME] [--force]`` writes its
tables and figures (:mod:`accelsim.sweep.report`). Errors are raised to the command line, which
prints them as one line (exit code 2).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING

from accelsim.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

#: Failures listed after a sweep (the store holds all of them).
SHOWN_FAILURES = 10


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def register(commands) -> None:
    """Add the two subcommands to the command line's subparsers."""
    sweep = commands.add_parser(
        "sweep", help="run a design-space sweep on Dask, storing each point as it finishes",
        description="Run every point of a sweep file (a base run spec with grid: and zip: "
        "axes) on a Dask cluster and store each finished point in an SQLite file. Points "
        "stored as done are skipped when the sweep runs again; failed points run again.")
    sweep.add_argument("file", help="sweep YAML file")
    sweep.add_argument("--db", help="SQLite result store (default: the sweep file's name "
                       "with .db, in the current folder)")
    sweep.add_argument("--workers", type=_positive, default=None,
                       help="worker processes of the local Dask cluster (default: the "
                       "machine's cores)")
    sweep.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="submit to this running Dask scheduler instead")
    sweep.add_argument("--dry-run", action="store_true",
                       help="list the points (and whether each is stored) without running")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=_sweep)

    report = commands.add_parser(
        "report", help="CSV tables and figures of a sweep store",
        description="Write a sweep store's tidy CSV (one row per point, axes as columns), "
        "per-phase and per-layer tables, speedup and energy bars, breakdowns and sensitivity "
        "curves into a folder.")
    report.add_argument("db", help="SQLite store written by accelsim sweep")
    report.add_argument("--out", required=True, help="folder to write (created if missing)")
    report.add_argument("--x", dest="xs", action="append", metavar="AXIS",
                        help="numeric axis of the sensitivity curves (repeatable; default: "
                        "every numeric axis)")
    report.add_argument("--sweep", help="only the points of this sweep (by name)")
    report.add_argument("--force", action="store_true",
                        help="replace existing files that an earlier report did not write")
    report.set_defaults(handler=_report)


def _points_table(sweep, points, stored: set[str]) -> Table:
    from rich.table import Table

    table = Table(title=f"{sweep.name}: {len(points)} points ({sweep.source})")
    table.add_column("#", justify="right")
    for axis in sweep.axes:
        table.add_column(axis.key.removeprefix("set."))
    table.add_column("key")
    table.add_column("stored")
    for point in points:
        table.add_row(str(point.index), *(str(point.axes[axis.key]) for axis in sweep.axes),
                      point.key[:12], "done" if point.key in stored else "-")
    return table


def _stored_keys(db: Path) -> set[str]:
    from accelsim.sweep.store import SweepStore

    if not db.exists():
        return set()
    with SweepStore(db, create=False) as store:
        return store.done_keys()


def _sweep(args: argparse.Namespace, console: Console, argv) -> None:
    from rich.console import Console
    from rich.table import Table

    from accelsim.sweep.execute import dask_client, run_sweep
    from accelsim.sweep.points import expand
    from accelsim.sweep.progress import SweepProgress
    from accelsim.sweep.spec import load_sweep
    from accelsim.sweep.store import SweepStore

    if args.workers is not None and args.scheduler is not None:
        raise ConfigError("--workers", str(args.workers), "--workers or --scheduler, not both "
                          "(an existing cluster has its own workers)")
    sweep = load_sweep(args.file)
    points = expand(sweep)
    db = Path(args.db) if args.db else Path(f"{Path(args.file).stem}.db")
    if Path(args.file).resolve() == db.resolve():
        raise ConfigError("--db", str(db), "a file other than the sweep file")
    if args.dry_run:
        console.print(_points_table(sweep, points, _stored_keys(db)))
        return
    if not args.verbose:  # Dask logs every connection at INFO; -v shows them
        import distributed  # noqa: F401 - its import sets its loggers' levels: first

        logging.getLogger("distributed").setLevel(logging.WARNING)
    errors = Console(stderr=True)
    SweepStore.check(db)  # before a cluster starts; the store is made once one is there
    with dask_client(args.workers, args.scheduler) as client, SweepStore(db) as store:
        progress = SweepProgress(errors) if errors.is_terminal and not args.quiet else None
        try:
            summary = run_sweep(sweep.name, points, store, client, progress)
        finally:
            if progress is not None:
                progress.close()
        counts = store.count()
    table = Table(title=f"sweep {sweep.name}", show_header=False)
    table.add_row("points", f"{summary.points}")
    table.add_row("done", f"{summary.done}")
    table.add_row("failed", f"{summary.failed}")
    table.add_row("skipped", f"{summary.skipped} (done in an earlier run)")
    table.add_row("wall time", f"{summary.wall_seconds:,.1f} s")
    table.add_row("store", f"{db}: {counts.get('done', 0)} done, {counts.get('failed', 0)} "
                  "failed (failed points run again next time)")
    console.print(table)
    axes = {point.index: point.axes for point in points}
    for index, line in list(summary.failures.items())[:SHOWN_FAILURES]:
        labels = ", ".join(f"{key}={label}" for key, label in axes[index].items())
        console.print(f"point {index} ({labels}): {line}", soft_wrap=True, markup=False,
                      highlight=False)
    if len(summary.failures) > SHOWN_FAILURES:
        console.print(f"... and {len(summary.failures) - SHOWN_FAILURES} more failures "
                      f"(column error of {db})")


def _report(args: argparse.Namespace, console: Console, argv) -> None:
    from accelsim.sweep.report import write_report

    written, notes = write_report(args.db, args.out, args.xs, args.force, args.sweep)
    console.print(f"report of {args.db} written to {args.out}: "
                  + ", ".join(path.name for path in written), soft_wrap=True)
    for note in notes:
        console.print(f"note: {note}", soft_wrap=True)
