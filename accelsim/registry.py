"""Named registries: zoo networks, dataflows, PE-array kinds, techniques.

Every implementation joins a :class:`Registry` under a name; configs and the CLI choose it by
that name, and an unknown name is an error that lists the valid ones. Third parties add
entries through the Python entry-point group ``accelsim.<registry name>``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from typing import Generic, TypeVar

from accelsim.errors import AccelsimError

T = TypeVar("T")


class PluginError(AccelsimError):
    """An entry point of an ``accelsim.*`` group that does not import."""


@dataclass(frozen=True)
class _Deferred:
    """An entry known by name whose module registers it when first asked for."""

    module: str


class Registry(Generic[T]):
    """A mapping from names to implementations, filled by :meth:`register` (or
    :meth:`register_deferred`: the name is listed at once, its module imported by the first
    :meth:`get`, so that listing names or validating other entries imports nothing heavy)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._plugins_loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        def add(obj: T) -> T:
            if name in self._entries and not isinstance(self._entries[name], _Deferred):
                raise ValueError(f"{self.kind} {name!r} is registered twice")
            self._entries[name] = obj
            return obj
        return add

    def register_deferred(self, name: str, module: str) -> None:
        """List ``name`` now; import ``module`` (which registers it) when it is first got."""
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = _Deferred(module)

    @contextmanager
    def temporarily(self, name: str, obj: T) -> Iterator[T]:
        """Register ``obj`` under ``name`` for the duration of a ``with`` block (a technique or
        kind defined in a notebook or a test, tried without an entry point)."""
        self.register(name)(obj)
        try:
            yield obj
        finally:
            del self._entries[name]

    def _load_plugins(self) -> None:
        if self._plugins_loaded:
            return
        self._plugins_loaded = True
        for entry in metadata.entry_points(group=f"accelsim.{self.kind}"):
            if entry.name not in self._entries:
                try:
                    self._entries[entry.name] = entry.load()
                except (ImportError, AttributeError) as error:
                    raise PluginError(f"the {self.kind} plugin {entry.name!r} "
                                      f"({entry.value}) does not load: {error}") from None

    def get(self, name: str) -> T | None:
        if name not in self._entries:
            self._load_plugins()
        entry = self._entries.get(name)
        if isinstance(entry, _Deferred):
            importlib.import_module(entry.module)
            entry = self._entries[name]
            if isinstance(entry, _Deferred):
                raise PluginError(f"{entry.module} does not register the {self.kind} {name!r}")
        return entry

    def names(self) -> list[str]:
        self._load_plugins()
        return sorted(self._entries)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())
