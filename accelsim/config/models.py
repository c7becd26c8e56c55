"""Pydantic models of a hardware configuration (hwconfig).

Every field has a unit, a description and, where a physically motivated default exists, that
default with its source. Unknown keys are errors. Quantities are written as strings with
units (see :mod:`accelsim.units`) and stored as parsed values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from accelsim.units import (Bandwidth, Duration, parse_bandwidth, parse_duration,
                            parse_frequency, parse_size)

Bytes = Annotated[int, BeforeValidator(parse_size)]
Hertz = Annotated[float, BeforeValidator(parse_frequency)]
Rate = Annotated[Bandwidth, BeforeValidator(parse_bandwidth)]
Time = Annotated[Duration, BeforeValidator(parse_duration)]

Datatype = Literal["fp32", "fp16", "bf16", "int8"]
Accumulator = Literal["fp32", "fp16", "int32"]
OPERAND_ROLES = ("ifmap", "filter", "ofmap")
Role = Literal["ifmap", "filter", "ofmap"]

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


class PEArrayParams(Strict):
    kind: Literal["systolic"] = Field(description="PE array organisation")
    rows: int = Field(gt=0, description="PE rows (the dimension SCALE-Sim calls ArrayHeight)")
    cols: int = Field(gt=0, description="PE columns (ArrayWidth)")
    dataflow: Literal["os", "ws", "is"] = Field(
        description="output-, weight- or input-stationary mapping of the GEMM")
    datatype: Datatype = Field("fp16", description="multiplier operand datatype")
    accumulator: Accumulator = Field("fp32", description="accumulator datatype")


class SramParams(Strict):
    capacity: Bytes = Field(description="bytes of storage")
    holds: list[Role] = Field(description="GEMM operand roles kept in this buffer "
                              "(ifmap = A (M x K), filter = B (K x N), ofmap = C (M x N))")
    banks: int = Field(1, gt=0, description="independently addressed banks")
    bandwidth: Rate = Field(description="read bandwidth towards the PE array")
    latency: Time = Field(parse_duration(1), description="access latency")
    double_buffered: bool = Field(True, description="half the capacity is filled while the "
                                  "other half is computed on")
    access_energy_pj_per_64b: float | None = Field(
        None, ge=0, description="energy of one 64-bit access; default: interpolated from "
        "Horowitz ISSCC 2014 (8 KiB 10 pJ, 32 KiB 20 pJ, 1 MiB 100 pJ) by capacity")


class DramParams(Strict):
    ideal: bool = Field(False, description="infinite bandwidth and zero latency")
    channels: int = Field(1, gt=0, description="independent channels, address-interleaved")
    bandwidth: Rate = Field(description="peak bandwidth of all channels together")
    latency: Time = Field(description="latency from request to first data")
    interleave: Bytes = Field(256, gt=0, description="bytes mapped to one channel before "
                              "the next (address interleaving granularity)")
    access_energy_pj_per_64b: float = Field(
        ge=0, description="energy of one 64-bit access (Horowitz ISSCC 2014: 1300-2600 pJ "
        "for DDR-class DRAM)")


class InterconnectParams(Strict):
    bandwidth: Rate = Field(description="bytes per cycle of the DRAM <-> on-chip link")
    latency: Time = Field(parse_duration(1), description="link traversal latency")


class VectorUnitParams(Strict):
    lanes: int = Field(gt=0, description="elementwise operations per cycle")
    buffer: Bytes = Field(gt=0, description="local buffer; data streams through it in "
                          "double-buffered chunks of half this size")


class EnergyParams(Strict):
    """Per-action energies in pJ; defaults from Horowitz, ISSCC 2014, 45 nm."""

    source: str = Field("Horowitz, Computing's energy problem, ISSCC 2014 (45 nm)",
                        description="where the numbers come from")
    mult_pj: dict[str, float] = Field(
        default_factory=lambda: {"fp32": 3.7, "fp16": 1.1, "bf16": 1.1, "int8": 0.2},
        description="one multiply by operand datatype (bf16 taken as fp16: same width)")
    add_pj: dict[str, float] = Field(
        default_factory=lambda: {"fp32": 0.9, "fp16": 0.4, "int32": 0.1, "int8": 0.03},
        description="one add by accumulator datatype")
    vector_op_pj: float = Field(0.9, ge=0, description="one vector-unit operation (fp32 add)")


class HwConfig(Strict):
    """A whole accelerator: clock, PE array, SRAM buffers, DRAM, link, vector unit, energy."""

    name: str = Field(description="configuration name")
    description: str = Field("", description="free text")
    clock: Hertz = Field(description="clock frequency of the accelerator")
    pe_array: PEArrayParams
    sram: dict[str, SramParams] = Field(description="on-chip buffers by name")
    dram: DramParams
    interconnect: InterconnectParams
    vector_unit: VectorUnitParams
    energy: EnergyParams = Field(default_factory=EnergyParams)

    @model_validator(mode="after")
    def _roles_held_once(self) -> HwConfig:
        for role in OPERAND_ROLES:
            holders = [name for name, buf in self.sram.items() if role in buf.holds]
            if len(holders) != 1:
                raise CrossFieldError("sram", f"the {role} role held by exactly one buffer",
                                      got=f"held by {holders or 'none'}")
        for table, key in (("mult_pj", self.pe_array.datatype),
                           ("add_pj", self.pe_array.accumulator)):
            if key not in getattr(self.energy, table):
                raise CrossFieldError(f"energy.{table}", f"an entry for {key}")
        return self

    def buffer_for(self, role: str) -> str:
        """Name of the SRAM buffer that holds a GEMM operand role."""
        return next(name for name, buf in self.sram.items() if role in buf.holds)

    @property
    def element_bytes(self) -> int:
        return DATATYPE_BYTES[self.pe_array.datatype]
