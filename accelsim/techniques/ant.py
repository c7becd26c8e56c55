"""ANT: anticipating redundant Cartesian products (Lew et al., ISCA 2022).

On an outer-product array (:mod:`accelsim.hw.kinds.outer_product`) a comparator checks, before a
chunk pair is issued to the multipliers, the coordinate bounds of the pair against the valid
output window (:meth:`accelsim.hw.kinds.outer_product.rcp.Axis.boxes_may_hit`); a pair none of
whose products can be valid is dropped from the stream: it costs no multiplier cycle and no
multiply. The check is conservative, so only RCPs are ever dropped and the MACs done are
unchanged; RCPs inside issued pairs are missed. Granularity: ``element`` checks every product (a
pair is dropped when all its products fail; every failing product counts as anticipated),
``chunk`` the bounding boxes of both chunks on both axes, ``row`` the row axis only.

The figures come from the op's sampled chunk pairs (the plan's ``detail``,
:class:`~accelsim.hw.kinds.outer_product.model.ProductSample`): which pairs are kept, hence each
PE's multiplier cycles and the share of the sample's RCPs anticipated, scaled to every tile as
the array scales its own figures. The comparators run ahead of the multipliers; their latency
is paid once per tile (pipeline fill) and their energy per check.

``finalize`` reports, under ``technique_stats["ant"]``: RCPs total, anticipated and missed, the
anticipated share, the checks and the compute cycles saved; the comparators' energy and area
reach the result through the technique contract (``technique.ant``).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.hw.kinds.outer_product.model import ChunkPairs, ProductSample
from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams


class AntParams(TechniqueParams):
    granularity: Literal["element", "chunk", "row"] = Field(
        "chunk", description="what one coordinate-bound check covers: a product, a chunk "
        "pair (both axes) or a chunk pair's rows")
    comparator_latency_cycles: int = Field(
        1, ge=0, description="pipeline depth of the check, paid once per tile",
        json_schema_extra={"unit": "cycles"})
    comparator_energy_pj: float = Field(
        0.12, ge=0, description="energy of one check: four ~8-bit coordinate comparisons at "
        "Horowitz's (ISSCC 2014, 45 nm) 8-bit add, 0.03 pJ each",
        json_schema_extra={"unit": "pJ"})
    area_mm2: float = Field(0.0017, ge=0, description="comparator area per accelerator "
                            "(Lew et al., ISCA 2022)", json_schema_extra={"unit": "mm2"})


def kept_pairs(pairs: ChunkPairs, granularity: str) -> np.ndarray:
    """Which chunk pairs survive the check at ``granularity`` (bool per pair)."""
    if granularity == "element":
        return pairs.in_bounds > 0
    h_axis, w_axis = pairs.axes
    hit = h_axis.boxes_may_hit(pairs.a_lo[0], pairs.a_hi[0], pairs.b_lo[0], pairs.b_hi[0])
    if granularity == "chunk":
        hit &= w_axis.boxes_may_hit(pairs.a_lo[1], pairs.a_hi[1], pairs.b_lo[1], pairs.b_hi[1])
    return hit


def anticipated_products(pairs: ChunkPairs, kept: np.ndarray, granularity: str) -> int:
    """RCPs of the sample that the checks anticipate."""
    if granularity == "element":
        return int(pairs.products.sum() - pairs.in_bounds.sum())
    return int(pairs.products[~kept].sum())


@TECHNIQUES.register("ant")
class Ant(Technique):
    """Drops chunk pairs that cannot produce a valid output (see the module docstring)."""

    name = "ant"
    Params = AntParams
    description = "anticipate redundant Cartesian products (Lew et al., ISCA 2022)"
    applies_to = ("outer_product",)

    def __init__(self, params: AntParams, ctx) -> None:
        super().__init__(params, ctx)
        self.checks = 0
        self.rcps = 0
        self.anticipated = 0
        self.cycles_saved = 0

    def transform(self, op, plan):
        sample = plan.detail
        if not isinstance(sample, ProductSample) or len(plan) == 0:
            return plan
        pairs, granularity = sample.pairs, self.params.granularity
        kept = kept_pairs(pairs, granularity)
        sample_rcps = int(pairs.products.sum() - pairs.valid.sum())
        share = anticipated_products(pairs, kept, granularity) / sample_rcps if sample_rcps \
            else 0.0
        checks = pairs.products.sum() if granularity == "element" else len(pairs)
        scale = plan["pair_scale"]
        anticipated = np.rint(plan["rcps"] * share).astype(np.int64)
        latency = np.where(anticipated > 0, self.params.comparator_latency_cycles, 0)
        cycles = sample.tile_cycles(sample.slowest_pe(kept), scale, plan["halo_cycles"])
        compute = np.minimum(plan["compute_cycles"], cycles + latency)
        self.checks += int(np.rint(checks * scale).sum())
        self.cycles_saved += int((plan["compute_cycles"] - compute).sum())
        return plan.with_columns(compute_cycles=compute, rcps_anticipated=anticipated)

    def on_complete(self, op, record, now) -> None:
        self.rcps += int(record.extras.get("rcps", 0))
        self.anticipated += int(record.extras.get("rcps_anticipated", 0))

    def finalize(self, stats: dict) -> None:
        stats["ant"] = {
            "granularity": self.params.granularity,
            "rcps_total": self.rcps,
            "rcps_anticipated": self.anticipated,
            "rcps_missed": self.rcps - self.anticipated,
            "anticipated_fraction": self.anticipated / self.rcps if self.rcps else 0.0,
            "checks": self.checks,
            "compute_cycles_saved": self.cycles_saved,
        }

    def energy_pj(self) -> dict[str, float]:
        return {"comparators": self.checks * self.params.comparator_energy_pj}

    def area_mm2(self) -> float:
        return self.params.area_mm2
