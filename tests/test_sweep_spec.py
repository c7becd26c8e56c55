"""Sweep files: axes expanded into points in product order, each point's run spec and key, and
one clear error for a bad file."""

from __future__ import annotations

import hashlib
import json

import pytest

from accelsim.errors import ConfigError
from accelsim.sweep.points import expand
from accelsim.sweep.spec import load_sweep
from tests.conftest import HWCONFIGS, ROOT

EDGE = HWCONFIGS / "edge_16x16.yaml"
LENET = ROOT / "workloads" / "lenet5.yaml"


def write(tmp_path, text: str):
    path = tmp_path / "sweep.yaml"
    path.write_text(text)
    return path


def base(extra: str) -> str:
    return f"hwconfig: {EDGE}\nworkload: {LENET}\nbatch: 2\n" + extra


def test_grid_and_zip_groups_expand_in_product_order(tmp_path):
    """Two grid axes (2 and 3 values) and two zip groups (2 and 2 rows) give 2*3*2*2 = 24
    points; the last factor varies fastest; set.* axes become overrides after the base's."""
    sweep = load_sweep(write(tmp_path, base(
        "overrides: [dram.channels=1]\n"
        "grid:\n  batch: [2, 4]\n  seed: [0, 1, 2]\n"
        "zip:\n  - {set.pe_array.rows: [8, 16], set.pe_array.cols: [4, 32]}\n"
        "  - {set.sram.ifmap.capacity: [16KiB, 64KiB]}\n")))
    points = expand(sweep)
    assert sweep.size == len(points) == 24
    first, second, last = points[0], points[1], points[-1]
    assert first.axes == {"batch": 2, "seed": 0, "set.pe_array.rows": 8,
                          "set.pe_array.cols": 4, "set.sram.ifmap.capacity": "16KiB"}
    assert second.axes["set.sram.ifmap.capacity"] == "64KiB"
    assert points[2].axes["set.pe_array.rows"] == 16 and points[2].axes["set.pe_array.cols"] == 32
    assert points[4].axes["seed"] == 1
    assert last.axes == {"batch": 4, "seed": 2, "set.pe_array.rows": 16,
                         "set.pe_array.cols": 32, "set.sram.ifmap.capacity": "64KiB"}
    assert first.spec.overrides == ["dram.channels=1", "pe_array.rows=8", "pe_array.cols=4",
                                    "sram.ifmap.capacity=16KiB"]
    assert (first.spec.batch, first.spec.seed) == (2, 0)
    assert len({point.key for point in points}) == 24


def test_labelled_axes_and_technique_parameters(tmp_path):
    """A mapping axis names its values by label; param.TECHNIQUE.KEY sets a parameter of the
    point's technique, given as text or as a mapping."""
    sweep = load_sweep(write(tmp_path, base(
        "grid:\n"
        "  techniques:\n    skip: ['confidence_skip:assumed_skip_fraction=0.25']\n"
        "    skip_map: [{name: confidence_skip, params: {assumed_skip_fraction: 0.5}}]\n"
        "  param.confidence_skip.tau: [0.8, 0.9]\n")))
    points = expand(sweep)
    assert [p.axes["techniques"] for p in points] == ["skip", "skip", "skip_map", "skip_map"]
    params = [p.spec.technique_specs()[0].params for p in points]
    assert params[0] == {"assumed_skip_fraction": 0.25, "tau": 0.8}
    assert params[3] == {"assumed_skip_fraction": 0.5, "tau": 0.9}


def test_key_is_the_hash_of_spec_hwconfig_workload_and_version(tmp_path):
    """The key is SHA-256 of the canonical JSON of the resolved spec, the resolved hwconfig,
    the workload file's digest and the version; editing the hwconfig file changes it."""
    from accelsim import __version__
    from accelsim.api import load_config

    hw = tmp_path / "hw.yaml"
    hw.write_text(EDGE.read_text())
    path = write(tmp_path, f"hwconfig: hw.yaml\nworkload: {LENET}\nbatch: 2\n")
    point = expand(load_sweep(path))[0]
    identity = {"accelsim": __version__,
                "spec": {**point.spec.model_dump(mode="json"), "techniques": []},
                "hwconfig_resolved": load_config(point.spec).model_dump(mode="json"),
                "workload_digest": hashlib.sha256(b"lenet5.yaml\0" + LENET.read_bytes())
                .hexdigest()}
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    assert point.key == hashlib.sha256(text.encode()).hexdigest()
    hw.write_text(EDGE.read_text().replace("clock: 500MHz", "clock: 600MHz"))
    assert expand(load_sweep(path))[0].key != point.key


def test_key_counts_technique_parameters_not_how_they_are_written(tmp_path):
    """``confidence_skip:tau=0.9`` as text, as a mapping, and with a default parameter given
    explicitly is one point; another tau is another."""
    from accelsim.techniques.base import TECHNIQUES

    default = TECHNIQUES.get("confidence_skip").Params.model_fields["mapping"].default
    sweep = load_sweep(write(tmp_path, base(
        "grid:\n  techniques:\n"
        "    text: ['confidence_skip:tau=0.9,assumed_skip_fraction=0.5']\n"
        "    mapping: [{name: confidence_skip, params: {assumed_skip_fraction: 0.5, tau: 0.9}}]\n"
        f"    default: ['confidence_skip:tau=0.9,assumed_skip_fraction=0.5,mapping={default}']\n"
        "    other: ['confidence_skip:tau=0.8,assumed_skip_fraction=0.5']\n")))
    keys = [point.key for point in expand(sweep)]
    assert keys[0] == keys[1] == keys[2] != keys[3]


@pytest.mark.parametrize("extra, message", [
    ("grid:\n  batchsize: [1]\n",
     "sweep.yaml: grid.batchsize: expected an axis key: a run-spec key, set.HWCONFIG.KEY.PATH "
     "or param.TECHNIQUE.PARAMETER (valid choices: batch, hwconfig,"),
    ("grids:\n  batch: [1]\n", "sweep.yaml: grids: expected a sweep key or a run-spec key "
     "(valid choices: batch, description, grid,"),
    ("grid:\n  batch: []\n", "sweep.yaml: grid.batch: expected at least one value"),
    ("grid:\n  batch: [2, 0]\n",
     "sweep.yaml: grid.batch[1]: expected a number greater than 0, got 0"),
    ("grid:\n  set.pe_array.rows: [8, -4]\n",
     "sweep.yaml: grid.set.pe_array.rows[1]: expected a value that is greater than 0, got -4"),
    ("grid:\n  set.pe_array.dataflow: [os, xs]\n",
     "sweep.yaml: grid.set.pe_array.dataflow[1]: expected one of the valid choices, got 'xs' "
     "(valid choices: is, os, ws)"),
    ("zip:\n  batch: [1, 2]\n  seed: [0]\n",
     "sweep.yaml: zip.seed: expected 2 values, as many as zip.batch"),
    ("grid:\n  batch: [1]\nzip:\n  batch: [2]\n",
     "sweep.yaml: zip.batch: expected an axis given once (it is also grid.batch)"),
    ("grid:\n  param.ant.granularity: [row]\n",
     "sweep.yaml: grid.param.ant.granularity[0]: expected a point whose techniques name 'ant'"),
    ("grid:\n  seed: [1, 1]\n", "sweep.yaml: grid.seed[1]: expected values of distinct labels"),
])
def test_bad_sweep_files_name_file_key_and_expectation(tmp_path, extra, message):
    """Each mistake is one error line naming the file, the key path of the axis value (not the
    point's), what was expected and the valid choices."""
    with pytest.raises(ConfigError) as caught:
        expand(load_sweep(write(tmp_path, base(extra))))
    text = str(caught.value)
    assert "\n" not in text
    assert text.endswith("sweep.yaml" + text.split("sweep.yaml", 1)[1])
    assert text.split(str(tmp_path) + "/", 1)[-1].startswith(message), text


def test_hwconfig_and_workload_files_as_axes(tmp_path):
    """Hwconfig files and workloads are axes like any run-spec key: 2 x 2 points, each naming
    its files, labelled by the values as written."""
    sweep = load_sweep(write(tmp_path, f"batch: 2\ngrid:\n  hwconfig: [{EDGE}, "
                             f"{HWCONFIGS / 'scalesim_32x32_os.yaml'}]\n"
                             f"  workload: [{LENET}, mlp]\n"))
    points = expand(sweep)
    assert [(p.spec.hwconfig, p.spec.workload) for p in points] == [
        (str(EDGE), str(LENET)), (str(EDGE), "mlp"),
        (str(HWCONFIGS / "scalesim_32x32_os.yaml"), str(LENET)),
        (str(HWCONFIGS / "scalesim_32x32_os.yaml"), "mlp")]
    assert points[1].axes == {"hwconfig": str(EDGE), "workload": "mlp"}
    assert len({p.key for p in points}) == 4
