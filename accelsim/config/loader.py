"""Loads a hwconfig: YAML -> ``extends:`` chain merged -> ``--set`` overrides -> validated model.

``extends: base.yaml`` (relative to the file) names a base whose keys the file overrides,
mapping by mapping (at most :data:`MAX_EXTENDS` files in a chain). ``--set
dram.bandwidth=256GB/s`` overrides one key after that; the value is read as YAML
(:func:`accelsim.yaml_io.parse_yaml_value`), so ``--set dram.ideal=true`` gives a boolean and
``--set clock=1e9`` a number; a value that is not YAML at all is taken as its text. Every
failure becomes one :class:`ConfigError` naming the file, the key path, what was expected and
the valid choices.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from pathlib import Path

from accelsim import yaml_io
from accelsim.config.models import HwConfig, hwconfig_model
from accelsim.errors import ConfigError
from accelsim.validation import Wording, validate


def read_yaml_mapping(path: Path, error: type[ConfigError] = ConfigError) -> dict:
    """The top-level mapping of a YAML file, or one clear error (read by
    :func:`accelsim.yaml_io.read_yaml_mapping`: size, encoding, duplicate keys, nesting and
    aliases bounded)."""
    return yaml_io.read_yaml_mapping(path, error)


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


#: Longest ``extends:`` chain (a file, its base, its base's base, ...).
MAX_EXTENDS = 16


def _resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(str(path), "extends", "a chain of bases without a cycle",
                          got=" -> ".join(p.name for p in (*seen, path)))
    if len(seen) >= MAX_EXTENDS:
        raise ConfigError(str(seen[-1]), "extends", f"a chain of at most {MAX_EXTENDS} "
                          "files (a file, its base, its base's base, ...)")
    return _merge_base(read_yaml_mapping(path), path.parent, str(path), (*seen, path))


def _merge_base(data: dict, folder: Path, source: str, seen: tuple[Path, ...] = ()) -> dict:
    """``data`` over its ``extends:`` base (a path relative to ``folder``), if it names one."""
    data = dict(data)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise ConfigError(source, "extends", "the path of a base hwconfig file", got=base_name)
    return _merge(_resolve_extends(folder / base_name, seen), data)


def apply_override(data: dict, assignment: str, source: str) -> None:
    """Apply one ``key.path=value`` override in place."""
    key_path, sep, raw = assignment.partition("=")
    if not sep or not key_path.strip():
        raise ConfigError(source, assignment, "an override of the form key.path=value")
    keys = key_path.strip().split(".")
    node = data
    for depth, key in enumerate(keys[:-1]):
        child = node.get(key)
        if child is None:
            child = node[key] = {}
        if not isinstance(child, dict):
            raise ConfigError(source, ".".join(keys[:depth + 1]),
                              "a mapping to set a key inside", got=child)
        node = child
    node[keys[-1]] = yaml_io.parse_yaml_value(raw, source)


#: hwconfig key paths write list indices dotted (``sram.ifmap.holds.0``, as ``--set`` writes
#: keys) and bounds as pydantic does (``a value that is greater than 0``).
_HWCONFIG_WORDING = Wording(index=".{}", bounded="a value that is")


def validate_hwconfig(data: dict, source: str) -> HwConfig:
    """Validate a merged hwconfig mapping; the first problem becomes a :class:`ConfigError`."""
    config = validate(hwconfig_model(), data, source, wording=_HWCONFIG_WORDING)
    config._source = source
    return config


def load_hwconfig(path: str | Path, overrides: Iterable[str] = ()) -> HwConfig:
    """Load, merge, override and validate the hwconfig at ``path``."""
    path = Path(path)
    return _overridden(_resolve_extends(path), str(path), overrides)


def hwconfig_from_mapping(data: dict, source: str, folder: Path = Path("."),
                          overrides: Iterable[str] = ()) -> HwConfig:
    """Merge (``extends:`` relative to ``folder``), override and validate an inline hwconfig
    mapping (a run spec's ``hwconfig``); ``source`` names it in errors."""
    if not isinstance(data, dict):
        raise ConfigError(source, "", "a mapping of hwconfig keys", got=type(data).__name__)
    return _overridden(_merge_base(copy.deepcopy(data), folder, source), source, overrides)


def _overridden(data: dict, name: str, overrides: Iterable[str]) -> HwConfig:
    overrides = list(overrides)
    for assignment in overrides:
        apply_override(data, assignment, f"{name} (--set {assignment})")
    source = name + (f" (with --set {', '.join(overrides)})" if overrides else "")
    return validate_hwconfig(data, source)
