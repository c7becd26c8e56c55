"""The ``tensor_core`` PE-array kind: ``cores`` GPU-like cores (SMs), each with ``mma_units``
MMA units doing one ``mma_m`` x ``mma_n`` x ``mma_k`` matrix multiply-accumulate per cycle
(Volta: 4 x 4 x 4, FP16 products accumulated in FP32).

A GEMM op is cut into CTA tiles dealt to the cores in waves, K streamed through each core's
shared memory and, when the grid is smaller than the cores, split across CTAs
(:mod:`accelsim.hw.kinds.tensor_core.tiling`); a tile of the plan is one wave over one K
chunk, lasting as long as its slowest core. No fill or drain overhead is charged: the MMA
pipeline's latency is hidden by the several warps of a CTA issuing independent MMAs (each
warp owns its own accumulators), the shared-memory stages are double-buffered so the next
stage loads while the MMA units work on the current one, and the CTAs' epilogues (writing C)
are the plan's stores, which the pipeline overlaps with the next tile
(:mod:`accelsim.sim.pipeline`). A tile's ``sram_cycles`` are what its busiest buffer needs
(the operand slices the cores read from the ``ifmap``/``filter`` buffer, the L2 of a GPU;
the accumulators read out of the ``ofmap`` buffer, the register file), plus DRAM traffic on
single-ported buffers. Cycles do not depend on the datatype (one MMA per unit per cycle at
any precision); bytes follow the op's precision.

On-chip residency and fusion: a plan reports its footprint (each wave's operand slices, its
accumulators) and its DRAM traffic by role (``fetch:ifmap`` A, ``fetch:filter`` B,
``fetch:ofmap`` split-K partial sums read back, ``drain:ofmap`` outputs) and, per tile, the
outputs it finishes (``outputs``). The ``ofmap`` role's buffer holds only the accumulators
while an op runs (``streamed_roles``): a GPU keeps nothing in registers between kernels.
Element-wise ops run on the hwconfig's vector unit, as on every kind (a GPU's CUDA cores).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from accelsim.config.base import DATATYPE_BYTES, Bytes, CrossFieldError
from accelsim.config.models import PEArrayParams
from accelsim.context import RunContext
from accelsim.errors import SimulationError
from accelsim.hw.kinds.base import PE_ARRAY_KINDS, PEArrayKind
from accelsim.hw.kinds.tensor_core.tiling import CoreSpec, WaveTiler, WaveTiles
from accelsim.hw.kinds.tile_traffic import dram_patterns
from accelsim.plan import TilePlan
from accelsim.workload.conv_window import im2col_views
from accelsim.workload.op import Op

#: Shared-memory stages a CTA keeps (double buffering: one loads while one is computed on).
STAGES = 2


class TensorCoreParams(PEArrayParams):
    """``cores`` cores of ``mma_units`` MMA units each, and the CTA tile they run (V100: 80
    SMs of 8 tensor cores doing 4x4x4 FP16 MMAs; CUTLASS's 128x128x32 Volta tile).

    Counts are bounded, each bound in its description: an absurd value is one clear error.
    """

    kind: Literal["tensor_core"] = Field(description="PE-array kind")
    cores: int = Field(gt=0, le=1024, description="cores (SMs) that each run one CTA tile at "
                       "a time (at most 1024: 7x the 144 SMs of a full NVIDIA GH100)")
    mma_units: int = Field(gt=0, le=64, description="MMA units (tensor cores) per core (at "
                           "most 64: 8x Volta's 8)")
    mma_m: int = Field(4, gt=0, le=64, description="rows of A (and C) in one MMA operation "
                       "(Volta: 4; at most 64, 16x that)")
    mma_n: int = Field(4, gt=0, le=64, description="columns of B (and C) in one MMA "
                       "operation (Volta: 4; at most 64)")
    mma_k: int = Field(4, gt=0, le=64, description="reduction length of one MMA operation "
                       "(Volta: 4; at most 64)")
    tile_m: int = Field(128, gt=0, le=1024, description="rows of C per CTA tile, a multiple "
                        "of mma_m (CUTLASS's Volta tile: 128; at most 1024)")
    tile_n: int = Field(128, gt=0, le=1024, description="columns of C per CTA tile, a "
                        "multiple of mma_n (CUTLASS's Volta tile: 128; at most 1024)")
    tile_k: int = Field(32, gt=0, le=1024, description="K elements per shared-memory stage, "
                        "a multiple of mma_k (CUTLASS's Volta tile: 32; at most 1024)")
    shared_memory: Bytes = Field(gt=0, le=2**30, description="shared memory per core; a CTA's "
                                 f"{STAGES} stages of A and B must fit (at most 1 GiB)")

    @model_validator(mode="after")
    def _tile_fits(self) -> TensorCoreParams:
        for tile, mma in (("tile_m", "mma_m"), ("tile_n", "mma_n"), ("tile_k", "mma_k")):
            if getattr(self, tile) % getattr(self, mma):
                raise CrossFieldError(f"pe_array.{tile}", f"a multiple of {mma} "
                                      f"({getattr(self, mma)})", got=getattr(self, tile))
        stages = STAGES * (self.tile_m + self.tile_n) * self.tile_k * DATATYPE_BYTES[
            self.datatype]
        if stages > self.shared_memory:
            raise CrossFieldError(
                "pe_array.shared_memory", f"room for a CTA's {STAGES} stages of A and B, "
                f"{STAGES} x (tile_m + tile_n) x tile_k x {DATATYPE_BYTES[self.datatype]} B = "
                f"{stages} bytes", got=self.shared_memory)
        return self


@PE_ARRAY_KINDS.register("tensor_core")
class TensorCoreArray(PEArrayKind):
    """GPU-like cores of MMA units running CTA tiles in waves (module docstring)."""

    name = "tensor_core"
    Params = TensorCoreParams
    description = "cores x MMA units (m x n x k MMA per cycle), CTA tiles in waves, split-K"
    counted_columns = ("mma_ops",)
    reports_footprint = True
    streams_outputs = True
    streamed_roles = ("ofmap",)  # accumulators in the register file: nothing between ops

    def __init__(self, env, params: TensorCoreParams, energy) -> None:
        super().__init__(env, params, energy)
        self._tilers: dict[tuple[int, int], object] = {}

    @property
    def mma_macs(self) -> int:
        """MACs of one MMA operation."""
        p = self.params
        return p.mma_m * p.mma_n * p.mma_k

    @property
    def pes(self) -> int:
        return self.params.cores * self.params.mma_units * self.mma_macs

    def _tiles(self, ctx: RunContext, op: Op) -> WaveTiles:
        """The op's tiles at its widths (one cached tiler per width pair)."""
        key = self.element_bytes(op)
        if key not in self._tilers:
            p, system = self.params, ctx.system
            tiler = WaveTiler(CoreSpec(
                cores=p.cores, mma_units=p.mma_units, mma=(p.mma_m, p.mma_n, p.mma_k),
                tile_m=p.tile_m, tile_n=p.tile_n, tile_k=p.tile_k, element_bytes=key[0],
                psum_bytes=key[1], buffer_of_role=system.buffer_of_role,
                usable_bytes={n: s.usable_bytes for n, s in system.srams.items()}))
            self._tilers[key] = lru_cache(maxsize=1024)(tiler.tiles)
        try:
            views = im2col_views(op)
        except ValueError as error:
            raise SimulationError(str(error)) from None
        return self._tilers[key](op.issued_gemm, views)

    def lower(self, op: Op, ctx: RunContext) -> TilePlan:
        system = ctx.system
        wave_tiles = self._tiles(ctx, op)
        tiles = wave_tiles.arrays
        footprint = system.hold(tiles.footprint_bytes, op.name)
        access = system.by_buffer(tiles.array_access_bytes)
        return TilePlan.build(
            "pe_array", compute_cycles=tiles.compute_cycles,
            sram_cycles=self._sram_cycles(ctx, tiles.load_bytes, tiles.store_bytes, access),
            macs=tiles.macs, folds=tiles.folds, outputs=tiles.outputs,
            mma_ops=wave_tiles.mma_ops, **dram_patterns(system, tiles),
            loads=system.by_buffer(tiles.load_bytes),
            stores={system.buffer_of_role["ofmap"]: tiles.store_bytes}, access=access,
            fetches=dict(tiles.load_bytes), drains={"ofmap": tiles.store_bytes},
            footprint=footprint, macs_skipped=op.macs - int(tiles.macs.sum()),
            slots=system.slots)

    @staticmethod
    def _sram_cycles(ctx: RunContext, loads: dict[str, np.ndarray], stores: np.ndarray,
                     access: dict[str, np.ndarray]) -> np.ndarray:
        """Cycles each tile needs from its busiest buffer: its array traffic, plus its DRAM
        traffic on single-ported buffers."""
        system = ctx.system
        dram = system.by_buffer(loads)
        out = system.buffer_of_role["ofmap"]
        dram[out] = dram.get(out, 0) + stores
        cycles = np.zeros(len(stores), dtype=float)
        for name, nbytes in access.items():
            cycles = np.maximum(cycles, system.srams[name].array_cycles(
                np.asarray(nbytes, dtype=float), dram.get(name, 0)))
        return cycles

    def summary(self) -> dict:
        p = self.params
        return {**super().summary(), "cores": p.cores, "mma_units": p.mma_units,
                "mma": f"{p.mma_m}x{p.mma_n}x{p.mma_k}",
                "cta_tile": f"{p.tile_m}x{p.tile_n}x{p.tile_k}"}
