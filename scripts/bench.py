"""Benchmark: wall time, SimPy events, events/s and peak RSS of reference runs.

    python scripts/bench.py                 # ResNet-50 batch 32 training iteration, TPU-like
    python scripts/bench.py --case all      # also the ResNet-18 forward pass (batch 1, 32x32 os)

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
    parser.add_argument("--case", choices=[*CASES, "all"], default="resnet50_train")
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY.PATH=VALUE",
                        help="hwconfig override, e.g. dram.preset=null for the simple DRAM")
    args = parser.parse_args()
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


if __name__ == "__main__":
    raise SystemExit(main())
