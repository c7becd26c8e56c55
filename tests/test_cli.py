"""The command line: run writes JSON and CSV and prints a summary; workloads lists the zoo."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest

from accelsim.cli import main
from tests.conftest import HWCONFIGS, ROOT


# A run whose every figure is derived by hand: one 8x8x1 GEMM (a SCALE-Sim GEMM-form CSV
# row, batch 1, forward only) on an 8x8 output-stationary array at 1 GHz, DRAM a 16 B/cycle
# peak-bandwidth server with no latency, a 1024 B/cycle link, buffers far larger than the
# operands. No dimension can be split (M and N are one array's width, K = 1), so it is one
# tile: load A (8*1) and B (1*8) fp16 = 32 B in 32/16 = 2 cycles, one fold of
# K + rows + cols - 2 = 15 cycles, store C (8*8) fp16 = 128 B in 8 cycles: 25 cycles, 64 MACs.
HAND_HW = """\
name: hand_8x8_os
clock: 1GHz
pe_array: {kind: systolic, rows: 8, cols: 8, dataflow: os, datatype: fp16, accumulator: fp32}
sram:
  ifmap: {capacity: 1MiB, holds: [ifmap], bandwidth: 4096B/cycle}
  filter: {capacity: 1MiB, holds: [filter], bandwidth: 4096B/cycle}
  ofmap: {capacity: 1MiB, holds: [ofmap], bandwidth: 4096B/cycle}
dram: {ideal: false, bandwidth: 16B/cycle, latency: 0ns, access_energy_pj_per_64b: 1300}
interconnect: {bandwidth: 1024B/cycle, latency: 0cycles}
vector_unit: {lanes: 16, buffer: 64KiB}
"""
HAND_GEMM_CSV = "Layer, M, N, K,\ng,8,8,1,\n"


def hand_run(tmp_path, *options: str) -> dict:
    """Run the hand-derived GEMM (above) through the command line; the JSON result."""
    hw, workload, out = tmp_path / "hw.yaml", tmp_path / "g.csv", tmp_path / "r.json"
    hw.write_text(HAND_HW)
    workload.write_text(HAND_GEMM_CSV)
    assert main(["run", "--hw", str(hw), "--workload", str(workload), "--phases", "fwd",
                 "--out", str(out), *options]) == 0
    return json.loads(out.read_text())


def test_run_writes_json_and_csv(tmp_path, capsys):
    """`accelsim run` writes the documented JSON keys and one CSV row per op, with the
    hand-derived figures of the 8x8x1 GEMM (comment above HAND_HW): 25 cycles = 25 ns at
    1 GHz, 64 MACs, 32 B read and 128 B written; the summary is printed."""
    table = tmp_path / "r.csv"
    data = hand_run(tmp_path, "--csv", str(table))
    for key in ("total_cycles", "seconds", "clock_hz", "energy_pj", "macs", "utilization",
                "dram_bytes", "phases", "ops"):
        assert key in data
    assert set(data["phases"]) == {"fwd", "bwd_data", "bwd_weight", "update"}
    assert data["total_cycles"] == 25
    assert data["clock_hz"] == 1e9
    assert data["seconds"] == pytest.approx(25e-9)
    assert data["macs"] == 64
    assert data["dram_bytes"] == {"read": 32, "written": 128, "total": 160}
    assert data["phases"] == {"fwd": 25, "bwd_data": 0, "bwd_weight": 0, "update": 0}
    (row,) = data["ops"]
    for key in ("name", "layer", "phase", "kind", "start_cycle", "end_cycle", "macs",
                "macs_skipped", "dram_bytes", "stall_cycles"):
        assert key in row
    (csv_row,) = list(csv.DictReader(table.open()))
    assert (csv_row["name"], csv_row["phase"], csv_row["unit"]) == ("g.fwd", "fwd", "pe_array")
    assert (int(csv_row["macs"]), float(csv_row["cycles"]), float(csv_row["compute_cycles"]),
            float(csv_row["stall_cycles"])) == (64, 25, 15, 10)
    assert (int(csv_row["dram_bytes_read"]), int(csv_row["dram_bytes_written"])) == (32, 128)
    assert "total cycles" in capsys.readouterr().out


def test_set_override_reaches_the_run(tmp_path):
    """--set changes the run as the hand count says: dram.ideal=true leaves the fold alone
    (15 cycles, no DRAM stall); dram.bandwidth=32B/cycle halves both transfers (1 + 15 + 4
    = 20 cycles)."""
    ideal = hand_run(tmp_path, "--set", "dram.ideal=true")
    assert ideal["total_cycles"] == 15
    assert ideal["stall_cycles"]["dram_bandwidth"] == ideal["stall_cycles"]["dram_latency"] == 0
    faster = hand_run(tmp_path, "--set", "dram.bandwidth=32B/cycle")
    assert faster["total_cycles"] == 20
    assert faster["stall_cycles"]["dram_bandwidth"] == 5


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
    """`accelsim workloads` shows every zoo network with its forward GMACs: ResNet-50 at
    224x224 has 4.089 GMACs per image, the figure published for it (torchvision's "4.09
    GFLOPS", which counts multiply-accumulates)."""
    assert main(["workloads"]) == 0
    out = capsys.readouterr().out
    assert "resnet50" in out and "4.089" in out and "bert_base_layer" in out


def test_python_dash_m(tmp_path):
    """`python -m accelsim` is the same program."""
    done = subprocess.run([sys.executable, "-m", "accelsim", "--version"], cwd=ROOT,
                          capture_output=True, text=True, check=True)
    assert done.stdout.startswith("accelsim ")


def test_timeline_trace(tmp_path):
    """--timeline writes a trace-event file with one track per component: the op's span on
    the PE array track and the two DRAM transfers of the hand-derived GEMM (comment above
    HAND_HW), in microseconds at 1 GHz: the op 0 to 0.025 us, the load of both operands 0 to
    0.002 us (32 B), the store 0.017 to 0.025 us (128 B); the fwd phase spans the op."""
    timeline = tmp_path / "t.json"
    hand_run(tmp_path, "--timeline", str(timeline))
    events = json.loads(timeline.read_text())["traceEvents"]
    threads = {e["args"]["name"] for e in events if e["name"] == "thread_name"}
    assert threads == {"PE array", "vector unit", "DRAM channel 0", "phase fwd"}
    spans = [(e["name"], e["cat"], e["ts"], e["dur"], e["args"].get("bytes"))
             for e in events if e["ph"] == "X"]
    assert spans == [("g.fwd", "fwd", 0, pytest.approx(0.025), None),
                     ("g.fwd read ifmap+filter", "dram", 0, pytest.approx(0.002), 32),
                     ("g.fwd write ofmap", "dram", pytest.approx(0.017), pytest.approx(0.008),
                      128),
                     ("fwd", "phase", 0, pytest.approx(0.025), None)]


def test_run_spec_file_and_flags_build_one_run(tmp_path):
    """`accelsim run --spec` runs the hand-derived GEMM from a spec file (paths relative to
    the file); a flag beside it replaces the spec's value and --set adds to its overrides. The
    result records the merged spec, the command line and the title shows the overrides."""
    (tmp_path / "hw.yaml").write_text(HAND_HW)
    (tmp_path / "g.csv").write_text(HAND_GEMM_CSV)
    spec = tmp_path / "run.yaml"
    spec.write_text("hwconfig: hw.yaml\nworkload: g.csv\nphases: [fwd]\nseed: 5\n"
                    "overrides: [interconnect.latency=0cycles]\n")
    out = tmp_path / "r.json"
    args = ["run", "--spec", str(spec), "--seed", "7", "--set", "dram.ideal=true",
            "--out", str(out)]
    done = subprocess.run([sys.executable, "-m", "accelsim", *args], capture_output=True,
                          text=True, cwd=ROOT, check=False)
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    assert result["total_cycles"] == 15  # ideal DRAM: the fold alone
    assert result["run"]["seed"] == 7
    assert result["run"]["spec"]["overrides"] == ["interconnect.latency=0cycles",
                                                  "dram.ideal=true"]
    assert result["run"]["command"] == ["accelsim", *args]
    assert "with interconnect.latency=0cycles, dram.ideal=true" in done.stdout


def test_run_needs_a_hwconfig(capsys):
    """Without --hw or a spec naming one, `accelsim run` is one error, exit code 2."""
    assert main(["run", "--workload", "mlp"]) == 2
    assert capsys.readouterr().err == ("error: accelsim run: --hw (or --spec naming hwconfig) "
                                       "is required\n")


def test_summary_reports_traffic_by_tensor_and_what_stayed_on_chip(capsys):
    """The terminal summary of a run with residency, fusion and prefetch (the MLP on the edge
    config, batch 64: every activation fits on chip) names the DRAM traffic by tensor class and
    the bytes read and kept on chip, as the result JSON has them."""
    assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                 "--batch", "64"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "DRAM by tensor" in out and "weights" in out and "gradients" in out
    assert "liveness residency in a" in out and "kept instead of DRAM" in out
    assert "GEMMs absorbed" in out


def test_compare_puts_two_runs_side_by_side(tmp_path, capsys):
    """Two MLP runs, residency on and off: compare lists both totals (the DRAM traffic of the
    run without residency is larger), the energy split, and the one setting that differs."""
    from accelsim.compare import compare, load_result

    paths = []
    for name, policy in (("on", "liveness"), ("off", "none")):
        path = tmp_path / f"{name}.json"
        assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                     "--batch", "64", "--set", f"residency.policy={policy}",
                     "--out", str(path)]) == 0
        paths.append(path)
    on, off = (load_result(p) for p in paths)
    result = compare(on, off, top=3)
    totals = {what: (a, b) for what, a, b in result.totals}
    assert totals["DRAM MiB"][1] > totals["DRAM MiB"][0]
    assert totals["MACs issued"][0] == totals["MACs issued"][1] == on["macs_issued"]
    assert ("hw.residency.policy", "liveness", "none") in result.settings
    assert len(result.ops) == 3
    capsys.readouterr()
    assert main(["compare", str(paths[0]), str(paths[1])]) == 0
    out = capsys.readouterr().out
    assert "settings that differ" in out and "hw.residency.policy" in out


def test_compare_writes_its_csv_and_figure_and_keeps_other_files(tmp_path, capsys):
    """compare --out writes compare.csv (each figure of both runs, read back equal to the
    result files' own numbers), a PNG figure and its manifest; a second comparison replaces
    them, while a file no comparison wrote is refused unless --force."""
    import csv

    from accelsim.compare import load_result

    paths = []
    for name, batch in (("small", "16"), ("large", "32")):
        path = tmp_path / f"{name}.json"
        assert main(["run", "--hw", str(HWCONFIGS / "edge_16x16.yaml"), "--workload", "mlp",
                     "--batch", batch, "--out", str(path)]) == 0
        paths.append(path)
    small, large = (load_result(p) for p in paths)
    out = tmp_path / "cmp"
    assert main(["compare", str(paths[0]), str(paths[1]), "--out", str(out)]) == 0
    rows = list(csv.DictReader((out / "compare.csv").open(encoding="utf-8")))
    cycles = next(r for r in rows if r["what"] == "total cycles")
    assert float(cycles["a"]) == small["total_cycles"]
    assert float(cycles["b"]) == large["total_cycles"]
    assert float(cycles["b_over_a"]) == pytest.approx(
        large["total_cycles"] / small["total_cycles"], rel=1e-5)
    assert {"totals", "phase cycles", "energy by component (uJ)", "ops whose cycles moved most",
            "settings that differ"} == {r["section"] for r in rows}
    assert any(r["what"] == "run.batch" and (r["a"], r["b"]) == ("16", "32") for r in rows)
    assert (out / "compare.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["compare", str(paths[1]), str(paths[0]), "--out", str(out)]) == 0  # replaced
    (out / "compare.png").unlink()
    (out / "compare.png").write_text("mine")
    (out / "compare.json").unlink()  # no manifest: nothing here is an earlier comparison's
    capsys.readouterr()
    assert main(["compare", str(paths[0]), str(paths[1]), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "compare.png").read_text() == "mine"
    assert main(["compare", str(paths[0]), str(paths[1]), "--out", str(out), "--force"]) == 0


@pytest.mark.parametrize("content, expected", [
    ("not json", "expected a result JSON file written by accelsim run --out"),
    ('{"schema": "other/1"}', "schema: expected an accelsim result (accelsim.run/1)"),
])
def test_compare_refuses_what_is_not_a_result(tmp_path, capsys, content, expected):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    assert main(["compare", str(bad), str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and expected in err and str(bad) in err


def test_the_command_line_starts_without_the_engine():
    """`accelsim --help` and the parser need neither the engine (simpy, networkx) nor the
    config models (pydantic): importing the command line loads none of them."""
    import subprocess
    import sys

    probe = ("import sys, accelsim.cli; "
             "print(sorted(m for m in ('simpy', 'networkx', 'pydantic', 'numpy') "
             "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          check=True)
    assert done.stdout.strip() == "[]"


def test_progress_is_reported_per_op_and_shown_only_for_long_runs():
    """simulate() calls the progress callback once per op, done counting up to every op and
    the last cycle being the run's end; the terminal bar stays hidden for the first second
    and then draws ops done of all."""
    import io

    from rich.console import Console

    from accelsim import simulate
    from accelsim.progress import RunProgress

    calls = []
    result = simulate({"hwconfig": str(HWCONFIGS / "edge_16x16.yaml"), "workload": "mlp",
                       "batch": 8}, progress=lambda *args: calls.append(args))
    assert [done for done, _, _ in calls] == list(range(1, len(result["ops"]) + 1))
    assert {total for _, total, _ in calls} == {len(result["ops"])}
    assert calls[-1][2] == result["total_cycles"]
    screen = io.StringIO()
    bar = RunProgress(Console(file=screen, force_terminal=True, width=100))
    bar(1, 4, 10.0)
    assert bar.bar is None  # a quick run shows nothing
    bar.started -= 2.0
    bar(2, 4, 20.0)
    bar.close()
    assert "2/4" in screen.getvalue()
