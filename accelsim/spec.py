"""The run spec: the one serializable description of a run.

A :class:`RunSpec` names the hwconfig (a path, or an inline mapping), its ``--set`` overrides,
the workload, batch, phases, optimizer, techniques (``"ant"``,
``"ant:granularity=row"`` or ``{name: ant, params: {granularity: row}}``), the training step
simulated and the seed. ``accelsim run --spec run.yaml`` reads one; the command-line flags build
the same object; :func:`accelsim.api.simulate` runs one. In a spec file, a relative hwconfig
or workload path is taken relative to the file's folder when a file of that name is there.

Example (``run.yaml``)::

    hwconfig: hwconfigs/scnn_like.yaml
    overrides: [pe_array.halo_elements_per_cycle=4]
    workload: resnet18_cifar
    batch: 2
    techniques: [{name: ant, params: {granularity: row}}]
    seed: 0
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

from accelsim.config.loader import read_yaml_mapping
from accelsim.errors import ConfigError
from accelsim.techniques.chain import TechniqueSpec, check_unique
from accelsim.validation import validate
from accelsim.workload.bounds import MAX_BATCH
from accelsim.workload.op import PHASES
from accelsim.workload.optimizers import OPTIMIZERS

Phase = Literal["fwd", "bwd_data", "bwd_weight", "update"]
Optimizer = Literal[tuple(sorted(OPTIMIZERS))]


class TechniqueEntry(BaseModel):
    """A technique with parameters, as a run spec writes it."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    name: str = Field(description="a registered technique (see `accelsim techniques`)")
    params: dict[str, Any] = Field(default_factory=dict,
                                   description="the technique's parameters")


class RunSpec(BaseModel):
    """Everything a run depends on (module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)

    hwconfig: str | dict[str, Any] = Field(
        description="hwconfig file, or an inline hwconfig mapping (``extends:`` allowed)")
    overrides: list[str] = Field(default_factory=list,
                                 description="hwconfig overrides, key.path=value")
    workload: str = Field(description="zoo name, workload YAML, SCALE-Sim CSV or traced folder")
    batch: int | None = Field(None, gt=0, le=MAX_BATCH, description="batch size (default: chosen "
                              "by the workload source: 1 for SCALE-Sim CSV files, else 32; at "
                              f"most {MAX_BATCH}, the largest published large-batch training "
                              "runs)")
    phases: list[Phase] = Field(default_factory=lambda: list(PHASES), min_length=1,
                                description="training phases kept")
    optimizer: Optimizer = Field("momentum", description="weight-update op")
    techniques: list[str | TechniqueEntry] = Field(
        default_factory=list, description="technique controllers, in order")
    step: int | None = Field(None, ge=0, description="training step simulated (default: the "
                             "trace's last step with statistics)")
    seed: int = Field(0, ge=0, le=2**64 - 1, description="seed of every random choice of the "
                      "run (a 64-bit unsigned integer, as numpy's generators take)")
    _folder: Path | None = PrivateAttr(None)
    _source: str = PrivateAttr("run spec")

    @property
    def source(self) -> str:
        return self._source

    def technique_specs(self) -> list[TechniqueSpec]:
        """The techniques, parsed and validated."""
        specs = []
        for index, entry in enumerate(self.techniques):
            where = f"{self._source}: techniques[{index}]"
            if isinstance(entry, str):
                specs.append(TechniqueSpec.parse(entry, where))
            else:
                specs.append(TechniqueSpec(entry.name, dict(entry.params), where))
        check_unique(specs)
        return specs

    def path(self, value: str) -> str:
        """``value`` relative to the spec file's folder when a file of that name is there."""
        if self._folder is not None and not Path(value).is_absolute():
            candidate = self._folder / value
            if candidate.exists():
                return str(candidate)
        return value

    @property
    def folder(self) -> Path:
        return self._folder or Path(".")


def spec_from_mapping(data: object, source: str = "run spec",
                      folder: Path | None = None) -> RunSpec:
    """A validated :class:`RunSpec` from a mapping (one clear error otherwise)."""
    spec = validate(RunSpec, data, source)
    spec._source, spec._folder = source, folder
    spec.technique_specs()  # techniques and their parameters are errors now, not mid-run
    return spec


def load_spec(path: str | Path) -> RunSpec:
    """The run spec in the YAML file at ``path``."""
    path = Path(path)
    return spec_from_mapping(read_yaml_mapping(path, ConfigError), str(path), path.parent)
