"""Pydantic models of a hardware configuration (hwconfig).

Every field has a unit, a description and, where a physically motivated default exists, that
default with its source. Unknown keys are errors, types are not coerced and every number is
finite (:class:`accelsim.config.base.Strict`). Quantities are written as strings with units
(see :mod:`accelsim.units`, which bounds them) and stored as parsed values. Counts have upper
bounds, each in its field's description with the reason, so that an absurd value is one clear
error instead of hours, gigabytes or an overflow: the bound is in the error message.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal, Union

from pydantic import Field, PrivateAttr, SerializeAsAny, create_model, model_validator

from accelsim.config.base import (DATATYPE_BYTES, Accumulator, AnyDatatype, Bytes,
                                  CrossFieldError, Datatype, EnergyPj, Hertz, Rate, Router,
                                  Strict, Time, int_choice)
from accelsim.hw.dram_timing import PRESETS
from accelsim.units import MIN_BYTES_PER_CYCLE, parse_duration

__all__ = ["DATATYPE_BYTES", "Accumulator", "CrossFieldError", "Datatype", "HwConfig",
           "PEArrayParams", "hwconfig_model"]

OPERAND_ROLES = ("ifmap", "filter", "ofmap")
Role = Literal["ifmap", "filter", "ofmap"]

#: Most routers of a mesh, 64 x 64: a hwconfig has at most 65 endpoints (64 SRAM buffers and
#: the vector unit), so more routers would only lengthen the routes.
MAX_MESH_ROUTERS = 4096
#: Most DRAM lanes (DRAM peak / link bandwidth on a crossbar or mesh): a transfer picks the
#: first free lane, so lanes beyond the few transfers in flight at once (two tiles' operands
#: per endpoint) stay idle, and each costs time on every transfer.
MAX_DRAM_LANES = 256


class PEArrayParams(Strict):
    """What every PE-array kind's parameters have; each registered kind
    (:mod:`accelsim.hw.kinds`) extends this with its own keys and a ``Literal`` ``kind``."""

    kind: str = Field(description="PE-array kind (a registered name, see `accelsim kinds`)")
    datatype: Datatype = Field("fp16", description="multiplier operand datatype (the default "
                               "of ops that carry no precision of their own)")
    accumulator: Accumulator = Field("fp32", description="accumulator datatype")


class SramParams(Strict):
    capacity: Bytes = Field(gt=0, description="bytes of storage")
    holds: list[Role] = Field(max_length=3, description="GEMM operand roles kept in this "
                              "buffer (ifmap = A (M x K), filter = B (K x N), ofmap = C "
                              "(M x N))")
    banks: int = Field(1, gt=0, le=4096, description="independently addressed banks, "
                       "interleaved every bank_width bytes (at most 4096: twice the 2048 "
                       "accumulator banks of SCNN's 64 PEs)")
    bank_width: Bytes = Field(8, gt=0, le=4096, description="bytes one bank delivers per "
                              "cycle (at most 4096: a 32768-bit bank port)")
    ports: int_choice(1, 2) = Field(2, description="1: fills from DRAM and writebacks share "
                                    "the port the array uses; 2: a separate port for DRAM "
                                    "traffic")
    bandwidth: Rate = Field(description="read bandwidth towards the PE array")
    double_buffered: bool = Field(True, description="half the capacity is filled while the "
                                  "other half is computed on")
    access_energy_pj_per_64b: EnergyPj | None = Field(
        None, description="energy of one 64-bit access in pJ (0 to 1e6); default: "
        "interpolated from Horowitz ISSCC 2014 (8 KiB 10 pJ, 32 KiB 20 pJ, 1 MiB 100 pJ) by "
        "capacity")


class DramParams(Strict):
    ideal: bool = Field(False, description="infinite bandwidth and zero latency")
    preset: Literal["ddr4_3200", "lpddr4_4266", "hbm2", "hbm3"] | None = Field(
        None, description="device timing (accelsim.hw.dram_timing.PRESETS): transfers are "
        "timed by the row-buffer model; without a preset DRAM is a peak-bandwidth server")
    channels: int = Field(1, gt=0, le=1024, description="independent channels, "
                          "address-interleaved (at most 1024: 32 HBM3 stacks of 32 "
                          "pseudo-channels)")
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
    access_energy_pj_per_64b: EnergyPj | None = Field(
        None, description="energy of one 64-bit access in pJ, 0 to 1e6; optional with a preset "
        "(then its published pJ/bit x 64, accelsim.hw.dram_timing.PRESETS), required without "
        "one (Horowitz ISSCC 2014: 1300-2600 pJ for DDR3-class DRAM)")

    @model_validator(mode="after")
    def _bandwidth_known(self) -> DramParams:
        if self.preset is None and self.bandwidth is None and not self.ideal:
            raise CrossFieldError("dram.bandwidth", "a bandwidth (or a preset that implies one)")
        if self.preset is None and self.access_energy_pj_per_64b is None:
            raise CrossFieldError("dram.access_energy_pj_per_64b",
                                  "an access energy in pJ per 64 bits (or a preset that implies "
                                  "one)")
        return self


class InterconnectParams(Strict):
    topology: Literal["bus", "crossbar", "mesh"] = Field(
        "bus", description="bus: one link shared by every on-chip endpoint; crossbar: a port "
        "per endpoint; mesh: a 2D mesh of links with XY routing from the memory node")
    bandwidth: Rate = Field(description="bytes per cycle of each link (bus, port, mesh hop)")
    latency: Time = Field(parse_duration("1cycle"), description="latency of one hop")
    mesh_rows: int = Field(2, gt=0, le=MAX_MESH_ROUTERS, description="mesh only: rows of "
                           f"routers (mesh_rows x mesh_cols at most {MAX_MESH_ROUTERS}: a "
                           "hwconfig has at most 65 endpoints to place)")
    mesh_cols: int = Field(2, gt=0, le=MAX_MESH_ROUTERS, description="mesh only: columns of "
                           f"routers (mesh_rows x mesh_cols at most {MAX_MESH_ROUTERS}: a "
                           "hwconfig has at most 65 endpoints to place)")
    memory_node: Router = Field((0, 0), description="mesh only: router of the memory "
                                "controller, [row, column] inside the mesh")
    placement: dict[str, Router] = Field(
        default_factory=dict, description="mesh only: router of each endpoint (SRAM buffer "
        "names and vector_unit), [row, column] inside the mesh; unplaced endpoints fill the "
        "routers after the memory node in row-major order")

    @model_validator(mode="after")
    def _routers_inside(self) -> InterconnectParams:
        rows, cols = self.mesh_rows, self.mesh_cols
        if rows * cols > MAX_MESH_ROUTERS:
            raise CrossFieldError("interconnect.mesh_cols", f"mesh_rows x mesh_cols at most "
                                  f"{MAX_MESH_ROUTERS} routers (64 x 64)",
                                  got=f"{rows} x {cols}")
        nodes = {"memory_node": self.memory_node,
                 **{f"placement.{name}": node for name, node in self.placement.items()}}
        for key, (row, col) in nodes.items():
            if not (0 <= row < rows and 0 <= col < cols):
                raise CrossFieldError(f"interconnect.{key}", f"a router inside the "
                                      f"{rows}x{cols} mesh", got=[row, col])
        return self


class VectorUnitParams(Strict):
    lanes: int = Field(gt=0, le=65536, description="elementwise operations per cycle (at "
                       "most 65536: 64x a TPUv2 core's 1024)")
    buffer: Bytes = Field(ge=8, description="local buffer; data streams through it in "
                          "double-buffered chunks of half this size (at least 8 bytes: two "
                          "chunks of one fp32 element)")


class ResidencyParams(Strict):
    """Tensors kept in the SRAM buffers between ops (:mod:`accelsim.sim.residency`)."""

    policy: Literal["liveness", "lru", "none"] = Field(
        "liveness", description="liveness: evict the tensor needed furthest in the future, "
        "write back only what is read again; lru: evict the least recently used and write "
        "back every dirty victim (a cache that does not know the schedule); none: every op "
        "reads its inputs from DRAM and writes its outputs to DRAM")
    keep_fetched: bool = Field(True, description="a tensor fetched from DRAM may stay on chip "
                               "for a later reader (false: only tensors produced on chip stay)")
    tile_share: float = Field(
        gt=0, le=1, description="share of each SRAM buffer an op's tiles may use (the "
        "rest holds tensors between ops); default 0.5 with a residency policy, 1 with none")

    @model_validator(mode="before")
    @classmethod
    def _default_tile_share(cls, data: object) -> object:
        """Write the default tile share into the config, so that a result's resolved hwconfig
        states it."""
        if isinstance(data, dict) and data.get("tile_share") is None:
            policy = data.get("policy", "liveness")
            return {**data, "tile_share": 1.0 if policy == "none" else 0.5}
        return data

    @property
    def resolved_tile_share(self) -> float:
        return self.tile_share


class FusionParams(Strict):
    """Element-wise ops run in a GEMM's output stream (:mod:`accelsim.sim.fusion`)."""

    mode: Literal["none", "output_stream"] = Field(
        "none", description="none: every op runs on its own and its tensors go through the "
        "buffers and DRAM; output_stream: the vector unit sits at the PE array's output, so "
        "a chain of element-wise ops (relu, gelu, residual add, gradient sum; forward or "
        "backward) that alone consumes a GEMM's output runs on its lanes as the output "
        "tiles leave the array, and the tensors inside the chain never leave the chip")


class SimParams(Strict):
    """How the engine replays tiles (no figure depends on it)."""

    reference: bool = Field(False, description="true: replay every tile with its own SimPy "
                            "events (the reference path, slower); false: book runs of tiles "
                            "that repeat with nothing else interleaving in one step, with the "
                            "same figures (accelsim.sim.fast_forward)")


class EnergyParams(Strict):
    """Per-action energies in pJ; defaults from Horowitz, ISSCC 2014, 45 nm."""

    source: str = Field("Horowitz, Computing's energy problem, ISSCC 2014 (45 nm)",
                        description="where the numbers come from")
    mult_pj: dict[AnyDatatype, EnergyPj] = Field(
        default_factory=lambda: {"fp32": 3.7, "fp16": 1.1, "bf16": 1.1, "int8": 0.2},
        description="one multiply by operand datatype, 0 to 1e6 pJ (bf16 taken as fp16: same "
        "width)")
    add_pj: dict[AnyDatatype, EnergyPj] = Field(
        default_factory=lambda: {"fp32": 0.9, "fp16": 0.4, "int32": 0.1, "int8": 0.03},
        description="one add by accumulator datatype, 0 to 1e6 pJ")
    vector_op_pj: EnergyPj = Field(0.9, description="one vector-unit operation (fp32 add), "
                                   "0 to 1e6 pJ")


class HwConfig(Strict):
    """A whole accelerator: clock, PE array, SRAM buffers, DRAM, link, vector unit, energy."""

    name: str = Field(description="configuration name")
    description: str = Field("", description="free text")
    clock: Hertz = Field(description="clock frequency of the accelerator")
    pe_array: SerializeAsAny[PEArrayParams]
    sram: dict[str, SramParams] = Field(max_length=64, description="on-chip buffers by name "
                                        "(at most 64)")
    dram: DramParams
    interconnect: InterconnectParams
    vector_unit: VectorUnitParams
    residency: ResidencyParams = Field(default_factory=ResidencyParams)
    prefetch: Literal["across_ops", "none"] | None = Field(
        None, description="across_ops: the next op's first tile loads into the buffer slot the "
        "running op has freed (accelsim.sim.prefetch); none: each op starts with its first "
        "load; default across_ops when every SRAM buffer is double-buffered, else none")
    fusion: FusionParams = Field(default_factory=FusionParams)
    energy: EnergyParams = Field(default_factory=EnergyParams)
    sim: SimParams = Field(default_factory=SimParams)
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
        for name in self.interconnect.placement:
            if name not in endpoints:
                raise CrossFieldError(f"interconnect.placement.{name}",
                                      f"an endpoint, one of {', '.join(endpoints)}")
        for table, key in (("mult_pj", self.pe_array.datatype),
                           ("add_pj", self.pe_array.accumulator)):
            if key not in getattr(self.energy, table):
                raise CrossFieldError(f"energy.{table}", f"an entry for {key}")
        self._bandwidths_at_clock()
        return self

    def _bandwidths_at_clock(self) -> None:
        """Every bandwidth is at least :data:`~accelsim.units.MIN_BYTES_PER_CYCLE` at the
        clock, and the DRAM's peak at most :data:`MAX_DRAM_LANES` links of the interconnect
        (the lanes of :class:`accelsim.hw.system.System`)."""
        rates = {f"sram.{name}.bandwidth": buf.bandwidth for name, buf in self.sram.items()}
        rates["dram.bandwidth"] = self.dram.bandwidth
        rates["interconnect.bandwidth"] = self.interconnect.bandwidth
        for key, rate in rates.items():
            if rate is not None and rate.bytes_per_cycle(self.clock) < MIN_BYTES_PER_CYCLE:
                raise CrossFieldError(key, f"at least {MIN_BYTES_PER_CYCLE:g} B/cycle at the "
                                      f"{_hertz(self.clock)} clock", got=rate.text())
        dram = self.dram
        if dram.ideal or self.interconnect.topology == "bus":
            return
        if dram.bandwidth is not None:
            peak = dram.bandwidth.bytes_per_cycle(self.clock)
        else:
            peak = dram.channels * PRESETS[dram.preset].channel_bandwidth / self.clock
        link = self.interconnect.bandwidth.bytes_per_cycle(self.clock)
        if peak / link > MAX_DRAM_LANES:
            raise CrossFieldError(
                "interconnect.bandwidth", f"at least 1/{MAX_DRAM_LANES} of the DRAM's peak "
                f"({peak:g} B/cycle) on a {self.interconnect.topology}: a link per DRAM lane, "
                f"at most {MAX_DRAM_LANES} lanes", got=self.interconnect.bandwidth.text())

    def __reduce__(self):
        """Pickle as the resolved values and the source: the class itself is built per set of
        registered kinds (:func:`hwconfig_model`), so it is rebuilt on load, not looked up."""
        return (_revalidate, (self.model_dump(mode="json"), self._source))

    @model_validator(mode="before")
    @classmethod
    def _default_prefetch(cls, data: object) -> object:
        """Write the default prefetch mode into the config (across_ops when every buffer is
        double-buffered), so that a result's resolved hwconfig states it; a malformed ``sram``
        is left to its own validation."""
        if not isinstance(data, dict) or data.get("prefetch") is not None:
            return data
        buffers = data.get("sram")
        if not isinstance(buffers, dict) or not all(isinstance(b, dict)
                                                    for b in buffers.values()):
            return data
        double = all(b.get("double_buffered", True) is True for b in buffers.values())
        return {**data, "prefetch": "across_ops" if double else "none"}

    @property
    def resolved_prefetch(self) -> str:
        return self.prefetch

    def buffer_for(self, role: str) -> str:
        """Name of the SRAM buffer that holds a GEMM operand role."""
        return next(name for name, buf in self.sram.items() if role in buf.holds)

    @property
    def element_bytes(self) -> int:
        return DATATYPE_BYTES[self.pe_array.datatype]


def _hertz(value: float) -> str:
    """``1e9`` -> ``1 GHz``, ``7e8`` -> ``700 MHz``."""
    for scale, unit in ((1e9, "GHz"), (1e6, "MHz"), (1e3, "kHz")):
        if value >= scale:
            return f"{value / scale:g} {unit}"
    return f"{value:g} Hz"


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
