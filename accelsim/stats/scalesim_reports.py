"""SCALE-Sim v3's three report files for a run's forward GEMM layers (``--scalesim-reports``).

``COMPUTE_REPORT.csv``, ``BANDWIDTH_REPORT.csv`` and ``DETAILED_ACCESS_REPORT.csv`` have SCALE-Sim
v3's headers, byte for byte, and its text form (``", "`` between values, a trailing comma;
``scalesim/simulator.py`` ``generate_reports``), so that scripts written for SCALE-Sim read them.
One row per forward op that ran on the PE array with a GEMM, in the order they started;
``LayerID`` numbers them from 0, as SCALE-Sim numbers the rows of its topology file (a
depthwise ``DP`` row, which SCALE-Sim runs as one layer per channel, is one op and one row
here: :mod:`accelsim.workload.scalesim_csv`). Cycles
are relative to the op's start (the cycle its unit was granted), as SCALE-Sim's are relative to
the layer's first compute cycle. Counts are *words*: bytes divided by the op's operand width
(its datatype; a partial sum moved at accumulator width counts accumulator/operand words).

What each column holds here, beside SCALE-Sim's meaning (``scalesim/single_layer_sim.py``
``calc_report_data``):

COMPUTE_REPORT
  * ``Total Cycles (incl. prefetch)``: SCALE-Sim: its last OFMAP DRAM write minus its first
    IFMAP/filter DRAM read. Here: the op's end (its last write-back landed) minus the earlier of
    its start and its first DRAM read, which precedes the start when part of its first tile was
    prefetched while the op before it ran (needs the transfer record, below; else = Total).
  * ``Total Cycles``: SCALE-Sim: compute plus stall cycles, from the first compute cycle to the
    last OFMAP write into SRAM, as the 0-based index of that cycle (one less than the count).
    Here: the op's cycles (start to end), a count, *including* the wait for its first tile's
    data and for its last write-back, which SCALE-Sim leaves to the column before.
  * ``Stall Cycles``: Total Cycles minus the op's compute cycles (DRAM, interconnect and SRAM
    stalls: ``stalls`` of the result's op row).
  * ``Overall Util %``: MACs / (Total Cycles x PEs), as SCALE-Sim (MACs issued).
  * ``Mapping Efficiency %``: SCALE-Sim's mean over folds of the PEs a fold maps (rows used x
    cols used) over all PEs, from the op's GEMM and the dataflow (os: M x N on the array, ws:
    K x N, is: K x M). Only for ``systolic`` arrays; empty for other kinds.
  * ``Compute Util %``: MACs / (PEs x compute cycles): SCALE-Sim's mean over folds of each
    fold's MACs over PEs x fold cycles, which for its fold-by-fold schedule is the same ratio.

BANDWIDTH_REPORT (words per cycle, as SCALE-Sim)
  * SRAM columns: the SRAM reads (writes) of DETAILED_ACCESS_REPORT over Total Cycles.
  * DRAM columns: DRAM reads (writes) over Stop - Start + 1 of that operand; empty where the
    dates are (below).

DETAILED_ACCESS_REPORT
  * ``SRAM ... Start Cycle`` / ``Stop Cycle``: **empty**. accelsim does not record when each
    tile computes, so the first and last cycle the array reads a buffer is not known.
  * ``SRAM IFMAP Reads`` / ``SRAM Filter Reads`` / ``SRAM OFMAP Writes``: words moved between
    the buffer that holds the operand and the array (the op row's ``sram_array_bytes``): for os,
    K x M x column folds, K x N x row folds and M x N (once per K block), SCALE-Sim's counts
    except that SCALE-Sim adds rows + cols per fold to its OFMAP writes. Empty when the operand
    shares its buffer with another (the split is not recorded).
  * ``DRAM ... Reads`` / ``DRAM OFMAP Writes``: the op's DRAM traffic per operand role (the op
    row's ``dram_bytes_by_role``), prefetched bytes included. Partial sums read back
    (``read.ofmap``, when K is split over tiles) have no SCALE-Sim column and are left out.
    SCALE-Sim's read buffer is a FIFO of half the SRAM; accelsim fetches whole tile blocks: the
    counts agree when every operand fits (``tests/test_scalesim_reports.py``), not otherwise.
  * ``DRAM ... Start Cycle`` / ``Stop Cycle``: the first cycle of the op's first transfer
    into (out of) the operand's buffer and the last cycle of its last one, relative to the op's
    start (negative for a prefetch). They need the record of every transfer, which
    ``accelsim run --scalesim-reports`` keeps (as ``--timeline`` does); empty without it and
    with an ideal DRAM (transfers take no time and are not recorded).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from accelsim.outputs import atomic_write_text
from accelsim.stats.transfers import TransferRecord

if TYPE_CHECKING:  # the headers are read without the engine (accelsim.outputs)
    from accelsim.stats.result import RunResult

#: SCALE-Sim v3's headers (``scalesim/simulator.py``, without sparsity), by file name.
HEADERS = {
    "COMPUTE_REPORT.csv": (
        "LayerID, Total Cycles (incl. prefetch), Total Cycles, Stall Cycles, Overall Util %, "
        "Mapping Efficiency %, Compute Util %,"),
    "BANDWIDTH_REPORT.csv": (
        "LayerID, Avg IFMAP SRAM BW, Avg FILTER SRAM BW, Avg OFMAP SRAM BW, "
        "Avg IFMAP DRAM BW, Avg FILTER DRAM BW, Avg OFMAP DRAM BW,"),
    "DETAILED_ACCESS_REPORT.csv": (
        "LayerID, "
        "SRAM IFMAP Start Cycle, SRAM IFMAP Stop Cycle, SRAM IFMAP Reads, "
        "SRAM Filter Start Cycle, SRAM Filter Stop Cycle, SRAM Filter Reads, "
        "SRAM OFMAP Start Cycle, SRAM OFMAP Stop Cycle, SRAM OFMAP Writes, "
        "DRAM IFMAP Start Cycle, DRAM IFMAP Stop Cycle, DRAM IFMAP Reads, "
        "DRAM Filter Start Cycle, DRAM Filter Stop Cycle, DRAM Filter Reads, "
        "DRAM OFMAP Start Cycle, DRAM OFMAP Stop Cycle, DRAM OFMAP Writes,"),
}
ROLES = ("ifmap", "filter", "ofmap")
#: The GEMM dimensions a dataflow maps on the array's rows and columns.
SPATIAL_DIMS = {"os": ("m", "n"), "ws": ("k", "n"), "is": ("k", "m")}


def report_paths(folder: str | Path) -> dict[str, Path]:
    """The three report files in ``folder``, by file name."""
    return {name: Path(folder) / name for name in HEADERS}


@dataclass(frozen=True)
class _Dates:
    """First and last busy cycle (inclusive) of an operand's DRAM transfers, absolute."""

    start: float
    stop: float


def _dram_dates(transfers: Iterable[TransferRecord], ops: set[str],
                buffer_of: dict[str, str]) -> dict[tuple[str, str], _Dates]:
    """(op, role) -> dates of the transfers that moved the role's buffer for the op (reads for
    ifmap and filter, writes for ofmap)."""
    dates: dict[tuple[str, str], _Dates] = {}
    for t in transfers:
        if t.tag is None or t.tag.op not in ops or t.end <= t.start:
            continue
        for role in (("ofmap",) if t.write else ("ifmap", "filter")):
            if not t.bytes_by_endpoint.get(buffer_of.get(role, ""), 0):
                continue
            key = (t.tag.op, role)
            seen = dates.get(key)
            last = t.end - 1  # the transfer holds the bus over [start, end)
            dates[key] = (_Dates(t.start, last) if seen is None else
                          _Dates(min(seen.start, t.start), max(seen.stop, last)))
    return dates


def _cell(value: float | None) -> str:
    """A value as SCALE-Sim prints it (``str``); ``None``: an empty cell."""
    return "" if value is None else str(value)


def _count(value: float | None) -> int | float | None:
    """A cycle or word count: an int when it is whole."""
    if value is None:
        return None
    return int(value) if float(value).is_integer() else float(value)


def _line(layer_id: int, values: Iterable[float | None]) -> str:
    return f"{layer_id}, " + ", ".join(_cell(v) for v in values) + ",\n"


def _ratio(words: float | None, cycles: float | None) -> float | None:
    if words is None or not cycles:
        return None
    return float(words / cycles)


def _mapping_efficiency(hw: dict, gemm: dict | None) -> float | None:
    """SCALE-Sim's mean over folds of mapped PEs / all PEs, in percent (systolic only)."""
    array = hw["pe_array"]
    if gemm is None or array.get("kind") != "systolic":
        return None
    rows, cols = array["rows"], array["cols"]
    d_row, d_col = (gemm[d] for d in SPATIAL_DIMS[array["dataflow"]])
    folds = math.ceil(d_row / rows) * math.ceil(d_col / cols)
    return 100.0 * d_row * d_col / (folds * rows * cols)


def forward_gemm_rows(data: dict) -> list[dict]:
    """The op rows SCALE-Sim's reports cover: forward ops with a GEMM on the PE array, in the
    order they started."""
    return [row for row in data["ops"]
            if row["phase"] == "fwd" and row["unit"] == "pe_array" and "gemm" in row]


def report_texts(result: RunResult) -> dict[str, str]:
    """The three reports of ``result`` (module docstring), by file name."""
    from accelsim.config.base import DATATYPE_BYTES

    data = result.data
    hw = data["hwconfig_resolved"]
    pes = data["pe_array"]["pes"]
    holders: dict[str, list[str]] = {}
    for name, buffer in hw["sram"].items():
        for role in buffer["holds"]:
            holders.setdefault(role, []).append(name)
    buffer_of = {role: names[0] for role, names in holders.items()}
    shares = {name: sum(name in names for names in holders.values()) for name in hw["sram"]}
    rows = forward_gemm_rows(data)
    dates = _dram_dates(result.transfers, {r["name"] for r in rows}, buffer_of)
    texts = {name: header + "\n" for name, header in HEADERS.items()}
    for layer_id, row in enumerate(rows):
        width = DATATYPE_BYTES[row.get("datatype", hw["pe_array"]["datatype"])]
        start, cycles = row["start_cycle"], row["cycles"]
        op_dates = {role: dates.get((row["name"], role)) for role in ROLES}
        first_read = min((d.start for role, d in op_dates.items()
                          if d is not None and role != "ofmap"), default=start)
        moved = row.get("dram_bytes_by_role", {"read": {}, "written": {}})
        sram = row.get("sram_array_bytes", {})
        sram_words = {role: (_count(sram[buffer_of[role]] / width)
                             if role in buffer_of and shares[buffer_of[role]] == 1
                             and buffer_of[role] in sram else None) for role in ROLES}
        dram_words = {"ifmap": _count(moved["read"].get("ifmap", 0) / width),
                      "filter": _count(moved["read"].get("filter", 0) / width),
                      "ofmap": _count(moved["written"].get("ofmap", 0) / width)}
        detail: list[float | None] = [None, None, sram_words["ifmap"],
                                      None, None, sram_words["filter"],
                                      None, None, sram_words["ofmap"]]
        dram_bw = []
        for role in ROLES:
            d = op_dates[role]
            detail += [None if d is None else _count(d.start - start),
                       None if d is None else _count(d.stop - start), dram_words[role]]
            dram_bw.append(None if d is None else _ratio(dram_words[role],
                                                         d.stop - d.start + 1))
        compute = row["compute_cycles"]
        texts["COMPUTE_REPORT.csv"] += _line(layer_id, [
            _count(row["end_cycle"] - min(start, first_read)), _count(cycles),
            _count(cycles - compute),
            _ratio(100.0 * row["macs"], cycles * pes),
            _mapping_efficiency(hw, row["gemm"]),
            _ratio(100.0 * row["macs"], compute * pes)])
        texts["BANDWIDTH_REPORT.csv"] += _line(
            layer_id, [_ratio(sram_words[role], cycles) for role in ROLES] + dram_bw)
        texts["DETAILED_ACCESS_REPORT.csv"] += _line(layer_id, detail)
    return texts


def write_reports(result: RunResult, folder: str | Path) -> dict[str, Path]:
    """Write the three reports of ``result`` into ``folder`` (created if missing; its parent
    must exist), each atomically; the paths written."""
    folder = Path(folder)
    if not folder.is_dir():
        folder.mkdir()
    paths = report_paths(folder)
    for name, text in report_texts(result).items():
        atomic_write_text(paths[name], text)
    return paths
