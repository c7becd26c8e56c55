"""The technique contract: fresh instances per run, parameters from run specs, plans checked
after every technique, techniques chained in order."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import simpy
import yaml

from accelsim.api import simulate
from accelsim.config.loader import validate_hwconfig
from accelsim.context import RunContext
from accelsim.errors import ConfigError, SimulationError
from accelsim.hw.system import System
from accelsim.sim.engine import Simulation
from accelsim.sim.lowering import lower
from accelsim.spec import load_spec
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams
from accelsim.techniques.chain import TechniqueChain, TechniqueSpec
from accelsim.workload.graph import Workload
from accelsim.workload.op import Phase
from tests.conftest import HWCONFIGS, gemm_workload, make_config
from tests.test_outer_product import SCNN, conv_op

SPEC = {"hwconfig": str(HWCONFIGS / "scnn_like.yaml"), "workload": "resnet18_cifar",
        "batch": 1, "techniques": ["ant:granularity=row"]}


def test_same_spec_twice_gives_byte_identical_json():
    """One process, the same spec twice (and one Simulation run twice): the result JSON is
    byte for byte the same, so no technique counter or cache leaks from one run into the
    next."""
    first = json.dumps(simulate(SPEC).data)
    second = json.dumps(simulate(SPEC).data)
    assert first == second
    config = validate_hwconfig(copy.deepcopy(SCNN), "<test>")
    simulation = Simulation(config, Workload("t", [conv_op(Phase.BWD_WEIGHT)]),
                            [TechniqueSpec.parse("ant")])
    assert json.dumps(simulation.run().data) == json.dumps(simulation.run().data)


def test_seed_reaches_the_random_masks():
    """Ops without masks draw random masks of their density: another seed gives other masks,
    hence other product figures; the same seed the same."""
    op = conv_op(Phase.FWD, density=0.1)
    config = validate_hwconfig(copy.deepcopy(SCNN), "<test>")
    cycles = {seed: Simulation(config, Workload("t", [op]), seed=seed).run()["ops"][0][
        "compute_cycles"] for seed in (0, 1)}
    assert cycles[0] != cycles[1]
    assert Simulation(config, Workload("t", [op]), seed=1).run()["ops"][0][
        "compute_cycles"] == cycles[1]


def test_run_spec_file_with_technique_parameters(tmp_path):
    """A run-spec YAML with an inline hwconfig (extending a shipped file by a path relative to
    the spec) and a technique with parameters runs; the result records the spec, the
    techniques with every parameter, the resolved hwconfig with the override applied, and the
    versions."""
    spec_file = tmp_path / "run.yaml"
    spec_file.write_text(yaml.safe_dump({
        "hwconfig": {"extends": str(HWCONFIGS / "scnn_like.yaml")},
        "overrides": ["pe_array.halo_elements_per_cycle=4"],
        "workload": "mlp", "batch": 2, "phases": ["fwd"],
        "techniques": [{"name": "ant", "params": {"comparator_energy_pj": 0.5}}],
        "seed": 3}))
    result = simulate(spec_file)
    assert result["run"]["seed"] == 3
    assert result["run"]["techniques"][0]["params"]["comparator_energy_pj"] == 0.5
    assert result["run"]["spec"]["overrides"] == ["pe_array.halo_elements_per_cycle=4"]
    assert result["hwconfig_resolved"]["pe_array"]["halo_elements_per_cycle"] == 4.0
    assert set(result["versions"]) == {"accelsim", "python", "simpy", "numpy"}
    assert {r["phase"] for r in result["ops"]} == {"fwd"}


def test_resolved_hwconfig_reloads_to_the_same_config():
    """The hwconfig a result embeds validates back into the very config that ran (every value
    resolved, units written so that they parse to the same numbers)."""
    config = make_config(dram={"ideal": False, "bandwidth": "25.6GB/s", "latency": "45ns",
                               "access_energy_pj_per_64b": 1300})
    result = Simulation(config, gemm_workload(32, 32, 32)).run()
    again = validate_hwconfig(json.loads(json.dumps(result["hwconfig_resolved"])), "<again>")
    assert again.model_dump() == config.model_dump()


@pytest.mark.parametrize("spec, message", [
    ({"workload": "mlp"}, "run.yaml: hwconfig: expected this required key"),
    ({**SPEC, "batch": 0}, "run.yaml: batch: expected a number greater than 0, got 0"),
    ({**SPEC, "techniques": [{"name": "ant", "params": {"granularity": "tile"}}]},
     "run.yaml: techniques[0] ant:granularity=tile: ant.granularity: expected one of the "
     "valid choices, got 'tile' (valid choices: chunk, element, row)"),
    ({**SPEC, "techniques": ["nope"]}, "run.yaml: techniques[0]: nope: expected a "
     "registered technique (valid choices: acrtc, ant, "),
    ({**SPEC, "phases": ["forward"]}, "run.yaml: phases[0]: expected one of the valid "
     "choices, got 'forward'"),
])
def test_bad_run_spec_is_one_error(tmp_path, spec, message):
    """A bad run spec is one error naming the file, the key and what was expected."""
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(ConfigError) as caught:
        load_spec(path)
    assert str(caught.value).replace(str(tmp_path) + "/", "").startswith(message)


class NegativeBytes(Technique):
    """Breaks the plan it is given: a load of -1 byte on the first tile."""

    name = "negative_bytes"

    def transform(self, op, plan):
        column = next(name for name in plan.columns if name.startswith("load:"))
        values = plan[column].copy()
        values[0] = -1
        return plan.with_columns(**{column: values})


class LosesMacs(Technique):
    """Drops tiles without counting their MACs as skipped."""

    name = "loses_macs"

    def transform(self, op, plan):
        keep = np.zeros(len(plan), dtype=bool)
        keep[0] = True
        return type(plan)(plan.unit, {k: v[keep] for k, v in plan.columns.items()},
                          plan.slots, plan.macs_skipped)


@pytest.mark.parametrize("technique, problem", [
    (NegativeBytes, "column load:ifmap has negative values (min -1)"),
    (LosesMacs, "MACs issued 2048 + skipped 0 != the op's 32768"),
])
def test_plan_is_checked_after_every_technique(technique, problem):
    """A technique that leaves negative bytes or loses MACs is stopped with one error naming
    the technique and the op (an 8x8 os array with 512 usable bytes per buffer: 8x32 fp16
    blocks of A and B, so a 32x32x32 GEMM is 16 tiles of 8 x 8 x 32 = 2048 MACs; one kept)."""
    config = make_config(capacity="1KiB")
    system = System(config, simpy.Environment())
    workload = gemm_workload(32, 32, 32)
    ctx = RunContext(system, workload)
    (op,) = workload.ops()
    chain = TechniqueChain([technique(TechniqueParams(), ctx)])
    with pytest.raises(SimulationError) as caught:
        chain.transform(op, lower(op, ctx))
    assert str(caught.value) == (f"technique {technique.name} left an invalid plan for op "
                                 f"g.fwd: {problem}")


def test_techniques_command_lists_ant_parameters(capsys):
    """`accelsim techniques` lists ANT with the kinds it applies to and each parameter with
    its type, default, unit and description."""
    from accelsim.cli import main

    assert main(["techniques"]) == 0
    out = capsys.readouterr().out
    assert "ant: anticipate redundant Cartesian products" in out
    assert "(PE-array kinds: outer_product)" in out
    for name, default, unit in (("granularity", "'chunk'", ""),
                                ("comparator_latency_cycles", "1", "cycles"),
                                ("comparator_energy_pj", "0.12", "pJ"),
                                ("area_mm2", "0.0017", "mm2")):
        ant = out[out.index("ant parameters"):]  # techniques are listed by name
        line = next(line for line in ant.splitlines() if f" {name} " in line)
        assert default in line and unit in line, line


def test_hwconfig_and_spec_survive_pickling():
    """Process pools and Dask workers receive configs pickled: a loaded hwconfig (whose class
    is built from the registered kinds) comes back equal, with its source."""
    import pickle

    from accelsim.config.loader import load_hwconfig

    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml", ["dram.latency=45ns"])
    again = pickle.loads(pickle.dumps(config))
    assert again == config and again.source == config.source


class HalveCompute(Technique):
    """Halves every tile's compute cycles (as a faster datapath would)."""

    name = "halve_compute"

    def transform(self, op, plan):
        return plan.with_columns(compute_cycles=plan["compute_cycles"] // 2)


def test_shorter_compute_keeps_the_sram_stretch():
    """A 64x64x64 GEMM on an 8x8 os array whose ifmap buffer feeds 1 B/cycle: the array reads
    A down its rows once per column fold, 64 * 64 * 8 folds * 2 B = 65,536 B, so the tile
    lasts 65,536 cycles while it computes 64 folds x (64 + 14) = 4,992. Halving the compute
    leaves the tile at 65,536 cycles; the SRAM stall grows by the 2,496 cycles saved."""
    buffers = {role: {"capacity": "64MiB", "holds": [role], "bandwidth": "4096B/cycle"}
               for role in ("ifmap", "filter", "ofmap")}
    buffers["ifmap"]["bandwidth"] = "1B/cycle"
    config = make_config(sram=buffers)
    base = Simulation(config, gemm_workload(64, 64, 64)).run()["ops"][0]
    with TECHNIQUES.temporarily("halve_compute", HalveCompute):
        fast = Simulation(config, gemm_workload(64, 64, 64),
                          [TechniqueSpec("halve_compute")]).run()["ops"][0]
    assert base["compute_cycles"] == 4992 and fast["compute_cycles"] == 2496
    assert base["cycles"] == fast["cycles"] == 65536
    assert fast["stalls"]["sram"] - base["stalls"]["sram"] == 2496


def test_ideal_dram_on_a_preset_config_reports_ideal():
    """`--set dram.ideal=true` on a hwconfig with a DRAM preset makes every transfer free: the
    result names the model it ran, ideal, not the preset's row-buffer model."""
    from accelsim.config.loader import load_hwconfig

    config = load_hwconfig(HWCONFIGS / "edge_16x16.yaml", ["dram.ideal=true"])
    result = Simulation(config, gemm_workload(64, 64, 64)).run()
    assert result["dram"]["model"] == "ideal"
    assert result["stall_cycles"]["dram_bandwidth"] == result["stall_cycles"]["dram_latency"] == 0
