"""The ACRTC and Mquans reproduction scripts run on a reduced set (``--quick``: the traced
mlp) and write their table, CSV and chart; the accuracy column is never a number."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("script, name, paper", [
    ("reproduce_acrtc.py", "acrtc", "1.33x"),
    ("reproduce_mquans.py", "mquans", "2.70x"),
])
def test_reproduction_quick_writes_table_csv_and_chart(tmp_path, script, name, paper):
    out = tmp_path / name
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / script), "--quick",
                           "--out", str(out)], capture_output=True, text=True, cwd=tmp_path,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert paper in done.stdout and "not measured" in done.stdout
    rows = list(csv.DictReader((out / f"{name}.csv").open(encoding="utf-8")))
    assert rows and all(r["network"] == "mlp" and r["rates"] == "measured" for r in rows)
    assert all(r["accuracy"] == "not measured" for r in rows)
    assert all(float(r["speedup"]) > 0 and float(r["base_cycles"]) > 0 for r in rows)
    assert (out / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert sorted(p.name for p in out.iterdir()) == [f"{name}.csv", f"{name}.png"]
