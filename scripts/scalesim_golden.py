"""Generate golden compute-cycle numbers from the reference SCALE-Sim v3.

Runs a handful of small conv / GEMM layers through SCALE-Sim v3 (output,
weight and input stationary dataflows; 8x8 and 32x32 arrays) and writes the
per-layer compute cycles, next to the closed-form fold formula, and the per-layer
DRAM reads of the ifmap and filter (with SRAMs that hold everything: each distinct
address once) to tests/golden/scalesim_v3_compute_cycles.json.

SCALE-Sim is *not* a dependency of accelsim and this script does not import
accelsim. It runs in its own virtualenv:

    python3 -m venv /work/scalesim-venv
    /work/scalesim-venv/bin/pip install scalesim==3.0.0 numpy==2.3.5
    /work/scalesim-venv/bin/python scripts/scalesim_golden.py

(newer numpy versions crash scalesim 3.0.0). Use ``--out PATH`` to write the
JSON elsewhere. All SCALE-Sim inputs and reports go to a temporary directory;
traces are not written (``save_disk_space=True``). A full run takes well under
a minute.

SCALE-Sim is driven through its Python API::

    sim = scalesim(save_disk_space=True, verbose=False, config=cfg,
                   topology=topo_csv, layout=layout_csv)
    sim.run_scale(top_path=tmpdir)

and the cycle count is the per-layer "Total Cycles" of COMPUTE_REPORT.csv
(``single_layer_sim.get_compute_report_items()[1]``), which is compute plus
stall cycles. The memory is configured so that it never stalls (10 MiB SRAMs,
InterfaceBandwidth = CALC); the script asserts that the reported stall cycles
are 0, so the value is pure compute cycles.

The script also asserts that every SCALE-Sim number equals the exact formula
derived from its source (``scalesim_model_cycles``; see FORMULA_NOTES): the
fold formula with a ceil output size, minus one cycle per layer.

``--resnet18-access`` instead runs workloads/scalesim/resnet18.csv (the ResNet-18 forward
pass, batch 1) on SCALE-Sim's default example, a 32x32 os array with 64/64/32 kB SRAMs
(hwconfigs/scalesim_32x32_os.yaml), and writes the per-layer DRAM reads and writes of its
DETAILED_ACCESS_REPORT.csv (in words) to tests/golden/scalesim_v3_resnet18_access.json. This
takes about 5 CPU minutes and 1-2 GB of RAM. See ACCESS_NOTES for what SCALE-Sim counts.
"""

import argparse
import csv
import datetime
import json
import math
import os
import tempfile
from importlib.metadata import version

from scalesim.scale_sim import scalesim

SRAM_KB = 10240

# name, ifmap_h, ifmap_w, filter_h, filter_w, channels, filters, stride
# (ifmap sizes are already padded; SCALE-Sim has no padding column)
LAYERS = [
    ("L1", 10, 10, 3, 3, 4, 8, 1),
    ("L2", 18, 18, 3, 3, 16, 32, 1),
    ("L3", 17, 17, 3, 3, 8, 24, 2),
    ("L4", 8, 8, 1, 1, 64, 40, 1),
    ("L5", 14, 14, 1, 1, 96, 48, 1),
    ("L6", 1, 1, 1, 1, 300, 70, 1),  # GEMM: M=1, N=70, K=300
    ("L7", 30, 30, 7, 7, 3, 16, 2),
    ("L8", 29, 29, 1, 1, 32, 16, 2),  # names 15x15 of the 29x29 ifmap positions
    ("L9", 29, 29, 2, 2, 8, 16, 3),  # names 20 of the 29 rows and of the 29 columns
]
ARRAYS = [(8, 8), (32, 32)]
DATAFLOWS = ["os", "ws", "is"]

CONFIG_TEMPLATE = """\
[general]
run_name = golden_{rows}x{cols}_{dataflow}

[architecture_presets]
ArrayHeight: {rows}
ArrayWidth: {cols}
IfmapSramSzkB: {sram_kb}
FilterSramSzkB: {sram_kb}
OfmapSramSzkB: {sram_kb}
IfmapOffset: 0
FilterOffset: 10000000
OfmapOffset: 20000000
Bandwidth: 10
Dataflow: {dataflow}
ReadRequestBuffer: 512
WriteRequestBuffer: 512

[layout]
IfmapCustomLayout: False
FilterCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False

[sparsity]
SparsitySupport: false
"""

TOPOLOGY_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                   "Channels, Num Filter, Strides,\n")


def fold_cycles(m, n, k, rows, cols, dataflow):
    """Closed-form fold model: number of folds * cycles per fold."""
    if dataflow == "os":
        return math.ceil(m / rows) * math.ceil(n / cols) * (k + rows + cols - 2)
    if dataflow == "ws":
        return math.ceil(k / rows) * math.ceil(n / cols) * (2 * rows + cols + m - 2)
    if dataflow == "is":
        return math.ceil(k / rows) * math.ceil(m / cols) * (2 * rows + cols + n - 2)
    raise ValueError(dataflow)


def formula_cycles(layer, rows, cols, dataflow):
    """accelsim's expected value: fold model with floor((H - R) / stride) + 1 outputs."""
    _, h, w, r, s, c, n, stride = layer
    m = ((h - r) // stride + 1) * ((w - s) // stride + 1)
    return fold_cycles(m, n, r * s * c, rows, cols, dataflow)


def scalesim_model_cycles(layer, rows, cols, dataflow):
    """What SCALE-Sim v3 actually reports (see FORMULA_NOTES): ceil output size
    (topology_utils.py:285-286) and the last cycle counted 0-based (-1)."""
    _, h, w, r, s, c, n, stride = layer
    m = math.ceil((h - r + stride) / stride) * math.ceil((w - s + stride) / stride)
    return fold_cycles(m, n, r * s * c, rows, cols, dataflow) - 1


def write_inputs(workdir, rows, cols, dataflow):
    """Write the .cfg, topology and (empty) layout CSVs; return their paths."""
    cfg = os.path.join(workdir, f"{rows}x{cols}_{dataflow}.cfg")
    with open(cfg, "w") as f:
        f.write(CONFIG_TEMPLATE.format(rows=rows, cols=cols, dataflow=dataflow, sram_kb=SRAM_KB))

    topo = os.path.join(workdir, "topology.csv")
    with open(topo, "w") as f:
        f.write(TOPOLOGY_HEADER)
        for layer in LAYERS:
            f.write(", ".join(str(x) for x in layer) + ",\n")

    # scalesim always opens a layout file; a header-only one is fine when
    # the custom-layout flags are off.
    layout = os.path.join(workdir, "layout.csv")
    with open(layout, "w") as f:
        f.write("Layer name,\n")
    return cfg, topo, layout


def read_access_report(path):
    """Per-layer (DRAM IFMAP Reads, DRAM Filter Reads) of a DETAILED_ACCESS_REPORT.csv."""
    with open(path) as f:
        rows = [[x.strip() for x in row] for row in csv.reader(f)]
    col = {name: i for i, name in enumerate(rows[0])}
    return [(int(r[col["DRAM IFMAP Reads"]]), int(r[col["DRAM Filter Reads"]]))
            for r in rows[1:] if r and r[0]]


def run_scalesim(workdir, rows, cols, dataflow):
    """Run all LAYERS once; return per-layer (compute cycles, DRAM ifmap reads, DRAM filter
    reads), the reads in words."""
    cfg, topo, layout = write_inputs(workdir, rows, cols, dataflow)
    sim = scalesim(save_disk_space=True, verbose=False,
                   config=cfg, topology=topo, layout=layout)
    sim.run_scale(top_path=workdir)

    # Cross-check the API values against the COMPUTE_REPORT.csv on disk.
    report = os.path.join(workdir, f"golden_{rows}x{cols}_{dataflow}", "COMPUTE_REPORT.csv")
    with open(report) as f:
        report_rows = [[x.strip() for x in row] for row in csv.reader(f)][1:]

    cycles = []
    for layer_sim, report_row in zip(sim.runner.single_layer_sim_object_list, report_rows):
        _, total, stalls, *_ = layer_sim.get_compute_report_items()
        assert stalls == 0, f"memory stalled ({stalls} cycles); results are not pure compute"
        assert int(report_row[2]) == total and int(report_row[3]) == 0
        cycles.append(int(total))
    assert len(cycles) == len(LAYERS)
    access = read_access_report(os.path.join(workdir, f"golden_{rows}x{cols}_{dataflow}",
                                             "DETAILED_ACCESS_REPORT.csv"))
    return [(c, i, f) for c, (i, f) in zip(cycles, access)]


FORMULA_NOTES = (
    "SCALE-Sim v3 reports, per layer, folds * per_fold - 1 cycles: exactly ONE cycle fewer than "
    "the accelsim fold formula (one per layer, not per fold), with M computed with a ceil output "
    "size. Details (paths relative to site-packages/scalesim/). "
    "(1) Per fold, the OFMAP demand matrix has one row per cycle. "
    "os: prefix T-1 null rows (T=K) + arr_row rows, then skew_matrix adds arr_col-1 rows -> "
    "K+R+C-2 (compute/systolic_compute_os.py:366-367, 393-395, 408, 426; skew_matrix 564-583). "
    "ws: prefix 2R-1 + M rows, skewed -> 2R+C+M-2 (compute/systolic_compute_ws.py:434, 456, "
    "468, 472). is: prefix 2R-1 + N rows (ofmap transposed), skewed -> 2R+C+N-2 "
    "(compute/systolic_compute_is.py:337, 346-347, 359, 363). "
    "(2) Fold counts: os ceil(M/R)*ceil(N/C) (systolic_compute_os.py:91-92); "
    "ws ceil(K/R)*ceil(N/C) (systolic_compute_ws.py:109-110); "
    "is ceil(K/R)*ceil(M/C) (systolic_compute_is.py:86-93: Sr=K, Sc=M, T=N). "
    "So the demand-matrix length equals the accelsim formula. "
    "(3) Off-by-one: memory/double_buffered_scratchpad_mem.py:256 issues demand row i at cycle "
    "i + stall_cycles (0-based), the OFMAP write buffer returns that cycle "
    "(memory/write_buffer.py:225), and line 307 sets total_cycles = max(ofmap_serviced_cycles), "
    "i.e. the 0-based index of the last row = rows - 1 when there are no stalls. That value is "
    "'Total Cycles' in COMPUTE_REPORT.csv (single_layer_sim.py:335). "
    "(4) Output size: topology_utils.py:285-286 uses ofmap_h = ceil((H - R + stride) / stride), "
    "which exceeds floor((H - R) / stride) + 1 whenever (H - R) % stride != 0. The extra partial "
    "window reads out-of-range ifmap addresses, which become -1 (compute/operand_matrix.py:"
    "212-218). Only L7 is affected: 30x30, 7x7, stride 2 gives Ho=Wo=13 (M=169) in SCALE-Sim "
    "vs 12 (M=144) in the floor formula, so all six L7 entries differ by far more than 1. "
    "Exact SCALE-Sim formula, verified for every entry here: "
    "scalesim = folds(M', N, K) * per_fold(M', N, K) - 1 with "
    "M' = ceil((H-R+s)/s) * ceil((W-S+s)/s); for all other layers here "
    "scalesim_compute_cycles == formula_cycles - 1."
)


ACCESS_NOTES = (
    "DRAM reads of SCALE-Sim v3 (paths relative to site-packages/scalesim/). With "
    "InterfaceBandwidth CALC, single_layer_sim.py:238-263 runs the ifmap and filter read "
    "buffers in estimate-bandwidth mode (memory/read_buffer_estimate_bw.py) with a word size "
    "of 1 byte (so a 64 kB SRAM holds 65,536 words) and an active fraction of 0.5. The "
    "demand stream (os: column folds outer, row folds inner, each fold's whole K, "
    "compute/systolic_compute_os.py:271-272, 323-324) is checked against the active sets, "
    "the last 32,768 distinct words fetched for a 64 kB buffer (check_hit); a word not "
    "there is appended to the current set and counted as one DRAM read when its set is "
    "prefetched (manage_prefetches, prefetch: num_access += len(all_addresses)). So a "
    "layer's 'DRAM IFMAP Reads' is the misses of a first-in first-out buffer of half the "
    "SRAM's bytes, in words, over the im2col demand stream: words named again while still "
    "among the last 32,768 fetched are free, others are read again. Counts are words "
    "(2 bytes at accelsim's fp16)."
)


def write_resnet18_config(workdir):
    """The .cfg of SCALE-Sim's default example (32x32 os, 64/64/32 kB) and a layout CSV."""
    cfg = os.path.join(workdir, "resnet18_32x32_os.cfg")
    text = CONFIG_TEMPLATE.format(rows=32, cols=32, dataflow="os", sram_kb=64)
    text = text.replace("OfmapSramSzkB: 64", "OfmapSramSzkB: 32")
    text = text.replace("run_name = golden_32x32_os", "run_name = resnet18_32x32_os")
    with open(cfg, "w") as f:
        f.write(text)
    layout = os.path.join(workdir, "layout.csv")
    with open(layout, "w") as f:
        f.write("Layer name,\n")
    return cfg, layout


def resnet18_access(out_path):
    """Run the ResNet-18 topology and write its per-layer DRAM accesses (words)."""
    here = os.path.dirname(os.path.abspath(__file__))
    topology = os.path.normpath(os.path.join(here, "..", "workloads", "scalesim",
                                             "resnet18.csv"))
    with open(topology) as f:
        names = [row[0].strip() for row in list(csv.reader(f))[1:] if row and row[0].strip()]
    with tempfile.TemporaryDirectory(prefix="scalesim_resnet18_", dir="/tmp") as tmp:
        cfg, layout = write_resnet18_config(tmp)
        sim = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topology,
                       layout=layout)
        sim.run_scale(top_path=tmp)
        report = os.path.join(tmp, "resnet18_32x32_os", "DETAILED_ACCESS_REPORT.csv")
        with open(report) as f:
            rows = [[x.strip() for x in row] for row in csv.reader(f)]
    header, rows = rows[0], [r for r in rows[1:] if r and r[0]]
    col = {name: i for i, name in enumerate(header)}
    assert len(rows) == len(names)
    layers = [{"name": name,
               "dram_ifmap_reads": int(r[col["DRAM IFMAP Reads"]]),
               "dram_filter_reads": int(r[col["DRAM Filter Reads"]]),
               "dram_ofmap_writes": int(r[col["DRAM OFMAP Writes"]])}
              for name, r in zip(names, rows)]
    for layer in layers:
        print(f"{layer['name']}: ifmap {layer['dram_ifmap_reads']} filter "
              f"{layer['dram_filter_reads']} ofmap {layer['dram_ofmap_writes']}")
    source = (
        f"scalesim=={version('scalesim')}, numpy=={version('numpy')}; generated by "
        "scripts/scalesim_golden.py --resnet18-access via the Python API "
        "scalesim(save_disk_space=True, verbose=False, config=, topology=, layout=)"
        ".run_scale(top_path=<tmpdir>) on workloads/scalesim/resnet18.csv; values = "
        "per-layer 'DRAM IFMAP Reads', 'DRAM Filter Reads', 'DRAM OFMAP Writes' of "
        "DETAILED_ACCESS_REPORT.csv, in words. Config: ArrayHeight=ArrayWidth=32, "
        "Dataflow=os, IfmapSramSzkB=FilterSramSzkB=64, OfmapSramSzkB=32, "
        "InterfaceBandwidth=CALC, Bandwidth=10, ReadRequestBuffer=WriteRequestBuffer=512, "
        "offsets 0/10000000/20000000, no custom layout, no sparsity. "
        f"Date: {datetime.date.today().isoformat()}."
    )
    with open(out_path, "w") as f:
        json.dump({"source": source, "access_notes": ACCESS_NOTES, "layers": layers}, f,
                  indent=2)
        f.write("\n")
    print(f"wrote {out_path}")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    default_out = os.path.join(here, "..", "tests", "golden", "scalesim_v3_compute_cycles.json")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None,
                        help=f"output JSON (default {os.path.normpath(default_out)}, or "
                             "tests/golden/scalesim_v3_resnet18_access.json)")
    parser.add_argument("--resnet18-access", action="store_true",
                        help="per-layer DRAM accesses of ResNet-18 on 32x32 os, 64/64/32 kB")
    args = parser.parse_args()
    if args.resnet18_access:
        access_out = os.path.join(here, "..", "tests", "golden",
                                  "scalesim_v3_resnet18_access.json")
        resnet18_access(args.out or os.path.normpath(access_out))
        return
    args.out = args.out or os.path.normpath(default_out)

    results = []
    with tempfile.TemporaryDirectory(prefix="scalesim_golden_", dir="/tmp") as tmp:
        for rows, cols in ARRAYS:
            for dataflow in DATAFLOWS:
                workdir = os.path.join(tmp, f"{rows}x{cols}_{dataflow}")
                os.makedirs(workdir)
                cycles = run_scalesim(workdir, rows, cols, dataflow)
                for layer, (sim_cycles, ifmap_reads, filter_reads) in zip(LAYERS, cycles):
                    name, h, w, r, s, c, n, stride = layer
                    results.append({
                        "name": name, "ifmap_h": h, "ifmap_w": w,
                        "filter_h": r, "filter_w": s, "channels": c,
                        "filters": n, "stride": stride,
                        "rows": rows, "cols": cols, "dataflow": dataflow,
                        "scalesim_compute_cycles": sim_cycles,
                        "scalesim_dram_ifmap_reads": ifmap_reads,
                        "scalesim_dram_filter_reads": filter_reads,
                        "formula_cycles": formula_cycles(layer, rows, cols, dataflow),
                    })
                    print(f"{name} {rows}x{cols} {dataflow}: scalesim={sim_cycles} "
                          f"formula={results[-1]['formula_cycles']}")
                    model = scalesim_model_cycles(layer, rows, cols, dataflow)
                    assert sim_cycles == model, f"derived SCALE-Sim formula gives {model}"

    source = (
        f"scalesim=={version('scalesim')}, numpy=={version('numpy')}; generated by "
        "scripts/scalesim_golden.py via the Python API "
        "scalesim(save_disk_space=True, verbose=False, config=, topology=, layout=)"
        ".run_scale(top_path=<tmpdir>); value = per-layer 'Total Cycles' from "
        "COMPUTE_REPORT.csv (asserted Stall Cycles == 0); scalesim_dram_*_reads = 'DRAM "
        "IFMAP Reads' and 'DRAM Filter Reads' of DETAILED_ACCESS_REPORT.csv (words: with "
        "SRAMs that hold every operand, each distinct address the layer names, once). Config: "
        f"IfmapSramSzkB=FilterSramSzkB=OfmapSramSzkB={SRAM_KB}, InterfaceBandwidth=CALC, "
        "Bandwidth=10, ReadRequestBuffer=WriteRequestBuffer=512, offsets 0/10000000/20000000, "
        "no custom layout, no sparsity, ArrayHeight x ArrayWidth = rows x cols. "
        f"Date: {datetime.date.today().isoformat()}."
    )
    with open(args.out, "w") as f:
        json.dump({"source": source, "formula_notes": FORMULA_NOTES, "layers": results},
                  f, indent=2)
        f.write("\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
