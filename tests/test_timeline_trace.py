"""The Perfetto timeline (``--timeline``) is well-formed Chrome trace-event JSON: every event has
the fields its phase type requires, spans on one track never partially overlap, and it has one
track per DRAM lane, named transfers, counters and phase markers."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest

from accelsim.api import simulate
from accelsim.stats.timeline_trace import lane_name, trace_events
from tests.conftest import ROOT

#: Fields the trace-event format requires of each event type (``ph``) used here.
REQUIRED = {"X": {"name", "ph", "ts", "dur", "pid", "tid"},
            "M": {"name", "ph", "pid", "tid", "args"},
            "C": {"name", "ph", "ts", "pid", "args"},
            "i": {"name", "ph", "ts", "pid", "tid", "s"}}
TRANSFER = re.compile(r"\S+ (read|write) [a-z_]+(\+[a-z_]+)*( \(prefetch\))?")
#: Float slack when comparing times (microseconds computed from whole cycles).
EPS = 1e-9


def run(hw: str, overrides=(), batch: int = 2) -> tuple[dict, dict]:
    result = simulate({"hwconfig": str(ROOT / "hwconfigs" / hw),
                       "workload": str(ROOT / "workloads/lenet5.yaml"),
                       "batch": batch, "overrides": list(overrides)}, keep_transfers=True)
    return result.data, json.loads(json.dumps(trace_events(result)))


def check_structure(trace: dict) -> dict[tuple[int, int], list[dict]]:
    """Assert the per-type fields and the nesting rule; the spans by (pid, tid)."""
    tracks: dict[tuple[int, int], list[dict]] = defaultdict(list)
    for event in trace["traceEvents"]:
        missing = REQUIRED[event["ph"]] - set(event)
        assert not missing, (event, missing)
        if "ts" in event:
            assert isinstance(event["ts"], (int, float)) and event["ts"] >= 0
        if event["ph"] == "X":
            assert event["dur"] >= 0
            tracks[(event["pid"], event["tid"])].append(event)
        elif event["ph"] == "C":
            assert event["args"] and all(isinstance(v, (int, float))
                                         for v in event["args"].values())
        elif event["ph"] == "M":
            assert event["name"] in ("process_name", "thread_name") and event["args"]["name"]
        elif event["ph"] == "i":
            assert event["s"] in ("g", "p", "t")
    for spans in tracks.values():  # disjoint or nested, never partially overlapping
        open_ends: list[float] = []
        for span in sorted(spans, key=lambda e: (e["ts"], -e["dur"])):
            while open_ends and open_ends[-1] <= span["ts"] + EPS:
                open_ends.pop()
            end = span["ts"] + span["dur"]
            assert not open_ends or end <= open_ends[-1] + EPS, span
            open_ends.append(end)
    return tracks


def thread_names(trace: dict) -> dict[int, str]:
    return {e["tid"]: e["args"]["name"] for e in trace["traceEvents"]
            if e["ph"] == "M" and e["name"] == "thread_name"}


def test_training_timeline_structure():
    """A LeNet-5 (workloads/lenet5.yaml) training iteration on edge_16x16 (2 channels, 1 lane
    on its bus): fields and nesting hold; the DRAM track carries every transfer, each named
    op, direction and operands, their bytes adding up to the DRAM traffic; each phase has a
    track with one span and a start marker; both counters have one value per bin and a
    closing zero."""
    data, trace = run("edge_16x16.yaml")
    tracks = check_structure(trace)
    names = thread_names(trace)
    assert names[100] == "DRAM channels 0-1"
    transfers = tracks[(1, 100)]
    assert transfers and all(TRANSFER.fullmatch(t["name"]) for t in transfers)
    assert sum(t["args"]["bytes"] for t in transfers) == data["dram_bytes"]["total"]
    ops = {r["name"] for r in data["ops"]}
    assert {t["name"].split(" ")[0] for t in transfers} <= ops
    phases = [p for p in ("fwd", "bwd_data", "bwd_weight", "update")
              if data["phase_stats"][p]["ops"]]
    assert len(phases) == 4
    for phase in phases:
        (tid,) = [tid for tid, name in names.items() if name == f"phase {phase}"]
        (span,) = tracks[(1, tid)]
        assert span["name"] == phase
        marks = [e for e in trace["traceEvents"] if e["ph"] == "i" and e["tid"] == tid]
        assert len(marks) == 1 and marks[0]["ts"] == span["ts"]
    for counter, bins in (("DRAM bandwidth", len(data["dram_bandwidth"]["gbytes_per_s"])),
                          ("DRAM footprint", len(data["dram_footprint"]["timeline_bytes"]))):
        values = [e for e in trace["traceEvents"] if e["ph"] == "C" and e["name"] == counter]
        assert len(values) == bins + 1 and bins > 0


def test_one_track_per_dram_lane():
    """With a crossbar whose links carry a quarter of the DRAM's bandwidth the DRAM has four
    lanes: four tracks, each never carrying two transfers at once (checked above), together
    carrying every transfer."""
    data, trace = run("edge_16x16.yaml", ["interconnect.topology=crossbar",
                                         "interconnect.bandwidth=2B/cycle"], batch=1)
    lanes = data["interconnect"]["dram_lanes"]
    assert lanes > 1
    tracks = check_structure(trace)
    names = thread_names(trace)
    lane_tracks = [tid for tid in names if tid >= 100]
    assert len(lane_tracks) == lanes
    moved = sum(t["args"]["bytes"] for tid in lane_tracks for t in tracks[(1, tid)])
    assert moved == data["dram_bytes"]["total"]


@pytest.mark.parametrize("lanes, channels, name", [
    (1, 1, "DRAM channel 0"), (2, 8, "DRAM channels 0-3"),
    (3, 16, "DRAM lane 0 of 3 (16 channels)")])
def test_lane_names(lanes, channels, name):
    """A lane is named after the channels it stands for (the first lane here)."""
    assert lane_name(0, lanes, channels) == name
