"""A Chrome / Perfetto trace (JSON trace-event format) of a run's timeline.

One process per accelerator, one track (thread) per component: the PE array and the vector
unit show their ops as spans (named by op, category = training phase, with MACs, DRAM bytes
and stall cycles as arguments); the DRAM track shows every transfer's bus time. Times are in
microseconds of simulated time, as the format wants. Open the file in https://ui.perfetto.dev
or chrome://tracing.

The document opens with ``"otherData": {"generator": "accelsim", ...}`` (metadata the format
allows), so that :mod:`accelsim.outputs` recognises an earlier timeline from the start of the
file; it is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path

from accelsim.outputs import GENERATOR, atomic_write_text
from accelsim.stats.result import RunResult

TRACKS = {"pe_array": 1, "vector": 2, "dram": 3}
TRACK_NAMES = {"pe_array": "PE array", "vector": "vector unit", "dram": "DRAM"}


def trace_events(result: RunResult) -> dict:
    """The trace-event document of ``result``."""
    d = result.data
    to_us = 1e6 / d["clock_hz"]
    events = [{"ph": "M", "name": "process_name", "pid": 1, "tid": 0,
               "args": {"name": f"{d['workload']} on {d['hwconfig']}"}}]
    for track, tid in TRACKS.items():
        events.append({"ph": "M", "name": "thread_name", "pid": 1, "tid": tid,
                       "args": {"name": TRACK_NAMES[track]}})
    for row in d["ops"]:
        events.append({
            "ph": "X", "pid": 1, "tid": TRACKS[row["unit"]], "name": row["name"],
            "cat": row["phase"], "ts": row["start_cycle"] * to_us,
            "dur": row["cycles"] * to_us,
            "args": {"macs": row["macs"], "dram_bytes": row["dram_bytes"],
                     "compute_cycles": row["compute_cycles"], **row["stalls"]}})
    for start, end, nbytes in result.transfers:
        events.append({"ph": "X", "pid": 1, "tid": TRACKS["dram"], "name": "transfer",
                       "cat": "dram", "ts": start * to_us, "dur": (end - start) * to_us,
                       "args": {"bytes": nbytes}})
    # otherData first: the marker is then in the file's first bytes.
    return {"otherData": {"generator": GENERATOR, "schema": d["schema"],
                          "total_cycles": d["total_cycles"]},
            "traceEvents": events, "displayTimeUnit": "ns"}


def write_trace(result: RunResult, path: str | Path) -> None:
    """Write the trace-event document of ``result`` to ``path``, all or nothing."""
    atomic_write_text(path, json.dumps(trace_events(result)) + "\n")
