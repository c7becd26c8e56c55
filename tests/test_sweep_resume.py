"""A sweep killed with SIGKILL and run again loses no finished point and runs none twice; the
rows do not depend on the number of workers (:mod:`tests.test_sweep_run` has the fast checks
of the same properties in one process)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import zlib

import pytest

from accelsim.sweep.points import expand
from accelsim.sweep.spec import load_sweep
from tests.conftest import HWCONFIGS, ROOT

#: Points of the test sweep: LeNet-5 iterations of 0.1-0.5 s each on the edge config.
BATCHES = [16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 96, 104]
SWEEP = f"""\
name: resume
hwconfig: {HWCONFIGS / 'edge_16x16.yaml'}
workload: {ROOT / 'workloads' / 'lenet5.yaml'}
grid:
  batch: {BATCHES}
"""
#: Seconds to wait for the first rows before giving up.
PATIENCE_S = 120


def sweep_command(sweep, db, workers: int = 1) -> list[str]:
    return [sys.executable, "-m", "accelsim", "sweep", str(sweep), "--db", str(db),
            "--workers", str(workers), "--quiet"]


def stored(db) -> dict[str, tuple]:
    with sqlite3.connect(db) as connection:
        return {row[0]: row[1:] for row in connection.execute(
            "SELECT key, status, finished_at, result_sha256, attempts, result, spec, "
            "total_cycles, energy_pj FROM points")}


def environment() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


@pytest.mark.slow  # ~20-25 s: two command-line runs, each starting a Dask cluster
def test_sigkill_then_resume_keeps_every_point_once(tmp_path):
    """Start a sweep, SIGKILL its process group once three points are stored, run it again:
    every point is stored once, the rows stored before the kill are unchanged, the second run
    computes only the missing points, and every row's compressed JSON parses and belongs to
    its key."""
    sweep = tmp_path / "resume.yaml"
    sweep.write_text(SWEEP)
    db = tmp_path / "resume.db"
    process = subprocess.Popen(sweep_command(sweep, db), cwd=tmp_path, env=environment(),
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                               start_new_session=True)
    deadline = time.monotonic() + PATIENCE_S
    try:
        while True:
            try:
                count = len(stored(db)) if db.exists() else 0
            except sqlite3.OperationalError:  # the store is being created
                count = 0
            if count >= 3:
                break
            assert process.poll() is None, process.stderr.read().decode()
            assert time.monotonic() < deadline, "no rows stored in time"
            time.sleep(0.05)
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        process.stderr.close()
    before = stored(db)
    assert 3 <= len(before) < len(BATCHES), "the sweep finished before it could be killed"

    resumed = subprocess.run(sweep_command(sweep, db), cwd=tmp_path, env=environment(),
                             capture_output=True, text=True, timeout=PATIENCE_S)
    assert resumed.returncode == 0, resumed.stderr
    counts = {name: int(value) for name, value in
              re.findall(r"(done|failed|skipped)\s*│\s*(\d+)", resumed.stdout)}
    assert counts == {"done": len(BATCHES) - len(before), "failed": 0,
                      "skipped": len(before)}, resumed.stdout

    after = stored(db)
    points = {point.key: point for point in expand(load_sweep(sweep))}
    assert set(after) == set(points)
    for key, row in before.items():
        assert after[key] == row  # untouched: same finishing time, result and attempts
    for key, (status, _, digest, attempts, blob, spec, cycles, energy) in after.items():
        assert (status, attempts) == ("done", 1)
        text = zlib.decompress(blob)
        assert hashlib.sha256(text).hexdigest() == digest
        result = json.loads(text)
        expected = points[key].spec.model_dump(mode="json")
        assert result["run"]["spec"] == expected == json.loads(spec)
        assert (result["total_cycles"], result["energy_pj"]["total"]) == (cycles, energy)
