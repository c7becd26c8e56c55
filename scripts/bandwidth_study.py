"""Bandwidth study: iteration time versus DRAM bandwidth, a per-op roofline, bandwidth over time.

    python scripts/bandwidth_study.py --hw hwconfigs/tpu_like_128x128.yaml --workload resnet50
    python scripts/bandwidth_study.py --hw hwconfigs/edge_16x16.yaml --workload resnet18_cifar \\
        --batch 8 --out out/edge_bw

For each peak DRAM bandwidth of the sweep (8 GB/s to 2 TB/s by default, set with
``--set dram.bandwidth=...`` on the hwconfig, so a row-buffer preset keeps its timings and
rescales its data rate) one full training iteration is simulated, in a local process pool.
The *knee* is the lowest swept bandwidth whose iteration time is within ``--knee-tolerance``
(10%) of the time at the highest bandwidth: below it the iteration is memory-bound, above it
compute-bound. Writes ``sweep.csv``, ``iteration_time.png``, ``roofline.png`` (every op at
the hwconfig's own bandwidth: arithmetic intensity, achieved throughput, the compute and
bandwidth ceilings) and ``dram_bandwidth.png`` (achieved bandwidth over the iteration).
Needs matplotlib (a dependency of accelsim). The output folder (``--out``) is created and
checked before the sweep runs; every file in it is written atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from study_common import ROOT, ready, save_figure, simulate

from accelsim.config.loader import load_hwconfig
from accelsim.outputs import atomic_write_text

DEFAULT_BANDWIDTHS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048)  # GB/s


def knee(bandwidths: list[float], seconds: list[float], tolerance: float) -> float:
    """The lowest bandwidth whose time is within ``tolerance`` of the fastest swept time."""
    best = seconds[-1]
    for bandwidth, time in zip(bandwidths, seconds):
        if time <= best * (1 + tolerance):
            return bandwidth
    return bandwidths[-1]


def plot(out: Path, title: str, bandwidths, seconds, knee_at, base: dict) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    ax.loglog(bandwidths, np.array(seconds) * 1e3, "o-")
    ax.axvline(knee_at, color="grey", linestyle="--", label=f"knee {knee_at:g} GB/s")
    save_figure(fig, ax, out / "iteration_time.png", "peak DRAM bandwidth (GB/s)",
          "iteration time (ms)", title)

    clock = base["clock_hz"]
    bandwidth = base["dram"]["peak_gbytes_per_s"] * 1e9
    fig, ax = plt.subplots(figsize=(6, 4))
    xs = np.logspace(-2, 4, 200)
    for unit, label, marker, peak in (("pe_array", "GEMM ops (PE array)", "o",
                                       2 * base["pe_array"]["pes"] * clock),
                                      ("vector", "vector ops", "x",
                                       base["vector_lanes"] * clock)):
        rows = [r for r in base["ops"] if r["unit"] == unit and r["dram_bytes"] and r["flops"]]
        intensity = [r["flops"] / r["dram_bytes"] for r in rows]
        achieved = [r["flops"] / (r["cycles"] / clock) for r in rows]
        line = ax.loglog(intensity, achieved, marker, label=label, alpha=0.6, markersize=4)
        ax.loglog(xs, np.minimum(peak, bandwidth * xs), "-", color=line[0].get_color(),
                  linewidth=1)
    save_figure(fig, ax, out / "roofline.png", "arithmetic intensity (FLOP / DRAM byte)",
          "achieved FLOP/s", f"per-op roofline at {bandwidth / 1e9:g} GB/s (lines: ceilings)")

    series = base["dram_bandwidth"]
    fig, ax = plt.subplots(figsize=(6, 3))
    t = (np.arange(len(series["gbytes_per_s"])) + 0.5) * series["bin_cycles"] / clock * 1e3
    ax.plot(t, series["gbytes_per_s"])
    ax.axhline(bandwidth / 1e9, color="grey", linestyle="--", label="peak")
    save_figure(fig, ax, out / "dram_bandwidth.png", "time (ms)", "DRAM bandwidth (GB/s)",
          "achieved DRAM bandwidth over the iteration", grid=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default=str(ROOT / "hwconfigs/tpu_like_128x128.yaml"))
    parser.add_argument("--workload", default="resnet50")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--bandwidths", type=float, nargs="+", default=DEFAULT_BANDWIDTHS,
                        help="peak DRAM bandwidths in GB/s")
    parser.add_argument("--knee-tolerance", type=float, default=0.10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="out/bandwidth_study")
    args = parser.parse_args(argv)
    out = ready(args.out)
    bandwidths = sorted(args.bandwidths)
    jobs = [(args.hw, args.workload, args.batch, (f"dram.bandwidth={bw:g}GB/s",))
            for bw in bandwidths] + [(args.hw, args.workload, args.batch, ())]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(simulate, *zip(*jobs)))
    *swept, base = results
    seconds = [r["seconds"] for r in swept]
    knee_at = knee(bandwidths, seconds, args.knee_tolerance)
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["dram_gbytes_per_s", "iteration_ms", "pe_utilization",
                     "dram_stall_cycles", "achieved_gbytes_per_s"])
    for bandwidth, r in zip(bandwidths, swept):
        stalls = r["stall_cycles"]
        writer.writerow([bandwidth, r["seconds"] * 1e3, r["utilization"]["pe_array"],
                         stalls["dram_bandwidth"] + stalls["dram_latency"],
                         r["dram"]["achieved_gbytes_per_s"]])
    atomic_write_text(out / "sweep.csv", table.getvalue())
    config = load_hwconfig(args.hw)
    base["vector_lanes"] = config.vector_unit.lanes
    plot(out, f"{args.workload} (batch {args.batch}) on {Path(args.hw).stem}", bandwidths,
         seconds, knee_at, base)
    print(f"{args.workload} batch {args.batch} on {Path(args.hw).stem}")
    print(f"{'GB/s':>8} {'iteration ms':>13} {'PE util':>8} {'achieved GB/s':>14}")
    for bandwidth, r in zip(bandwidths, swept):
        print(f"{bandwidth:8g} {r['seconds'] * 1e3:13.3f} {r['utilization']['pe_array']:8.1%} "
              f"{r['dram']['achieved_gbytes_per_s']:14.1f}")
    print(f"knee: {knee_at:g} GB/s (time within {args.knee_tolerance:.0%} of the "
          f"{bandwidths[-1]:g} GB/s time); the hwconfig's own bandwidth "
          f"{base['dram']['peak_gbytes_per_s']:g} GB/s gives {base['seconds'] * 1e3:.3f} ms")
    print(f"wrote {out}/sweep.csv, iteration_time.png, roofline.png, dram_bandwidth.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
