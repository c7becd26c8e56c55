"""Loading hwconfigs: shipped files validate, ``extends:`` merges, ``--set`` overrides."""

from __future__ import annotations

import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.hw.sram import horowitz_sram_energy
from tests.conftest import HWCONFIGS

SHIPPED = sorted(HWCONFIGS.glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_hwconfigs_validate(path):
    """Every shipped hwconfig loads and names itself after its file."""
    config = load_hwconfig(path)
    assert config.name == path.stem


def test_required_shipped_configs_present():
    """The three configs the README promises are shipped."""
    assert {p.stem for p in SHIPPED} >= {"scalesim_32x32_os", "tpu_like_128x128", "edge_16x16"}


def test_scalesim_default_matches_its_cfg():
    """SCALE-Sim's scale.cfg: 32x32 os, 64 KiB ifmap, 64 KiB filter, 32 KiB ofmap."""
    c = load_hwconfig(HWCONFIGS / "scalesim_32x32_os.yaml")
    assert (c.pe_array.rows, c.pe_array.cols, c.pe_array.dataflow) == (32, 32, "os")
    assert [c.sram[b].capacity for b in ("ifmap", "filter", "ofmap")] == [65536, 65536, 32768]


def test_extends_and_override(tmp_path):
    """A file extending a base changes only its keys; --set changes one more."""
    (tmp_path / "derived.yaml").write_text(
        f"extends: {HWCONFIGS / 'tpu_like_128x128.yaml'}\nname: derived\n"
        "pe_array: {dataflow: os}\n")
    config = load_hwconfig(tmp_path / "derived.yaml", ["dram.bandwidth=600GB/s",
                                                       "sram.unified.capacity=8MiB"])
    assert config.name == "derived"
    assert config.pe_array.dataflow == "os" and config.pe_array.rows == 128
    assert config.dram.bandwidth.bytes_per_cycle(config.clock) == pytest.approx(600e9 / 700e6)
    assert config.sram["unified"].capacity == 8 * 2**20


def test_horowitz_sram_points():
    """The SRAM energy curve passes through Horowitz's 8 KiB, 32 KiB and 1 MiB figures."""
    assert horowitz_sram_energy(8 * 1024) == pytest.approx(10.0)
    assert horowitz_sram_energy(32 * 1024) == pytest.approx(20.0)
    assert horowitz_sram_energy(1024 * 1024) == pytest.approx(100.0)


def test_set_clock_as_a_bare_number_of_hertz():
    """--set values are YAML 1.2: 1e9 is a number, and a bare frequency is hertz."""
    config = load_hwconfig(HWCONFIGS / "scalesim_32x32_os.yaml", ["clock=1e9"])
    assert config.clock == 1e9


def test_yaml_1_2_scalars(tmp_path):
    """A hwconfig reads as YAML 1.2: 010 is ten (YAML 1.1: eight), 5e8 a number (YAML 1.1: a
    string), and a merge key fills a buffer from an anchored one."""
    (tmp_path / "hw.yaml").write_text(
        f"extends: {HWCONFIGS / 'scalesim_32x32_os.yaml'}\nclock: 5e8\n"
        "pe_array: {rows: 010}\n"
        "sram:\n  ifmap: &buf {capacity: 8KiB, holds: [ifmap], bandwidth: 8B/cycle}\n"
        "  filter: {<<: *buf, holds: [filter]}\n")
    config = load_hwconfig(tmp_path / "hw.yaml")
    assert config.clock == 5e8 and config.pe_array.rows == 10
    assert (config.sram["filter"].capacity, config.sram["filter"].holds) == (8192, ["filter"])


def test_largest_values_within_the_bounds_load(tmp_path):
    """Every bound is inclusive: a 64 x 64 mesh, 1024 DRAM channels, 65536 vector lanes, a
    1024 x 1024 array, a 1 PiB DRAM, a 100 GHz clock and 1 s of latency load."""
    config = load_hwconfig(HWCONFIGS / "scalesim_32x32_os.yaml", [
        "interconnect.topology=mesh", "interconnect.mesh_rows=64", "interconnect.mesh_cols=64",
        "interconnect.memory_node=[63, 63]", "dram.channels=1024", "vector_unit.lanes=65536",
        "pe_array.rows=1024", "pe_array.cols=1024", "dram.capacity=1024TiB", "clock=100GHz",
        "dram.latency=1s", "dram.bandwidth=1000TB/s", "interconnect.bandwidth=1e6B/cycle"])
    assert (config.interconnect.mesh_rows * config.interconnect.mesh_cols,
            config.dram.capacity, config.clock) == (4096, 2**50, 1e11)
