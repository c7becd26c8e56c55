"""The ``outer_product`` PE-array kind: an SCNN-like grid of PEs (Parashar et al., ISCA 2017).

Its parameters, its lowering (:mod:`accelsim.hw.kinds.outer_product.model` computes the tiles),
its counters (products issued and valid, redundant Cartesian products (RCPs) multiplied) and its
energy (a multiply per RCP multiplied, at the op's operand datatype). Op rows gain
``products_issued``, ``products_valid``, ``rcps``, ``rcps_anticipated`` and ``mask_source``.
A plan's ``detail`` is the op's :class:`~accelsim.hw.kinds.outer_product.model.ProductSample`
(its sampled chunk pairs), which techniques such as ANT read; ``rcps_anticipated`` is what a
technique dropped before the multipliers (zero without one).

A strided conv's input gradient is a GEMM of partial products followed by a col2im op in the
workload (:mod:`accelsim.workload.training`); this array scatters every product through its
crossbar into the accumulator bank of its output position, so it computes dX directly:
:meth:`OuterProductArray.prepare_workload` runs each such pair as the one bwd_data op.

On-chip residency (:mod:`accelsim.sim.onchip`). A plan reports what its tiles hold
(``footprint``: the A planes held in the ``ifmap`` buffer, one channel's B planes of the group
in ``filter``, the tile's outputs in ``ofmap``) and its DRAM traffic by operand role
(``fetch:ifmap`` the A operand, ``fetch:filter`` the B operand, ``drain:ofmap`` the outputs),
so that a tensor kept on chip between ops (SCNN's output activation RAM serving as the next
layer's input activation RAM) is not fetched again.
The B operands stream through the weight FIFOs (``streamed_roles``): the ``filter`` buffer
keeps its whole capacity for the tiles and holds no tensor between ops. The roles follow the
outer product, not the GEMM's order: a convolution's weight gradient
takes x as its A (``ifmap``) operand and dY as its B (``filter``) operand
(:meth:`OuterProductArray.input_roles`). A tensor the array reads or writes stays on chip as
the array holds it (:meth:`OuterProductArray.stored_bytes_per_element`): compressed, each
non-zero with its index, at the density of the op's operand (an op's ``density`` attribute,
else ``operand_density``; traced densities are not consulted here), or, for a weight
gradient, dense at accumulator width; where several ops touch a tensor, the largest of their
formats. A tensor only the vector unit touches stays as the workload sizes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.config.models import PEArrayParams
from accelsim.context import RunContext
from accelsim.hw.kinds.base import PE_ARRAY_KINDS, PEArrayKind
from accelsim.hw.kinds.outer_product.model import (
    OuterProductModel,
    op_densities,
    op_geometry,
)
from accelsim.plan import TilePlan
from accelsim.workload.graph import Workload
from accelsim.workload.op import Op, Tensor
from accelsim.workload.training import merge_col2im

ROLES = ("ifmap", "filter", "ofmap")


class OuterProductParams(PEArrayParams):
    """A rows x cols grid of PEs, each with an F x I multiplier array and accumulator banks
    behind a scatter crossbar, each with a queue (SCNN: 8 x 8 PEs, F = I = 4, 32 banks).

    Each count is bounded, the bound in its description and in the error; F and I at most 64
    each (16x SCNN's 4: a PE of 4096 multipliers).
    """

    kind: Literal["outer_product"] = Field(description="PE-array kind")
    rows: int = Field(gt=0, le=64, description="rows of the PE grid (at most 64: 8x SCNN's "
                      "8)")
    cols: int = Field(gt=0, le=64, description="columns of the PE grid (at most 64: 8x "
                      "SCNN's 8)")
    multipliers_f: int = Field(
        gt=0, le=64, description="F, weight (B-operand) non-zeros per multiplier-array row, a "
        "weight chunk")
    multipliers_i: int = Field(
        gt=0, le=64, description="I, activation (A-operand) non-zeros per multiplier-array "
        "column, an activation chunk")
    accumulator_banks: int = Field(
        gt=0, le=8192, description="accumulator banks per PE behind the scatter crossbar; one "
        "product per bank per cycle (at most 8192: SCNN's 2 x F x I at F = I = 64)")
    accumulator_queue_depth: int = Field(
        4, ge=0, le=4096, description="products each accumulator bank's queue holds behind the "
        "scatter crossbar; the multipliers stall only while a queue is full (0: lockstep, each "
        "chunk pair waits for its worst bank conflict; not published by SCNN: 4 is an "
        "assumption, a few flip-flop entries per bank; at most 4096, a whole chunk pair of "
        "64 x 64 multipliers)")
    accumulator_entries: int = Field(
        32, gt=0, le=65536, description="partial sums per accumulator bank; bounds the "
        "output-channel group Kc of a pass (at most 65536: a 16-bit bank address)")
    index_bits: int = Field(
        4, gt=0, le=32, description="bits of coordinate index stored with each non-zero of a "
        "compressed operand (SCNN: 4-bit zero-run length; at most 32, a full coordinate)")
    halo_elements_per_cycle: float = Field(
        1.0, ge=0.001, le=1024, description="partial sums a PE sends to its neighbours per "
        "cycle in the halo exchange after a pass (not published by SCNN: an assumption; from "
        "0.001, one per 1000 cycles, to 1024, a 2 KiB-wide link of fp16)")
    operand_density: float = Field(
        1.0, gt=0, le=1, description="non-zero fraction of GEMM operands assumed for ops "
        "without densities of their own (0.1: 90% sparse training)")


@PE_ARRAY_KINDS.register("outer_product")
class OuterProductArray(PEArrayKind):
    """An SCNN-like grid of rows x cols PEs, each with an F x I multiplier array."""

    name = "outer_product"
    Params = OuterProductParams
    description = "SCNN-like sparse outer-product PE grid with exact RCP accounting"
    counted_columns = ("products_issued", "products_valid", "rcps", "rcps_anticipated")
    reports_footprint = True
    streamed_roles = ("filter",)  # SCNN's weight FIFOs: B operands stream from DRAM

    def __init__(self, env, params: OuterProductParams, energy) -> None:
        super().__init__(env, params, energy)
        self.rows, self.cols = params.rows, params.cols
        self.f, self.i = params.multipliers_f, params.multipliers_i
        self._models: dict[tuple[int, int], OuterProductModel] = {}
        self.rcp_mult_pj = 0.0

    @property
    def pes(self) -> int:
        return self.rows * self.cols * self.f * self.i

    def prepare_workload(self, workload: Workload) -> Workload:
        """The workload with each col2im folded into its bwd_data op (module docstring)."""
        return workload.with_ops(merge_col2im(workload.ops()))

    def input_roles(self, op: Op) -> dict[str, tuple[Tensor, ...]]:
        """The A operand's tensor as ``ifmap``, the B operand's as ``filter`` (module
        docstring): a convolution's weight gradient, whose GEMM reads dY then x, takes x as A."""
        geom = op_geometry(op)
        if geom.conv and geom.phase == "bwd_weight":
            return {"ifmap": op.reads[1:2], "filter": op.reads[:1]}
        return super().input_roles(op)

    def stored_bytes_per_element(self, ops: Sequence[Op]) -> dict[str, float]:
        """On-chip bytes per element of the tensors the array reads or writes (module
        docstring): ``density * (element bytes + index_bits / 8)``, or the accumulator's bytes
        for a dense output."""
        index = self.params.index_bits / 8
        stored: dict[str, float] = {}

        def keep(tensors: tuple[Tensor, ...], per_element: float) -> None:
            for tensor in tensors:
                stored[tensor.name] = max(stored.get(tensor.name, 0.0), per_element)

        for op in ops:
            if op.gemm is None:
                continue
            element, psum = self.element_bytes(op)
            da, db = op_densities(op, self.params.operand_density)
            roles = self.input_roles(op)
            keep(roles["ifmap"], da * (element + index))
            keep(roles["filter"], db * (element + index))
            keep(op.writes, psum if op_geometry(op).out_dense else da * (element + index))
        return stored

    def lower(self, op: Op, ctx: RunContext) -> TilePlan:
        system = ctx.system
        widths = self.element_bytes(op)
        if widths not in self._models:
            self._models[widths] = OuterProductModel(self.params, *widths)
        srams, buf = system.srams, system.buffer_of_role
        tiles = self._models[widths].tiles(
            op, {role: srams[buf[role]].usable_bytes for role in ROLES}, ctx.value_stats,
            ctx.step, ctx.seed)
        footprint = system.hold({"ifmap": tiles.a_resident, "filter": tiles.b_resident,
                                 "ofmap": tiles.out_bytes}, op.name)
        fetches = {"ifmap": tiles.a_load, "filter": tiles.b_bytes}
        loads = system.by_buffer(fetches)
        load_visits, load_channels = system.fetch_pattern(sum(loads.values()))
        store_visits, store_channels = system.fetch_pattern(tiles.out_bytes)
        valid = tiles.products_valid
        # the PE's ports deliver one chunk pair per cycle by construction: no SRAM stretch
        return TilePlan.build(
            "pe_array", compute_cycles=tiles.compute_cycles, macs=valid,
            load_visits=load_visits, store_visits=store_visits, load_channels=load_channels,
            store_channels=store_channels, loads=loads,
            stores={buf["ofmap"]: tiles.out_bytes}, fetches=fetches,
            drains={"ofmap": tiles.out_bytes}, footprint=footprint,
            access=system.by_buffer({"ifmap": tiles.a_read, "filter": tiles.b_read,
                                     "ofmap": tiles.out_bytes}),
            products_issued=tiles.products_issued, products_valid=valid,
            rcps=tiles.products_issued - valid, rcps_anticipated=np.zeros_like(valid),
            pair_scale=tiles.pair_scale, halo_cycles=tiles.halo_cycles,
            macs_skipped=op.macs - int(valid.sum()), slots=system.slots,
            row_columns=self.counted_columns, labels={"mask_source": tiles.mask_source},
            detail=tiles.sample)

    def account(self, op: Op, plan: TilePlan, record) -> None:
        super().account(op, plan, record)
        multiplied = int(plan["rcps"].sum() - plan["rcps_anticipated"].sum())
        self.rcp_mult_pj += multiplied * self.mult_pj(self.precision(op).operand, op.name)

    def energy(self) -> dict[str, float]:
        return {**super().energy(), "rcp_mult": self.rcp_mult_pj}

    def summary(self) -> dict:
        counters = self.stats.counters
        return {**super().summary(),
                "rcps_multiplied": counters["rcps"] - counters["rcps_anticipated"]}
