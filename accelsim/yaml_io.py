"""The one reader of YAML input: hwconfigs, run specs, workload files and ``--set`` values.

Every YAML text accelsim reads goes through :func:`read_yaml_mapping` (a file) or
:func:`parse_yaml_value` (a ``--set`` value), which never end in a traceback: any problem is
one :class:`~accelsim.errors.ConfigError` (or the subclass the caller asks for) naming the file,
where in it, and what was expected. On top of PyYAML's safe loader:

* **Size.** A file is read as bytes, at most :data:`MAX_FILE_BYTES` (1 MiB) of them: the
  largest shipped YAML file is 2.6 KB and a 1,000-layer workload file about 100 KiB, while
  PyYAML's pure-Python parser (the only one whose composer can be bounded as below) takes
  about 6 s per MiB.
* **Encoding.** The bytes must be UTF-8 (``expected UTF-8 text, got a byte 0xe9 at offset
  319``) and printable (YAML allows no control characters other than tab and line breaks).
* **Duplicate keys** in one mapping are refused with the key path and both lines (PyYAML
  lets the last one win silently). ``<<`` merge keys are not duplicates: the mapping's own
  keys override the merged ones, as YAML's merge-key type says.
* **Nesting** deeper than :data:`MAX_DEPTH` (64) levels is refused (the composer is recursive:
  a few thousand ``[`` would exhaust Python's stack). The deepest shipped file has 4 levels.
* **Aliases.** Every ``*alias`` repeats the node it names; the nodes repeated this way (the
  named node and everything under it, aliases inside it expanded) are counted over the
  document and refused above :data:`MAX_ALIAS_NODES` (100,000), so an alias bomb ("billion
  laughs") is refused while it is being read, in milliseconds, instead of being expanded by
  whatever walks the data later. An alias inside the node it names (a cycle) is refused.
* **YAML 1.2 scalars.** Plain scalars resolve as YAML 1.2's core schema, not PyYAML's YAML
  1.1: ``1e9``, ``.5``, ``1.5e-3`` are floats (1.1 reads ``1e9`` as a string); ``.inf``,
  ``-.inf``, ``.nan`` are floats (which every config then refuses as not finite); integers are
  decimal (``010`` is ten, not eight), ``0o17`` or ``0x1F``, with at most
  :data:`MAX_INT_DIGITS` digits; booleans are ``true`` / ``false`` only (``yes``, ``no``,
  ``on``, ``off`` are strings); ``null``, ``~`` or nothing is null; dates and ``1:30`` are
  strings. Explicit tags other than the core ones (``!!str``, ``!!int``, ``!!float``,
  ``!!bool``, ``!!null``, ``!!seq``, ``!!map``) are refused.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml
from yaml.constructor import ConstructorError
from yaml.events import AliasEvent, CollectionStartEvent, MappingEndEvent
from yaml.nodes import MappingNode, Node, ScalarNode

from accelsim.errors import ConfigError
from accelsim.validation import printable

#: Largest YAML file read, in bytes (module docstring).
MAX_FILE_BYTES = 2**20
#: Deepest nesting of sequences and mappings.
MAX_DEPTH = 64
#: Most nodes a document may repeat through aliases.
MAX_ALIAS_NODES = 100_000
#: Most digits of an integer (any bound in a config has at most 20).
MAX_INT_DIGITS = 100

_CORE = "tag:yaml.org,2002:"
_MERGE = _CORE + "merge"


def read_yaml_mapping(path: str | Path, error: type[ConfigError] = ConfigError) -> dict:
    """The top-level mapping of the YAML file at ``path``, or one ``error`` naming it."""
    path = Path(path)
    data = parse_yaml(read_text(path, error), str(path), error)
    if not isinstance(data, dict):
        raise error(str(path), "", "a mapping of keys to values at the top level",
                    got=type(data).__name__)
    return data


def read_text(path: Path, error: type[ConfigError] = ConfigError) -> str:
    """The UTF-8 text of the file at ``path``, at most :data:`MAX_FILE_BYTES` long."""
    try:
        with path.open("rb") as stream:
            data = stream.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise error(str(path), "", "an existing file") from None
    except OSError as exc:
        raise error(str(path), "", "a readable file", got=exc.strerror) from None
    if len(data) > MAX_FILE_BYTES:
        raise error(str(path), "", f"a YAML file of at most {MAX_FILE_BYTES:,} bytes "
                    f"(1 MiB), got a larger one")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise error(str(path), "", f"UTF-8 text, got a byte 0x{data[exc.start]:02x} at "
                    f"offset {exc.start}") from None


def parse_yaml(text: str, source: str, error: type[ConfigError] = ConfigError) -> object:
    """The data of one YAML document, read with the limits of the module docstring."""
    try:
        return _load(text, source, error)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, text, source, error) from None


def parse_yaml_value(text: str, source: str, error: type[ConfigError] = ConfigError
                     ) -> object:
    """A ``--set`` value read as YAML (``true`` a boolean, ``1e9`` a number, ``[a, b]`` a
    list); text that is not YAML at all (``a: b: c``) is taken as that string. Duplicate keys,
    deep nesting and alias bombs are refused as in a file."""
    try:
        return _load(text, source, error)
    except yaml.YAMLError:
        return text


def _load(text: str, source: str, error: type[ConfigError]) -> object:
    loader = _Loader(text, source, error)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _yaml_error(exc: yaml.YAMLError, text: str, source: str,
                error: type[ConfigError]) -> ConfigError:
    """One line for a YAML syntax, reader or constructor error."""
    if isinstance(exc, yaml.reader.ReaderError):
        offset = len(text[:exc.position].encode("utf-8"))
        return error(source, "", f"printable YAML text, got the non-printable character "
                     f"U+{exc.character:04X} at offset {offset}")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = _at(mark) if mark else ""
    if isinstance(exc, _ScalarError):
        return error(source, where, exc.expected, got=exc.got)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return error(source, where, "valid YAML", got=problem)


def _at(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}"


# -- the loader --------------------------------------------------------------------------------
class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars, refusing duplicate keys, deep
    nesting, alias bombs and cycles (module docstring)."""

    yaml_implicit_resolvers: dict = {}
    yaml_constructors: dict = {}

    def __init__(self, text: str, source: str, error: type[ConfigError]) -> None:
        super().__init__(text)
        self._source, self._error = source, error
        self._path: list[object] = []  # keys and indices down to the node being composed
        self._expanded: dict[int, int] = {}  # id of a finished collection -> nodes under it
        self._alias_nodes = 0

    # where a problem is
    def _key_path(self) -> str:
        text = ""
        for key in self._path[1:]:  # below the document's root node
            key = key if isinstance(key, int) else printable(key)
            text += f"[{key}]" if isinstance(key, int) else (f".{key}" if text else key)
        return text

    def _refuse(self, mark, expected: str, with_path: bool = True) -> None:
        """Raise the error: at the key path and line of ``mark`` (the line alone when the
        path is not wanted, or empty)."""
        path = self._key_path() if with_path else ""
        raise self._error(self._source, f"{path} (at {_at(mark)})" if path else _at(mark),
                          expected)

    # scanning and composing, with the limits
    def fetch_flow_collection_start(self, token_class) -> None:
        """A ``[`` or ``{``: refused beyond :data:`MAX_DEPTH` open flow collections, before the
        scanner looks ahead for a key over all of them (quadratic in their number)."""
        if self.flow_level >= MAX_DEPTH:
            self._refuse(self.get_mark(), f"YAML nested at most {MAX_DEPTH} levels deep",
                         with_path=False)
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent: Node | None, index: object) -> Node:
        event = self.peek_event()
        self._path.append(index.value if isinstance(index, ScalarNode) else
                          index if isinstance(index, int) or parent is None else "(key)")
        try:
            if isinstance(event, AliasEvent):
                node = self.anchors.get(event.anchor)
                if node is not None:
                    self._count_alias(event, node)
                return super().compose_node(parent, index)
            if isinstance(event, CollectionStartEvent) and len(self._path) > MAX_DEPTH:
                self._refuse(event.start_mark, f"YAML nested at most {MAX_DEPTH} levels deep",
                             with_path=False)
            node = super().compose_node(parent, index)
        finally:
            self._path.pop()
        if not isinstance(node, ScalarNode):
            children = (node.value if not isinstance(node, MappingNode)
                        else [item for pair in node.value for item in pair])
            self._expanded[id(node)] = 1 + sum(self._size(child) for child in children)
        return node

    def _size(self, node: Node) -> int:
        return 1 if isinstance(node, ScalarNode) else self._expanded[id(node)]

    def _count_alias(self, event, node: Node) -> None:
        if not isinstance(node, ScalarNode) and id(node) not in self._expanded:
            self._refuse(event.start_mark, f"an alias outside the node it names, got "
                         f"*{event.anchor} inside &{event.anchor} (an endless structure)")
        self._alias_nodes += self._size(node)
        if self._alias_nodes > MAX_ALIAS_NODES:
            self._refuse(event.start_mark, f"at most {MAX_ALIAS_NODES:,} nodes repeated "
                         f"through YAML aliases, got *{event.anchor} taking the count to "
                         f"{self._alias_nodes:,} (an alias bomb?)")

    def compose_mapping_node(self, anchor: str | None) -> MappingNode:
        start = self.get_event()
        tag = start.tag
        if tag is None or tag == "!":
            tag = self.resolve(MappingNode, None, start.implicit)
        node = MappingNode(tag, [], start.start_mark, None, flow_style=start.flow_style)
        if anchor is not None:
            self.anchors[anchor] = node
        first: dict[object, object] = {}  # each key's first mark
        while not self.check_event(MappingEndEvent):
            key = self.compose_node(node, None)
            name = self._key_identity(key)
            if name is not None:
                if name in first:
                    self._path.append(key.value)
                    raise self._error(self._source, self._key_path(), f"each key once in a "
                                      f"mapping, got it again at {_at(key.start_mark)} (first "
                                      f"at {_at(first[name])})")
                first[name] = key.start_mark
            node.value.append((key, self.compose_node(node, key)))
        node.end_mark = self.get_event().end_mark
        return node

    def _key_identity(self, key: Node) -> object:
        """What a scalar key means (``1`` and ``0x1`` are one key; ``1`` and ``'1'`` two);
        None for a merge key or a collection key (the constructor refuses those)."""
        if not isinstance(key, ScalarNode) or key.tag == _MERGE:
            return None
        value = self.construct_object(key, deep=True)
        return (type(value).__name__, value)


class _ScalarError(ConstructorError):
    """A scalar that its tag does not allow: what was expected, and the text found."""

    def __init__(self, expected: str, got: object, mark) -> None:
        super().__init__(None, None, expected if got is None else f"{expected}, got {got!r}",
                         mark)
        self.expected, self.got = expected, got


def _construct_bool(loader: _Loader, node: ScalarNode) -> bool:
    text = loader.construct_scalar(node)
    if text not in _BOOLS:
        raise _ScalarError("true or false", text[:40], node.start_mark)
    return _BOOLS[text]


def _construct_int(loader: _Loader, node: ScalarNode) -> int:
    text = loader.construct_scalar(node)
    match = _INT.fullmatch(text)
    if not match:
        raise _ScalarError("an integer", text[:40], node.start_mark)
    digits = match["dec"] or match["oct"] or match["hex"]
    if len(digits) > MAX_INT_DIGITS:
        raise _ScalarError(f"an integer of at most {MAX_INT_DIGITS} digits, got one of "
                           f"{len(digits)}", None, node.start_mark)
    base = 10 if match["dec"] else 8 if match["oct"] else 16
    return (-1 if match["sign"] == "-" else 1) * int(digits, base)


def _construct_float(loader: _Loader, node: ScalarNode) -> float:
    text = loader.construct_scalar(node)
    if _FLOAT.fullmatch(text) is None:
        raise _ScalarError("a number", text[:40], node.start_mark)
    return float(text.lower().replace(".inf", "inf").replace(".nan", "nan"))


def _construct_unknown(loader: _Loader, node: Node) -> None:
    raise _ScalarError("a core YAML tag (!!str, !!int, !!float, !!bool, !!null, !!seq, !!map)",
                       node.tag, node.start_mark)


_BOOLS = {"true": True, "True": True, "TRUE": True,
          "false": False, "False": False, "FALSE": False}
_INT = re.compile(r"(?P<sign>[-+]?)(?:(?P<dec>[0-9]+)|0o(?P<oct>[0-7]+)|0x(?P<hex>[0-9a-fA-F]+))")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution), ints before floats
for _tag, _pattern, _first in (
        ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
        ("bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
        ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),
        ("float", _FLOAT.pattern, list("-+0123456789.")),
        ("merge", r"<<", ["<"])):
    _Loader.add_implicit_resolver(_CORE + _tag, re.compile(f"^(?:{_pattern})$"), _first)
for _tag, _constructor in (
        ("null", yaml.constructor.SafeConstructor.construct_yaml_null),
        ("bool", _construct_bool), ("int", _construct_int), ("float", _construct_float),
        ("str", yaml.constructor.SafeConstructor.construct_yaml_str),
        ("seq", yaml.constructor.SafeConstructor.construct_yaml_seq),
        ("map", yaml.constructor.SafeConstructor.construct_yaml_map)):
    _Loader.add_constructor(_CORE + _tag, _constructor)
_Loader.add_constructor(None, _construct_unknown)

