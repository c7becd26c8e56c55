"""Shared fixtures: small hwconfigs built in memory, and the repository paths."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.config.loader import validate_hwconfig
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor

ROOT = Path(__file__).resolve().parent.parent
HWCONFIGS = ROOT / "hwconfigs"


def make_config(rows: int = 8, cols: int = 8, dataflow: str = "os", ideal: bool = True,
                capacity: str = "64MiB", dram_bandwidth: str = "16B/cycle",
                double_buffered: bool = True, **extra) -> object:
    """A hwconfig with three separate buffers; ideal DRAM and large buffers by default; no
    residency between ops unless ``residency`` is given (tests of one op's tiling and traffic
    see the whole buffers)."""
    data = {
        "name": f"test_{rows}x{cols}_{dataflow}",
        "clock": "1GHz",
        "pe_array": {"kind": "systolic", "rows": rows, "cols": cols, "dataflow": dataflow},
        "sram": {role: {"capacity": capacity, "holds": [role], "bandwidth": "4096B/cycle",
                        "double_buffered": double_buffered}
                 for role in ("ifmap", "filter", "ofmap")},
        "dram": {"ideal": ideal, "bandwidth": dram_bandwidth, "latency": "0ns",
                 "access_energy_pj_per_64b": 1300},
        "interconnect": {"bandwidth": "1024B/cycle", "latency": "0cycles"},
        "vector_unit": {"lanes": 16, "buffer": "64KiB"},
        "residency": {"policy": "none"},
    }
    for key, value in extra.items():
        data[key] = value
    return validate_hwconfig(data, "<test>")


def gemm_workload(m: int, n: int, k: int) -> Workload:
    """One forward GEMM op of m x n x k with fp16 operands, as a whole workload."""
    op = Op("g.fwd", "g", Phase.FWD, "linear",
            reads=(Tensor("a", m * k, 2), Tensor("b", k * n, 2)),
            writes=(Tensor("c", m * n, 2),), gemm=Gemm(m, n, k))
    return Workload("g", [op])


@pytest.fixture
def root() -> Path:
    return ROOT
