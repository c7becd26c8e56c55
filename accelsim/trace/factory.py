"""Import a model factory named ``package.module:callable`` and build the model (torch-free).

``--model-arg key=value`` arguments are passed as keyword arguments, each value read as YAML
as ``--set`` values are (:func:`accelsim.yaml_io.parse_yaml_value`: ``classes=100`` is the
integer 100; alias bombs and deep nesting refused).
"""

from __future__ import annotations

import importlib

from accelsim.trace import TraceError
from accelsim.yaml_io import parse_yaml_value


def parse_model_args(items: list[str]) -> dict:
    args = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TraceError(f"--model-arg: expected KEY=VALUE, got {item!r}")
        args[key.strip()] = parse_yaml_value(value, f"--model-arg {key.strip()}")
    return args


def load_factory(ref: str):
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise TraceError(f"--model: expected package.module:factory, got {ref!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise TraceError(f"--model: cannot import {module_name!r}: {error}") from None
    factory = module
    for part in attr.split("."):
        factory = getattr(factory, part, None)
        if factory is None:
            raise TraceError(f"--model: {module_name!r} has no attribute {attr!r}")
    if not callable(factory):
        raise TraceError(f"--model: {ref!r} is not callable")
    return factory


def build_model(ref: str, kwargs: dict):
    """The module returned by the factory ``ref`` called with ``kwargs``."""
    torch = importlib.import_module("torch")
    factory = load_factory(ref)
    try:
        model = factory(**kwargs)
    except TypeError as error:
        raise TraceError(f"--model: {ref}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
                         f" failed: {error}") from None
    if not isinstance(model, torch.nn.Module):
        raise TraceError(f"--model: {ref} returned {type(model).__name__}, "
                         "expected a torch.nn.Module")
    return model
