"""RunResult: every figure of one run, as a nested dict written to JSON and CSV.

The JSON schema (``schema: accelsim.run/1``) is documented in the README. Cycle figures are
clock cycles of the accelerator clock; energies are picojoules.
"""

from __future__ import annotations

import csv
import json
import platform
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from accelsim import __version__
from accelsim.stats.records import STALL_CAUSES, OpRecord
from accelsim.stats.tensor_classes import TENSOR_CLASSES
from accelsim.stats.transfers import TransferRecord
from accelsim.workload.graph import Workload
from accelsim.workload.op import PHASES

if TYPE_CHECKING:  # reading the schema and CSV columns (accelsim.outputs) needs no engine
    from accelsim.hw.system import System

SCHEMA = "accelsim.run/1"
CSV_COLUMNS = ("name", "layer", "phase", "kind", "unit", "ready_cycle", "start_cycle",
               "end_cycle", "cycles", "compute_cycles", "stall_cycles", "macs", "macs_skipped",
               "dram_bytes", "dram_bytes_read", "dram_bytes_written", "tiles")
TIMELINE_BINS = 100

#: Modelling approximations, repeated in every result so that no figure is read without them.
APPROXIMATIONS = (
    "Systolic compute cycles per fold follow SCALE-Sim v3 (full fill/drain on every fold).",
    "DRAM: with a preset, an analytical bank-level model per transfer (each channel busy for "
    "the largest JEDEC bound its bursts and row visits set: tCCD_S/L, tRRD_S/L, tFAW, tRC; "
    "refresh as a bandwidth factor; no read/write turnaround; DRAM access energy per bit of "
    "the preset, standby and refresh energy not charged); without one, a peak-bandwidth server. Tensors stay "
    "on chip between ops as far as the residency pool allows (residency.policy; moves between "
    "buffers and to the vector unit are free); element-wise ops may run in the GEMM's "
    "output stream (fusion); the next op's first tile may load while the op before it "
    "computes (prefetch); an im2col operand block is fetched as the distinct input elements "
    "its windows name (halos included) and held on chip at its im2col size.",
    "Energy: Horowitz ISSCC 2014 (45 nm) per-action figures unless the hwconfig overrides "
    "them; SRAM energy interpolated by capacity; leakage and link wire energy not modelled.",
    "Vector-unit op counts per element are approximations of the usual kernels "
    "(accelsim.workload.training.VECTOR_OPS).",
    "Fusion (fusion.mode: output_stream): element-wise chains that alone consume a GEMM's "
    "output run on the vector lanes as its tiles finish, a tile lasting max(array cycles, "
    "chain operations / lanes); the lanes are not booked on the vector unit's queue and the "
    "chain's other inputs stream through its buffer unchecked against its capacity; batch "
    "and layer norm stay unfused (their statistics need the whole GEMM output).",
)


#: Causes an op's cycles are split into (besides compute): see accelsim.sim.pipeline, plus
#: ``unit_wait`` (inputs ready, unit busy with another op) and ``dependency`` (unit idle
#: before the op because its inputs were not ready).
STALL_KEYS = (*STALL_CAUSES, "unit_wait", "dependency")


def _add_dependency_waits(records: list[OpRecord]) -> None:
    """Give each op the idle time of its unit just before it that its inputs caused."""
    for unit in {r.unit for r in records}:
        previous_end = 0.0
        for record in sorted((r for r in records if r.unit == unit),
                             key=lambda r: (r.start_cycle, r.name)):
            idle_until = min(record.ready_cycle, record.start_cycle)
            record.stalls["dependency"] = max(0.0, idle_until - previous_end)
            previous_end = max(previous_end, record.end_cycle)


def _traffic_by_class(records: list[OpRecord]) -> dict[str, dict[str, int]]:
    """DRAM bytes read and written by tensor class, over every op."""
    totals = {cls: {"read": 0, "written": 0} for cls in TENSOR_CLASSES}
    for record in records:
        for direction, by_class in record.dram_bytes_by_class.items():
            for cls, nbytes in by_class.items():
                totals[cls][direction] += nbytes
    return totals


def _fusion_summary(mode: str, records: list[OpRecord]) -> dict:
    """The fusion mode, the GEMM ops that ran element-wise ops in their output stream, and
    how many element-wise ops those absorbed (their rows are the GEMMs', ``fused``)."""
    fused = [r.extras["fused"] for r in records if r.extras.get("fused")]
    return {"mode": mode, "fused_gemms": len(fused),
            "fused_ops": sum(len(names.split(",")) for names in fused)}


def _union_length(intervals: list[tuple[float, float]]) -> float:
    total, reach = 0.0, -np.inf
    for start, end in sorted(intervals):
        if end <= reach:
            continue
        total += end - max(start, reach)
        reach = end
    return total


def _bandwidth_timeline(system: System, total: float) -> dict:
    histogram = system.dram.stats.bandwidth
    if not histogram.total_bytes or total <= 0:
        return {"bin_cycles": 0, "gbytes_per_s": []}
    width = total / TIMELINE_BINS
    per_cycle = histogram.resample(total, TIMELINE_BINS) / width
    return {"bin_cycles": width,
            "gbytes_per_s": [round(v * system.clock_hz / 1e9, 6) for v in per_cycle]}


@dataclass
class RunResult:
    """The JSON-ready figures (``data``) and, when the run kept them (a timeline trace, the
    SCALE-Sim reports), every DRAM transfer (:class:`accelsim.stats.transfers.TransferRecord`)."""

    data: dict
    transfers: list[TransferRecord] = field(default_factory=list)

    def __getitem__(self, key: str):
        return self.data[key]

    @property
    def total_cycles(self) -> float:
        return self.data["total_cycles"]

    def write_json(self, path: str | Path) -> None:
        """Write ``data`` as JSON, all or nothing (:mod:`accelsim.outputs`)."""
        from accelsim.outputs import atomic_write_text

        atomic_write_text(path, json.dumps(self.data, indent=1) + "\n")

    def write_csv(self, path: str | Path) -> None:
        """Write one row per op (``CSV_COLUMNS``), all or nothing (:mod:`accelsim.outputs`)."""
        import io

        from accelsim.outputs import atomic_write_text

        text = io.StringIO(newline="")
        writer = csv.DictWriter(text, fieldnames=CSV_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in self.data["ops"]:
            writer.writerow(row)
        atomic_write_text(path, text.getvalue())


def versions() -> dict[str, str]:
    """Versions of accelsim, Python and the packages that decide its figures."""
    import simpy

    return {"accelsim": __version__, "python": platform.python_version(),
            "simpy": simpy.__version__, "numpy": np.__version__}


@dataclass(frozen=True)
class TechniqueFigures:
    """What the techniques of a run report: their names in order, their figures, their own
    hardware's energy (pJ by action, per ``technique.<name>``) and area (mm2 by name)."""

    names: list[str]
    stats: dict
    energy_pj: dict[str, dict[str, float]]
    area_mm2: dict[str, float]


def build_result(system: System, workload: Workload, records: list[OpRecord], total: float,
                 invariants: dict, techniques: TechniqueFigures, events: int, footprint: dict,
                 run: dict, onchip: dict | None = None) -> RunResult:
    """The result of a finished run; ``run``: how it was asked for (spec, command, step, seed,
    techniques with every parameter); ``onchip``: the residency summary (None: no residency)."""
    from accelsim.hw.energy import default_mac_energy_pj, energy_by_component

    cfg = system.config
    energy = {**energy_by_component(system), **techniques.energy_pj}
    energy_total = sum(sum(actions.values()) for actions in energy.values())
    issued = sum(r.macs for r in records)
    skipped = sum(r.macs_skipped for r in records)
    phases, phase_detail = {}, {}
    for phase in PHASES:
        rows = [r for r in records if r.phase == phase]
        phases[phase] = _union_length([(r.start_cycle, r.end_cycle) for r in rows])
        phase_detail[phase] = {
            "ops": len(rows), "macs": sum(r.macs for r in rows),
            "op_cycles": sum(r.cycles for r in rows),
            "dram_bytes": sum(r.dram_bytes for r in rows)}
    array = system.pe_array
    _add_dependency_waits(records)
    stalls = {cause: sum(r.stalls.get(cause, 0.0) for r in records) for cause in STALL_KEYS}
    stalls_by_unit = {unit: {cause: sum(r.stalls.get(cause, 0.0) for r in records
                                        if r.unit == unit) for cause in STALL_KEYS}
                      for unit in ("pe_array", "vector")}
    for unit, causes in stalls_by_unit.items():
        causes["compute"] = sum(r.compute_cycles for r in records if r.unit == unit)
    data = {
        "schema": SCHEMA,
        "accelsim_version": __version__,
        "versions": versions(),
        "run": run,
        "hwconfig": cfg.name,
        "hwconfig_source": cfg.source,
        "hwconfig_resolved": cfg.model_dump(mode="json"),
        "workload": workload.name,
        "workload_meta": workload.meta,
        "techniques": techniques.names,
        "technique_area_mm2": techniques.area_mm2,
        "total_cycles": total,
        "seconds": total / system.clock_hz,
        "clock_hz": system.clock_hz,
        "energy_pj": {"total": energy_total, "by_component": energy,
                      "mac_pj": default_mac_energy_pj(system), "source": cfg.energy.source},
        "macs": workload.macs,
        "macs_issued": issued,
        "macs_skipped": skipped,
        "utilization": {
            "pe_array": issued / (total * array.pes) if total else 0.0,
            "pe_array_busy": array.stats.busy_cycles / total if total else 0.0,
            "vector_unit_busy": system.vector.stats.busy_cycles / total if total else 0.0,
            "dram_busy": system.dram.stats.busy_cycles / total if total else 0.0,
        },
        "dram_bytes": {"read": system.dram.stats.bytes_read,
                       "written": system.dram.stats.bytes_written,
                       "total": system.dram.stats.bytes_read + system.dram.stats.bytes_written},
        "dram_bytes_by_class": _traffic_by_class(records),
        "onchip": {**(onchip or {"policy": "none"}),
                   "bytes_read_on_chip": sum(r.onchip_bytes_read for r in records),
                   "bytes_kept_on_chip": sum(r.onchip_bytes_kept for r in records)},
        "prefetch": {"mode": cfg.resolved_prefetch,
                     "ops": sum(1 for r in records if r.prefetched_bytes),
                     "bytes": sum(r.prefetched_bytes for r in records)},
        "fusion": _fusion_summary(cfg.fusion.mode, records),
        "dram_footprint": {**footprint, "capacity": cfg.dram.capacity},
        "phases": phases,
        "phase_stats": phase_detail,
        "stall_cycles": stalls,
        "stall_cycles_by_unit": stalls_by_unit,
        "dram": {"model": "ideal" if system.dram.ideal else
                 ("row_buffer" if system.dram.timing else "peak_bandwidth"),
                 "preset": cfg.dram.preset,
                 "timing_source": system.dram.timing.source if system.dram.timing else None,
                 "peak_gbytes_per_s": (None if system.dram.ideal
                                       else system.dram.bytes_per_second / 1e9),
                 "transfers": system.dram.stats.transfers,
                 "row_visits": system.dram.stats.row_visits,
                 "row_hit_rate": system.dram.stats.row_hit_rate,
                 "overhead_cycles": system.dram.stats.overhead_cycles,
                 "achieved_gbytes_per_s": ((system.dram.stats.bytes_read
                                            + system.dram.stats.bytes_written)
                                           / (total / system.clock_hz) / 1e9) if total else 0.0},
        "pe_array": array.summary(),
        "interconnect": {"topology": cfg.interconnect.topology,
                         "links": len(system.interconnect.links),
                         "dram_lanes": system.lanes,
                         "busy_cycles": system.interconnect.stats.busy_cycles},
        "dram_bandwidth": _bandwidth_timeline(system, total),
        "sram": {name: {"capacity": s.params.capacity, "peak_tile_bytes": s.stats.peak_tile_bytes,
                        "filled_bytes": s.stats.filled_bytes,
                        "drained_bytes": s.stats.drained_bytes,
                        "array_bytes": s.stats.array_bytes,
                        "access_energy_pj_per_64b": s.energy_pj_per_64b}
                 for name, s in system.srams.items()},
        "simulation": {"simpy_events": events, "ops": len(records),
                       "tiles": sum(r.tiles for r in records)},
        "invariants": invariants,
        "technique_stats": techniques.stats,
        "mask_sources": dict(Counter(r.extras["mask_source"] for r in records
                                     if "mask_source" in r.extras)),
        "approximations": list(APPROXIMATIONS),
        "ops": [r.as_row() for r in sorted(records, key=lambda r: (r.start_cycle, r.name))],
    }
    return RunResult(data, list(system.dram.stats.timeline))
