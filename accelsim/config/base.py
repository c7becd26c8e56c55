"""Building blocks of every config model: the strict base, unit-typed fields, datatypes, and the
cross-field error that the validation translator reports with its own key path."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, PlainSerializer

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

#: Bytes per element of each datatype.
DATATYPE_BYTES = {"fp32": 4, "fp16": 2, "bf16": 2, "int8": 1, "int32": 4}


class CrossFieldError(ValueError):
    """A rule between several fields; carries the key path the loader reports."""

    def __init__(self, key_path: str, expected: str, got: object = None) -> None:
        self.key_path, self.expected, self.got = key_path, expected, got
        super().__init__(f"{key_path}: expected {expected}")


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are validated on set."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)
