"""The sweep file: a base run spec plus axes.

Every key of a run spec (:mod:`accelsim.spec`) at the top level is the base of every point;
``grid:`` axes combine as a product, ``zip:`` axes advance together (all of the same length)
and the zip group is one more factor of the product. An axis key is

- a run-spec key (``hwconfig``, ``workload``, ``batch``, ``phases``, ``optimizer``,
  ``techniques``, ``step``, ``seed``): the value replaces the base's; ``overrides``: the
  value (a list of ``key.path=value``) is added after the base's;
- ``set.KEY.PATH``: the hwconfig override ``KEY.PATH=value`` is added (``set.pe_array.rows``);
- ``param.TECHNIQUE.KEY``: parameter ``KEY`` of the point's technique ``TECHNIQUE`` (the point
  must name that technique).

``zip:`` may also be a list of such groups, each one factor of the product. An axis holds a
list of values, or a mapping of labels to values (the labels then name the
points in tables, the CSV and plots)::

    name: array_sram_technique
    hwconfig: ../../hwconfigs/scalesim_32x32_os.yaml
    workload: resnet18_cifar
    batch: 2
    grid:
      set.pe_array.rows: [8, 16, 32, 64]
      techniques:
        none: []
        skip: ["confidence_skip:tau=0.9,assumed_skip_fraction=0.3"]
    zip:
      set.sram.ifmap.capacity: [32KiB, 256KiB]
      set.sram.filter.capacity: [32KiB, 256KiB]

Points are numbered in product order: the grid's axes in file order, then the zip groups, the
last varying fastest. A bad file is one :class:`~accelsim.errors.ConfigError` naming the file,
the key path (``grid.set.pe_array.rows``), what was expected and the valid choices.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from accelsim.config.loader import read_yaml_mapping
from accelsim.errors import ConfigError
from accelsim.spec import RunSpec
from accelsim.validation import printable, validate

#: Most points one sweep file may describe (bounded work before anything runs).
MAX_POINTS = 100_000
#: Axis-key prefixes besides the run-spec keys.
SET_PREFIX, PARAM_PREFIX = "set.", "param."
#: Keys of a sweep file that are not run-spec keys.
SWEEP_KEYS = ("name", "description", "grid", "zip")
#: The run-spec keys an axis may take (the spec's own, by name).
SPEC_KEYS = tuple(RunSpec.model_fields)

AxisValues = list[Any] | dict[str, Any]


class SweepAxes(BaseModel):
    """The keys of a sweep file besides the base run spec (module docstring)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: str | None = Field(None, min_length=1, description="the sweep's name (default: the "
                             "file's name without its extension)")
    description: str | None = Field(None, description="what the sweep studies")
    grid: dict[str, AxisValues] = Field(default_factory=dict,
                                        description="axes combined as a product")
    zip: dict[str, AxisValues] | list[dict[str, AxisValues]] = Field(
        default_factory=dict, description="axes advanced together, all of one length (a list "
        "of such groups: each group is one factor of the product)")


@dataclass(frozen=True)
class Axis:
    """One axis: where the file gives it (``grid`` or ``zip``), its key, and its values with
    their labels (the label is the value itself for a list of scalars)."""

    section: str
    key: str
    labels: tuple[Any, ...]
    values: tuple[Any, ...]

    @property
    def where(self) -> str:
        return f"{self.section}.{self.key}"


@dataclass(frozen=True)
class Sweep:
    """A loaded sweep file: its name, base run-spec mapping, axes and folder (relative paths
    in it are taken from there, as in a run-spec file)."""

    name: str
    source: str
    folder: Path
    base: dict
    grid: tuple[Axis, ...]
    zipped: tuple[tuple[Axis, ...], ...]
    description: str | None = None

    @property
    def axes(self) -> tuple[Axis, ...]:
        return (*self.grid, *(axis for group in self.zipped for axis in group))

    @property
    def size(self) -> int:
        return (math.prod(len(axis.values) for axis in self.grid)
                * math.prod(len(group[0].values) for group in self.zipped))


def label_of(value: object) -> object:
    """How an axis value is named where no label is given: a scalar as itself, a list of
    techniques (or any other list) as its items' texts joined by ``+``, ``none`` if empty."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, list):
        return "+".join(str(label_of(item)) for item in value) if value else "none"
    if isinstance(value, dict) and "name" in value:
        params = value.get("params") or {}
        text = ",".join(f"{key}={item}" for key, item in params.items())
        return f"{value['name']}:{text}" if text else str(value["name"])
    return str(value)


def _axis(source: str, section: str, key: str, given: AxisValues) -> Axis:
    where = f"{section}.{printable(key)}"
    known = (key in SPEC_KEYS or key.startswith(SET_PREFIX) and len(key) > len(SET_PREFIX)
             or key.startswith(PARAM_PREFIX) and len(key.split(".")) == 3
             and all(key.split(".")))
    if not known:
        raise ConfigError(source, where, "an axis key: a run-spec key, set.HWCONFIG.KEY.PATH "
                          "or param.TECHNIQUE.PARAMETER", choices=SPEC_KEYS)
    if not given:
        raise ConfigError(source, where, "at least one value (a list, or a mapping of labels "
                          "to values)")
    if isinstance(given, dict):
        labels, values = tuple(given), tuple(given.values())
    else:
        values = tuple(given)
        labels = tuple(label_of(value) for value in values)
    seen: dict[object, int] = {}
    for index, label in enumerate(labels):
        marker = repr(label)
        if marker in seen:
            raise ConfigError(source, f"{where}[{index}]", "values of distinct labels (give the "
                              "axis as a mapping of labels to values)",
                              got=f"{label} again (first: [{seen[marker]}])")
        seen[marker] = index
    return Axis(section, key, labels, values)


def sweep_from_mapping(data: dict, source: str, folder: Path, default_name: str) -> Sweep:
    """A :class:`Sweep` from the mapping of a sweep file (module docstring)."""
    valid = (*SWEEP_KEYS, *SPEC_KEYS)
    for key in data:
        if key not in valid:
            raise ConfigError(source, printable(key), "a sweep key or a run-spec key",
                              choices=valid)
    axes = validate(SweepAxes, {key: data[key] for key in SWEEP_KEYS if key in data}, source)
    grid = tuple(_axis(source, "grid", key, values) for key, values in axes.grid.items())
    groups = [axes.zip] if isinstance(axes.zip, dict) else axes.zip
    zipped = tuple(tuple(_axis(source, "zip" if isinstance(axes.zip, dict) else f"zip[{n}]",
                               key, values) for key, values in group.items())
                   for n, group in enumerate(groups) if group)
    seen = {axis.key: axis.where for axis in grid}
    for group in zipped:
        for axis in group:
            if axis.key in seen:
                raise ConfigError(source, axis.where, f"an axis given once (it is also "
                                  f"{seen[axis.key]})")
            seen[axis.key] = axis.where
            if len(axis.values) != len(group[0].values):
                raise ConfigError(source, axis.where, f"{len(group[0].values)} values, as many "
                                  f"as {group[0].where} (zipped axes advance together)",
                                  got=f"{len(axis.values)} values")
    base = {key: value for key, value in data.items() if key in SPEC_KEYS}
    sweep = Sweep(axes.name or default_name, source, folder, base, grid, zipped,
                  axes.description)
    if sweep.size > MAX_POINTS:
        raise ConfigError(source, "grid", f"at most {MAX_POINTS:,} points",
                          got=f"{sweep.size:,} points")
    return sweep


def load_sweep(path: str | Path) -> Sweep:
    """The sweep file at ``path``."""
    path = Path(path)
    data = read_yaml_mapping(path, ConfigError)
    return sweep_from_mapping(data, str(path), path.parent.resolve(), path.stem)
