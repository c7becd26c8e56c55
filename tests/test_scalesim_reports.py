"""``accelsim run --scalesim-reports DIR``: SCALE-Sim v3's three report files, checked against
SCALE-Sim's own numbers (``tests/golden/scalesim_v3_*.json``, made by the real SCALE-Sim 3.0.0
through ``scripts/scalesim_golden.py``) and its headers as its source writes them."""

from __future__ import annotations

import csv
import json
import math

import pytest

from accelsim.cli import main
from tests.conftest import ROOT

COMPUTE = json.loads((ROOT / "tests/golden/scalesim_v3_compute_cycles.json").read_text())
ACCESS = json.loads((ROOT / "tests/golden/scalesim_v3_resnet18_access.json").read_text())
HWCONFIG = str(ROOT / "hwconfigs/scalesim_32x32_os.yaml")

#: The headers as scalesim/simulator.py (v3, ``generate_reports``) writes them.
SCALESIM_HEADERS = {
    "COMPUTE_REPORT.csv": "LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, "
                          "Overall Util %, Mapping Efficiency %, Compute Util %,",
    "BANDWIDTH_REPORT.csv": "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, "
                            "Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,",
    "DETAILED_ACCESS_REPORT.csv": (
        "LayerID, SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, "
        "SRAM Filter Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, "
        "SRAM OFMAP Start Cycle, SRAM OFMAP Stop Cycle, SRAM OFMAP Writes, "
        "DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, DRAM IFMAP Reads, "
        "DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, "
        "DRAM OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,"),
}
#: The golden's 10 MiB SRAMs (nothing is split) and SRAM ports that never stall the array.
LARGE_SRAM = [f"sram.{b}.{key}={value}" for b in ("ifmap", "filter", "ofmap")
              for key, value in (("capacity", "10MiB"), ("bandwidth", "4096B/cycle"))]


def read_report(path) -> list[dict[str, str]]:
    """Rows of a SCALE-Sim-style report, keyed by stripped header names, as SCALE-Sim users
    read them (``csv`` plus stripping the blank after each comma)."""
    with open(path, newline="") as handle:
        rows = [[cell.strip() for cell in row] for row in csv.reader(handle)]
    header = rows[0]
    return [dict(zip(header, row)) for row in rows[1:]]


def run_reports(tmp_path, workload, *extra) -> dict[str, list[dict[str, str]]]:
    folder = tmp_path / "reports"
    code = main(["run", "--hw", HWCONFIG, "--workload", str(workload), "--phases", "fwd",
                 "--top", "0", "--quiet", "--scalesim-reports", str(folder), *extra])
    assert code == 0
    return {name: read_report(folder / name) for name in SCALESIM_HEADERS}


def golden_layers() -> list[dict]:
    """The 32x32 os layers whose output size SCALE-Sim computes as the convolution does (its
    ceil rule adds a row and a column to L7: tests/test_scalesim_agreement.py)."""
    def same_size(layer):
        s = layer["stride"]
        return all(math.ceil((layer[f"ifmap_{a}"] - layer[f"filter_{a}"] + s) / s)
                   == (layer[f"ifmap_{a}"] - layer[f"filter_{a}"]) // s + 1 for a in "hw")
    return [layer for layer in COMPUTE["layers"]
            if layer["rows"] == 32 and layer["dataflow"] == "os" and same_size(layer)]


def test_headers_are_scalesim_v3s(tmp_path):
    """Each file starts with SCALE-Sim v3's header, byte for byte, and its rows have as many
    cells as the header (trailing comma included)."""
    topology = ROOT / "workloads/scalesim/resnet18.csv"
    run_reports(tmp_path, topology)
    for name, header in SCALESIM_HEADERS.items():
        lines = (tmp_path / "reports" / name).read_text().splitlines()
        assert lines[0] == header
        assert all(line.count(",") == header.count(",") for line in lines[1:])
        assert all(line.endswith(",") for line in lines[1:])


def test_compute_cycles_and_dram_reads_match_scalesim(tmp_path):
    """With the golden's 10 MiB SRAMs and an ideal DRAM, every layer's Total Cycles is
    SCALE-Sim's plus the one cycle of its 0-based count, with no stall; its DRAM IFMAP and
    Filter reads are SCALE-Sim's word counts; Overall Util % is MACs over those cycles."""
    layers = golden_layers()
    topology = tmp_path / "golden.csv"
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                        "Channels, Num Filter, Strides,\n" + "".join(
                            f"{l['name']},{l['ifmap_h']},{l['ifmap_w']},{l['filter_h']},"
                            f"{l['filter_w']},{l['channels']},{l['filters']},{l['stride']},\n"
                            for l in layers))
    sets = [arg for pair in LARGE_SRAM + ["dram.ideal=true"] for arg in ("--set", pair)]
    reports = run_reports(tmp_path, topology, *sets)
    compute, detail = reports["COMPUTE_REPORT.csv"], reports["DETAILED_ACCESS_REPORT.csv"]
    assert [int(r["LayerID"]) for r in compute] == list(range(len(layers)))
    for layer, row, access in zip(layers, compute, detail):
        assert int(row["Total Cycles"]) == layer["scalesim_compute_cycles"] + 1, layer["name"]
        assert int(row["Stall Cycles"]) == 0
        assert int(access["DRAM IFMAP Reads"]) == layer["scalesim_dram_ifmap_reads"]
        assert int(access["DRAM Filter Reads"]) == layer["scalesim_dram_filter_reads"]
        ho = (layer["ifmap_h"] - layer["filter_h"]) // layer["stride"] + 1
        wo = (layer["ifmap_w"] - layer["filter_w"]) // layer["stride"] + 1
        macs = ho * wo * layer["filter_h"] * layer["filter_w"] * layer["channels"] \
            * layer["filters"]
        util = 100 * macs / ((layer["scalesim_compute_cycles"] + 1) * 32 * 32)
        assert float(row["Overall Util %"]) == pytest.approx(util, rel=1e-12)
        assert access["DRAM IFMAP Start Cycle"] == ""  # an ideal DRAM dates no transfer


def test_mapping_efficiency_by_hand(tmp_path):
    """Mapping efficiency as SCALE-Sim averages it over folds, worked out by hand on the 32x32
    os array: L1 maps 64 output pixels x 8 filters (two folds of 32 x 8: 25%), L2 256 x 32
    (every PE: 100%), L6 one pixel x 70 filters (folds of 1 x 32, 1 x 32, 1 x 6: 70 of 3 x
    1024 PEs)."""
    names = [layer["name"] for layer in golden_layers()]
    topology = tmp_path / "golden.csv"
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                        "Channels, Num Filter, Strides,\n"
                        "L1,10,10,3,3,4,8,1,\nL2,18,18,3,3,16,32,1,\nL6,1,1,1,1,300,70,1,\n")
    assert {"L1", "L2", "L6"} <= set(names)
    compute = run_reports(tmp_path, topology)["COMPUTE_REPORT.csv"]
    efficiency = [float(r["Mapping Efficiency %"]) for r in compute]
    assert efficiency == pytest.approx([25.0, 100.0, 100 * 70 / 3072], rel=1e-12)


def test_resnet18_reports_on_scalesim_default_config(tmp_path):
    """ResNet-18 on SCALE-Sim's default 32x32 os, 64/64/32 kB example: one row per layer of the
    topology; where both simulators read each filter word exactly once (conv1, whose 9,408
    words fit; the 1x1 layer2.0.downsample; fc) the DRAM Filter Reads are SCALE-Sim's; DRAM
    OFMAP writes are at least the layer's outputs; the dates bound the traffic (a read
    transfer moves at most the 20 B/cycle peak of the hwconfig) and each DRAM bandwidth is
    the words over those dates."""
    topology = ROOT / "workloads/scalesim/resnet18.csv"
    reports = run_reports(tmp_path, topology)
    detail = reports["DETAILED_ACCESS_REPORT.csv"]
    bandwidth = reports["BANDWIDTH_REPORT.csv"]
    assert len(detail) == len(ACCESS["layers"]) == 21
    for theirs, row, bw in zip(ACCESS["layers"], detail, bandwidth):
        if theirs["name"] in ("conv1", "layer2.0.downsample", "fc"):
            assert int(row["DRAM Filter Reads"]) == theirs["dram_filter_reads"]
        for role, column in (("IFMAP", "Reads"), ("Filter", "Reads"), ("OFMAP", "Writes")):
            start = int(row[f"DRAM {role} Start Cycle"])
            stop = int(row[f"DRAM {role} Stop Cycle"])
            words = int(row[f"DRAM {role} {column}"])
            assert words * 2 <= 20 * (stop - start + 1)
            key = f"Avg {role.upper()} DRAM BW"
            assert float(bw[key]) == pytest.approx(words / (stop - start + 1), rel=1e-12)
    conv1 = detail[0]
    assert int(conv1["DRAM OFMAP Writes"]) == 112 * 112 * 64


def test_report_folder_follows_the_output_rules(tmp_path, capsys):
    """A report file that is not an accelsim output is not replaced without --force (exit 2,
    the file unchanged); a CSV holding exactly a report header is; a folder path that is a
    file, or lies in a missing folder, is refused before the run."""
    topology = tmp_path / "one.csv"
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                        "Channels, Num Filter, Strides,\nL1,10,10,3,3,4,8,1,\n")
    folder = tmp_path / "reports"
    folder.mkdir()
    mine = folder / "COMPUTE_REPORT.csv"
    mine.write_text("my own notes\n")
    args = ["run", "--hw", HWCONFIG, "--workload", str(topology), "--top", "0", "--quiet",
            "--scalesim-reports", str(folder)]
    assert main(args) == 2
    assert "--scalesim-reports (COMPUTE_REPORT.csv)" in capsys.readouterr().err
    assert mine.read_text() == "my own notes\n"
    mine.write_text(SCALESIM_HEADERS["COMPUTE_REPORT.csv"] + "\n")
    assert main(args) == 0
    assert len(read_report(mine)) == 1
    a_file = tmp_path / "file"
    a_file.write_text("x")
    for bad in (a_file, tmp_path / "missing" / "reports"):
        assert main([*args[:-1], str(bad)]) == 2
        assert "--scalesim-reports" in capsys.readouterr().err
    assert a_file.read_text() == "x"
