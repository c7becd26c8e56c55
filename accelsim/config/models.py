"""Pydantic models of a hardware configuration (hwconfig).

Every field has a unit, a description and, where a physically motivated default exists, that
default with its source. Unknown keys are errors. Quantities are written as strings with
units (see :mod:`accelsim.units`) and stored as parsed values.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal, Union

from pydantic import Field, PrivateAttr, SerializeAsAny, create_model, model_validator

from accelsim.config.base import (DATATYPE_BYTES, Accumulator, Bytes, CrossFieldError,
                                  Datatype, Hertz, Rate, Strict, Time)
from accelsim.units import parse_duration

__all__ = ["DATATYPE_BYTES", "Accumulator", "CrossFieldError", "Datatype", "HwConfig",
           "PEArrayParams", "hwconfig_model"]

OPERAND_ROLES = ("ifmap", "filter", "ofmap")
Role = Literal["ifmap", "filter", "ofmap"]


class PEArrayParams(Strict):
    """What every PE-array kind's parameters have; each registered kind
    (:mod:`accelsim.hw.kinds`) extends this with its own keys and a ``Literal`` ``kind``."""

    kind: str = Field(description="PE-array kind (a registered name, see `accelsim kinds`)")
    datatype: Datatype = Field("fp16", description="multiplier operand datatype (the default "
                               "of ops that carry no precision of their own)")
    accumulator: Accumulator = Field("fp32", description="accumulator datatype")


class SramParams(Strict):
    capacity: Bytes = Field(description="bytes of storage")
    holds: list[Role] = Field(description="GEMM operand roles kept in this buffer "
                              "(ifmap = A (M x K), filter = B (K x N), ofmap = C (M x N))")
    banks: int = Field(1, gt=0, description="independently addressed banks, interleaved "
                       "every bank_width bytes")
    bank_width: Bytes = Field(8, gt=0, description="bytes one bank delivers per cycle")
    ports: Literal[1, 2] = Field(2, description="1: fills from DRAM and writebacks share the "
                                 "port the array uses; 2: a separate port for DRAM traffic")
    bandwidth: Rate = Field(description="read bandwidth towards the PE array")
    double_buffered: bool = Field(True, description="half the capacity is filled while the "
                                  "other half is computed on")
    access_energy_pj_per_64b: float | None = Field(
        None, ge=0, description="energy of one 64-bit access; default: interpolated from "
        "Horowitz ISSCC 2014 (8 KiB 10 pJ, 32 KiB 20 pJ, 1 MiB 100 pJ) by capacity")


class DramParams(Strict):
    ideal: bool = Field(False, description="infinite bandwidth and zero latency")
    preset: Literal["ddr4_3200", "lpddr4_4266", "hbm2", "hbm3"] | None = Field(
        None, description="device timing (accelsim.hw.dram_timing.PRESETS): transfers are "
        "timed by the row-buffer model; without a preset DRAM is a peak-bandwidth server")
    channels: int = Field(1, gt=0, description="independent channels, address-interleaved")
    bandwidth: Rate | None = Field(
        None, description="peak bandwidth of all channels together; required without a "
        "preset, optional with one (then it rescales the preset's data rate)")
    latency: Time = Field(description="memory-controller and PHY latency of a transfer "
                          "(the row-buffer model adds tRCD + tCL)")
    interleave: Bytes = Field(256, gt=0, description="bytes mapped to one channel before "
                              "the next (address interleaving granularity)")
    layout: Literal["blocked", "row_major"] = Field(
        "blocked", description="tensor layout in DRAM: blocked (each tile's operand block is "
        "contiguous) or row_major (a block is rows of a matrix, strided by its row length)")
    capacity: Bytes | None = Field(None, gt=0, description="bytes of DRAM; the iteration's "
                                   "peak footprint must fit (not checked when absent)")
    access_energy_pj_per_64b: float = Field(
        ge=0, description="energy of one 64-bit access (Horowitz ISSCC 2014: 1300-2600 pJ "
        "for DDR-class DRAM)")

    @model_validator(mode="after")
    def _bandwidth_known(self) -> DramParams:
        if self.preset is None and self.bandwidth is None and not self.ideal:
            raise CrossFieldError("dram.bandwidth", "a bandwidth (or a preset that implies one)")
        return self


class InterconnectParams(Strict):
    topology: Literal["bus", "crossbar", "mesh"] = Field(
        "bus", description="bus: one link shared by every on-chip endpoint; crossbar: a port "
        "per endpoint; mesh: a 2D mesh of links with XY routing from the memory node")
    bandwidth: Rate = Field(description="bytes per cycle of each link (bus, port, mesh hop)")
    latency: Time = Field(parse_duration(1), description="latency of one hop")
    mesh_rows: int = Field(2, gt=0, description="mesh only: rows of routers")
    mesh_cols: int = Field(2, gt=0, description="mesh only: columns of routers")
    memory_node: tuple[int, int] = Field((0, 0), description="mesh only: router of the "
                                         "memory controller")
    placement: dict[str, tuple[int, int]] = Field(
        default_factory=dict, description="mesh only: router of each endpoint (SRAM buffer "
        "names and vector_unit); unplaced endpoints fill the routers after the memory node "
        "in row-major order")


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
    pe_array: SerializeAsAny[PEArrayParams]
    sram: dict[str, SramParams] = Field(description="on-chip buffers by name")
    dram: DramParams
    interconnect: InterconnectParams
    vector_unit: VectorUnitParams
    energy: EnergyParams = Field(default_factory=EnergyParams)
    _source: str = PrivateAttr("<memory>")

    @property
    def source(self) -> str:
        """The file (and overrides) this config was loaded from."""
        return self._source

    @model_validator(mode="after")
    def _roles_held_once(self) -> HwConfig:
        for role in OPERAND_ROLES:
            holders = [name for name, buf in self.sram.items() if role in buf.holds]
            if len(holders) != 1:
                raise CrossFieldError("sram", f"the {role} role held by exactly one buffer",
                                      got=f"held by {holders or 'none'}")
        endpoints = [*self.sram, "vector_unit"]
        link = self.interconnect
        for name, (row, col) in link.placement.items():
            if name not in endpoints:
                raise CrossFieldError(f"interconnect.placement.{name}",
                                      f"an endpoint, one of {', '.join(endpoints)}")
            if not (0 <= row < link.mesh_rows and 0 <= col < link.mesh_cols):
                raise CrossFieldError(f"interconnect.placement.{name}",
                                      f"a router inside the {link.mesh_rows}x{link.mesh_cols} "
                                      "mesh", got=[row, col])
        for table, key in (("mult_pj", self.pe_array.datatype),
                           ("add_pj", self.pe_array.accumulator)):
            if key not in getattr(self.energy, table):
                raise CrossFieldError(f"energy.{table}", f"an entry for {key}")
        return self

    def __reduce__(self):
        """Pickle as the resolved values and the source: the class itself is built per set of
        registered kinds (:func:`hwconfig_model`), so it is rebuilt on load, not looked up."""
        return (_revalidate, (self.model_dump(mode="json"), self._source))

    def buffer_for(self, role: str) -> str:
        """Name of the SRAM buffer that holds a GEMM operand role."""
        return next(name for name, buf in self.sram.items() if role in buf.holds)

    @property
    def element_bytes(self) -> int:
        return DATATYPE_BYTES[self.pe_array.datatype]


def hwconfig_model() -> type[HwConfig]:
    """The :class:`HwConfig` model whose ``pe_array`` is a union of every registered PE-array
    kind's parameters, discriminated by ``kind`` (built-in kinds and entry-point plugins)."""
    from accelsim.hw.kinds import PE_ARRAY_KINDS

    return _hwconfig_model(tuple(PE_ARRAY_KINDS.names()))


@lru_cache(maxsize=8)
def _hwconfig_model(kinds: tuple[str, ...]) -> type[HwConfig]:
    from accelsim.hw.kinds import PE_ARRAY_KINDS

    params = tuple(PE_ARRAY_KINDS.get(name).Params for name in kinds)
    union = (Annotated[Union[params], Field(discriminator="kind", title="PE-array")] if len(params) > 1
             else params[0])
    return create_model("HwConfig", __base__=HwConfig, __module__=__name__,
                        pe_array=(SerializeAsAny[union], Field(description="the PE array")))


def _revalidate(data: dict, source: str) -> HwConfig:
    """A pickled hwconfig, validated again (see :meth:`HwConfig.__reduce__`)."""
    from accelsim.config.loader import validate_hwconfig

    return validate_hwconfig(data, source)
