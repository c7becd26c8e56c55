"""accelsim's DRAM model against DRAMsim3: achieved bandwidth, and DRAMsim3's energy per bit.

For each preset (ddr4_3200, lpddr4_4266, hbm2) and each pattern (sequential, strided, random,
bank-group-bound, same-bank, and operand tiles of real layers in both layouts) this script
generates the bursts accelsim's layouts touch on one channel, maps them to (bank group, bank,
row, column) with accelsim's address map, and

* times them with accelsim's model (:func:`accelsim.hw.dram_pattern.channel_bounds`), and
* writes them as a DRAMsim3 read trace (encoded for the ``rorabgbachco`` mapping of the
  config it writes, so DRAMsim3 sees the same banks and rows) with a one-channel config that
  keeps the shipped config's structure and takes the preset's timings, runs an already-built
  DRAMsim3 binary on it for a fixed window the trace cannot finish, and reads the reads done.

Achieved bandwidth is given as a share of the channel's peak (DRAMsim3: reads done x burst
cycles / window). The figures are written to a JSON golden with their provenance::

    python scripts/dramsim3_compare.py --dramsim3 PATH/TO/dramsim3main \\
        --configs PATH/TO/DRAMsim3/configs --commit COMMIT \\
        --out tests/golden/dramsim3/bandwidth.json

With ``--energy-out tests/golden/dramsim3/energy.json`` it also runs, on each shipped config's
own device (its timings and [power] section unchanged, one channel, one rank), a long
sequential read stream, a stream of random read bursts and a long sequential write stream
(mapped ``rorabachcobg``, so that consecutive bursts rotate over the bank groups), and writes
DRAMsim3's energy per bit moved, split into read and write bursts, activation, background
(standby) and refresh.

DRAMsim3's power model (src/configuration.cc, ``Config::InitPowerParams``) is the IDD model of
Micron's power notes: per command, ``VDD x (IDD0 tRC - IDD3N tRAS - IDD2N tRP)`` for an
activation, ``VDD x (IDD4R - IDD3N) x burst cycles`` for a read (IDD4W for a write),
``VDD x (IDD5AB - IDD3N) x tRFC`` for a refresh, and ``VDD x IDD3N`` (IDD2N, IDD2P, IDD6)
per cycle of each rank state, times the devices of a rank. It reports V x mA x cycles (pJ
only when tCK is 1 ns), so this script multiplies by tCK. It includes what datasheet IDD
currents measure: the VDD balls, i.e. the core, the array and the on-die datapath (IPP and
IDDQ are not included in IDD, as Micron's DDR4 datasheets state). It excludes
the VDDQ rail of the output drivers, I/O termination and the line's switching energy, the
controller's PHY, the VPP (wordline pump) rail (IPP0 is in the DDR4 ini but the model does
not read it) and, for LPDDR4, every rail but one 1.2 V VDD. The energy golden's keys are
accelsim's presets; each runs on its base config's own device (LPDDR4-2400 for
``lpddr4_4266``).
"""

from __future__ import annotations

import argparse
import configparser
import datetime
import itertools
import json
import math
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from accelsim.hw.dram_pattern import AddressMap, burst_addresses, channel_bounds
from accelsim.hw.dram_timing import PRESETS, DramTiming

#: shipped DRAMsim3 config whose structure (protocol, rows, power) each preset's run keeps
BASE_CONFIGS = {"ddr4_3200": "DDR4_8Gb_x8_3200.ini",
                "lpddr4_4266": "LPDDR4_8Gb_x16_2400.ini",
                "hbm2": "HBM2_8Gb_x128.ini"}
INTERLEAVE = 256
MAPPING = "rorabgbachco"
TRACE_BURSTS = 40000
#: channel counts run per preset: one, and two (DRAMsim3's trace front end issues one request
#: per cycle, so more channels than that can drain would measure the front end)
CHANNELS = (1, 2)
SEED = 7


def patterns(timing: DramTiming, channels: int = 1
             ) -> dict[str, tuple[int, int, int] | np.ndarray]:
    """Pattern name -> (segment bytes, count, stride) or explicit burst addresses."""
    if channels > 1:
        return multichannel_patterns(timing, channels)
    burst = timing.burst_bytes
    group_period = INTERLEAVE * timing.bank_groups  # one channel: next block of the same group
    bank_period = timing.bank_groups * timing.row_bytes * timing.banks_per_group
    long = TRACE_BURSTS * burst
    rng = np.random.default_rng(SEED)
    return {
        "sequential": (long, 1, long),
        "strided_512B_every_4KiB": (512, long // 512, 4096),
        "random_bursts": rng.integers(0, 2**30 // burst, TRACE_BURSTS) * burst,
        "bank_group_bound": (burst, TRACE_BURSTS, group_period),
        "same_bank_row_misses": (burst, TRACE_BURSTS, bank_period),
        # ResNet-50 layer1 3x3 conv, im2col K = 576 bf16 columns: a 128-column block per row
        "tile_row_major_K576": (256, long // 256, 576 * 2),
        # ResNet-50 layer4 3x3 conv, K = 4608 bf16 columns: 128-column blocks of long rows
        "tile_row_major_K4608": (256, long // 256, 4608 * 2),
        # blocked layout: 128x128 bf16 operand blocks, one after the other
        "tile_blocked_32KiB": (32768, long // 32768, 32768),
    }


def multichannel_patterns(timing: DramTiming, channels: int
                          ) -> dict[str, tuple[int, int, int] | np.ndarray]:
    """Patterns whose share of the channels' peak depends on the channel mapping."""
    burst = timing.burst_bytes
    long = TRACE_BURSTS * burst
    rng = np.random.default_rng(SEED)
    return {
        "sequential": (long, 1, long),
        "random_bursts": rng.integers(0, 2**30 // burst, TRACE_BURSTS) * burst,
        # a row-major block whose rows are channels x interleave apart: one channel only
        "row_major_one_channel": (INTERLEAVE, long // INTERLEAVE, channels * INTERLEAVE),
        "tile_blocked_32KiB": (32768, long // 32768, 32768),
    }


def pattern_addresses(spec, burst: int) -> np.ndarray:
    if isinstance(spec, np.ndarray):
        return spec
    addresses, _ = burst_addresses(*spec, burst, max_bursts=TRACE_BURSTS)
    return addresses


def accelsim_share(addresses: np.ndarray, amap: AddressMap, timing: DramTiming) -> float:
    """Share of the channels' peak the model gives the bursts (their busiest channel)."""
    bounds = channel_bounds(addresses, amap, timing)
    busy = max(bounds.column_seconds, bounds.activation_seconds) / timing.refresh_factor
    return addresses.size * timing.burst_seconds / busy / amap.channels


#: patterns outside 5%, and why
NOTES = {
    "ddr4_3200/strided_512B_every_4KiB": "two bank groups alternate exactly at the tCCD_L "
    "bound (8 tCK per group, 4 tCK per burst): the bound leaves DRAMsim3's scheduler no "
    "slack and it loses a few percent to command-bus and queue effects the model ignores",
    "lpddr4_4266_2ch/random_bursts": "DRAMsim3's trace front end issues requests in order, "
    "so a full queue of one channel stalls the other (head-of-line blocking); the model "
    "lets each channel run at its own tFAW bound",
}


def golden_key(preset: str, channels: int) -> str:
    return preset if channels == 1 else f"{preset}_{channels}ch"


def cycles(seconds: float, tck: float) -> int:
    return max(1, math.ceil(seconds / tck - 1e-6))


def dramsim3_config(timing: DramTiming, base: Path, channels: int = 1
                    ) -> tuple[configparser.ConfigParser, int]:
    """One-rank config of ``timing`` on ``base``'s structure; burst cycles."""
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini.read(base)
    tck = 2 / timing.data_rate
    hbm = ini["dram_structure"]["protocol"].startswith("HBM")
    width = timing.bus_bytes * 8
    columns = timing.row_bytes * 8 // width // (2 if hbm else 1)
    rows = int(ini["dram_structure"]["rows"])
    structure = {"bankgroups": timing.bank_groups, "banks_per_group": timing.banks_per_group,
                 "device_width": width, "columns": columns, "BL": timing.burst_length}
    ini["dram_structure"].update({k: str(v) for k, v in structure.items()})
    t = ini["timing"]
    t["tCK"] = f"{tck * 1e9:.4f}"
    named = {"CL": timing.tCL, "tRCD": timing.tRCD, "tRCDRD": timing.tRCD,
             "tRCDWR": timing.tRCD, "tRP": timing.tRP, "tRAS": timing.tRAS,
             "tRRD_S": timing.tRRD_S, "tRRD_L": timing.tRRD_L, "tFAW": timing.tFAW,
             "tCCD_S": timing.tCCD_S, "tCCD_L": timing.tCCD_L, "tRTP": timing.tRTP,
             "tRFC": timing.tRFC, "tREFI": timing.tREFI}
    for key, seconds in named.items():
        if key in t or key in ("CL", "tRTP"):
            t[key] = str(cycles(seconds, tck))
    megabytes = timing.row_bytes * rows * timing.banks // 2**20
    ini["system"].update({"channels": str(channels), "bus_width": str(width),
                          "channel_size": str(megabytes), "address_mapping": MAPPING})
    ini["other"].update({"epoch_period": "100000000", "output_level": "1"})
    return ini, timing.burst_length // 2


def encode(addresses: np.ndarray, amap: AddressMap, timing: DramTiming) -> np.ndarray:
    """DRAMsim3 addresses (``rorabgbachco``, one rank) of the same device coordinates
    accelsim's map gives."""
    where = amap.decode(addresses)
    channel_bits = int(math.log2(amap.channels))
    column_bits = int(math.log2(timing.row_bytes // timing.burst_bytes))
    bank_bits = int(math.log2(timing.banks_per_group))
    group_bits = int(math.log2(timing.bank_groups))
    value = where["row"]
    value = (value << group_bits) | where["bank_group"]
    value = (value << bank_bits) | where["bank"]
    value = (value << channel_bits) | where["channel"]
    value = (value << column_bits) | where["column"]
    return value * timing.burst_bytes


def run_dramsim3(binary: Path, ini: configparser.ConfigParser, addresses: np.ndarray,
                 kind: str, window: int) -> dict:
    """DRAMsim3's per-channel statistics for a trace of ``kind`` (READ or WRITE) requests to
    ``addresses``, run for ``window`` cycles, in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        config, trace = Path(tmp) / "run.ini", Path(tmp) / "run.trace"
        with config.open("w") as f:
            ini.write(f)
        trace.write_text("".join(f"{a:#x} {kind} 0\n" for a in addresses.tolist()))
        subprocess.run([str(binary), str(config), "-c", str(window), "-t", str(trace),
                        "-o", tmp], check=True, capture_output=True)
        return json.loads((Path(tmp) / "dramsim3.json").read_text())


def dramsim3_share(binary: Path, ini: configparser.ConfigParser, burst_cycles: int,
                   addresses: np.ndarray) -> float:
    channels = int(ini["system"]["channels"])
    window = int(0.8 * addresses.size * burst_cycles / channels)  # the trace cannot finish
    stats = run_dramsim3(binary, ini, addresses, "READ", window)
    done = sum(channel["num_reads_done"] for channel in stats.values())
    return done * burst_cycles / window / channels


ENERGY_STREAMS = ("read_sequential", "read_random", "write_sequential")
#: energy runs: consecutive bursts rotate over the bank groups (tCCD_S apart, as accelsim's
#: interleave lays out a sequential stream), then columns, banks and rows
ENERGY_MAPPING = "rorabachcobg"


def energy_config(base: Path) -> tuple[configparser.ConfigParser, dict]:
    """The shipped config as it is (timings, IDD currents), on one channel of one rank, with
    :data:`ENERGY_MAPPING`; and its geometry."""
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini.read(base)
    s, t = ini["dram_structure"], ini["timing"]
    bus_width = int(ini["system"]["bus_width"])
    device_width = int(s["device_width"])
    devices = bus_width // device_width
    banks = int(s["bankgroups"]) * int(s["banks_per_group"])
    page_bytes = int(s["columns"]) * device_width // 8
    rank_megabytes = page_bytes * (int(s["rows"]) // 1024) // 1024 * banks * devices
    ini["system"].update({"channels": "1", "channel_size": str(rank_megabytes),
                          "address_mapping": ENERGY_MAPPING})
    ini["other"].update({"epoch_period": "100000000", "output_level": "1"})
    burst_length = int(s["BL"])
    geometry = {"tck_ns": float(t["tCK"]), "devices_per_rank": devices,
                "burst_bytes": bus_width // 8 * burst_length,
                "burst_cycles": burst_length // 2, "channel_bytes": rank_megabytes * 2**20,
                "row_bytes": page_bytes * devices}
    return ini, geometry


def stream_addresses(stream: str, geometry: dict) -> np.ndarray:
    burst = geometry["burst_bytes"]
    if stream == "read_random":
        rng = np.random.default_rng(SEED)
        return rng.integers(0, geometry["channel_bytes"] // burst, TRACE_BURSTS) * burst
    return np.arange(TRACE_BURSTS, dtype=np.int64) * burst


def dramsim3_energy(binary: Path, ini: configparser.ConfigParser, geometry: dict,
                    stream: str) -> dict:
    """DRAMsim3's energy in pJ per bit moved (bursts issued x burst bits) over a window the
    stream cannot finish, by component."""
    addresses = stream_addresses(stream, geometry)
    window = int(0.8 * addresses.size * geometry["burst_cycles"])
    kind = "WRITE" if stream.startswith("write") else "READ"
    (stats,) = run_dramsim3(binary, ini, addresses, kind, window).values()
    bursts = stats["num_read_cmds"] + stats["num_write_cmds"]
    scale = geometry["tck_ns"] / (bursts * geometry["burst_bytes"] * 8)  # V mA cycle -> pJ
    parts = {
        "read_burst": stats["read_energy"], "write_burst": stats["write_energy"],
        "activation": stats["act_energy"],
        "background": sum(sum(stats[k].values()) for k in (
            "act_stb_energy", "pre_stb_energy", "sref_energy")),
        "refresh": stats["ref_energy"] + stats["refb_energy"]}
    figures = {k: round(v * scale, 4) for k, v in parts.items()}
    figures["total"] = round(sum(parts.values()) * scale, 4)
    figures["share_of_peak"] = round(bursts * geometry["burst_cycles"] / window, 4)
    figures["bursts_per_activation"] = round(bursts / max(1, stats["num_act_cmds"]), 2)
    return figures


def energy_golden(binary: Path, configs: Path, commit: str) -> dict:
    figures, geometries = {}, {}
    for name, base in BASE_CONFIGS.items():
        ini, geometry = energy_config(configs / base)
        geometries[name] = geometry
        figures[name] = {stream: dramsim3_energy(binary, ini, geometry, stream)
                         for stream in ENERGY_STREAMS}
        for stream, f in figures[name].items():
            print(f"{name:12s} {stream:17s} " + "  ".join(
                f"{k} {v}" for k, v in f.items()))
    return {
        "provenance": {
            "tool": "DRAMsim3 (github.com/umd-memsys/DRAMsim3), dramsim3main trace mode",
            "commit": commit,
            "configs": {k: f"configs/{v} as shipped (timings and [power] IDD currents), with "
                        f"channels = 1, channel_size = one rank, address_mapping {ENERGY_MAPPING} "
                        "(scripts/dramsim3_compare.py energy_config)"
                        for k, v in BASE_CONFIGS.items()},
            "command": "dramsim3main run.ini -c WINDOW -t run.trace -o DIR, WINDOW = 0.8 x "
                       "bursts x burst cycles (the stream cannot finish); pJ/bit = "
                       "dramsim3.json energy (V x mA x cycles) x tCK in ns / (read and write "
                       "commands issued x burst bits)",
            "streams": {"read_sequential": f"{TRACE_BURSTS} consecutive read bursts",
                        "read_random": f"{TRACE_BURSTS} read bursts at uniformly random "
                                       f"burst addresses of the rank (numpy seed {SEED})",
                        "write_sequential": f"{TRACE_BURSTS} consecutive write bursts"},
            "model": "Config::InitPowerParams: activation VDD x (IDD0 tRC - IDD3N tRAS - "
                     "IDD2N tRP), read VDD x (IDD4R - IDD3N) x burst cycles, write likewise "
                     "with IDD4W, refresh VDD x (IDD5AB - IDD3N) x tRFC, background VDD x "
                     "IDD3N / IDD2N / IDD6x per cycle in each rank state; all x devices per "
                     "rank. Includes what datasheet IDD currents measure: the VDD pins (core, "
                     "array, on-die datapath). Excludes the VDDQ rail of the output drivers, "
                     "I/O termination and line switching, the controller PHY, the VPP rail "
                     "(the DDR4 ini's IPP0 is not read) and, for LPDDR4, every rail but one "
                     "1.2 V VDD. Keys are accelsim presets, each run on its base config's "
                     "own device (LPDDR4-2400 for lpddr4_4266).",
            "generator": "scripts/dramsim3_compare.py --energy-out",
            "date": datetime.date.today().isoformat()},
        "geometry": geometries,
        "pj_per_bit": figures}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dramsim3", type=Path, required=True, help="built dramsim3main")
    parser.add_argument("--configs", type=Path, required=True, help="DRAMsim3 configs/")
    parser.add_argument("--commit", required=True, help="DRAMsim3 commit the binary is of")
    parser.add_argument("--out", type=Path, help="bandwidth golden to write")
    parser.add_argument("--energy-out", type=Path, help="energy golden to write")
    args = parser.parse_args()
    if not (args.out or args.energy_out):
        parser.error("nothing to write: give --out, --energy-out or both")
    if args.energy_out:
        golden = energy_golden(args.dramsim3, args.configs, args.commit)
        args.energy_out.parent.mkdir(parents=True, exist_ok=True)
        args.energy_out.write_text(json.dumps(golden, indent=1) + "\n")
    if args.out:
        bandwidth_golden(args)


def bandwidth_golden(args: argparse.Namespace) -> None:
    figures = {}
    for (name, base), channels in itertools.product(BASE_CONFIGS.items(), CHANNELS):
        timing = PRESETS[name]
        amap = AddressMap.of(timing, channels, INTERLEAVE)
        ini, burst_cycles = dramsim3_config(timing, args.configs / base, channels)
        key = golden_key(name, channels)
        figures[key] = {}
        for pattern, spec in patterns(timing, channels).items():
            addresses = pattern_addresses(spec, timing.burst_bytes)
            dramsim3 = dramsim3_share(args.dramsim3, ini, burst_cycles,
                                      encode(addresses, amap, timing))
            model = accelsim_share(addresses, amap, timing)
            figures[key][pattern] = {"dramsim3": round(dramsim3, 4),
                                      "accelsim": round(model, 4),
                                      "error_pct": round(100 * (model / dramsim3 - 1), 1)}
            print(f"{key:16s} {pattern:26s} DRAMsim3 {dramsim3:6.3f}  accelsim {model:6.3f}"
                  f"  {100 * (model / dramsim3 - 1):+6.1f}%")
    golden = {
        "provenance": {
            "tool": "DRAMsim3 (github.com/umd-memsys/DRAMsim3), dramsim3main trace mode",
            "commit": args.commit,
            "configs": {k: f"configs/{v} with one or two channels, one rank, mapping "
                        f"{MAPPING} and the preset's timings in cycles "
                        "(scripts/dramsim3_compare.py "
                        "dramsim3_config)" for k, v in BASE_CONFIGS.items()},
            "command": "dramsim3main run.ini -c WINDOW -t run.trace -o DIR, WINDOW = 0.8 x "
                       "bursts x burst cycles / channels; share of peak = reads done (all "
                       "channels) x burst cycles / channels "
                       "/ WINDOW",
            "generator": "scripts/dramsim3_compare.py", "interleave": INTERLEAVE,
            "trace_bursts": TRACE_BURSTS, "seed": SEED,
            "date": datetime.date.today().isoformat()},
        "notes": NOTES, "share_of_peak": figures}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(golden, indent=1) + "\n")


if __name__ == "__main__":
    main()
