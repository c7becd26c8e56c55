"""A Chrome / Perfetto trace (JSON trace-event format) of a run's timeline.

One process per accelerator with these tracks (threads):

* ``PE array`` and ``vector unit``: their ops as complete events (``ph: X``; name = op,
  category = training phase, with MACs, DRAM bytes and stall cycles as arguments). A unit runs
  one op at a time, so its spans never overlap.
* one track per DRAM lane: every transfer's bus time, named ``<op> <read|write> <operands>``
  (``conv1.fwd read ifmap+filter``; ``(prefetch)`` when the op's first tile was fetched while
  the op before it ran), with its bytes per buffer as arguments. The DRAM model books
  transfers first come, first served on *lanes*, each an equal share of the channels'
  bandwidth (:mod:`accelsim.hw.system`), and spreads a transfer over the channels its
  addresses touch without placing it on named channels. So a track is a channel where there
  are as many lanes as channels (``DRAM channel 3``), else the group of channels a lane
  stands for (``DRAM channels 0-7`` or, where they do not divide, ``DRAM lane 0 of 3 (16
  channels)``). A lane carries one transfer at a time: its spans never overlap.
* one track per training phase: a span from the phase's first op start to its last op end,
  and an instant event (``ph: i``) where it starts (phases may overlap, so each has its own
  track).
* counters (``ph: C``): ``DRAM bandwidth`` (GB/s, the result's 100-bin ``dram_bandwidth``
  chart) and ``DRAM footprint`` (MiB in use, the result's ``dram_footprint`` timeline), one
  value per bin from the bin's start.

Times are microseconds of simulated time, as the format wants. Open the file in
https://ui.perfetto.dev or chrome://tracing. Transfers appear only when the run kept them
(``keep_transfers``, which ``accelsim run --timeline`` sets).

The document opens with ``"otherData": {"generator": "accelsim", ...}`` (metadata the format
allows), so that :mod:`accelsim.outputs` recognises an earlier timeline from the start of the
file; it is written atomically.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from accelsim.outputs import GENERATOR, atomic_write_text
from accelsim.stats.result import RunResult
from accelsim.stats.transfers import TransferRecord
from accelsim.workload.op import PHASES

PID = 1
TRACKS = {"pe_array": 1, "vector": 2}
TRACK_NAMES = {"pe_array": "PE array", "vector": "vector unit"}
#: Track ids of the DRAM lanes and of the phases start here.
DRAM_TID, PHASE_TID = 100, 10
VECTOR_ENDPOINT_NAME = "vector"


def lane_name(lane: int, lanes: int, channels: int) -> str:
    """The track name of DRAM lane ``lane`` (module docstring)."""
    if lanes == channels:
        return f"DRAM channel {lane}"
    if channels % lanes == 0:
        per = channels // lanes
        return f"DRAM channels {lane * per}-{(lane + 1) * per - 1}"
    return f"DRAM lane {lane} of {lanes} ({channels} channels)"


def _operands(data: dict) -> dict[str, str]:
    """Endpoint (SRAM buffer, vector unit) -> the operand roles it holds, for names."""
    names = {name: "+".join(buffer["holds"])
             for name, buffer in data["hwconfig_resolved"]["sram"].items()}
    return names


def transfer_name(t: TransferRecord, operands: dict[str, str]) -> str:
    """``<op> <read|write> <operands>`` of a transfer (module docstring)."""
    what = "+".join(operands.get(ep, VECTOR_ENDPOINT_NAME)
                    for ep, nbytes in t.bytes_by_endpoint.items() if nbytes)
    who = t.tag.op if t.tag is not None else "transfer"
    prefetch = " (prefetch)" if t.tag is not None and t.tag.prefetch else ""
    return f"{who} {'write' if t.write else 'read'} {what}{prefetch}"


def _meta(name: str, tid: int, label: str) -> dict:
    return {"ph": "M", "name": name, "pid": PID, "tid": tid, "args": {"name": label}}


def _span(tid: int, name: str, cat: str, start: float, end: float, to_us: float,
          args: dict) -> dict:
    ts = start * to_us
    return {"ph": "X", "pid": PID, "tid": tid, "name": name, "cat": cat, "ts": ts,
            "dur": end * to_us - ts, "args": args}


def _counter(name: str, bin_cycles: float, values: list[float], unit: str, scale: float,
             to_us: float) -> list[dict]:
    """A counter's value at the start of every bin, and zero after the last."""
    events = [{"ph": "C", "pid": PID, "tid": 0, "name": name, "ts": i * bin_cycles * to_us,
               "args": {unit: value * scale}} for i, value in enumerate(values)]
    if events:
        events.append({"ph": "C", "pid": PID, "tid": 0, "name": name,
                       "ts": len(values) * bin_cycles * to_us, "args": {unit: 0.0}})
    return events


def iter_events(result: RunResult) -> Iterator[dict]:
    """The trace events of ``result``, one at a time (module docstring)."""
    d = result.data
    to_us = 1e6 / d["clock_hz"]
    lanes = d["interconnect"]["dram_lanes"]
    channels = d["hwconfig_resolved"]["dram"]["channels"]
    yield {"ph": "M", "name": "process_name", "pid": PID, "tid": 0,
           "args": {"name": f"{d['workload']} on {d['hwconfig']}"}}
    for track, tid in TRACKS.items():
        yield _meta("thread_name", tid, TRACK_NAMES[track])
    for lane in range(lanes):
        yield _meta("thread_name", DRAM_TID + lane, lane_name(lane, lanes, channels))
    for row in d["ops"]:
        yield _span(TRACKS[row["unit"]], row["name"], row["phase"], row["start_cycle"],
                    row["end_cycle"], to_us,
                    {"macs": row["macs"], "dram_bytes": row["dram_bytes"],
                     "compute_cycles": row["compute_cycles"], **row["stalls"]})
    operands = _operands(d)
    for t in result.transfers:
        yield _span(DRAM_TID + t.lane, transfer_name(t, operands), "dram", t.start, t.end,
                    to_us, {"bytes": t.nbytes, **t.bytes_by_endpoint})
    for index, phase in enumerate(PHASES):
        rows = [r for r in d["ops"] if r["phase"] == phase]
        if not rows:
            continue
        tid = PHASE_TID + index
        start = min(r["start_cycle"] for r in rows)
        yield _meta("thread_name", tid, f"phase {phase}")
        yield _span(tid, phase, "phase", start, max(r["end_cycle"] for r in rows), to_us,
                    {"ops": len(rows)})
        yield {"ph": "i", "s": "t", "pid": PID, "tid": tid, "name": f"{phase} starts",
               "cat": "phase", "ts": start * to_us}
    chart = d["dram_bandwidth"]
    yield from _counter("DRAM bandwidth", chart["bin_cycles"], chart["gbytes_per_s"], "GB/s",
                        1.0, to_us)
    footprint = d["dram_footprint"]
    yield from _counter("DRAM footprint", footprint.get("bin_cycles", 0),
                        footprint.get("timeline_bytes", []), "MiB", 1 / 2**20, to_us)


def _other_data(result: RunResult) -> dict:
    d = result.data
    return {"generator": GENERATOR, "schema": d["schema"], "total_cycles": d["total_cycles"]}


def trace_events(result: RunResult) -> dict:
    """The trace-event document of ``result``."""
    # otherData first: the marker is then in the file's first bytes.
    return {"otherData": _other_data(result), "traceEvents": list(iter_events(result)),
            "displayTimeUnit": "ns"}


def write_trace(result: RunResult, path: str | Path) -> None:
    """Write the trace-event document of ``result`` to ``path``, all or nothing: the JSON
    text of :func:`trace_events`, made one event at a time (a run's transfers would otherwise
    be held twice, as event mappings and as text)."""
    head = json.dumps({"otherData": _other_data(result)})[:-1]
    events = ",\n".join(json.dumps(event) for event in iter_events(result))
    atomic_write_text(path, f'{head}, "traceEvents": [\n{events}\n], '
                            f'"displayTimeUnit": "ns"}}\n')
