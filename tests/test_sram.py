"""SRAM port limits and bank conflicts, from first principles."""

from __future__ import annotations

from accelsim.config.models import SramParams
from accelsim.hw.sram import Sram
from accelsim.sim.engine import Simulation
from tests.conftest import gemm_workload, make_config


def sram(**extra) -> Sram:
    params = SramParams(capacity="64KiB", holds=["ifmap"], bandwidth="16B/cycle", banks=8,
                        bank_width=8, **extra)
    return Sram("ifmap", params, 1e9)


def test_power_of_two_stride_hits_one_bank():
    """8 fp16 lanes need 16 B = 2 bank accesses a cycle. A 512 B stride is 64 bank words:
    gcd(64, 8) = 8, so every lane hits the same bank and the read takes 2 cycles, not 1."""
    assert float(sram().column_read_slowdown(8, 2, 512)) == 2.0


def test_odd_stride_spreads_over_banks():
    """A 200 B stride is 25 bank words, coprime with 8 banks: no conflict."""
    assert float(sram().column_read_slowdown(8, 2, 200)) == 1.0


def test_single_port_shares_with_dram_fills():
    """1024 B to the array and 512 B from DRAM: 64 cycles on 2 ports, 96 on 1 port."""
    assert float(sram().array_cycles(1024, 512)) == 64
    assert float(sram(ports=1).array_cycles(1024, 512)) == 96


def banked_config(banks: int, bank_width: str):
    """An 8x8 os array whose ifmap buffer delivers 16 B (8 fp16 values) a cycle."""
    big = {"capacity": "64MiB", "bandwidth": "4096B/cycle"}
    return make_config(8, 8, "os", ideal=True, sram={
        "ifmap": {**big, "holds": ["ifmap"], "bandwidth": "16B/cycle", "banks": banks,
                  "bank_width": bank_width},
        "filter": {**big, "holds": ["filter"]}, "ofmap": {**big, "holds": ["ofmap"]}})


def test_bank_conflicts_stretch_an_os_gemm():
    """A 64 x 8 x 512 GEMM on 8x8 os: 8 folds of 512 + 14 cycles = 4208 compute. The ifmap
    edge reads A down its columns: 64 x 512 x 2 B = 64 KiB, 4096 cycles at 16 B/cycle. With 8
    banks of 8 B the 1 KiB row stride (128 bank words, gcd 8) hits one bank, so the 2 bank
    accesses a cycle serialise: 8192 cycles, 3984 of them an SRAM stall. One 16 B bank needs
    a single access a cycle: no stall."""
    workload = gemm_workload(64, 8, 512)
    (conflicted,) = Simulation(banked_config(8, "8B"), workload).run()["ops"]
    assert conflicted["compute_cycles"] == 8 * (512 + 14)
    assert conflicted["stalls"]["sram"] == 8192 - 8 * (512 + 14)
    (wide,) = Simulation(banked_config(1, "16B"), workload).run()["ops"]
    assert wide["stalls"]["sram"] == 0
