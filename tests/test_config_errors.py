"""Bad hwconfigs give one clear message naming file, key path, expectation and choices."""

from __future__ import annotations

import copy

import pytest
import yaml

from accelsim.cli import main
from accelsim.config.loader import load_hwconfig
from accelsim.errors import ConfigError
from tests.conftest import HWCONFIGS

BASE = yaml.safe_load((HWCONFIGS / "scalesim_32x32_os.yaml").read_text())


def _set(path: str, value):
    def edit(data: dict) -> None:
        keys = path.split(".")
        node = data
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return edit


def _drop(path: str):
    def edit(data: dict) -> None:
        keys = path.split(".")
        node = data
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return edit


CASES = [
    ("bad_dataflow", _set("pe_array.dataflow", "xs"),
     "pe_array.dataflow: expected one of the valid choices, got 'xs' "
     "(valid choices: is, os, ws)"),
    ("misspelled_key", _set("dram.bandwith", "1GB/s"),
     "dram.bandwith: expected a known key (valid choices: access_energy_pj_per_64b, "
     "bandwidth, capacity, channels, ideal, interleave, latency, layout, preset)"),
    ("missing_key", _drop("dram.latency"),
     "dram.latency: expected this required key (memory-controller and PHY latency of a "
     "transfer (the row-buffer model adds tRCD + tCL))"),
    ("bandwidth_without_preset", _drop("dram.bandwidth"),
     "dram.bandwidth: expected a bandwidth (or a preset that implies one)"),
    ("unknown_preset", _set("dram.preset", "ddr9"),
     "dram.preset: expected one of the valid choices, got 'ddr9' "
     "(valid choices: ddr4_3200, hbm2, hbm3, lpddr4_4266)"),
    ("mesh_placement_outside", _set("interconnect", {"topology": "mesh", "bandwidth": "8B/cycle",
                                                    "placement": {"ifmap": [5, 0]}}),
     "interconnect.placement.ifmap: expected a router inside the 2x2 mesh, got [5, 0]"),
    ("bad_size", _set("sram.ifmap.capacity", "64 kilobytes"),
     "sram.ifmap.capacity: expected a size such as '64KiB', '24MiB' or '1GB', "
     "got '64 kilobytes'"),
    ("zero_rows", _set("pe_array.rows", 0),
     "pe_array.rows: expected a value that is greater than 0, got 0"),
    ("bad_clock", _set("clock", "fast"),
     "clock: expected a frequency such as '1GHz' or '940MHz', got 'fast'"),
    ("role_twice", _set("sram.filter.holds", ["ifmap"]),
     "sram: expected the ifmap role held by exactly one buffer, got \"held by ['filter', "
     "'ifmap']\""),
    ("unknown_role", _set("sram.filter.holds", ["weights"]),
     "sram.filter.holds.0: expected one of the valid choices, got 'weights' "
     "(valid choices: filter, ifmap, ofmap)"),
    ("unknown_kind", _set("pe_array.kind", "mesh"),
     "pe_array.kind: expected a known PE-array kind, got 'mesh' "
     "(valid choices: outer_product, systolic, tensor_core)"),
    ("unknown_datatype", _set("pe_array.datatype", "fp8"),
     "pe_array.datatype: expected one of the valid choices, got 'fp8' "
     "(valid choices: bf16, fp16, fp32, int8)"),
    ("negative_bandwidth", _set("dram.bandwidth", "-5GB/s"),
     "dram.bandwidth: expected a bandwidth such as '64B/cycle' or '256GB/s', got '-5GB/s'"),
    ("energy_without_datatype", _set("energy", {"mult_pj": {"fp32": 3.7}}),
     "energy.mult_pj: expected an entry for fp16"),
    ("bad_duration", _set("dram.latency", "soon"),
     "dram.latency: expected a duration such as '100ns' or '20cycles', got 'soon'"),
    ("bare_bandwidth", _set("dram.bandwidth", 20),
     "dram.bandwidth: expected a bandwidth such as '64B/cycle' or '256GB/s', with its unit (a "
     "bare number could be per cycle or per second), got 20"),
    ("string_rows", _set("pe_array.rows", "32"),
     "pe_array.rows: expected a valid integer, got '32'"),
    ("string_yes", _set("sram.ifmap.double_buffered", "yes"),
     "sram.ifmap.double_buffered: expected true or false, got 'yes'"),
    ("holds_a_string", _set("sram.ifmap.holds", "ifmap"),
     "sram.ifmap.holds: expected a list, got 'ifmap'"),
    ("unknown_energy_datatype", _set("energy", {"add_pj": {"fp32": 1, "fp64": 2}}),
     "energy.add_pj.fp64: expected one of the valid choices, got 'fp64' (valid choices: bf16, "
     "fp16, fp32, int32, int8)"),
    ("memory_node_outside", _set("interconnect", {"topology": "mesh", "bandwidth": "8B/cycle",
                                                 "memory_node": [2, 0]}),
     "interconnect.memory_node: expected a router inside the 2x2 mesh, got [2, 0]"),
]


@pytest.mark.parametrize("name,edit,message", CASES, ids=[c[0] for c in CASES])
def test_bad_hwconfig_message(tmp_path, name, edit, message):
    """Each malformed file yields exactly this message, prefixed by the file path."""
    data = copy.deepcopy(BASE)
    edit(data)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path)
    assert str(caught.value) == f"{path}: {message}"


def test_invalid_yaml_names_line(tmp_path):
    """A YAML syntax error names the line and column."""
    path = tmp_path / "broken.yaml"
    path.write_text("clock: [1GHz\n")
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path)
    assert str(caught.value) == (f"{path}: line 2, column 1: expected valid YAML, "
                                 "got \"expected ',' or ']', but got '<stream end>'\"")


def test_missing_file(tmp_path):
    """A hwconfig path that does not exist says so."""
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path)
    assert str(caught.value) == f"{path}: expected an existing file"


def test_top_level_not_mapping(tmp_path):
    """A YAML list at the top level is refused with its type."""
    path = tmp_path / "list.yaml"
    path.write_text("- a\n- b\n")
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path)
    assert str(caught.value) == f"{path}: expected a mapping of keys to values at the top " \
                                "level, got 'list'"


def test_override_with_bad_value_names_the_override():
    """A --set override that does not validate is reported with the override."""
    path = HWCONFIGS / "scalesim_32x32_os.yaml"
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path, ["dram.bandwidth=lots"])
    assert str(caught.value) == (f"{path} (with --set dram.bandwidth=lots): dram.bandwidth: "
                                 "expected a bandwidth such as '64B/cycle' or '256GB/s', "
                                 "got 'lots'")


def test_extends_cycle(tmp_path):
    """Two files extending each other are refused, naming the chain."""
    (tmp_path / "a.yaml").write_text("extends: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("extends: a.yaml\nname: b\n")
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(tmp_path / "a.yaml")
    assert "extends: expected a chain of bases without a cycle, got 'a.yaml -> b.yaml -> " \
           "a.yaml'" in str(caught.value)


def test_cli_exit_code_2_and_one_line(tmp_path, capsys):
    """The CLI prints one error line, no traceback, and exits with code 2."""
    data = copy.deepcopy(BASE)
    data["pe_array"]["dataflow"] = "xs"
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(data))
    code = main(["run", "--hw", str(path), "--workload", "mlp"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.strip().splitlines() == [
        f"error: {path}: pe_array.dataflow: expected one of the valid choices, got 'xs' "
        "(valid choices: is, os, ws)"]
    assert "Traceback" not in err


def test_duplicate_key_names_both_lines(tmp_path):
    """A key written twice in one mapping is refused (YAML readers let the last win)."""
    path = tmp_path / "twice.yaml"
    path.write_text("name: a\npe_array:\n  rows: 8\n  rows: 16\n")
    with pytest.raises(ConfigError) as caught:
        load_hwconfig(path)
    assert str(caught.value) == (f"{path}: pe_array.rows: expected each key once in a mapping, "
                                 "got it again at line 4, column 3 (first at line 3, column 3)")
