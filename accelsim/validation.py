"""The one translator from a pydantic :class:`~pydantic.ValidationError` to a one-line
:class:`~accelsim.errors.ConfigError` (or a subclass such as ``WorkloadError``).

:func:`validate` validates a mapping against a model; the first problem becomes one error naming
the source, the dotted key path (list indices as ``[i]``: ``layers[3].kernel``), what was
expected, the valid choices where the value is one of a closed set, and the value found.

The key path and the choices come from walking the model's annotations along the error's
location: nested models, lists and tuples, ``dict[str, Model]``, ``Optional``, ``Annotated`` and
discriminated unions. For a discriminated union pydantic puts the tag into the location
(``('pe_array', 'systolic', 'rows')``); the walk drops it (``pe_array.rows``) and continues in
the member model whose ``Literal`` discriminator field holds that tag. A bad key of a mapping
(pydantic's ``('energy', 'mult_pj', 'fp64', '[key]')``) is reported at the key
(``energy.mult_pj.fp64``) against the mapping's key type (its choices, for a ``Literal``).

Every float a model accepted must be finite: a model that allows NaN and infinity (a technique's
``Params`` with pydantic's default) still gets one error naming the key
(``ant.comparator_energy_pj: expected a finite number, got nan``).
"""

from __future__ import annotations

import math
import types
from collections.abc import Iterator, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Annotated, Literal, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

from accelsim.config.models import CrossFieldError
from accelsim.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Wording:
    """The two spellings on which hwconfig and workload messages have always differed (their
    tests pin both): how a list index is written and how a bounded value is named."""

    index: str = "[{}]"
    """Format of a list index in a key path: ``[{}]`` gives ``layers[3]``, ``.{}`` ``holds.3``."""
    bounded: str = "a number"
    """Words before a bound: ``a number`` greater than 0, ``a value that is`` greater than 0."""


#: What a value failing each bound is expected to be, by pydantic error type.
_BOUNDS = {"greater_than": ("greater than", "gt"),
           "greater_than_equal": ("greater than or equal to", "ge"),
           "less_than": ("less than", "lt"),
           "less_than_equal": ("less than or equal to", "le")}

#: What a value of the wrong type is expected to be, by pydantic error type.
_TYPE_EXPECTATIONS = {
    "model_attributes_type": "a mapping of keys to values",
    "model_type": "a mapping of keys to values",
    "dict_type": "a mapping of keys to values",
    "int_type": "a valid integer",
    "int_parsing": "a valid integer",
    "int_from_float": "a whole number",
    "float_type": "a valid number",
    "float_parsing": "a valid number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a valid string",
    "list_type": "a list",
    "tuple_type": "a list",
}


def validate(model: type[M], data: object, source: str, error: type[ConfigError] = ConfigError,
             *, key_prefix: str = "", key_types: bool = False,
             wording: Wording = Wording()) -> M:
    """``model.model_validate(data)``; the first problem becomes one ``error(source, key_path,
    expected, choices, got)``.

    ``key_prefix`` is put before every key path (the model's place in a larger file, e.g.
    ``techniques[0].ant``); ``key_types`` lists each valid key with its type and default when a
    key is unknown.
    """
    try:
        result = model.model_validate(data)
    except ValidationError as exc:
        raise translate(exc, model, source, error, key_prefix=key_prefix, key_types=key_types,
                        wording=wording) from None
    found = next(_non_finite(result, []), None)
    if found is not None:
        keys, value = found
        raise error(source, _key_path(key_prefix, keys, wording), "a finite number", got=value)
    return result


def _non_finite(value: object, keys: list) -> Iterator[tuple[list, float]]:
    """(key path, value) of every NaN or infinite float in a validated model, in field
    order."""
    if isinstance(value, float):
        if not math.isfinite(value):
            yield keys, value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from _non_finite(getattr(value, name), [*keys, name])
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _non_finite(item, [*keys, key])
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from _non_finite(item, [*keys, index])


def translate(exc: ValidationError, model: type[BaseModel], source: str,
              error: type[ConfigError] = ConfigError, *, key_prefix: str = "",
              key_types: bool = False, wording: Wording = Wording()) -> ConfigError:
    """The ``error`` describing the first problem of ``exc``, raised validating ``model``."""
    problem = _first_problem(exc)
    keys, slot, owner = _walk(model, problem["loc"])
    path = _key_path(key_prefix, keys, wording)
    kind, ctx, got = problem["type"], problem.get("ctx") or {}, problem.get("input")
    if isinstance(ctx.get("error"), CrossFieldError):
        cross = ctx["error"]
        return error(source, printable(_joined(key_prefix, cross.key_path)),
                     printable(cross.expected), got=cross.got)
    if kind in ("union_tag_invalid", "union_tag_not_found") and slot.discriminator:
        tag_path = _joined(path, slot.discriminator)
        tags = [str(tag) for tag in slot.members_by_tag()]
        if kind == "union_tag_invalid":
            return error(source, tag_path, f"a known {slot.tag_noun}", tags, ctx.get("tag"))
        return error(source, tag_path, f"this required key (the {slot.tag_noun})", tags)
    if kind == "extra_forbidden":
        return error(source, path, "a known key", _known_keys(owner, key_types))
    if kind == "missing":
        field = owner.model_fields.get(str(keys[-1])) if owner else None
        described = f" ({field.description})" if field is not None and field.description else ""
        return error(source, path, f"this required key{described}")
    if kind == "literal_error":
        choices = [str(value) for value in _literal_values(slot.annotation)]
        return error(source, path, "one of the valid choices", choices, got)
    return error(source, path, printable(_expectation(problem, wording)),
                 got=None if isinstance(got, dict) else got)


def _first_problem(exc: ValidationError) -> dict:
    """The first error, or an unknown key beside it (a misspelt key, not the one it replaces)."""
    problems = exc.errors()
    parent = tuple(problems[0]["loc"])[:-1]
    return next((problem for problem in problems if problem["type"] == "extra_forbidden"
                 and tuple(problem["loc"])[:-1] == parent), problems[0])


def _expectation(problem: dict, wording: Wording) -> str:
    """What the value should have been, for every kind without a case of its own."""
    kind, ctx = problem["type"], problem.get("ctx") or {}
    if kind in _BOUNDS:
        relation, limit = _BOUNDS[kind]
        bound = ctx[limit]
        if isinstance(bound, float) and bound.is_integer() and abs(bound) < 1e15:
            bound = int(bound)  # a float field's bound 0.0 reads as 0, as an int field's
        got = problem.get("input")
        if isinstance(got, float) and not math.isfinite(got):  # NaN fails every bound
            return f"a finite number {relation} {bound}"
        return f"{wording.bounded} {relation} {bound}"
    if kind == "too_short":
        return f"at least {ctx['min_length']} items"
    if kind == "too_long":
        return f"at most {ctx['max_length']} items"
    if kind in _TYPE_EXPECTATIONS:
        return _TYPE_EXPECTATIONS[kind]
    message = problem["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if message.startswith("Input should be "):
        message = message.removeprefix("Input should be ")
        if not message.startswith(("a ", "an ")):
            message = f"a value that is {message}"
    return message[:1].lower() + message[1:]


# -- walking the annotations along an error location -------------------------------------------
def _is_model(annotation: object) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


def _is_union(annotation: object) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _not_none(union: object) -> list:
    """The members of a union other than ``None``."""
    return [member for member in get_args(union) if member is not type(None)]


def _literal_values(annotation: object) -> list:
    """The values a ``Literal`` (or a union of them, possibly ``Annotated``) allows."""
    origin = get_origin(annotation)
    if origin is Literal:
        return list(get_args(annotation))
    if origin is Annotated:
        return _literal_values(get_args(annotation)[0])
    if _is_union(annotation):
        return [value for member in get_args(annotation) for value in _literal_values(member)]
    return []


@dataclass(frozen=True)
class _Slot:
    """An annotation stripped of ``Annotated`` and ``Optional``, with the discriminator (and the
    title) of the tagged union it is, if it is one."""

    annotation: object
    discriminator: str | None = None
    title: str | None = None

    @classmethod
    def of(cls, annotation: object, field: FieldInfo | None = None) -> _Slot:
        """The slot of a bare annotation, or of a model field (which carries its metadata)."""
        metadata = [field] if field is not None else []
        while True:
            if get_origin(annotation) is Annotated:
                annotation, *extra = get_args(annotation)
                metadata += extra
            elif _is_union(annotation) and len(_not_none(annotation)) == 1:
                annotation = _not_none(annotation)[0]
            else:
                break
        for item in metadata:
            discriminator = getattr(item, "discriminator", None)  # a Field's, or a Discriminator()
            discriminator = getattr(discriminator, "discriminator", discriminator)
            if isinstance(discriminator, str):
                return cls(annotation, discriminator, getattr(item, "title", None))
        return cls(annotation)

    @property
    def tag_noun(self) -> str:
        """What the discriminator names: ``kind``, or ``layer kind`` for a union titled layer."""
        return f"{self.title} {self.discriminator}" if self.title else str(self.discriminator)

    def members_by_tag(self) -> dict[object, type[BaseModel]]:
        """Each member model of a tagged union under each tag its discriminator allows."""
        members: dict[object, type[BaseModel]] = {}
        for member in get_args(self.annotation):
            model = _Slot.of(member).annotation
            field = model.model_fields.get(self.discriminator) if _is_model(model) else None
            for tag in _literal_values(field.annotation) if field is not None else ():
                members[tag] = model
        return members

    def member_named(self, label: object) -> _Slot:
        """The member of a plain union that pydantic labels ``label`` (a model's class name)."""
        for member in get_args(self.annotation):
            slot = _Slot.of(member)
            if getattr(slot.annotation, "__name__", None) == label:
                return slot
        return _UNKNOWN

    def child(self, key: object) -> _Slot:
        """The slot of a model's field, a sequence's item or a mapping's value."""
        annotation = self.annotation
        if _is_model(annotation):
            field = annotation.model_fields.get(str(key))
            return _Slot.of(field.annotation, field) if field is not None else _UNKNOWN
        origin, args = get_origin(annotation), get_args(annotation)
        if not isinstance(origin, type) or not args:
            return _UNKNOWN
        if issubclass(origin, Mapping):
            return _Slot.of(args[-1])
        if origin is tuple and args[-1] is not Ellipsis:
            return _Slot.of(args[key]) if isinstance(key, int) and key < len(args) else _UNKNOWN
        if issubclass(origin, (Sequence, Set)):
            return _Slot.of(args[0])
        return _UNKNOWN


_UNKNOWN = _Slot(None)


def _walk(model: type[BaseModel], loc: Sequence) -> tuple[list, _Slot, type[BaseModel] | None]:
    """(the keys of ``loc`` without union tags, the slot it points at, the model owning its
    last key) for an error location inside ``model``."""
    keys: list = []
    slot, owner, mapping = _Slot(model), None, None
    for part in loc:
        if part == "[key]" and mapping is not None:  # the key itself, not its value, is bad
            slot = _Slot.of(get_args(mapping.annotation)[0])
        elif slot.discriminator and part in (members := slot.members_by_tag()):
            slot = _Slot(members[part])
        elif _is_union(slot.annotation):  # pydantic names the member of a plain union it tried
            slot = slot.member_named(part)
        else:
            keys.append(part)
            owner = slot.annotation if _is_model(slot.annotation) else None
            origin = get_origin(slot.annotation)
            mapping = slot if isinstance(origin, type) and issubclass(origin, Mapping) else None
            slot = slot.child(part)
            continue
        mapping = None
    return keys, slot, owner


def _joined(head: str, tail: str) -> str:
    return f"{head}.{tail}" if head and tail else head or tail


def printable(text: object) -> str:
    """``text`` with every character that is not printable escaped (``a\\nb`` for a line
    break), so that a key or a name from the input keeps an error message on one line."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _key_path(prefix: str, keys: list, wording: Wording) -> str:
    """``['layers', 3, 'kernel']`` -> ``layers[3].kernel`` (after ``prefix`` if given)."""
    path = prefix
    for key in keys:
        path = (path + wording.index.format(key) if isinstance(key, int)
                else _joined(path, printable(key)))
    return path


# -- listing the valid keys --------------------------------------------------------------------
def _known_keys(owner: type[BaseModel] | None, key_types: bool) -> list[str] | None:
    """The keys ``owner`` accepts; with ``key_types`` each as ``key (type, default value)``."""
    if owner is None:
        return None
    if not key_types:
        return list(owner.model_fields)
    return [f"{name} ({describe_type(field.annotation)}, {_default_text(field)})"
            for name, field in owner.model_fields.items()]


def _default_text(field: FieldInfo) -> str:
    if field.is_required():
        return "required"
    return f"default {field.get_default(call_default_factory=True)!r}"


def describe_type(annotation: object) -> str:
    """A type as a user reads it: ``int``, ``'element' | 'chunk'``, ``float | None``."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin is Annotated:
        return describe_type(args[0])
    if origin is Literal:
        return " | ".join(repr(value) for value in args)
    if _is_union(annotation):
        return " | ".join(describe_type(member) for member in args)
    if annotation is type(None):
        return "None"
    if annotation is Ellipsis:
        return "..."
    if origin is not None:
        return f"{origin.__name__}[{', '.join(describe_type(arg) for arg in args)}]"
    return getattr(annotation, "__name__", str(annotation))
