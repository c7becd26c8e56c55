"""Building blocks of every config model: the strict base, unit-typed fields, datatypes, bounded
counts and energies, and the cross-field error that the validation translator reports with its
own key path.

Models are strict (:class:`Strict`): a string is never an integer (``rows: '32'``), a number
or a string never a boolean (``double_buffered: 'yes'``), a boolean never a number
(``rows: true``); a float field accepts an integer (YAML writes ``1300`` for ``1300.0``).
Every float must be finite. Quantities with units (:mod:`accelsim.units`) are parsed before
the strict check.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PlainSerializer,
                      StrictInt)
from pydantic_core import PydanticCustomError

from accelsim.units import (Bandwidth, Duration, parse_bandwidth, parse_duration,
                            parse_frequency, parse_size)

Bytes = Annotated[int, BeforeValidator(parse_size)]
Hertz = Annotated[float, BeforeValidator(parse_frequency)]
Rate = Annotated[Bandwidth, BeforeValidator(parse_bandwidth),
                 PlainSerializer(Bandwidth.text, return_type=str)]
Time = Annotated[Duration, BeforeValidator(parse_duration),
                 PlainSerializer(Duration.text, return_type=str)]

Datatype = Literal["fp32", "fp16", "bf16", "int8"]
Accumulator = Literal["fp32", "fp16", "int32"]
#: Every datatype an operand or an accumulator may have (the keys of the energy tables).
AnyDatatype = Literal["fp32", "fp16", "bf16", "int8", "int32"]

#: Bytes per element of each datatype.
DATATYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int32": 4}

#: Largest energy of one action, in pJ: 1 uJ, about 400x Horowitz's (ISSCC 2014) most
#: expensive action, a 64-bit DDR access at 2.6 nJ.
MAX_ENERGY_PJ = 1e6
#: The energy of one action in pJ: finite, from 0 to :data:`MAX_ENERGY_PJ`.
EnergyPj = Annotated[float, Field(ge=0, le=MAX_ENERGY_PJ)]


def _list_as_tuple(value: object) -> object:
    """YAML has no tuples: a list of a tuple field's length is taken as the tuple."""
    return tuple(value) if isinstance(value, list) else value


#: A router of a mesh, ``[row, column]`` (a list of two integers in YAML).
Router = Annotated[tuple[StrictInt, StrictInt], BeforeValidator(_list_as_tuple)]


def _exact_int(value: object) -> object:
    """A ``Literal`` of integers would take ``true`` as 1 and ``1.0`` as 1: refuse both with
    the literal's own error (the translator then lists the choices)."""
    if isinstance(value, (bool, float)):
        raise PydanticCustomError("literal_error", "Input should be one of the valid choices")
    return value


def int_choice(*values: int) -> object:
    """A field type allowing exactly these integers (``Literal`` with no bool or float)."""
    return Annotated[Literal[values], BeforeValidator(_exact_int)]


class CrossFieldError(ValueError):
    """A rule between several fields; carries the key path the loader reports."""

    def __init__(self, key_path: str, expected: str, got: object = None) -> None:
        self.key_path, self.expected, self.got = key_path, expected, got
        super().__init__(f"{key_path}: expected {expected}")


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, types are not coerced (module
    docstring), floats are finite, values are validated on set."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              strict=True, allow_inf_nan=False)
