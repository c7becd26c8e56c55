"""The Python API: ``simulate(spec) -> RunResult``, what the command line and notebooks call::

    from accelsim import simulate
    result = simulate({"hwconfig": "hwconfigs/edge_16x16.yaml", "workload": "mlp",
                       "batch": 8, "overrides": ["dram.bandwidth=34GB/s"]})
    result["total_cycles"], result["energy_pj"]["total"]

``spec`` is a :class:`accelsim.spec.RunSpec`, a mapping of its keys, or the path of a run-spec
YAML file. The result records the resolved spec, the fully resolved hwconfig, the command (when
given) and the versions, so any of its figures can be reproduced from the result alone.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from accelsim.config.loader import hwconfig_from_mapping, load_hwconfig
from accelsim.config.models import HwConfig
from accelsim.spec import RunSpec, load_spec, spec_from_mapping

if TYPE_CHECKING:  # the engine and the workload loader are imported when a run needs them
    from accelsim.stats.result import RunResult
    from accelsim.workload.graph import Workload


def as_spec(spec: RunSpec | Mapping | str | Path) -> RunSpec:
    """A validated run spec from any of the forms :func:`simulate` takes."""
    if isinstance(spec, RunSpec):
        return spec
    if isinstance(spec, (str, Path)):
        return load_spec(spec)
    return spec_from_mapping(dict(spec))


def load_config(spec: RunSpec) -> HwConfig:
    """The spec's hwconfig, merged and overridden."""
    if isinstance(spec.hwconfig, str):
        return load_hwconfig(spec.path(spec.hwconfig), spec.overrides)
    return hwconfig_from_mapping(spec.hwconfig, f"{spec.source}: hwconfig", spec.folder,
                                 spec.overrides)


def build_workload(spec: RunSpec, config: HwConfig) -> Workload:
    """The spec's workload, expanded into a training iteration of its phases."""
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions

    options = TrainingOptions(batch=spec.batch, element_bytes=config.element_bytes,
                              optimizer=spec.optimizer)
    return load_workload(spec.path(spec.workload), options, spec.phases)


def simulate(spec: RunSpec | Mapping | str | Path,
             command: Sequence[str] | None = None,
             progress: Callable[[int, int, float], None] | None = None,
             keep_transfers: bool = False) -> RunResult:
    """Run ``spec`` (module docstring); ``command``: the command line that asked for it, if
    any, recorded in the result; ``progress(ops done, ops in all, simulated cycle)``: called
    as each op finishes; ``keep_transfers``: keep every DRAM transfer in the result (for a
    timeline trace; otherwise only their histogram over time is kept)."""
    spec = as_spec(spec)
    config = load_config(spec)
    workload = build_workload(spec, config)
    from accelsim.sim.engine import Simulation  # after the inputs are known to be good

    provenance = {"spec": spec.model_dump(mode="json"),
                  "command": list(command) if command is not None else None}
    return Simulation(config, workload, spec.technique_specs(), step=spec.step,
                      seed=spec.seed, provenance=provenance,
                  keep_transfers=keep_transfers).run(progress)
