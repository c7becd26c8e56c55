"""Benchmark: wall and CPU seconds, SimPy events, events/s and peak RSS of reference runs.

    python scripts/bench.py                  # ResNet-50 batch 32 training iteration, TPU-like
    python scripts/bench.py --case all       # every case below
    python scripts/bench.py --case resnet18_b32_edge --repeat 3   # minimum of 3 runs
    python scripts/bench.py --case sweep     # the 32-point sweep on 1, then 2 Dask workers
                                             # (target: 2 workers >= 1.8x faster)

Cases: the main job (ResNet-50 batch 32 on ``tpu_like_128x128.yaml``); the ResNet-18 forward
pass (batch 1, 32x32 os); ResNet-18 training at batch 32 on ``edge_16x16.yaml`` with its shipped
SRAM and with the SRAM halved (24/24/16 KiB); ResNet-18 (CIFAR) at batch 32 on the same; ResNet-18
at batch 2 on ``scnn_like.yaml`` with and without ANT; and batch 8 variants of the batch-32 cases,
to see how cost grows with the tile count.

Besides seconds, each case reports its simulation's CPU time in units of a bare SimPy timeout
measured in the same process just before it (a loop of ``yield env.timeout(1)``), so figures
compare across machines. Each case runs in a fresh process so that its peak RSS is its own;
``--repeat N`` runs it N times and keeps each figure's minimum (the machine may be shared).

Targets on a 2-core machine: ResNet-50 iteration <= 10 s wall and <= 1 GiB RSS. For scale,
SCALE-Sim v3 needs about 424 s and 4.4 GB for the ResNet-18 forward pass (batch 1, 32x32 os).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
from queue import Empty
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the edge config's SRAM halved: ifmap 24, filter 24, ofmap 16 KiB
HALVED_EDGE_SRAM = ("sram.ifmap.capacity=24KiB", "sram.filter.capacity=24KiB",
                    "sram.ofmap.capacity=16KiB")


def _case(hw: str, workload: str, batch: int, phases=None, overrides=(), techniques=()):
    return dict(hw=hw, workload=workload, batch=batch, phases=phases,
                overrides=list(overrides), techniques=list(techniques))


CASES = {
    "resnet50_train": _case("tpu_like_128x128.yaml", "resnet50", 32),
    "resnet18_fwd": _case("scalesim_32x32_os.yaml", "resnet18", 1, phases=["fwd"]),
    "resnet18_b32_edge": _case("edge_16x16.yaml", "resnet18", 32),
    "resnet18_b32_edge_halved": _case("edge_16x16.yaml", "resnet18", 32,
                                      overrides=HALVED_EDGE_SRAM),
    "resnet18_cifar_b32_edge": _case("edge_16x16.yaml", "resnet18_cifar", 32),
    "resnet18_b2_scnn": _case("scnn_like.yaml", "resnet18", 2),
    "resnet18_b2_scnn_ant": _case("scnn_like.yaml", "resnet18", 2, techniques=["ant"]),
    "resnet50_b8_train": _case("tpu_like_128x128.yaml", "resnet50", 8),
    "resnet18_b8_edge": _case("edge_16x16.yaml", "resnet18", 8),
    "resnet18_b8_edge_halved": _case("edge_16x16.yaml", "resnet18", 8,
                                     overrides=HALVED_EDGE_SRAM),
    "resnet18_cifar_b8_edge": _case("edge_16x16.yaml", "resnet18_cifar", 8),
}
#: timeouts of the bare-SimPy loop that prices one event on this machine
BARE_TIMEOUTS = 200_000


def bare_timeout_seconds(count: int = BARE_TIMEOUTS) -> float:
    """CPU seconds of one ``yield env.timeout(1)`` in a SimPy process with nothing else."""
    import simpy

    env = simpy.Environment()

    def loop():
        for _ in range(count):
            yield env.timeout(1)

    env.process(loop())
    start = time.process_time()
    env.run()
    return (time.process_time() - start) / count


def _measure(case: str, overrides: list[str], queue) -> None:
    try:
        queue.put(_figures(case, overrides))
    except Exception as exc:  # reported as the case's row: a refused run is a result too
        queue.put({"case": case, "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})


def _figures(case: str, overrides: list[str]) -> dict:
    sys.path.insert(0, str(ROOT))
    from accelsim.config.loader import load_hwconfig
    from accelsim.sim.engine import Simulation
    from accelsim.techniques.chain import TechniqueSpec
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions

    spec = CASES[case]
    timeout_s = bare_timeout_seconds()
    start, cpu_start = time.perf_counter(), time.process_time()
    config = load_hwconfig(ROOT / "hwconfigs" / spec["hw"], [*spec["overrides"], *overrides])
    options = TrainingOptions(batch=spec["batch"], element_bytes=config.element_bytes)
    workload = load_workload(spec["workload"], options, spec["phases"])
    techniques = [TechniqueSpec.parse(text) for text in spec["techniques"]]
    built, cpu_built = time.perf_counter(), time.process_time()
    result = Simulation(config, workload, techniques).run()
    end, cpu_end = time.perf_counter(), time.process_time()
    events = result["simulation"]["simpy_events"]
    return {
        "case": case, "wall_s": end - start, "build_s": built - start, "sim_s": end - built,
        "cpu_s": cpu_end - cpu_start, "sim_cpu_s": cpu_end - cpu_built,
        "ops": result["simulation"]["ops"], "tiles": result["simulation"]["tiles"],
        "simpy_events": events, "events_per_s": events / (end - built),
        "bare_timeout_us": timeout_s * 1e6,
        "sim_in_bare_timeouts": (cpu_end - cpu_built) / timeout_s,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "simulated_cycles": result.total_cycles, "simulated_ms": result["seconds"] * 1e3,
    }


def _run_once(case: str, overrides: list[str]) -> dict:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_measure, args=(case, overrides, queue))
    process.start()
    while True:
        try:
            row = queue.get(timeout=1.0)
            break
        except Empty:
            if not process.is_alive():  # died without a word (killed, out of memory)
                row = {"case": case, "error": f"exit code {process.exitcode}"}
                break
    process.join()
    return row


#: figures of which ``--repeat`` keeps the minimum (the others are the same in every run)
TIMED = ("wall_s", "build_s", "sim_s", "cpu_s", "sim_cpu_s", "bare_timeout_us",
         "sim_in_bare_timeouts", "peak_rss_mib")


def measure(case: str, overrides: list[str], repeat: int = 1) -> dict:
    """The case's figures, each timed one the minimum over ``repeat`` fresh processes."""
    runs = [_run_once(case, overrides) for _ in range(repeat)]
    failed = [run for run in runs if "error" in run]
    if failed:
        return failed[0]
    row = dict(runs[0])
    for key in TIMED:
        row[key] = min(run[key] for run in runs)
    row["events_per_s"] = row["simpy_events"] / row["sim_s"]
    row["runs"] = repeat
    return row


def describe(row: dict) -> str:
    if "error" in row:
        return f"{row['case']}: not run: {row['error']}"
    return (f"{row['case']}: wall {row['wall_s']:.2f} s, CPU {row['cpu_s']:.2f} s (workload "
            f"build {row['build_s']:.2f} s, simulation {row['sim_s']:.2f} s wall, "
            f"{row['sim_cpu_s']:.2f} s CPU = {row['sim_in_bare_timeouts']:,.0f} bare SimPy "
            f"timeouts of {row['bare_timeout_us']:.2f} us), {row['ops']} ops, "
            f"{row['tiles']:,} tiles, {row['simpy_events']:,} SimPy events, "
            f"{row['events_per_s']:,.0f} events/s, peak RSS {row['peak_rss_mib']:.0f} MiB; "
            f"simulated {row['simulated_cycles']:,.0f} cycles = {row['simulated_ms']:.3f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=[*CASES, "all", "sweep"], action="append",
                        help="a case (repeatable; default resnet50_train), all, or sweep")
    parser.add_argument("--repeat", type=int, default=1, metavar="N",
                        help="runs per case; each timed figure is their minimum (sweep: runs of each "
                        "worker count, alternating, the fastest counting)")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="hwconfig override, e.g. dram.preset=null for the simple DRAM")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat: expected a whole number >= 1")
    chosen = args.case or ["resnet50_train"]
    if "sweep" in chosen:
        return bench_sweep(args.json, args.repeat)
    cases = list(CASES) if "all" in chosen else list(dict.fromkeys(chosen))
    rows = []
    for case in cases:
        row = measure(case, args.overrides, args.repeat)
        rows.append(row)
        print(describe(row), flush=True)
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
