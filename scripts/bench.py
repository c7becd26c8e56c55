"""Benchmark: wall time, SimPy events, events/s and peak RSS of reference runs.

    python scripts/bench.py                 # ResNet-50 batch 32 training iteration, TPU-like
    python scripts/bench.py --case all      # also the ResNet-18 forward pass (batch 1, 32x32 os)
    python scripts/bench.py --case sweep    # the 32-point sweep on 1, then 2 Dask workers
                                            # (target: 2 workers >= 1.8x faster)

Targets on a 2-core machine: ResNet-50 iteration <= 10 s wall and <= 1 GiB RSS. For scale,
SCALE-Sim v3 needs about 424 s and 4.4 GB for the ResNet-18 forward pass (batch 1, 32x32 os).
Each case runs in a fresh process so that its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = {
    "resnet50_train": dict(hw="tpu_like_128x128.yaml", workload="resnet50", batch=32,
                           phases=None),
    "resnet18_fwd": dict(hw="scalesim_32x32_os.yaml", workload="resnet18", batch=1,
                         phases=["fwd"]),
}


def _measure(case: str, overrides: list[str], queue) -> None:
    sys.path.insert(0, str(ROOT))
    from accelsim.config.loader import load_hwconfig
    from accelsim.sim.engine import Simulation
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions

    spec = CASES[case]
    start = time.perf_counter()
    config = load_hwconfig(ROOT / "hwconfigs" / spec["hw"], overrides)
    options = TrainingOptions(batch=spec["batch"], element_bytes=config.element_bytes)
    workload = load_workload(spec["workload"], options, spec["phases"])
    built = time.perf_counter()
    result = Simulation(config, workload).run()
    end = time.perf_counter()
    events = result["simulation"]["simpy_events"]
    queue.put({
        "case": case, "wall_s": end - start, "build_s": built - start, "sim_s": end - built,
        "ops": result["simulation"]["ops"], "tiles": result["simulation"]["tiles"],
        "simpy_events": events, "events_per_s": events / (end - built),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "simulated_cycles": result.total_cycles, "simulated_ms": result["seconds"] * 1e3,
    })


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all", "sweep"], default="resnet50_train")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="hwconfig override, e.g. dram.preset=null for the simple DRAM")
    parser.add_argument("--repeat", type=int, default=1,
                        help="--case sweep: runs of each worker count, alternating (the "
                        "fastest counts)")
    args = parser.parse_args()
    if args.case == "sweep":
        return bench_sweep(args.json, args.repeat)
    cases = list(CASES) if args.case == "all" else [args.case]
    rows = []
    context = multiprocessing.get_context("spawn")
    for case in cases:
        queue = context.Queue()
        process = context.Process(target=_measure, args=(case, args.overrides, queue))
        process.start()
        row = queue.get()
        process.join()
        rows.append(row)
        print(f"{row['case']}: wall {row['wall_s']:.2f} s (workload build {row['build_s']:.2f} s, "
              f"simulation {row['sim_s']:.2f} s), {row['ops']} ops, {row['tiles']:,} tiles, "
              f"{row['simpy_events']:,} SimPy events, {row['events_per_s']:,.0f} events/s, "
              f"peak RSS {row['peak_rss_mib']:.0f} MiB; simulated {row['simulated_cycles']:,.0f} "
              f"cycles = {row['simulated_ms']:.3f} ms")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


#: The sweep of ``--case sweep``: 32 points over array size x SRAM size x technique.
SWEEP_FILE = ROOT / "scripts" / "sweeps" / "array_sram_technique.yaml"


def bench_sweep(json_path: str | None, repeat: int = 1) -> int:
    """Wall time of SWEEP_FILE on a local Dask cluster of 1, then 2 workers (each from a new
    empty store, cluster start included), ``repeat`` times alternately, the fastest of each
    and their ratio; the rows of every run must agree."""
    import tempfile

    sys.path.insert(0, str(ROOT))
    from accelsim.sweep.execute import dask_client, run_sweep
    from accelsim.sweep.points import expand
    from accelsim.sweep.spec import load_sweep
    from accelsim.sweep.store import SweepStore

    sweep = load_sweep(SWEEP_FILE)
    points = expand(sweep)
    walls: dict[int, list[float]] = {1: [], 2: []}
    results = []
    with tempfile.TemporaryDirectory() as folder:
        for run in range(repeat):
            for workers in (1, 2):
                start = time.perf_counter()
                with SweepStore(Path(folder) / f"{run}-{workers}.db") as store:
                    with dask_client(workers) as client:
                        summary = run_sweep(sweep.name, points, store, client)
                    results.append({row["key"]: (row["total_cycles"], row["result_sha256"])
                                    for row in store.rows()})
                walls[workers].append(time.perf_counter() - start)
                print(f"sweep {sweep.name}: {summary.points} points on {workers} worker(s): "
                      f"{walls[workers][-1]:.1f} s wall ({summary.done} done, "
                      f"{summary.failed} failed)", flush=True)
    same = all(result == results[0] for result in results)
    best = {workers: min(times) for workers, times in walls.items()}
    print(f"speedup 2 vs 1 worker: {best[1] / best[2]:.2f}x (fastest of {repeat}: "
          f"{best[1]:.1f} s and {best[2]:.1f} s); rows identical: {same}")
    if json_path:
        Path(json_path).write_text(json.dumps({
            "case": "sweep", "points": len(points), "wall_s_1_worker": walls[1],
            "wall_s_2_workers": walls[2], "ratio_of_fastest": best[1] / best[2],
            "rows_identical": same}, indent=1) + "\n")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
