"""The sweep command line: --dry-run lists the points, option mistakes are one line, and the
progress bar shows done, failed and running points."""

from __future__ import annotations

import io

from rich.console import Console

from accelsim.cli import main
from accelsim.sweep.execute import Summary
from accelsim.sweep.progress import SweepProgress
from tests.conftest import HWCONFIGS, ROOT

SWEEP = f"""\
hwconfig: {HWCONFIGS / 'edge_16x16.yaml'}
workload: {ROOT / 'workloads' / 'lenet5.yaml'}
grid:
  batch: [2, 4, 8]
zip:
  set.pe_array.rows: [8, 16]
  set.pe_array.cols: [8, 16]
"""


def test_dry_run_lists_points_without_running(tmp_path, capsys):
    """--dry-run prints one row per point (3 x 2) with its axis labels and creates no store."""
    (tmp_path / "s.yaml").write_text(SWEEP)
    db = tmp_path / "s.db"
    assert main(["sweep", str(tmp_path / "s.yaml"), "--db", str(db), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "s: 6 points" in out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 6
    assert [row.split("│")[1].strip() for row in rows] == ["0", "1", "2", "3", "4", "5"]
    assert [row.split("│")[2].strip() for row in rows] == ["2", "2", "4", "4", "8", "8"]
    assert [row.split("│")[3].strip() for row in rows] == ["8", "16"] * 3
    assert not db.exists()


def test_option_mistakes_are_one_line(tmp_path, capsys):
    """--workers 0, --workers with --scheduler, the sweep file as its own store: each one
    line and exit code 2."""
    (tmp_path / "s.yaml").write_text(SWEEP)
    sweep = str(tmp_path / "s.yaml")
    for argv, expected in (
            (["--workers", "0"], "expected a whole number >= 1, got '0'"),
            (["--workers", "2", "--scheduler", "tcp://127.0.0.1:1"],
             "--workers: 2: expected --workers or --scheduler, not both"),
            (["--db", sweep], "expected a file other than the sweep file")):
        assert main(["sweep", sweep, *argv]) == 2
        error = capsys.readouterr().err
        assert expected in error and error.count("\n") == 1, error


def test_progress_shows_done_failed_running():
    """The bar shows points finished of those to run, failures, running points and points
    stored before."""
    text = io.StringIO()
    console = Console(file=text, force_terminal=True, width=120)
    progress = SweepProgress(console)
    summary = Summary(points=10, skipped=4)
    progress(summary, 2)
    summary.done, summary.failed = 2, 1
    progress(summary, 2)
    progress.bar.refresh()
    progress.close()
    shown = text.getvalue()
    assert "3/6" in shown and "1 failed, 2 running, 4 stored before" in shown
