"""accelsim report: the tidy CSV (one row per point, axes as columns, speedup over the same run
without techniques), the breakdown tables, the figures, and outputs that never cost a file."""

from __future__ import annotations

import csv
import json

import pytest

from accelsim.cli import main
from accelsim.sweep.points import expand
from accelsim.sweep.spec import load_sweep
from accelsim.sweep.store import SweepStore
from accelsim.sweep.worker import run_point
from tests.conftest import HWCONFIGS, ROOT

SWEEP = f"""\
name: report
hwconfig: {HWCONFIGS / 'edge_16x16.yaml'}
workload: {ROOT / 'workloads' / 'lenet5.yaml'}
grid:
  batch: [4, 16]
  techniques:
    none: []
    skip: ["confidence_skip:tau=0.9,assumed_skip_fraction=0.5"]
"""
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    """A store of the four points of SWEEP, run in this process."""
    folder = tmp_path_factory.mktemp("report")
    (folder / "report.yaml").write_text(SWEEP)
    path = folder / "report.db"
    with SweepStore(path) as store:
        for point in expand(load_sweep(folder / "report.yaml")):
            store.write("report", point.index, point.axes, point.spec.model_dump(mode="json"),
                        run_point(point.payload()))
    return path


def read_csv(path) -> list[dict]:
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


def test_report_writes_tidy_csv_tables_and_figures(db, tmp_path):
    """points.csv has one row per point with the axes as columns; a skip point's speedup is
    the cycles of the point of the same batch without techniques over its own; phases.csv and
    layers.csv add up to the result's figures; every figure is a PNG."""
    out = tmp_path / "out"
    assert main(["report", str(db), "--out", str(out)]) == 0
    points = read_csv(out / "points.csv")
    assert [(row["batch"], row["techniques"]) for row in points] == [
        ("4", "none"), ("4", "skip"), ("16", "none"), ("16", "skip")]
    with SweepStore(db, create=False) as store:
        stored = {row["key"]: row for row in store.rows(with_result=True)}
    for row in points:
        same_batch_none = next(other for other in points if other["batch"] == row["batch"]
                               and other["techniques"] == "none")
        expected = float(same_batch_none["total_cycles"]) / float(row["total_cycles"])
        assert float(row["speedup"]) == pytest.approx(expected, rel=1e-12)
        assert float(row["total_cycles"]) == stored[row["key"]]["result"]["total_cycles"]
    assert all(float(row["speedup"]) > 1 for row in points if row["techniques"] == "skip")
    layers = read_csv(out / "layers.csv")
    for key, row in stored.items():
        macs = sum(int(layer["macs"]) for layer in layers if layer["key"] == key)
        assert macs == row["result"]["macs"] - row["result"]["macs_skipped"]
    phases = read_csv(out / "phases.csv")
    assert {row["phase"] for row in phases} == {"fwd", "bwd_data", "bwd_weight", "update"}
    manifest = json.loads((out / "report.json").read_text())
    assert "speedup.png" in manifest["files"] and "sensitivity_batch.png" in manifest["files"]
    for name in manifest["files"]:
        if name.endswith(".png"):
            assert (out / name).read_bytes().startswith(PNG)


def test_report_replaces_its_own_files_and_refuses_others(db, tmp_path, capsys):
    """A second report over the first replaces its files; a file the report did not write is
    refused (one line naming it, exit code 2) and left as it was unless --force."""
    out = tmp_path / "out"
    assert main(["report", str(db), "--out", str(out)]) == 0
    assert main(["report", str(db), "--out", str(out)]) == 0
    (out / "report.json").unlink()
    (out / "points.csv").write_text("my notes\n")
    capsys.readouterr()
    assert main(["report", str(db), "--out", str(out)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --out: ") and "points.csv: expected a new file" in error
    assert error.count("\n") == 1
    assert (out / "points.csv").read_text() == "my notes\n"
    assert main(["report", str(db), "--out", str(out), "--force"]) == 0


def test_sensitivity_axis_must_be_numeric(db, tmp_path, capsys):
    """--x names a numeric axis of the store; another is one error listing the valid ones."""
    assert main(["report", str(db), "--out", str(tmp_path / "o"), "--x", "techniques"]) == 2
    assert capsys.readouterr().err == ("error: --x: techniques: expected a numeric axis of the "
                                       "stored points (with at least two values) (valid "
                                       "choices: batch)\n")
