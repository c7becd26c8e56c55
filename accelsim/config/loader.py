"""Loads a hwconfig: YAML -> ``extends:`` chain merged -> ``--set`` overrides -> validated model.

``extends: base.yaml`` (relative to the file) names a base whose keys the file overrides,
mapping by mapping. ``--set dram.bandwidth=256GB/s`` overrides one key after that; the value
is read as YAML, so ``--set dram.ideal=true`` gives a boolean. Every failure becomes one
:class:`ConfigError` naming the file, the key path, what was expected and the valid choices.
"""

from __future__ import annotations

import copy
import typing
from collections.abc import Iterable
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from accelsim.config.models import CrossFieldError, HwConfig
from accelsim.errors import ConfigError


def read_yaml_mapping(path: Path, error: type[ConfigError] = ConfigError) -> dict:
    """The top-level mapping of a YAML file, or one clear error."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise error(str(path), "", "an existing file") from None
    except OSError as exc:
        raise error(str(path), "", "a readable file", got=exc.strerror) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(str(path), where, "valid YAML",
                    got=getattr(exc, "problem", None) or str(exc)) from None
    if not isinstance(data, dict):
        raise error(str(path), "", "a mapping of keys to values at the top level",
                    got=type(data).__name__)
    return data


def _merge(base: dict, override: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def _resolve_extends(path: Path, seen: tuple[Path, ...] = ()) -> dict:
    path = path.resolve()
    if path in seen:
        raise ConfigError(str(path), "extends", "a chain of bases without a cycle",
                          got=" -> ".join(p.name for p in (*seen, path)))
    data = read_yaml_mapping(path)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise ConfigError(str(path), "extends", "the path of a base hwconfig file",
                          got=base_name)
    base = _resolve_extends(path.parent / base_name, (*seen, path))
    return _merge(base, data)


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
    try:
        node[keys[-1]] = yaml.safe_load(raw)
    except yaml.YAMLError:
        node[keys[-1]] = raw


def _model_at(model: type[BaseModel], loc: Iterable) -> type[BaseModel] | None:
    """The pydantic model class that a validation-error location points into."""
    current: object = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return current
            current = field.annotation
        else:
            args = [a for a in typing.get_args(current) if a is not type(None)]
            current = args[-1] if args else None
    if isinstance(current, type) and issubclass(current, BaseModel):
        return current
    return None


def _describe(error: dict, model: type[BaseModel]) -> tuple[str, str, list[str] | None, object]:
    loc = error["loc"]
    key_path = ".".join(str(p) for p in loc)
    kind = error["type"]
    ctx = error.get("ctx") or {}
    got = error.get("input")
    if isinstance(ctx.get("error"), CrossFieldError):
        cross = ctx["error"]
        return cross.key_path, cross.expected, None, cross.got
    if kind == "extra_forbidden":
        parent = _model_at(model, loc[:-1])
        choices = list(parent.model_fields) if parent else None
        return key_path, "a known key", choices, None
    if kind == "missing":
        parent = _model_at(model, loc[:-1])
        field = parent.model_fields.get(str(loc[-1])) if parent else None
        expected = "this required key"
        if field is not None and field.description:
            expected += f" ({field.description})"
        return key_path, expected, None, None
    if kind == "literal_error":
        choices = [c.strip().strip("'") for c in
                   ctx.get("expected", "").replace(" or ", ", ").split(",")]
        return key_path, "one of the valid choices", choices, got
    message = error["msg"]
    for prefix in ("Value error, ", "Assertion failed, "):
        message = message.removeprefix(prefix)
    if message.startswith("Input should be "):
        message = "a value that is " + message.removeprefix("Input should be ")
    return key_path, message[0].lower() + message[1:], None, got if not isinstance(got, dict) else None


def validate_hwconfig(data: dict, source: str) -> HwConfig:
    """Validate a merged hwconfig mapping; the first problem becomes a :class:`ConfigError`."""
    try:
        config = HwConfig.model_validate(data)
    except ValidationError as exc:
        key_path, expected, choices, got = _describe(exc.errors()[0], HwConfig)
        raise ConfigError(source, key_path, expected, choices, got) from None
    config._source = source
    return config


def load_hwconfig(path: str | Path, overrides: Iterable[str] = ()) -> HwConfig:
    """Load, merge, override and validate the hwconfig at ``path``."""
    path = Path(path)
    data = _resolve_extends(path)
    overrides = list(overrides)
    for assignment in overrides:
        apply_override(data, assignment, f"{path} (--set {assignment})")
    source = str(path) + (f" (with --set {', '.join(overrides)})" if overrides else "")
    return validate_hwconfig(data, source)
