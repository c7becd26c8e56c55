"""The command line: run writes JSON and CSV and prints a summary; workloads lists the zoo."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from accelsim.cli import main
from tests.conftest import HWCONFIGS, ROOT


def test_run_writes_json_and_csv(tmp_path, capsys):
    """`accelsim run` writes the documented JSON keys and one CSV row per op."""
    out, table = tmp_path / "r.json", tmp_path / "r.csv"
    code = main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                 "--batch", "8", "--out", str(out), "--csv", str(table)])
    assert code == 0
    data = json.loads(out.read_text())
    for key in ("total_cycles", "seconds", "clock_hz", "energy_pj", "macs", "utilization",
                "dram_bytes", "phases", "ops"):
        assert key in data
    assert set(data["phases"]) == {"fwd", "bwd_data", "bwd_weight", "update"}
    assert data["seconds"] == data["total_cycles"] / data["clock_hz"]
    for key in ("name", "layer", "phase", "kind", "start_cycle", "end_cycle", "macs",
                "macs_skipped", "dram_bytes", "stall_cycles"):
        assert key in data["ops"][0]
    rows = list(csv.DictReader(table.open()))
    assert len(rows) == len(data["ops"])
    assert "total cycles" in capsys.readouterr().out


def test_set_override_reaches_the_run(tmp_path):
    """--set dram.ideal=true removes every DRAM stall."""
    out = tmp_path / "r.json"
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                 "--batch", "8", "--set", "dram.ideal=true", "--out", str(out)]) == 0
    stalls = json.loads(out.read_text())["stall_cycles"]
    assert stalls["dram_bandwidth"] == stalls["dram_latency"] == 0


def test_unknown_workload_lists_zoo(capsys):
    """An unknown workload name is one error line listing the zoo, exit code 2."""
    code = main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "resnet9000"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: resnet9000: expected a zoo network name or a workload file")
    assert "resnet50" in err and "Traceback" not in err


def test_unknown_technique(capsys):
    """An unknown technique name is refused with exit code 2."""
    code = main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                 "--technique", "magic"])
    assert code == 2
    assert "error: --technique: magic: expected a registered technique" in capsys.readouterr().err


def test_workloads_lists_zoo_with_macs(capsys):
    """`accelsim workloads` shows every zoo network with its forward GMACs."""
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "4.089" in out and "bert_base_layer" in out


def test_python_dash_m(tmp_path):
    """`python -m accelsim` is the same program."""
    done = subprocess.run([sys.executable, "-m", "accelsim", "--version"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("accelsim ")


def test_timeline_trace(tmp_path):
    """--timeline writes a trace-event file: one span per op on its unit's track, one per
    DRAM transfer, and an op's span lasts its cycles at the clock (in microseconds)."""
    out, timeline = tmp_path / "r.json", tmp_path / "t.json"
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                 "--batch", "8", "--out", str(out), "--timeline", str(timeline)]) == 0
    data = json.loads(out.read_text())
    events = json.loads(timeline.read_text())["traceEvents"]
    spans = [e for e in events if e["ph"] == "X"]
    threads = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert threads == {"PE array", "vector unit", "DRAM"}
    op_spans = {e["name"]: e for e in spans if e["cat"] != "dram"}
    assert len(op_spans) == len(data["ops"])
    assert len(spans) - len(op_spans) == data["dram"]["transfers"]
    row = data["ops"][0]
    assert op_spans[row["name"]]["dur"] == pytest.approx(row["cycles"] / data["clock_hz"] * 1e6)
