"""DRAM device timing: the presets, one channel's organisation and JEDEC timing parameters.

A channel streams ``bus_bytes`` per beat at ``data_rate`` beats per second; one read or write
moves a burst of ``burst_length`` beats. Banks are split into ``bank_groups`` (DDR4, HBM2/3):
column commands to one bank group are at least tCCD_L apart, to different groups tCCD_S;
activations likewise tRRD_L / tRRD_S, at most four in any tFAW window, and one bank opens a
new row at most every tRC = tRAS + tRP. All-bank refresh takes the channel away for tRFC
every tREFI, a factor ``1 - tRFC / tREFI`` on sustained bandwidth. How an address pattern
meets these limits is :mod:`accelsim.hw.dram_pattern`.

Presets match the cycle-level configurations of DRAMsim3 (Li et al., IEEE CAL 2020; commit
2981759 of github.com/umd-memsys/DRAMsim3) that ``scripts/dramsim3_compare.py`` validates
against, as named in each; times are kept in seconds so that a changed data rate
(``dram.bandwidth`` set explicitly) keeps the device's analog timings. Each preset also
carries the DRAM access energy per bit of its device class and, in ``energy_source``, where
the figure comes from and what it covers: for HBM2 a published figure; for DDR4 and LPDDR4
the read-burst and activation energy of DRAMsim3's IDD model on a sequential read stream
(``scripts/dramsim3_compare.py --energy-out``) plus the DC energy of the terminated data
lines, which IDD currents leave out, from JEDEC's driver and termination impedances.
Standby and refresh energy grow with time, not with bits moved, and are in no preset.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

NS = 1e-9


@dataclass(frozen=True)
class DramTiming:
    """One channel's organisation and timing; times in seconds."""

    name: str
    bus_bytes: int  # data bus width of one channel
    data_rate: float  # beats per second on each data pin
    burst_length: int  # beats per access
    bank_groups: int
    banks_per_group: int
    row_bytes: int  # row buffer (page) of one bank, per channel
    tCL: float
    tRCD: float
    tRP: float
    tRAS: float
    tRRD_S: float  # activation to activation, different bank groups
    tRRD_L: float  # activation to activation, same bank group
    tFAW: float
    tCCD_S: float  # column command to column command, different bank groups
    tCCD_L: float  # column command to column command, same bank group
    tRTP: float  # read to precharge
    tRFC: float
    tREFI: float
    energy_pj_per_bit: float  # DRAM access energy, device and interface
    source: str
    energy_source: str

    @property
    def banks(self) -> int:
        return self.bank_groups * self.banks_per_group

    @property
    def tRC(self) -> float:
        return self.tRAS + self.tRP

    @property
    def burst_bytes(self) -> int:
        return self.bus_bytes * self.burst_length

    @property
    def burst_seconds(self) -> float:
        return self.burst_length / self.data_rate

    @property
    def column_interval_short(self) -> float:
        """Seconds between bursts to different bank groups: max(burst, tCCD_S)."""
        return max(self.burst_seconds, self.tCCD_S)

    @property
    def column_interval_long(self) -> float:
        """Seconds between bursts to one bank group: max(burst, tCCD_L)."""
        return max(self.burst_seconds, self.tCCD_L)

    @property
    def channel_bandwidth(self) -> float:
        """Peak bytes per second of one channel."""
        return self.bus_bytes * self.data_rate

    @property
    def activation_interval(self) -> float:
        """Minimum seconds between two activations of one channel spread over bank groups:
        max(tRRD_S, tFAW / 4)."""
        return max(self.tRRD_S, self.tFAW / 4)

    @property
    def refresh_factor(self) -> float:
        """Share of time a channel is not refreshing."""
        return 1.0 - self.tRFC / self.tREFI

    @property
    def access_energy_pj_per_64b(self) -> float:
        return self.energy_pj_per_bit * 64

    def first_data_seconds(self, row_conflict: bool = True) -> float:
        """Latency from a transfer's first request to its first data."""
        return self.tRCD + self.tCL + (self.tRP if row_conflict else 0.0)

    def with_data_rate(self, data_rate: float) -> DramTiming:
        return replace(self, data_rate=data_rate)


# Access energy per bit of a read or write.
_HBM2_PJ_PER_BIT = 3.9  # O'Connor, Chatterjee et al., Fine-Grained DRAM, MICRO 2017
_HBM2_ENERGY_SOURCE = (
    "3.9 pJ/bit, HBM2 (O'Connor, Chatterjee et al., Fine-Grained DRAM, MICRO 2017; the figure "
    "of Accelergy's DRAM table), per access: row activation, on-die data movement and I/O. "
    "DRAMsim3's IDD model of HBM2_8Gb_x128.ini gives 1.63 pJ/bit of "
    "read bursts and activations on a sequential read stream (VDD pins only; "
    "tests/golden/dramsim3/energy.json)")
#: DRAMsim3 (commit 2981759) IDD model, long sequential read stream, pJ/bit: read bursts +
#: row activations (tests/golden/dramsim3/energy.json, read_sequential)
_DDR4_IDD_READ = 5.481 + 0.0824  # DDR4_8Gb_x8_3200.ini
_LPDDR4_IDD_READ = 6.1005 + 0.1291  # LPDDR4_8Gb_x16_2400.ini
#: JEDEC's ZQ calibration resistor: driver and termination impedances are fractions of it
_RZQ = 240.0


def _termination_pj_per_bit(vddq: float, amps: float, data_rate: float) -> float:
    """DC energy per bit of a terminated data line carrying random data: half the bits drive
    the line away from the termination's rail and draw ``amps`` from VDDQ for one bit time."""
    return 0.5 * vddq * amps / data_rate * 1e12


#: DDR4 POD12 (JESD79-4): a low bit draws VDDQ / (RON + RTT) through the driver (RON = RZQ/7
#: = 34 ohm) and the termination to VDDQ (RTT = RZQ/4 = 60 ohm); 1.2 V, 3200 MT/s: 2.39
_DDR4_TERMINATION = _termination_pj_per_bit(1.2, 1.2 / (_RZQ / 7 + _RZQ / 4), 3200e6)
#: LPDDR4 LVSTL (JESD209-4): a high bit drives the line to VOH = VDDQ/3 (pull-up calibration
#: VDDQ/3) into the termination to ground (RTT = RZQ/4 = 60 ohm); VDDQ 1.1 V, 4266 MT/s: 0.79
_LPDDR4_TERMINATION = _termination_pj_per_bit(1.1, 1.1 / 3 / (_RZQ / 4), 4266e6)
#: what the derived DDR4 and LPDDR4 figures leave out
_DERIVED_EXCLUDES = ("Excludes the switching (C V^2) of lines, pads and strobes, the "
                     "controller PHY, the VPP rail, and standby and refresh energy (per "
                     "second, not per bit)")


def _ddr4_3200() -> DramTiming:
    # DRAMsim3 configs/DDR4_8Gb_x8_3200.ini = JEDEC JESD79-4C DDR4-3200AA (22-22-22), tCK
    # 0.625 ns (the ini rounds it to 0.63), x8 devices, 8 Gb: 4 bank groups x 4 banks, 1 KiB
    # page per device -> 8 KiB per 64-bit rank; tRRD_S/L 4/8, tCCD_S/L 4/8, tFAW 34, tRTP 12,
    # tRFC 560 tCK (350 ns), tREFI 12480 tCK (7.8 us). One rank per channel.
    tck = 0.625 * NS
    return DramTiming(
        "ddr4_3200", bus_bytes=8, data_rate=3200e6, burst_length=8, bank_groups=4,
        banks_per_group=4, row_bytes=8192, tCL=22 * tck, tRCD=22 * tck, tRP=22 * tck,
        tRAS=52 * tck, tRRD_S=4 * tck, tRRD_L=8 * tck, tFAW=34 * tck, tCCD_S=4 * tck,
        tCCD_L=8 * tck, tRTP=12 * tck, tRFC=560 * tck, tREFI=12480 * tck,
        energy_pj_per_bit=_DDR4_IDD_READ + _DDR4_TERMINATION,
        source="JEDEC JESD79-4C DDR4-3200AA, x8 8Gb (DRAMsim3 DDR4_8Gb_x8_3200.ini)",
        energy_source="7.95 pJ/bit, derived: DRAMsim3's IDD model (commit 2981759, IDD "
                      "currents of DDR4_8Gb_x8_3200.ini, no datasheet named; VDD pins: core, "
                      "array, on-die datapath) on a long sequential read stream, 5.48 "
                      "pJ/bit of read bursts + 0.08 of row activations "
                      "(tests/golden/dramsim3/energy.json), "
                      "plus 2.39 pJ/bit of data-line termination on VDDQ, which IDD leaves "
                      "out (IDD is measured on the VDD balls, without IPP or IDDQ: Micron "
                      "MT40A DDR4 datasheets; POD12, RON = RZQ/7, RTT = RZQ/4, JESD79-4; "
                      "half the bits low). "
                      + _DERIVED_EXCLUDES + ": DRAMsim3 gives 2.55 + 0.43 pJ/bit for these at "
                      "95% of peak")


def _lpddr4_4266() -> DramTiming:
    # JEDEC JESD209-4B LPDDR4-4266, one x16 channel, BL16 (32 B), 8 banks without bank
    # groups, 2 KiB page; tCK 0.469 ns: RL 36 tCK, tRCD 18 ns, tRPpb 18 ns, tRAS 42 ns,
    # tRRD 10 ns, tFAW 40 ns, tCCD 8 tCK (BL/2), tRTP 7.5 ns, tRFCab 280 ns (8 Gb per
    # channel), tREFI 3.904 us. DRAMsim3 ships only LPDDR4-2400 (LPDDR4_8Gb_x16_2400.ini,
    # modelled as a 64-bit channel); scripts/dramsim3_compare.py runs that ini's structure
    # with these timings and a 16-bit channel.
    tck = 1 / 2.133e9
    return DramTiming(
        "lpddr4_4266", bus_bytes=2, data_rate=4266e6, burst_length=16, bank_groups=1,
        banks_per_group=8, row_bytes=2048, tCL=36 * tck, tRCD=18 * NS, tRP=18 * NS,
        tRAS=42 * NS, tRRD_S=10 * NS, tRRD_L=10 * NS, tFAW=40 * NS, tCCD_S=8 * tck,
        tCCD_L=8 * tck, tRTP=7.5 * NS, tRFC=280 * NS, tREFI=3904 * NS,
        energy_pj_per_bit=_LPDDR4_IDD_READ + _LPDDR4_TERMINATION,
        source="JEDEC JESD209-4B LPDDR4-4266, x16 channel",
        energy_source="7.02 pJ/bit, derived: DRAMsim3's IDD model (commit 2981759, "
                      "LPDDR4_8Gb_x16_2400.ini: LPDDR4-2400 currents on one 1.2 V VDD, no "
                      "datasheet named; LPDDR4's core rail VDD2 is 1.1 V) on a long "
                      "sequential read stream, 6.10 pJ/bit of read bursts + 0.13 of row "
                      "activations (tests/golden/dramsim3/energy.json), plus 0.79 pJ/bit of "
                      "data-line termination on VDDQ, which IDD leaves out (LVSTL, VOH = "
                      "VDDQ/3 into RTT = RZQ/4, VDDQ 1.1 V, JESD209-4; half the bits high; "
                      "4266 MT/s). " + _DERIVED_EXCLUDES + ": DRAMsim3 gives 1.52 + 0.34 "
                      "pJ/bit for these at 95% of peak (at 2400 MT/s)")


def _hbm2() -> DramTiming:
    # DRAMsim3 configs/HBM2_8Gb_x128.ini, 2 Gb/s per pin, tCK 1 ns, in JEDEC JESD235
    # pseudo-channel mode: one 64-bit pseudo-channel (16 per stack, 256 GB/s), BL4 (32 B),
    # 4 bank groups x 4 banks, 1 KiB page; CL 14, tRCD 14, tRP 14, tRAS 34, tRRD_S/L 4/6,
    # tFAW 30, tCCD_S/L 1/2 (a burst takes 2 tCK), tRTP 4 (the ini's tRTP_S), tRFC 260,
    # tREFI 3900.
    return DramTiming(
        "hbm2", bus_bytes=8, data_rate=2000e6, burst_length=4, bank_groups=4,
        banks_per_group=4, row_bytes=1024, tCL=14 * NS, tRCD=14 * NS, tRP=14 * NS,
        tRAS=34 * NS, tRRD_S=4 * NS, tRRD_L=6 * NS, tFAW=30 * NS, tCCD_S=1 * NS,
        tCCD_L=2 * NS, tRTP=4 * NS, tRFC=260 * NS, tREFI=3900 * NS,
        energy_pj_per_bit=_HBM2_PJ_PER_BIT,
        source="JEDEC JESD235 HBM2 2 Gb/s, pseudo-channel (DRAMsim3 HBM2_8Gb_x128.ini timings)",
        energy_source=_HBM2_ENERGY_SOURCE)


def _hbm3() -> DramTiming:
    # JEDEC JESD238 HBM3 at 6.4 Gb/s per pin: 32 pseudo-channels of 32 bits per stack
    # (819 GB/s), BL8 (32 B, 1.25 ns), 4 bank groups x 4 banks, 1 KiB page. Core timings in
    # ns are those of the HBM2 preset (array timings change little between generations; the
    # public JESD238 summary gives rates, not a speed-bin table): an approximation.
    return DramTiming(
        "hbm3", bus_bytes=4, data_rate=6400e6, burst_length=8, bank_groups=4,
        banks_per_group=4, row_bytes=1024, tCL=14 * NS, tRCD=14 * NS, tRP=14 * NS,
        tRAS=34 * NS, tRRD_S=4 * NS, tRRD_L=6 * NS, tFAW=30 * NS, tCCD_S=1 * NS,
        tCCD_L=2 * NS, tRTP=4 * NS, tRFC=260 * NS, tREFI=3900 * NS,
        energy_pj_per_bit=_HBM2_PJ_PER_BIT,
        source="JEDEC JESD238 HBM3 6.4 Gb/s, 32-bit pseudo-channel; core timings of HBM2 "
               "(approximation)",
        energy_source="HBM2's figure, an upper estimate (no published HBM3 per-bit figure is "
                      "used): " + _HBM2_ENERGY_SOURCE)


PRESETS = {t.name: t for t in (_ddr4_3200(), _lpddr4_4266(), _hbm2(), _hbm3())}

