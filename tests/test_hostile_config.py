"""Hostile input: every malformed, absurd or malicious hwconfig, YAML file, run spec, ``--set``
value and technique parameter ends in one line ``error: FILE: key.path: expected ...`` and exit
code 2, never a traceback, a hang or a silent default.

Each hwconfig case is a shipped file (``hwconfigs/*.yaml``) with one textual edit, written to
``tmp_path`` by the :func:`hwconfig` fixture and run through the command line. The bombs (alias
expansion, nesting, a huge mesh) are also held to a time and memory bound. The property tests at
the end mutate the shipped files at random: each mutant either loads (and then runs a small GEMM
to the end or to an :class:`~accelsim.errors.AccelsimError`) or is one ``ConfigError``.
"""

from __future__ import annotations

import copy
import math
import tempfile
import time
import tracemalloc
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.config.loader import load_hwconfig
from accelsim.errors import AccelsimError, ConfigError
from accelsim.sim.engine import Simulation
from accelsim.yaml_io import read_yaml_mapping
from tests.conftest import HWCONFIGS, gemm_workload

SCALESIM = "scalesim_32x32_os"
SCNN = "scnn_like"


@pytest.fixture
def hwconfig(tmp_path):
    """Writes a shipped hwconfig with one edit to ``tmp_path`` and returns its path: the first
    ``old`` in its text replaced by ``new``, or the text replaced by ``raw`` bytes."""

    def write(old: str = "", new: str = "", base: str = SCALESIM, raw: bytes | None = None,
              name: str = "hw.yaml") -> Path:
        text = (HWCONFIGS / f"{base}.yaml").read_text()
        if raw is None:
            assert old in text, f"{old!r} is not in {base}.yaml"
            raw = text.replace(old, new, 1).encode()
        path = tmp_path / name
        path.write_bytes(raw)
        return path

    return write


def cli_error(capsys, argv: list[str]) -> str:
    """The one error line the command line prints for ``argv`` (exit code 2, no traceback),
    without its ``error: `` prefix."""
    code = main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0].removeprefix("error: ")


def run_error(capsys, hw: Path, *extra: str) -> str:
    """The error of ``accelsim run`` on ``hw`` (a one-layer forward pass if it ran at all)."""
    return cli_error(capsys, ["run", "--hw", str(hw), "--workload", "mlp", "--batch", "1",
                              "--phases", "fwd", *extra])


INTERCONNECT = "interconnect:\n  bandwidth: 64B/cycle\n  latency: 2cycles"
ENERGY = "vector_unit:\n  lanes: 32"


def with_energy(table: str) -> str:
    """The scalesim file's vector_unit block preceded by an energy mapping."""
    return f"energy: {table}\n{ENERGY}"


# (id, shipped file, text replaced, replacement, message after "FILE: ")
EDITS = [
    ("dram_latency_inf", SCALESIM, "latency: 100ns", "latency: .inf",
     "dram.latency: expected a finite duration (the number is infinite or beyond 1.8e308), "
     "got inf"),
    ("dram_latency_nan", SCALESIM, "latency: 100ns", "latency: .nan",
     "dram.latency: expected a finite duration (the number is NaN), got nan"),
    ("capacity_overflows", SCALESIM, "capacity: 64KiB", "capacity: '1e999GB'",
     "sram.ifmap.capacity: expected a finite size (the number is infinite or beyond 1.8e308), "
     "got '1e999GB'"),
    ("capacity_inf", SCALESIM, "capacity: 64KiB", "capacity: .inf",
     "sram.ifmap.capacity: expected a finite size (the number is infinite or beyond 1.8e308), "
     "got inf"),
    ("clock_nan", SCALESIM, "clock: 1GHz", "clock: .nan",
     "clock: expected a finite frequency (the number is NaN), got nan"),
    ("dram_bandwidth_nan", SCALESIM, "bandwidth: 20B/cycle", "bandwidth: .nan",
     "dram.bandwidth: expected a finite bandwidth (the number is NaN), got nan"),
    ("dram_bandwidth_overflows", SCALESIM, "bandwidth: 20B/cycle", "bandwidth: '1e999GB/s'",
     "dram.bandwidth: expected a finite bandwidth (the number is infinite or beyond 1.8e308), "
     "got '1e999GB/s'"),
    ("mult_energy_inf", SCALESIM, ENERGY, with_energy("{mult_pj: {fp16: .inf}}"),
     "energy.mult_pj.fp16: expected a finite number, got inf"),
    ("mult_energy_negative", SCALESIM, ENERGY, with_energy("{mult_pj: {fp16: -1.1}}"),
     "energy.mult_pj.fp16: expected a value that is greater than or equal to 0, got -1.1"),
    ("vector_energy_huge", SCALESIM, ENERGY, with_energy("{vector_op_pj: 1e9}"),
     "energy.vector_op_pj: expected a value that is less than or equal to 1000000, "
     "got 1000000000.0"),
    ("dram_energy_negative", SCALESIM, "access_energy_pj_per_64b: 1300",
     "access_energy_pj_per_64b: -5",
     "dram.access_energy_pj_per_64b: expected a value that is greater than or equal to 0, "
     "got -5"),
    ("mult_energy_unknown_datatype", SCALESIM, ENERGY,
     with_energy("{mult_pj: {fp16: 1.1, fp64: 5.0}}"),
     "energy.mult_pj.fp64: expected one of the valid choices, got 'fp64' "
     "(valid choices: bf16, fp16, fp32, int32, int8)"),
    ("dram_bandwidth_tiny", SCALESIM, "bandwidth: 20B/cycle", "bandwidth: 1e-300B/cycle",
     "dram.bandwidth: expected a bandwidth from 0.001 to 1e6 B/cycle, got '1e-300B/cycle'"),
    # 100 B/s at 1 GHz is 1e-7 B/cycle
    ("dram_bandwidth_tiny_at_clock", SCALESIM, "bandwidth: 20B/cycle", "bandwidth: 100B/s",
     "dram.bandwidth: expected at least 0.001 B/cycle at the 1 GHz clock, got '100.0B/s'"),
    ("dram_bandwidth_beyond_1PB_s", SCALESIM, "bandwidth: 20B/cycle", "bandwidth: 2000TB/s",
     "dram.bandwidth: expected a bandwidth from 1 B/s to 1e15 B/s, got '2000TB/s'"),
    ("sram_bandwidth_huge", SCALESIM, "bandwidth: 64B/cycle}", "bandwidth: 2e6B/cycle}",
     "sram.ifmap.bandwidth: expected a bandwidth from 0.001 to 1e6 B/cycle, got '2e6B/cycle'"),
    ("rows_string", SCALESIM, "rows: 32", "rows: '32'",
     "pe_array.rows: expected a valid integer, got '32'"),
    ("rows_boolean", SCALESIM, "rows: 32", "rows: true",
     "pe_array.rows: expected a valid integer, got True"),
    ("rows_float", SCALESIM, "rows: 32", "rows: 32.0",
     "pe_array.rows: expected a valid integer, got 32.0"),
    ("rows_huge", SCALESIM, "rows: 32", "rows: 5000",
     "pe_array.rows: expected a value that is less than or equal to 1024, got 5000"),
    ("rows_hundred_digits", SCALESIM, "rows: 32", "rows: " + "9" * 150,
     "line 9, column 9: expected an integer of at most 100 digits, got one of 150"),
    ("double_buffered_quoted_yes", SCALESIM, "bandwidth: 64B/cycle}",
     "bandwidth: 64B/cycle, double_buffered: 'yes'}",
     "sram.ifmap.double_buffered: expected true or false, got 'yes'"),
    # YAML 1.2: a plain yes is a string, not YAML 1.1's boolean
    ("double_buffered_plain_yes", SCALESIM, "bandwidth: 64B/cycle}",
     "bandwidth: 64B/cycle, double_buffered: yes}",
     "sram.ifmap.double_buffered: expected true or false, got 'yes'"),
    ("ports_boolean", SCALESIM, "bandwidth: 64B/cycle}", "bandwidth: 64B/cycle, ports: true}",
     "sram.ifmap.ports: expected one of the valid choices, got True (valid choices: 1, 2)"),
    ("dram_channels_huge", SCALESIM, "channels: 1", "channels: 1000000000",
     "dram.channels: expected a value that is less than or equal to 1024, got 1000000000"),
    ("vector_lanes_huge", SCALESIM, "lanes: 32", "lanes: 1000000000000000",
     "vector_unit.lanes: expected a value that is less than or equal to 65536, "
     "got 1000000000000000"),
    ("vector_buffer_one_byte", SCALESIM, "buffer: 32KiB", "buffer: 1",
     "vector_unit.buffer: expected a value that is greater than or equal to 8, got 1"),
    ("mesh_too_many_routers", SCALESIM, INTERCONNECT,
     INTERCONNECT + "\n  topology: mesh\n  mesh_rows: 100\n  mesh_cols: 100",
     "interconnect.mesh_cols: expected mesh_rows x mesh_cols at most 4096 routers (64 x 64), "
     "got '100 x 100'"),
    ("memory_node_outside", SCALESIM, INTERCONNECT,
     INTERCONNECT + "\n  topology: mesh\n  memory_node: [7, 9]",
     "interconnect.memory_node: expected a router inside the 2x2 mesh, got [7, 9]"),
    ("memory_node_negative", SCALESIM, INTERCONNECT,
     INTERCONNECT + "\n  topology: mesh\n  memory_node: [-1, 0]",
     "interconnect.memory_node: expected a router inside the 2x2 mesh, got [-1, 0]"),
    ("memory_node_string", SCALESIM, INTERCONNECT,
     INTERCONNECT + "\n  topology: mesh\n  memory_node: ['0', 0]",
     "interconnect.memory_node.0: expected a valid integer, got '0'"),
    # DRAM 20 B/cycle over links of 0.01 B/cycle would be 2000 lanes
    ("dram_lanes_too_many", SCALESIM, INTERCONNECT,
     "interconnect:\n  bandwidth: 0.01B/cycle\n  latency: 2cycles\n  topology: crossbar",
     "interconnect.bandwidth: expected at least 1/256 of the DRAM's peak (20 B/cycle) on a "
     "crossbar: a link per DRAM lane, at most 256 lanes, got '0.01B/cycle'"),
    ("hop_latency_bare_number", SCALESIM, "latency: 2cycles", "latency: 2",
     "interconnect.latency: expected a duration such as '100ns' or '20cycles', with its unit "
     "(a bare number could be cycles or seconds), got 2"),
    ("hop_latency_too_many_cycles", SCALESIM, "latency: 2cycles", "latency: 2e9cycles",
     "interconnect.latency: expected a duration of at most 1e9 cycles, got '2e9cycles'"),
    ("dram_latency_two_seconds", SCALESIM, "latency: 100ns", "latency: 2s",
     "dram.latency: expected a duration of at most 1 s, got '2s'"),
    ("dram_capacity_beyond_1PiB", SCALESIM, "capacity: 16GiB", "capacity: 2048TiB",
     "dram.capacity: expected a size of at most 1 PiB (2^50 bytes), got '2048TiB'"),
    ("size_string_too_long", SCALESIM, "capacity: 64KiB", "capacity: " + "1" * 70 + "B",
     "sram.ifmap.capacity: expected a size such as '64KiB', '24MiB' or '1GB' (at most 64 "
     f"characters), got '{'1' * 70}B'"),
    ("clock_bare_one_hertz", SCALESIM, "clock: 1GHz", "clock: 1",
     "clock: expected a frequency from 1 kHz to 100 GHz, got 1"),
    ("clock_terahertz", SCALESIM, "clock: 1GHz", "clock: 1THz",
     "clock: expected a frequency from 1 kHz to 100 GHz, got '1THz'"),
    ("python_tag", SCALESIM, "name: scalesim_32x32_os", "name: !!python/object:os.system x",
     "line 4, column 7: expected a core YAML tag (!!str, !!int, !!float, !!bool, !!null, "
     "!!seq, !!map), got 'tag:yaml.org,2002:python/object:os.system'"),
    ("duplicate_clock", SCALESIM, "clock: 1GHz", "clock: 1GHz\nclock: 2GHz",
     "clock: expected each key once in a mapping, got it again at line 7, column 1 (first at "
     "line 6, column 1)"),
    ("duplicate_nested_key", SCALESIM, "latency: 100ns", "latency: 100ns\n  latency: 50ns",
     "dram.latency: expected each key once in a mapping, got it again at line 23, column 3 "
     "(first at line 22, column 3)"),
    ("recursive_alias", SCALESIM, "description: SCALE", "description: &d [*d]\nx: SCALE",
     "description[0] (at line 5, column 18): expected an alias outside the node it names, got "
     "*d inside &d (an endless structure)"),
    ("outer_rows_huge", SCNN, "rows: 8", "rows: 100",
     "pe_array.rows: expected a value that is less than or equal to 64, got 100"),
    ("outer_banks_huge", SCNN, "accumulator_banks: 32", "accumulator_banks: 1000000000",
     "pe_array.accumulator_banks: expected a value that is less than or equal to 8192, "
     "got 1000000000"),
    ("outer_halo_tiny", SCNN, "halo_elements_per_cycle: 1", "halo_elements_per_cycle: 1e-9",
     "pe_array.halo_elements_per_cycle: expected a value that is greater than or equal to "
     "0.001, got 1e-09"),
    ("outer_density_nan", SCNN, "operand_density: 0.1", "operand_density: .nan",
     "pe_array.operand_density: expected a finite number, got nan"),
]


@pytest.mark.parametrize("name, base, old, new, message", EDITS, ids=[e[0] for e in EDITS])
def test_hostile_hwconfig_edit(hwconfig, capsys, name, base, old, new, message):
    """A shipped hwconfig with one hostile edit: one line naming the file, the key path (or
    line) and what was expected, exit code 2."""
    path = hwconfig(old, new, base)
    assert run_error(capsys, path) == f"{path}: {message}"


def test_not_utf8(hwconfig, capsys):
    """A Latin-1 byte in a hwconfig is named with its offset (no UnicodeDecodeError)."""
    text = (HWCONFIGS / f"{SCALESIM}.yaml").read_bytes()
    raw = text.replace(b"description: SCALE", b"description: caf\xe9 SCALE", 1)
    path = hwconfig(raw=raw)
    offset = raw.index(b"\xe9")
    assert run_error(capsys, path) == (f"{path}: expected UTF-8 text, got a byte 0xe9 at offset "
                                       f"{offset}")


def test_binary_garbage(hwconfig, capsys):
    """Bytes 0..255: 0x80 at offset 128 is the first byte that cannot start a UTF-8
    character."""
    path = hwconfig(raw=bytes(range(256)) * 4)
    assert run_error(capsys, path) == f"{path}: expected UTF-8 text, got a byte 0x80 at offset 128"


def test_control_character(hwconfig, capsys):
    """A NUL is valid UTF-8 but not YAML text: named with its byte offset."""
    raw = b"name: a\x00b\n"
    path = hwconfig(raw=raw)
    assert run_error(capsys, path) == (f"{path}: expected printable YAML text, got the "
                                       "non-printable character U+0000 at offset 7")


def test_file_over_one_mebibyte(hwconfig, capsys):
    """A file of 1 MiB + 1 byte is refused before it is parsed."""
    text = (HWCONFIGS / f"{SCALESIM}.yaml").read_bytes()
    path = hwconfig(raw=text + b"#" * (2**20 + 1 - len(text)))
    assert run_error(capsys, path) == (f"{path}: expected a YAML file of at most 1,048,576 bytes "
                                       "(1 MiB), got a larger one")


def test_directory_as_hwconfig(tmp_path, capsys):
    """A folder given as the hwconfig is not readable as a file."""
    assert run_error(capsys, tmp_path) == f"{tmp_path}: expected a readable file, " \
                                          "got 'Is a directory'"


def bounded(capsys, hw: Path, seconds: float = 2.0, megabytes: float = 50.0) -> str:
    """The error on ``hw``, which must come in under ``seconds`` and ``megabytes`` of Python
    allocations."""
    tracemalloc.start()
    start = time.perf_counter()
    try:
        message = run_error(capsys, hw)
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert elapsed < seconds, f"{elapsed:.2f} s"
    assert peak < megabytes * 2**20, f"{peak / 2**20:.0f} MB"
    return message


def test_alias_bomb_refused_fast(hwconfig, capsys):
    """A billion laughs (10 levels of 10 aliases each, 10^10 strings) referenced from the
    string field ``name`` is refused while being read. Hand count: a0 has 11 nodes, a1 111,
    a2 1111, a3 11111; the aliases of a1 to a3 repeat 110 + 1110 + 11110 = 12330 nodes, and
    the 8th alias of a4 takes the count to 12330 + 8 x 11111 = 101218 > 100000. It is in
    column 10 + 7 x 5 = 45 of line 5 ('a4: &a4 [' is 9 characters, each '*a3, ' 5)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    text = (HWCONFIGS / f"{SCALESIM}.yaml").read_text()
    path = hwconfig(raw=("\n".join(lines) + "\n" + text.replace(
        "name: scalesim_32x32_os", "name: *a9")).encode())
    assert bounded(capsys, path) == (
        f"{path}: a4[7] (at line 5, column 45): expected at most 100,000 nodes repeated through "
        "YAML aliases, got *a3 taking the count to 101,218 (an alias bomb?)")


def test_deep_nesting_refused_fast(hwconfig, capsys):
    """100,000 nested lists: the 65th '[' (column 14 + 64 of the description line, line 5)
    would open a 65th level of lists."""
    path = hwconfig("description: SCALE-Sim v3 default example (32x32 os, 64/64/32 KiB SRAM)",
                    "description: " + "[" * 100_000 + "]" * 100_000)
    assert bounded(capsys, path) == (f"{path}: line 5, column 78: expected YAML nested at most "
                                     "64 levels deep")


def test_huge_mesh_refused_fast(hwconfig, capsys):
    """A 100000 x 100000 mesh (once 30 s and 8 GB, then MemoryError) is refused by its bound."""
    path = hwconfig(INTERCONNECT, INTERCONNECT + "\n  topology: mesh\n  mesh_rows: 100000\n"
                    "  mesh_cols: 100000")
    assert bounded(capsys, path) == (f"{path}: interconnect.mesh_rows: expected a value that is "
                                     "less than or equal to 4096, got 100000")


def test_too_many_sram_buffers(hwconfig, capsys):
    """65 SRAM buffers: more than the 64 a hwconfig may name."""
    extra = "".join(f"  b{i}: {{capacity: 1KiB, holds: [], bandwidth: 8B/cycle}}\n"
                    for i in range(62))
    path = hwconfig("dram:\n", extra + "dram:\n")
    assert run_error(capsys, path) == f"{path}: sram: expected at most 64 items"


def test_extends_chain_too_long(tmp_path, capsys):
    """A chain of 18 files, each extending the next: more than 16 are refused at the 17th."""
    (tmp_path / "f17.yaml").write_text((HWCONFIGS / f"{SCALESIM}.yaml").read_text())
    for i in range(17):
        (tmp_path / f"f{i}.yaml").write_text(f"extends: f{i + 1}.yaml\n")
    assert run_error(capsys, tmp_path / "f0.yaml") == (
        f"{tmp_path / 'f15.yaml'}: extends: expected a chain of at most 16 files (a file, its "
        "base, its base's base, ...)")


def test_extends_base_not_utf8(tmp_path, capsys):
    """A base file that is not UTF-8 is named, not the file extending it."""
    (tmp_path / "base.yaml").write_bytes(b"name: \xff\n")
    (tmp_path / "hw.yaml").write_text("extends: base.yaml\n")
    assert run_error(capsys, tmp_path / "hw.yaml") == (
        f"{tmp_path / 'base.yaml'}: expected UTF-8 text, got a byte 0xff at offset 6")


# -- --set values ------------------------------------------------------------------------------
SHIPPED_SCALESIM = HWCONFIGS / f"{SCALESIM}.yaml"


@pytest.mark.parametrize("assignment, message", [
    ("dram.bandwidth=100",
     "dram.bandwidth: expected a bandwidth such as '64B/cycle' or '256GB/s', with its unit (a "
     "bare number could be per cycle or per second), got 100"),
    ("dram.latency=100",
     "dram.latency: expected a duration such as '100ns' or '20cycles', with its unit (a bare "
     "number could be cycles or seconds), got 100"),
    ("clock=1e400",
     "clock: expected a finite frequency (the number is infinite or beyond 1.8e308), got inf"),
    ("pe_array.rows=0x20.5", "pe_array.rows: expected a valid integer, got '0x20.5'"),
])
def test_bad_set_value(capsys, assignment, message):
    """A --set value is read as YAML 1.2 and validated as the file's: a bare bandwidth or
    duration is refused (its unit is not known), 1e400 is infinite."""
    assert run_error(capsys, SHIPPED_SCALESIM, "--set", assignment) == (
        f"{SHIPPED_SCALESIM} (with --set {assignment}): {message}")


def test_set_value_with_duplicate_keys(capsys):
    """A --set value is read with the file reader's limits: a duplicate key is named with the
    override and both columns ('{mult_pj: {fp16: 1}, ' is 21 characters)."""
    assignment = "energy={mult_pj: {fp16: 1}, mult_pj: {fp16: 2}}"
    assert run_error(capsys, SHIPPED_SCALESIM, "--set", assignment) == (
        f"{SHIPPED_SCALESIM} (--set {assignment}): mult_pj: expected each key once in a "
        "mapping, got it again at line 1, column 22 (first at line 1, column 2)")


def test_set_value_nested_too_deep(capsys):
    """A --set value of 100 nested lists is refused at the 65th '[', before its end."""
    assignment = "description=" + "[" * 100
    assert run_error(capsys, SHIPPED_SCALESIM, "--set", assignment) == (
        f"{SHIPPED_SCALESIM} (--set {assignment}): line 1, column 65: expected YAML nested at "
        "most 64 levels deep")


# -- run specs ---------------------------------------------------------------------------------
def spec_error(capsys, tmp_path, text: str | bytes, *extra: str) -> tuple[Path, str]:
    path = tmp_path / "run.yaml"
    if isinstance(text, str):
        text = text.encode()
    path.write_bytes(text)
    return path, cli_error(capsys, ["run", "--spec", str(path), *extra])


SPEC = f"hwconfig: {SHIPPED_SCALESIM}\nworkload: mlp\n"


@pytest.mark.parametrize("text, message", [
    (SPEC + "batch: .nan\n", "batch: expected a valid integer, got nan"),
    (SPEC + "batch: 1000000\n",
     "batch: expected a number less than or equal to 65536, got 1000000"),
    (SPEC + "batch: '2'\n", "batch: expected a valid integer, got '2'"),
    (SPEC + "seed: -1\n", "seed: expected a number greater than or equal to 0, got -1"),
    ("hwconfig: {clock: .inf}\nworkload: mlp\n",
     "hwconfig.clock: expected a finite number, got inf"),
])
def test_bad_run_spec_value(tmp_path, capsys, text, message):
    """Run specs are strict and finite: no NaN, no string for a number, a bounded batch and a
    non-negative seed (numpy refuses a negative one mid-run)."""
    path, error = spec_error(capsys, tmp_path, text)
    assert error == f"{path}: {message}"


def test_run_spec_duplicate_key(tmp_path, capsys):
    """A run spec naming the batch twice is refused at the second."""
    path, error = spec_error(capsys, tmp_path, SPEC + "batch: 1\nbatch: 2\n")
    assert error == (f"{path}: batch: expected each key once in a mapping, got it again at line "
                     "4, column 1 (first at line 3, column 1)")


def test_run_spec_not_utf8(tmp_path, capsys):
    """A run spec in Latin-1 is named with the offset of its first non-UTF-8 byte."""
    path, error = spec_error(capsys, tmp_path, SPEC.encode() + b"# caf\xe9\n")
    assert error == f"{path}: expected UTF-8 text, got a byte 0xe9 at offset {len(SPEC) + 5}"


def test_run_spec_technique_parameter_nan(tmp_path, capsys):
    """A technique parameter NaN in a run spec is refused with the spec itself (every number
    of a run spec is finite)."""
    path, error = spec_error(capsys, tmp_path, SPEC.replace("scalesim_32x32_os", "scnn_like")
                             + "techniques: [{name: ant, params: {comparator_energy_pj: .nan}}]\n")
    assert error == (f"{path}: techniques[0].params.comparator_energy_pj: expected a finite "
                     "number, got nan")


def test_run_spec_alias_bomb_in_workload(tmp_path, capsys):
    """An alias bomb under the workload key of a run spec is refused while being read (the
    count as in the hwconfig bomb)."""
    lines = ["a0: &a0 [" + ", ".join(["lol"] * 10) + "]"]
    lines += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 10)]
    start = time.perf_counter()
    path, error = spec_error(capsys, tmp_path, "\n".join(lines) + f"\nhwconfig: "
                             f"{SHIPPED_SCALESIM}\nworkload: *a9\n")
    assert time.perf_counter() - start < 2.0
    assert error == (f"{path}: a4[7] (at line 5, column 45): expected at most 100,000 nodes "
                     "repeated through YAML aliases, got *a3 taking the count to 101,218 (an "
                     "alias bomb?)")


# -- technique parameters ----------------------------------------------------------------------
SHIPPED_SCNN = HWCONFIGS / f"{SCNN}.yaml"


@pytest.mark.parametrize("technique, shown, message", [
    ("ant:comparator_energy_pj=nan", "ant:comparator_energy_pj=nan", "ant.comparator_energy_pj: "
     "expected a finite number greater than or equal to 0, got nan"),
    ("ant:area_mm2=inf", "ant:area_mm2=inf", "ant.area_mm2: expected a finite number, got inf"),
    ("ant:comparator_latency_cycles=1e400", "ant:comparator_latency_cycles=inf",
     "ant.comparator_latency_cycles: expected a valid integer, got inf"),
    ("ant:comparator_latency_cycles=true", "ant:comparator_latency_cycles=True",
     "ant.comparator_latency_cycles: expected a valid integer, got True"),
    ("ant:granularity=1", "ant:granularity=1", "ant.granularity: expected one of the valid "
     "choices, got 1 (valid choices: chunk, element, row)"),
])
def test_bad_technique_parameter(capsys, technique, shown, message):
    """Technique parameters are strict and finite, each error naming the parameter (the
    technique is shown with its values as read: 1e400 is inf)."""
    assert cli_error(capsys, ["run", "--hw", str(SHIPPED_SCNN), "--workload", "mlp",
                              "--technique", technique]) == f"--technique {shown}: {message}"


def test_technique_named_twice(capsys):
    """Two instances of one technique in a chain are refused, naming it and both places."""
    assert cli_error(capsys, ["run", "--hw", str(SHIPPED_SCNN), "--workload", "mlp",
                              "--technique", "ant", "--technique", "ant:granularity=row"]) == (
        "command line: techniques[1]: expected each technique at most once in a run, got 'ant' "
        "again (first: techniques[0])")


# -- workload YAML files -----------------------------------------------------------------------
def test_workload_file_not_utf8(tmp_path, capsys):
    """A workload YAML file is read by the same reader: a bad byte is named with its offset."""
    path = tmp_path / "net.yaml"
    path.write_bytes(b"name: n\xe9t\n")
    assert cli_error(capsys, ["run", "--hw", str(SHIPPED_SCALESIM), "--workload", str(path)]) \
        == f"{path}: expected UTF-8 text, got a byte 0xe9 at offset 7"


def test_workload_file_duplicate_key(tmp_path, capsys):
    """A workload file naming its input twice is refused at the second."""
    path = tmp_path / "net.yaml"
    path.write_text("name: n\ninput: [4]\ninput: [8]\nlayers: []\n")
    assert cli_error(capsys, ["run", "--hw", str(SHIPPED_SCALESIM), "--workload", str(path)]) \
        == (f"{path}: input: expected each key once in a mapping, got it again at line 3, "
            "column 1 (first at line 2, column 1)")


# -- property: any single mutation of a shipped hwconfig loads or is one ConfigError -----------
SHIPPED = {path.stem: read_yaml_mapping(path) for path in sorted(HWCONFIGS.glob("*.yaml"))}
UNITS = ["B", "KiB", "MiB", "GiB", "GB", "Hz", "kHz", "MHz", "GHz", "B/cycle", "GB/s", "TB/s",
         "ns", "us", "s", "cycles", ""]
EDGES = ["1kHz", "100GHz", "0.001B/cycle", "1e6B/cycle", "1B/s", "1e15B/s", "1s", "1e9cycles",
         "0cycles", "0ns", "1024TiB", "8B", "1B", "0B", 0, 1, 8, 64, 1024, 4096, 8192, 65536,
         0.001, -1, 2**63, 10**15, 1e-300, 1e300, "fp64", "int32", "mesh", "crossbar", "yes"]

NUMBERS = st.one_of(st.integers(-2**70, 2**70), st.integers(0, 5000),
                    st.floats(allow_nan=True, allow_infinity=True))
UNIT_TEXT = st.builds(lambda number, unit: f"{number}{unit}",
                      st.one_of(st.integers(-10, 10**20), st.floats()), st.sampled_from(UNITS))
SCALARS = st.one_of(NUMBERS, UNIT_TEXT, st.sampled_from(EDGES), st.text(max_size=12), st.none(),
                    st.booleans())
VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=3),
                   st.dictionaries(st.text(max_size=6), SCALARS, max_size=2))
KEYS = st.one_of(st.text(max_size=8), st.sampled_from(
    ["rows", "banks", "ports", "fp64", "int32", "mesh_rows", "placement", "memory_node",
     "topology", "lanes", "preset", "kind", "ideal"]))


def _places(node, here=()):
    """(path, is a mapping) of every node under ``node``."""
    yield here, isinstance(node, dict)
    children = node.items() if isinstance(node, dict) else \
        enumerate(node) if isinstance(node, list) else ()
    for key, child in children:
        yield from _places(child, (*here, key))


@st.composite
def mutants(draw):
    """(shipped file, what was done, where, the mutated mapping): one leaf replaced by a random
    value of a random type, one key deleted, or one key added."""
    base = draw(st.sampled_from(sorted(SHIPPED)))
    data = copy.deepcopy(SHIPPED[base])
    places = list(_places(data))
    how = draw(st.sampled_from(["replace", "replace", "delete", "add"]))
    if how == "add":
        where = (*draw(st.sampled_from([p for p, mapping in places if mapping])), draw(KEYS))
    else:
        where = draw(st.sampled_from([p for p, _ in places if p and isinstance(p[-1], str)]
                                     if how == "delete" else [p for p, _ in places if p]))
    parent = data
    for key in where[:-1]:
        parent = parent[key]
    if how == "delete":
        del parent[where[-1]]
    else:
        parent[where[-1]] = draw(VALUES)
    return base, how, where, data


def loads_or_is_one_error(mutant) -> None:
    """The mutant, written as YAML, loads and runs a small GEMM to the end or to an
    AccelsimError, or is refused with one ConfigError line naming the file."""
    base, how, where, data = mutant
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{base}.yaml"
        path.write_text(yaml.safe_dump(data))
        try:
            config = load_hwconfig(path)
        except ConfigError as error:
            assert str(error).startswith(f"{path}: ") and "\n" not in str(error)
            return
    try:
        result = Simulation(config, gemm_workload(32, 32, 32)).run()
    except AccelsimError as error:
        assert "\n" not in str(error)
        return
    assert math.isfinite(result["total_cycles"]) and result["macs"] == 32 ** 3


@settings(max_examples=200, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_mutated_shipped_hwconfigs(mutant):
    """200 random single mutations of the shipped hwconfigs: each loads (and its run ends) or
    is one ConfigError."""
    loads_or_is_one_error(mutant)


@pytest.mark.slow
@settings(max_examples=2000, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(mutants())
def test_mutated_shipped_hwconfigs_many(mutant):
    """As test_mutated_shipped_hwconfigs, with 2,000 mutations (``-m slow``)."""
    loads_or_is_one_error(mutant)
