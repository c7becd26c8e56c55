"""ANT: anticipating redundant Cartesian products (Lew et al., ISCA 2022).

On an outer-product array (:mod:`accelsim.hw.outer_product`) a comparator checks, before a
chunk pair is issued to the multipliers, the coordinate bounds of the pair against the valid
output window (:meth:`accelsim.hw.rcp.Axis.boxes_may_hit`); a pair none of whose products can
be valid is dropped from the stream: it costs no multiplier cycle and no multiply. The check
is conservative, so only RCPs are ever dropped and the MACs done are unchanged; RCPs inside
issued pairs are missed. Granularity: ``element`` checks every product (a pair is dropped when
all its products fail), ``chunk`` the bounding boxes of both chunks on both axes, ``row`` the
row axis only. The comparators run ahead of the multipliers; their latency is paid once per
tile (pipeline fill) and their energy per check. The lowering precomputes each tile's figures
per granularity (:class:`accelsim.hw.outer_product.ProductTiles`); ops on other arrays pass
unchanged.

``finalize`` reports, under ``technique_stats["ant"]``: RCPs total, anticipated and missed,
the anticipated share, the checks, the comparators' energy (pJ) and area (mm2).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

import numpy as np
from pydantic import Field

from accelsim.techniques.base import TECHNIQUES, Technique, TechniqueParams


class AntParams(TechniqueParams):
    granularity: Literal["element", "chunk", "row"] = Field(
        "chunk", description="what one coordinate-bound check covers: a product, a chunk "
        "pair (both axes) or a chunk pair's rows")
    comparator_latency_cycles: int = Field(
        1, ge=0, description="pipeline depth of the check, paid once per tile")
    comparator_energy_pj: float = Field(
        0.12, ge=0, description="energy of one check: four ~8-bit coordinate comparisons at "
        "Horowitz's (ISSCC 2014, 45 nm) 8-bit add, 0.03 pJ each")
    area_mm2: float = Field(0.0017, ge=0, description="comparator area per accelerator "
                            "(Lew et al., ISCA 2022)")


@TECHNIQUES.register("ant")
class Ant(Technique):
    """Drops chunk pairs that cannot produce a valid output (see the module docstring)."""

    name = "ant"
    Params = AntParams

    def __init__(self, params: AntParams | None = None) -> None:
        super().__init__(params)
        self.checks = 0
        self.rcps = 0
        self.anticipated = 0
        self.cycles_saved = 0.0

    def transform(self, op, plan):
        products = plan.products
        if products is None:
            return plan
        table = products.anticipation[self.params.granularity]
        latency = np.where(table["anticipated"] > 0, self.params.comparator_latency_cycles, 0)
        compute = np.minimum(plan.compute_cycles, table["cycles"] + latency)
        saved = plan.compute_cycles - compute
        self.checks += int(table["checks"].sum())
        self.cycles_saved += float(saved.sum())
        return replace(plan, compute_cycles=compute, tile_cycles=plan.tile_cycles - saved,
                       products=replace(products, anticipated=table["anticipated"].copy()))

    def on_complete(self, op, record, now) -> None:
        self.rcps += int(record.extras.get("rcps", 0))
        self.anticipated += int(record.extras.get("rcps_anticipated", 0))

    def finalize(self, stats: dict) -> None:
        p = self.params
        stats["ant"] = {
            "granularity": p.granularity,
            "rcps_total": self.rcps,
            "rcps_anticipated": self.anticipated,
            "rcps_missed": self.rcps - self.anticipated,
            "anticipated_fraction": self.anticipated / self.rcps if self.rcps else 0.0,
            "checks": self.checks,
            "compute_cycles_saved": self.cycles_saved,
            "energy_pj": self.checks * p.comparator_energy_pj,
            "area_mm2": p.area_mm2,
        }
