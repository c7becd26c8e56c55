"""Compare per-layer compute cycles, or DRAM reads, of SCALE-Sim v3 and accelsim on ResNet-18.

``access`` (DRAM reads): prints, per layer of workloads/scalesim/resnet18.csv on
hwconfigs/scalesim_32x32_os.yaml (32x32 os, 64/64/32 KiB), accelsim's DRAM bytes read for the
ifmap and the filter operand beside SCALE-Sim's (tests/golden/scalesim_v3_resnet18_access.json,
made by ``scripts/scalesim_golden.py --resnet18-access``; its words are 2 bytes here), the
unique input bytes of the layer (each input element once) and the ratios::

    python scripts/compare_scalesim_resnet18.py access

accelsim's figures come from lowering each forward op on that hwconfig (the tiles' DRAM
loads per buffer), without running the event simulation.

Why they differ (SCALE-Sim's buffer model: ACCESS_NOTES in scripts/scalesim_golden.py). With
InterfaceBandwidth CALC SCALE-Sim's read buffer is a first-in first-out store of the last
32,768 distinct words fetched (half of a 64 kB SRAM taken as 1-byte words), run over the os
demand stream (column folds outer, row folds inner, whole K per fold): a word is free while
it is still in that store, whatever block it belongs to. accelsim holds whole tiles: the
im2col block of b_m x b_k entries in half of the double-buffered 64 KiB (16,384 fp16
entries), partial sums of b_m x b_n in half the 32 KiB ofmap buffer (4,096 fp32), K innermost;
a block is fetched again whenever the next tile needs another one, and nothing else is kept.
So accelsim reads more where SCALE-Sim's store spans several of accelsim's blocks (halo rows of
neighbouring blocks, a filter column fold of <= 32,768 words kept over all row folds), and
less where SCALE-Sim's fold (K x 32 words) or im2col list outgrows its store and is streamed
again for every row or column fold while accelsim's blocking re-reads it fewer times.

``cycles`` (the default when two files are given) compares compute cycles:

Reads a SCALE-Sim ``COMPUTE_REPORT.csv`` and an accelsim result JSON of the same topology
(default ``workloads/scalesim/resnet18.csv``, the whole ResNet-18 forward pass at batch 1) and
prints, per layer: SCALE-Sim compute cycles, the same plus one, accelsim compute cycles and
their difference in percent, then the totals.

Run it with the system python (the one accelsim is installed in). It only reads files: it
must NOT import scalesim, which lives in its own virtualenv (see scripts/scalesim_golden.py)
and is not a dependency of accelsim. Regenerate the inputs (SCALE-Sim takes about 5-10 CPU
minutes and up to 5 GB of RAM for ResNet-18) with:

1. SCALE-Sim, in its venv: write a .cfg like scalesim_golden.py's CONFIG_TEMPLATE with a 32x32
   ``os`` array, Bandwidth 10, InterfaceBandwidth CALC and either 10240 kB SRAMs (memory
   never stalls: pure compute cycles) or 64/64/32 kB (the hwconfig's SRAMs), a header-only
   layout CSV, and run, as that script does::

       sim = scalesim(save_disk_space=True, verbose=False, config=CFG,
                      topology="workloads/scalesim/resnet18.csv", layout=LAYOUT_CSV)
       sim.run_scale(top_path=OUTDIR)   # writes OUTDIR/<run_name>/COMPUTE_REPORT.csv

2. accelsim (ideal DRAM, so the compute cycles are those of the stall-free tiling)::

       python -m accelsim run --hw hwconfigs/scalesim_32x32_os.yaml \\
           --workload workloads/scalesim/resnet18.csv --batch 1 --phases fwd \\
           --set dram.ideal=true --out /tmp/acc_ideal.json

3. ``python scripts/compare_scalesim_resnet18.py cycles OUTDIR/<run_name>/COMPUTE_REPORT.csv
   /tmp/acc_ideal.json``

Two known, exact differences (derived in scripts/scalesim_golden.py, FORMULA_NOTES):

* SCALE-Sim's "Total Cycles" is the 0-based index of the last cycle, so its count is one
  less than accelsim's per layer (not per fold). The "+1" column corrects for that, and the
  difference % is taken against it.
* SCALE-Sim sizes the output as ceil((H - R + s) / s) where accelsim (like PyTorch) uses
  floor((H - R) / s) + 1. They differ when (H - R) % s != 0: the layer then has an extra
  output row and column in SCALE-Sim. Such layers are marked ``*`` with both output sizes.

SCALE-Sim's compute cycles are "Total Cycles" minus "Stall Cycles" of the report; with
stall-free memory the two are equal. Note that with InterfaceBandwidth CALC (scale.cfg's
default) SCALE-Sim's read buffers never stall and Bandwidth is ignored; only USER mode
charges stalls for a 10 words/cycle interface.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_TOPOLOGY = REPO / "workloads" / "scalesim" / "resnet18.csv"
DEFAULT_HWCONFIG = REPO / "hwconfigs" / "scalesim_32x32_os.yaml"
ACCESS_GOLDEN = REPO / "tests" / "golden" / "scalesim_v3_resnet18_access.json"
WORD_BYTES = 2  # SCALE-Sim counts words; accelsim's hwconfig runs fp16


def accelsim_reads(hwconfig: Path, topology: Path) -> dict[str, dict[str, int]]:
    """{layer: {"ifmap": bytes, "filter": bytes, "unique_ifmap": bytes}} of each forward op
    of ``topology`` (batch 1) lowered on ``hwconfig``: the DRAM bytes its tiles load into
    the buffer holding each role, and the bytes of its input tensor."""
    import simpy

    from accelsim.config.loader import load_hwconfig
    from accelsim.context import RunContext
    from accelsim.hw.system import System
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions

    config = load_hwconfig(hwconfig)
    system = System(config, simpy.Environment())
    workload = load_workload(str(topology), TrainingOptions(batch=1),
                             phases=("fwd",))
    workload = system.pe_array.prepare_workload(workload)
    ctx = RunContext(system, workload, 0, 0)
    reads = {}
    for op in workload.ops():
        if op.gemm is None:
            continue
        loads = system.pe_array.lower(op, ctx).loads
        row = {role: int(loads[system.buffer_of_role[role]].sum())
               for role in ("ifmap", "filter")}
        row["unique_ifmap"] = op.reads[0].bytes
        reads[op.layer] = row
    return reads


def compare_access(hwconfig: Path, topology: Path, golden: Path) -> None:
    """Print the per-layer DRAM reads table (module docstring)."""
    data = json.loads(golden.read_text())
    ours = accelsim_reads(hwconfig, topology)
    print(f"{'layer':<22}{'input B':>10}{'acc ifmap':>11}{'SS ifmap':>11}{'acc/SS':>8}"
          f"{'acc filt':>11}{'SS filt':>11}{'acc/SS':>8}")
    sums = {"unique": 0, "acc_i": 0, "ss_i": 0, "acc_f": 0, "ss_f": 0}
    for layer in data["layers"]:
        row = ours[layer["name"]]
        ss_i = layer["dram_ifmap_reads"] * WORD_BYTES
        ss_f = layer["dram_filter_reads"] * WORD_BYTES
        flag = lambda a, b: "*" if abs(a / b - 1) > 0.25 else " "  # noqa: E731
        print(f"{layer['name']:<22}{row['unique_ifmap']:>10}{row['ifmap']:>11}{ss_i:>11}"
              f"{row['ifmap'] / ss_i:>7.2f}{flag(row['ifmap'], ss_i)}"
              f"{row['filter']:>11}{ss_f:>11}{row['filter'] / ss_f:>7.2f}"
              f"{flag(row['filter'], ss_f)}")
        for key, value in (("unique", row["unique_ifmap"]), ("acc_i", row["ifmap"]),
                           ("ss_i", ss_i), ("acc_f", row["filter"]), ("ss_f", ss_f)):
            sums[key] += value
    print(f"{'total':<22}{sums['unique']:>10}{sums['acc_i']:>11}{sums['ss_i']:>11}"
          f"{sums['acc_i'] / sums['ss_i']:>7.2f} {sums['acc_f']:>11}{sums['ss_f']:>11}"
          f"{sums['acc_f'] / sums['ss_f']:>7.2f}")
    print("'*': differs from SCALE-Sim by more than 25%; input B: the layer's input tensor")


def read_topology(path: Path) -> list[dict]:
    """Conv-form SCALE-Sim topology rows: name, H, W, R, S, C, N, stride (header skipped)."""
    layers = []
    with open(path) as handle:
        for row in list(csv.reader(handle))[1:]:
            cells = [c.strip() for c in row if c.strip()]
            if not cells:
                continue
            name, (h, w, r, s, _, _, stride) = cells[0], map(int, cells[1:8])
            layers.append({"name": name, "h": h, "w": w, "r": r, "s": s, "stride": stride})
    return layers


def output_sizes(layer: dict) -> tuple[tuple[int, int], tuple[int, int]]:
    """((Ho, Wo) of SCALE-Sim's ceil formula, (Ho, Wo) of accelsim's floor formula)."""
    st = layer["stride"]
    ceil = (math.ceil((layer["h"] - layer["r"] + st) / st),
            math.ceil((layer["w"] - layer["s"] + st) / st))
    floor = ((layer["h"] - layer["r"]) // st + 1, (layer["w"] - layer["s"]) // st + 1)
    return ceil, floor


def read_compute_report(path: Path) -> list[dict]:
    """Per-layer cycles from COMPUTE_REPORT.csv, in layer order."""
    with open(path) as handle:
        rows = [[c.strip() for c in row] for row in csv.reader(handle)]
    header, rows = rows[0], [r for r in rows[1:] if r and r[0]]
    col = {name: i for i, name in enumerate(header)}
    return [{"total_with_prefetch": int(r[col["Total Cycles (incl. prefetch)"]]),
             "total": int(r[col["Total Cycles"]]),
             "stalls": int(r[col["Stall Cycles"]])} for r in rows]


def read_accelsim(path: Path) -> tuple[dict, float]:
    """({layer name: forward op row}, total_cycles) from an accelsim result JSON."""
    data = json.loads(Path(path).read_text())
    ops = {op["name"].removesuffix(".fwd"): op for op in data["ops"] if op["phase"] == "fwd"}
    return ops, data["total_cycles"]


def pct(ours: float, ref: float) -> float:
    return 100.0 * (ours - ref) / ref if ref else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    modes = parser.add_subparsers(dest="mode", required=True)
    cycles = modes.add_parser("cycles", help="compute cycles (COMPUTE_REPORT.csv)")
    cycles.add_argument("report", type=Path, help="SCALE-Sim COMPUTE_REPORT.csv")
    cycles.add_argument("result", type=Path, help="accelsim result JSON (run --out)")
    access = modes.add_parser("access", help="per-layer DRAM reads")
    access.add_argument("--golden", type=Path, default=ACCESS_GOLDEN)
    access.add_argument("--hw", type=Path, default=DEFAULT_HWCONFIG)
    for mode in (cycles, access):
        mode.add_argument("--topology", type=Path, default=DEFAULT_TOPOLOGY,
                          help="the SCALE-Sim conv-form topology both were run on "
                               f"(default {DEFAULT_TOPOLOGY.relative_to(REPO)})")
    args = parser.parse_args()
    if args.mode == "access":
        compare_access(args.hw, args.topology, args.golden)
        return

    layers = read_topology(args.topology)
    report = read_compute_report(args.report)
    ops, acc_total = read_accelsim(args.result)
    if len(report) != len(layers):
        raise SystemExit(f"{args.report}: {len(report)} layers, topology has {len(layers)}")
    missing = [layer["name"] for layer in layers if layer["name"] not in ops]
    if missing:
        raise SystemExit(f"{args.result}: no fwd op for {', '.join(missing)}")

    print(f"{'layer':<22}{'SCALE-Sim':>11}{'+1':>11}{'accelsim':>11}{'diff %':>9}"
          "  output size (SCALE-Sim ceil vs floor)")
    sums = {"ss": 0, "ss1": 0, "acc": 0.0, "stalls": 0, "total": 0, "prefetch": 0}
    diffs = {}
    for layer, rep in zip(layers, report):
        ss = rep["total"] - rep["stalls"]
        acc = ops[layer["name"]]["compute_cycles"]
        diff = pct(acc, ss + 1)
        (ch, cw), (fh, fw) = output_sizes(layer)
        note = f"* {ch}x{cw} vs {fh}x{fw}" if (ch, cw) != (fh, fw) else ""
        print(f"{layer['name']:<22}{ss:>11}{ss + 1:>11}{acc:>11.0f}{diff:>+9.3f}  {note}")
        sums["ss"] += ss
        sums["ss1"] += ss + 1
        sums["acc"] += acc
        sums["stalls"] += rep["stalls"]
        sums["total"] += rep["total"]
        sums["prefetch"] += rep["total_with_prefetch"]
        diffs[layer["name"]] = abs(diff)
    print(f"{'total':<22}{sums['ss']:>11}{sums['ss1']:>11}{sums['acc']:>11.0f}"
          f"{pct(sums['acc'], sums['ss1']):>+9.3f}")
    worst = max(diffs.values())
    at = ", ".join(name for name, d in diffs.items() if math.isclose(d, worst))
    print(f"\nmax |diff| {worst:.3f} % ({at}); '*' = SCALE-Sim computes an extra "
          "output row and column")
    print(f"SCALE-Sim total incl. stalls: {sums['total']} ({sums['stalls']} stall cycles); "
          f"incl. prefetch/drain: {sums['prefetch']}")
    print(f"accelsim total_cycles: {acc_total:.0f} (compute {sums['acc']:.0f})")


if __name__ == "__main__":
    main()
