"""A sweep's points: each a validated run spec, the axis labels that made it, and its key.

A point's key is the SHA-256 of the canonical JSON (sorted keys, no spaces) of what decides its
result: the resolved run spec (its techniques with every parameter, defaults included), the
fully resolved hwconfig (after ``extends:`` and every
override: editing a hwconfig file changes the key), a digest of the workload file or folder
(a zoo name stands for itself) and the accelsim version. The same point in two sweeps, or in a
sweep run again, has the same key; the store keeps one row per key.

Every point's spec and hwconfig are validated while expanding, before anything runs: a bad
value is one error naming the sweep file and the axis (``grid.set.pe_array.rows[2]``) or the
base key that gave it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass
from pathlib import Path

from accelsim import __version__
from accelsim.errors import ConfigError
from accelsim.spec import RunSpec, spec_from_mapping
from accelsim.sweep.spec import PARAM_PREFIX, SET_PREFIX, Axis, Sweep
from accelsim.techniques.chain import TechniqueSpec

#: Bytes read at a time when hashing a workload file.
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Point:
    """One point of a sweep (module docstring); ``axes``: axis key -> label."""

    index: int
    axes: dict[str, object]
    spec: RunSpec
    key: str

    def payload(self) -> dict:
        """What a worker needs to run the point: plain data, so any Dask worker can take it."""
        return {"key": self.key, "spec": self.spec.model_dump(mode="json"),
                "source": self.spec.source, "folder": str(self.spec.folder)}


def canonical_json(value: object) -> str:
    """``value`` as JSON with sorted keys and no spaces: equal values give equal text."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False)


def _render(value: object) -> str:
    """An override value as ``--set`` reads it (YAML): strings as written, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value)


def _techniques_as_mappings(entries: list, where: str) -> list[dict]:
    mappings = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            name, params = TechniqueSpec.split(entry, f"{where}[{index}]")
            mappings.append({"name": name, "params": params})
        elif isinstance(entry, dict) and isinstance(entry.get("params", {}), dict):
            mappings.append({"name": entry.get("name"), "params": dict(entry.get("params", {}))})
        else:
            mappings.append(entry)  # the run spec's validation names what is wrong
    return mappings


def _apply(data: dict, axis: Axis, value: object, index: int, source: str) -> None:
    base = data.get("overrides", [])
    if not isinstance(base, list):
        return  # the run spec's validation names the base's overrides
    if axis.key.startswith(SET_PREFIX):
        data["overrides"] = [*base, f"{axis.key[len(SET_PREFIX):]}={_render(value)}"]
    elif axis.key == "overrides":
        if not isinstance(value, list):
            raise ConfigError(source, f"{axis.where}[{index}]",
                              "a list of hwconfig overrides key.path=value", got=value)
        data["overrides"] = [*base, *value]
    elif not axis.key.startswith(PARAM_PREFIX):
        data[axis.key] = value


def _apply_params(data: dict, axis: Axis, value: object, index: int, source: str) -> None:
    _, technique, key = axis.key.split(".")
    where = f"{axis.where}[{index}]"
    entries = data.get("techniques")
    if not isinstance(entries, list):
        entries = []
    entries = _techniques_as_mappings(entries, f"{source}: techniques")
    named = [entry for entry in entries if isinstance(entry, dict)
             and entry.get("name") == technique]
    if not named:
        present = [str(entry.get("name")) for entry in entries if isinstance(entry, dict)]
        raise ConfigError(source, where, f"a point whose techniques name {technique!r}",
                          choices=present or None,
                          got=f"techniques {present}" if present else "no techniques")
    named[0]["params"][key] = value
    data["techniques"] = entries


def _file_digest(path: Path, digest: hashlib._Hash) -> None:
    with open(path, "rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)


def workload_digest(spec: RunSpec) -> str | None:
    """SHA-256 of the workload file, or of every file of a workload folder (names and
    contents); ``None`` for a zoo name."""
    path = Path(spec.path(spec.workload))
    if not path.exists():
        return None
    digest = hashlib.sha256()
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        digest.update(str(file.relative_to(path) if file != path else file.name).encode())
        digest.update(b"\0")
        _file_digest(file, digest)
    return digest.hexdigest()


class _Identities:
    """Resolved hwconfigs and workload digests, each computed once per distinct input."""

    def __init__(self) -> None:
        self.hwconfigs: dict[str, dict] = {}
        self.workloads: dict[str, str | None] = {}

    def hwconfig(self, spec: RunSpec) -> dict:
        from accelsim.api import load_config

        marker = canonical_json([spec.hwconfig, spec.overrides, str(spec.folder)])
        if marker not in self.hwconfigs:
            self.hwconfigs[marker] = load_config(spec).model_dump(mode="json")
        return self.hwconfigs[marker]

    def workload(self, spec: RunSpec) -> str | None:
        path = spec.path(spec.workload)
        if path not in self.workloads:
            self.workloads[path] = workload_digest(spec)
        return self.workloads[path]


def point_key(spec: RunSpec, hwconfig: dict, workload: str | None) -> str:
    """The key of a point (module docstring); techniques count with every parameter, defaults
    included, however the spec writes them (``ant:granularity=row`` or a mapping)."""
    resolved = spec.model_dump(mode="json")
    resolved["techniques"] = [technique.as_dict() for technique in spec.technique_specs()]
    identity = {"accelsim": __version__, "spec": resolved, "hwconfig_resolved": hwconfig,
                "workload_digest": workload}
    return hashlib.sha256(canonical_json(identity).encode("utf-8")).hexdigest()


def _remapped(error: ConfigError, sweep: Sweep, given: dict[str, tuple[Axis, int]],
              overrides: dict[str, tuple[Axis, int]]) -> ConfigError:
    """``error`` (about a point's spec or hwconfig) as the sweep file's mistake: at the axis
    value that gave the offending key, else at the base key."""
    path = error.key_path
    found = given.get(path.split(".")[0].split("[")[0]) or next(
        (hit for key, hit in overrides.items() if path == key or path.startswith(key + ".")),
        None)
    if found is None:
        return error
    axis, index = found
    return ConfigError(sweep.source, f"{axis.where}[{index}]", error.expected,
                       error.choices, error.got)


def expand(sweep: Sweep) -> list[Point]:
    """Every point of ``sweep`` in order (module docstring of :mod:`accelsim.sweep.spec`),
    validated and keyed."""
    identities = _Identities()
    grid = [list(enumerate(zip(axis.labels, axis.values))) for axis in sweep.grid]
    rows = [list(range(len(group[0].values))) for group in sweep.zipped]
    points = []
    for number, combination in enumerate(itertools.product(*grid, *rows)):
        chosen: list[tuple[Axis, int, object, object]] = [
            (axis, index, label, value)
            for axis, (index, (label, value)) in zip(sweep.grid, combination[:len(grid)])]
        for group, row in zip(sweep.zipped, combination[len(grid):]):
            chosen += [(axis, row, axis.labels[row], axis.values[row]) for axis in group]
        points.append(_point(sweep, number, chosen, identities))
    return points


def _point(sweep: Sweep, number: int, chosen: list, identities: _Identities) -> Point:
    data = json.loads(json.dumps(sweep.base))  # a deep copy of plain YAML data
    given: dict[str, tuple[Axis, int]] = {}
    overrides: dict[str, tuple[Axis, int]] = {}
    for axis, index, _, value in chosen:
        _apply(data, axis, value, index, sweep.source)
        if axis.key.startswith(SET_PREFIX):
            overrides[axis.key[len(SET_PREFIX):]] = (axis, index)
        elif not axis.key.startswith(PARAM_PREFIX):
            given[axis.key] = (axis, index)
    for axis, index, _, value in chosen:
        if axis.key.startswith(PARAM_PREFIX):
            _apply_params(data, axis, value, index, sweep.source)
            given.setdefault("techniques", (axis, index))
    try:
        spec = spec_from_mapping(data, sweep.source, sweep.folder)
        key = point_key(spec, identities.hwconfig(spec), identities.workload(spec))
    except ConfigError as error:
        raise _remapped(error, sweep, given, overrides) from None
    return Point(number, {axis.key: label for axis, _, label, _ in chosen}, spec, key)
