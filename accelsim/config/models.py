"""Pydantic models of a hardware configuration (hwconfig).

Every field has a unit, a description and, where a physically motivated default exists, that
default with its source. Unknown keys are errors. Quantities are written as strings with
units (see :mod:`accelsim.units`) and stored as parsed values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr,
                      model_validator)

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
    """The PE array. ``systolic``: rows x cols MAC units running a dataflow. ``outer_product``
    (SCNN-like, :mod:`accelsim.hw.outer_product`): a rows x cols grid of PEs, each with an
    F x I multiplier array and accumulator banks behind a scatter crossbar."""

    kind: Literal["systolic", "outer_product"] = Field(description="PE array organisation")
    rows: int = Field(gt=0, description="PE rows (the dimension SCALE-Sim calls ArrayHeight; "
                      "outer_product: rows of the PE grid)")
    cols: int = Field(gt=0, description="PE columns (ArrayWidth; outer_product: columns of "
                      "the PE grid)")
    dataflow: Literal["os", "ws", "is"] | None = Field(
        None, description="systolic only (required there): output-, weight- or "
        "input-stationary mapping of the GEMM")
    datatype: Datatype = Field("fp16", description="multiplier operand datatype")
    accumulator: Accumulator = Field("fp32", description="accumulator datatype")
    multipliers_f: int | None = Field(
        None, gt=0, description="outer_product only (required there): F, weight (B-operand) "
        "non-zeros per multiplier-array row, a weight chunk")
    multipliers_i: int | None = Field(
        None, gt=0, description="outer_product only (required there): I, activation "
        "(A-operand) non-zeros per multiplier-array column, an activation chunk")
    accumulator_banks: int | None = Field(
        None, gt=0, description="outer_product only (required there): accumulator banks per "
        "PE behind the scatter crossbar; one product per bank per cycle")
    accumulator_entries: int = Field(
        32, gt=0, description="outer_product: partial sums per accumulator bank; bounds the "
        "output-channel group Kc of a pass")
    index_bits: int = Field(
        4, gt=0, description="outer_product: bits of coordinate index stored with each "
        "non-zero of a compressed operand (SCNN: 4-bit zero-run length)")
    halo_elements_per_cycle: float = Field(
        1.0, gt=0, description="outer_product: partial sums a PE sends to its neighbours per "
        "cycle in the halo exchange after a pass")
    operand_density: float = Field(
        1.0, gt=0, le=1, description="outer_product: non-zero fraction of GEMM operands "
        "assumed for ops without a 'density' attribute (0.1: 90% sparse training)")

    @model_validator(mode="after")
    def _kind_fields(self) -> PEArrayParams:
        outer = {"multipliers_f": self.multipliers_f, "multipliers_i": self.multipliers_i,
                 "accumulator_banks": self.accumulator_banks}
        if self.kind == "systolic":
            if self.dataflow is None:
                raise CrossFieldError("pe_array.dataflow", "a dataflow for kind systolic "
                                      "(valid choices: is, os, ws)")
            for key, value in outer.items():
                if value is not None:
                    raise CrossFieldError(f"pe_array.{key}", "no outer_product field for "
                                          "kind systolic", got=value)
        else:
            if self.dataflow is not None:
                raise CrossFieldError("pe_array.dataflow", "no dataflow for kind "
                                      "outer_product", got=self.dataflow)
            for key, value in outer.items():
                if value is None:
                    raise CrossFieldError(f"pe_array.{key}", "a positive integer for kind "
                                          "outer_product")
        return self


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
    latency: Time = Field(parse_duration(1), description="access latency")
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
    pe_array: PEArrayParams
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

    def buffer_for(self, role: str) -> str:
        """Name of the SRAM buffer that holds a GEMM operand role."""
        return next(name for name, buf in self.sram.items() if role in buf.holds)

    @property
    def element_bytes(self) -> int:
        return DATATYPE_BYTES[self.pe_array.datatype]
