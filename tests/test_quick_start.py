"""`accelsim --help`, `accelsim workloads` and the error line for bad input do not import the
engine: each case runs ``accelsim.cli.main`` in a fresh interpreter and reports which modules
it loaded. A run that starts does import it (the harness sees the difference)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import ROOT

ENGINE = ("simpy", "networkx", "accelsim.sim", "accelsim.sim.engine", "accelsim.hw.system")
#: Not needed to print help or the zoo either.
HEAVY = (*ENGINE, "numpy", "pydantic", "rich.table")
HARNESS = """
import contextlib, io, json, sys
from accelsim.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(sys.argv[1:])
    except SystemExit as done:  # --help
        code = done.code
print(json.dumps({"code": code, "err": err.getvalue(), "out": out.getvalue(),
                  "modules": sorted(sys.modules)}))
"""
HW = str(ROOT / "hwconfigs/edge_16x16.yaml")


def run_main(*args: str, cwd=ROOT) -> dict:
    done = subprocess.run([sys.executable, "-c", HARNESS, *args], capture_output=True,
                          text=True, cwd=cwd, check=True)
    return json.loads(done.stdout)


@pytest.mark.parametrize("args", [["--help"], ["workloads"]], ids=["help", "workloads"])
def test_help_and_zoo_import_nothing_heavy(args):
    """Help and the zoo table: exit 0, output printed, no engine, numpy, pydantic or rich
    table imported by --help (the zoo table needs rich)."""
    report = run_main(*args)
    assert report["code"] == 0 and report["out"]
    heavy = HEAVY if args == ["--help"] else ENGINE + ("numpy",)
    assert not set(heavy) & set(report["modules"])


def bad_inputs(tmp_path) -> dict[str, list[str]]:
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("dram: [1,\n")
    bad_spec = tmp_path / "spec.yaml"
    bad_spec.write_text("hwconfig: 3\nworkload: mlp\n")
    notes = tmp_path / "notes.txt"
    notes.write_text("not a result")
    return {
        "hwconfig YAML": ["run", "--hw", str(bad_yaml), "--workload", "mlp"],
        "missing hwconfig": ["run", "--hw", str(tmp_path / "none.yaml"), "--workload", "mlp"],
        "workload name": ["run", "--hw", HW, "--workload", "no_such_net"],
        "--set key": ["run", "--hw", HW, "--workload", "mlp", "--set", "dram.bogus=1"],
        "--set value": ["run", "--hw", HW, "--workload", "mlp", "--set", "dram.bandwidth=x"],
        "technique parameter": ["run", "--hw", HW, "--workload", "mlp", "--technique",
                                "ant:bogus=1"],
        "technique name": ["run", "--hw", HW, "--workload", "mlp", "--technique", "nosuch"],
        "run spec": ["run", "--spec", str(bad_spec)],
        "option": ["run", "--hw", HW, "--workload", "mlp", "--batch", "x"],
        "output path": ["run", "--hw", HW, "--workload", "mlp", "--out", str(notes)],
    }


def test_bad_input_errors_do_not_import_the_engine(tmp_path):
    """Each bad input gives exit code 2 and one error line naming what was wrong, with none of
    simpy, networkx or accelsim.sim imported."""
    for case, args in bad_inputs(tmp_path).items():
        report = run_main(*args)
        assert report["code"] == 2, (case, report["err"])
        assert report["err"].startswith("error: ") and report["err"].count("\n") == 1, case
        assert not set(ENGINE) & set(report["modules"]), (case, set(ENGINE)
                                                          & set(report["modules"]))


def test_a_run_imports_the_engine(tmp_path):
    """The harness sees the engine when a run starts (so the checks above can fail)."""
    topology = tmp_path / "one.csv"
    topology.write_text("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                        "Channels, Num Filter, Strides,\nL1,10,10,3,3,4,8,1,\n")
    report = run_main("run", "--hw", str(ROOT / "hwconfigs/scalesim_32x32_os.yaml"),
                      "--workload", str(topology), "--top", "0", "--quiet")
    assert report["code"] == 0, report["err"]
    assert set(ENGINE) <= set(report["modules"])
