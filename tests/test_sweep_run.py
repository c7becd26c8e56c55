"""Running sweeps on Dask: an interrupted sweep resumes without losing or repeating a point, a
failing point is recorded while the others run, and rows do not depend on the workers."""

from __future__ import annotations

import pytest

from accelsim.sweep.execute import dask_client, run_sweep
from accelsim.sweep.points import expand
from accelsim.sweep.spec import load_sweep
from accelsim.sweep.store import SweepStore
from tests.conftest import HWCONFIGS, ROOT

SWEEP = f"""\
name: small
hwconfig: {HWCONFIGS / 'edge_16x16.yaml'}
workload: {ROOT / 'workloads' / 'lenet5.yaml'}
grid:
  batch: [2, 4, 6, 8, 10, 12]
  techniques:
    none: []
    skip: ["confidence_skip:tau=0.9,assumed_skip_fraction=0.5"]
    ant: [ant]
"""
#: Points of SWEEP: 6 batches x 3 technique lists; ant does not apply to a systolic array.
POINTS, FAILING = 18, 6


class Interrupt(Exception):
    pass


@pytest.fixture(scope="module")
def threads():
    """A Dask client of one process with two worker threads (quick to start)."""
    from distributed import Client, LocalCluster

    with LocalCluster(processes=False, n_workers=2, threads_per_worker=1,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        yield client


@pytest.fixture
def points(tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text(SWEEP)
    return expand(load_sweep(path))


def rows(db) -> dict[str, dict]:
    with SweepStore(db, create=False) as store:
        return {row["key"]: row for row in store.rows(with_result=True)}


def test_interrupted_sweep_resumes_without_repeating_a_point(tmp_path, points, threads):
    """A sweep stopped after five stored outcomes keeps them; run again, it skips them and
    computes only the rest; a failing point is recorded with its error line and counted, and
    runs again (attempts 2) on the next run while done points never do."""
    db = tmp_path / "s.db"

    def stop(summary, running):
        if summary.finished >= 5:
            raise Interrupt

    with SweepStore(db) as store, pytest.raises(Interrupt):
        run_sweep("small", points, store, threads, stop)
    before = rows(db)
    assert len(before) == 5
    with SweepStore(db) as store:
        summary = run_sweep("small", points, store, threads)
    done_before = sum(row["status"] == "done" for row in before.values())
    assert summary.skipped == done_before
    assert (summary.done, summary.failed) == (POINTS - FAILING - done_before, FAILING)
    assert all("ant: expected a PE-array kind it applies to" in line
               for line in summary.failures.values())
    after = rows(db)
    assert len(after) == POINTS
    for key, row in before.items():
        if row["status"] == "done":
            assert after[key] == row
    with SweepStore(db) as store:
        again = run_sweep("small", points, store, threads)
    assert (again.skipped, again.done, again.failed) == (POINTS - FAILING, 0, FAILING)
    final = rows(db)
    assert {row["attempts"] for row in final.values() if row["status"] == "done"} == {1}
    assert {row["attempts"] >= 2 for row in final.values() if row["status"] == "failed"} == {
        True}
    confident = [row for row in final.values() if row["axes"]["techniques"] == "skip"]
    assert all(row["macs_skipped"] > 0 for row in confident)


def comparable(row: dict) -> dict:
    """A row without what depends on the run rather than the point (time, worker)."""
    return {key: value for key, value in row.items()
            if key not in ("finished_at", "wall_seconds", "worker")}


def test_rows_identical_across_worker_counts_and_orders(tmp_path, points, threads):
    """One worker process, and two threads taking the points in reverse order, store the same
    rows (headline columns and result JSON) byte for byte."""
    one, two = tmp_path / "one.db", tmp_path / "two.db"
    points = points[:9]  # batches 2, 4 and 6
    with SweepStore(one) as store, dask_client(workers=1) as client:
        run_sweep("small", points, store, client)
    with SweepStore(two) as store:
        run_sweep("small", points[::-1], store, threads)
    a, b = rows(one), rows(two)
    assert set(a) == set(b) and len(a) == 9
    for key in a:
        assert comparable(a[key]) == comparable(b[key])


def test_a_point_shared_by_two_sweeps_runs_once(tmp_path, threads):
    """A second sweep skips the point a first one stored, and its rows (by sweep) hold all
    its points, numbered as in its own file."""
    db = tmp_path / "s.db"
    found = {}
    for name, batches in (("first", "[2, 4]"), ("second", "[4, 6]")):
        path = tmp_path / f"{name}.yaml"
        path.write_text(SWEEP.split("grid:")[0].replace("name: small", f"name: {name}")
                        + f"grid:\n  batch: {batches}\n")
        with SweepStore(db) as store:
            found[name] = run_sweep(name, expand(load_sweep(path)), store, threads)
    assert (found["second"].skipped, found["second"].done) == (1, 1)
    with SweepStore(db, create=False) as store:
        second = list(store.rows(sweep="second"))
        assert len(list(store.rows())) == 3
    assert [(row["point"], row["axes"], row["sweep"]) for row in second] == [
        (0, {"batch": 4}, "second"), (1, {"batch": 6}, "second")]
