"""A computation-reuse buffer: a small LRU lookup table of operand keys and stored results.

Organisation: ``entries`` entries in ``entries / associativity`` sets (a power of two; one set
of ``entries`` ways when fully associative). An entry holds a tag (the key's bits not implied
by its set: ``key_bits - log2(sets)``), a result of ``result_bits``, a valid bit and its LRU
rank (``log2(associativity)`` bits). A lookup searches the tags of its set, reads the result
array in parallel and rewrites the set's LRU ranks (counter-based true LRU; an upper bound, as
only the ranks above the used one change); a hit returns the stored result, a miss
computes it and inserts it (writes tag, result and valid bit), evicting the set's least
recently used entry. Hit rates come from the operand streams of traced training steps
(:mod:`accelsim.trace.stats.reuse`); this component turns a hit rate and a lookup count into
counts, energy and area. Both computation-reuse techniques use it (ACRTC's product table and
Mquans' per-neuron result table).

Energy (45 nm, 0.9 V, the node of the simulator's other defaults):

* tag search: ``associativity * tag_bits`` bits compared at 2.89 fJ/bit/search, the 0.18 um,
  1.8 V CAM of Pagiamtzis & Sheikholeslami (IEEE JSSC 39(9), 2004), scaled to 45 nm, 0.9 V by
  E ~ C V^2 with C ~ feature size (x 45/180 x (0.9/1.8)^2 = x 1/16): 0.18 fJ/bit;
* result read, LRU update and insertion write: per bit, Horowitz's (ISSCC 2014) 64-bit SRAM
  read energy at the buffer's capacity / 64 (:func:`accelsim.hw.sram.horowitz_sram_energy`,
  extrapolated below 8 KiB along its capacity^0.5 slope); a write costs as much as a read.

Area: ``600 lambda^2`` per SRAM bit including its share of the periphery (the CACTI-derived rule
of thumb of Greaves, Univ. of Cambridge, System-on-Chip lecture notes), lambda = 45 nm:
1.215 um^2; a tag bit is a 10-transistor NOR CAM cell, 10/6 the transistors of a 6T SRAM bit.
Leakage is not modelled.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from accelsim.hw.sram import horowitz_sram_energy

#: Pagiamtzis & Sheikholeslami, IEEE JSSC 2004: 2.89 fJ/bit/search at 0.18 um, 1.8 V.
CAM_SEARCH_FJ_PER_BIT_180NM = 2.89
#: First-order scaling of switched energy C V^2 from 0.18 um, 1.8 V to 45 nm, 0.9 V.
SCALE_180NM_TO_45NM = (45 / 180) * (0.9 / 1.8) ** 2
#: Greaves (Cambridge SoC notes, after CACTI): an SRAM bit is about 600 lambda^2.
SRAM_BIT_LAMBDA2 = 600
LAMBDA_UM = 0.045
#: A NOR CAM cell has 10 transistors, a 6T SRAM cell 6.
CAM_TO_SRAM_CELL = 10 / 6


class ReuseBufferParams(BaseModel):
    """Parameters of a reuse buffer (unknown keys are errors, types are not coerced)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    entries: int = Field(64, ge=1, le=2**20, description="entries of the buffer")
    associativity: int | None = Field(
        None, ge=1, le=2**20, description="ways per set (None: fully associative); entries / "
        "associativity sets, a power of two")
    key_bits: int = Field(32, ge=1, le=1024, description="bits of a lookup key (two fp16 "
                          "operands unmasked: 32)", json_schema_extra={"unit": "bits"})
    result_bits: int = Field(16, ge=1, le=1024, description="bits of a stored result (an fp16 "
                             "product: 16)", json_schema_extra={"unit": "bits"})
    lookup_latency_cycles: int = Field(1, ge=0, le=1024, description="cycles from key to "
                                       "result", json_schema_extra={"unit": "cycles"})
    lookup_energy_pj: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="energy of a lookup (None: tag search, "
        "result read and LRU update from the module's per-bit figures)",
        json_schema_extra={"unit": "pJ"})
    insertion_energy_pj: float | None = Field(
        None, ge=0, allow_inf_nan=False, description="energy of an insertion (None: tag, "
        "result and valid bit written at the module's per-bit figure)",
        json_schema_extra={"unit": "pJ"})
    search_energy_fj_per_bit: float = Field(
        CAM_SEARCH_FJ_PER_BIT_180NM * SCALE_180NM_TO_45NM, ge=0, allow_inf_nan=False,
        description="tag search energy per compared bit (Pagiamtzis & Sheikholeslami, JSSC "
        "2004, scaled to 45 nm)", json_schema_extra={"unit": "fJ"})
    sram_bit_area_um2: float = Field(
        SRAM_BIT_LAMBDA2 * LAMBDA_UM ** 2, gt=0, allow_inf_nan=False,
        description="area of an SRAM bit with its periphery share (600 lambda^2, 45 nm)",
        json_schema_extra={"unit": "um2"})
    cam_cell_ratio: float = Field(CAM_TO_SRAM_CELL, ge=1, allow_inf_nan=False,
                                  description="area of a tag (CAM) bit over an SRAM bit")

    @model_validator(mode="after")
    def _organisation(self) -> "ReuseBufferParams":
        ways = self.ways
        if ways > self.entries or self.entries % ways:
            raise ValueError(f"associativity {ways} must divide entries {self.entries}")
        sets = self.entries // ways
        if sets & (sets - 1):
            raise ValueError(f"entries / associativity = {sets} sets must be a power of two")
        if self.key_bits < sets.bit_length() - 1:
            raise ValueError(f"key_bits {self.key_bits} cannot index {sets} sets")
        return self

    @property
    def ways(self) -> int:
        return self.entries if self.associativity is None else self.associativity


@dataclass
class ReuseOpStats:
    """Counts and energy of one op's lookups (or of several ops, summed)."""

    lookups: int = 0
    hits: int = 0
    misses: int = 0
    insertions: int = 0
    lookup_energy_pj: float = 0.0
    insertion_energy_pj: float = 0.0

    def __add__(self, other: "ReuseOpStats") -> "ReuseOpStats":
        return ReuseOpStats(*(getattr(self, f.name) + getattr(other, f.name)
                              for f in fields(self)))

    @property
    def hit_rate(self) -> float:
        return self.hits / self.lookups if self.lookups else 0.0

    @property
    def energy_pj(self) -> float:
        return self.lookup_energy_pj + self.insertion_energy_pj


class ReuseBuffer:
    """A reuse buffer (see the module docstring) counting its lookups per op."""

    def __init__(self, params: ReuseBufferParams) -> None:
        self.params = params
        self.per_op: dict[str, ReuseOpStats] = {}

    # -- organisation --------------------------------------------------------------------------
    @property
    def sets(self) -> int:
        return self.params.entries // self.params.ways

    @property
    def tag_bits(self) -> int:
        return self.params.key_bits - (self.sets.bit_length() - 1)

    @property
    def lru_bits(self) -> int:
        """LRU rank bits per entry (a set of w ways orders its entries with log2(w) bits each)."""
        return math.ceil(math.log2(self.params.ways))

    @property
    def data_bits_per_entry(self) -> int:
        """SRAM bits of an entry: result, valid bit and LRU rank."""
        return self.params.result_bits + 1 + self.lru_bits

    @property
    def storage_bits(self) -> int:
        """Bits stored: tags plus result, valid and LRU bits of every entry."""
        return self.params.entries * (self.tag_bits + self.data_bits_per_entry)

    # -- costs ---------------------------------------------------------------------------------
    @property
    def bit_access_energy_pj(self) -> float:
        """Read (or write) energy of one bit of an SRAM array of the buffer's capacity."""
        return horowitz_sram_energy(math.ceil(self.storage_bits / 8)) / 64

    @property
    def lookup_energy_pj(self) -> float:
        p = self.params
        if p.lookup_energy_pj is not None:
            return p.lookup_energy_pj
        search = p.ways * self.tag_bits * p.search_energy_fj_per_bit / 1000
        read = p.result_bits * self.bit_access_energy_pj
        lru = p.ways * self.lru_bits * self.bit_access_energy_pj
        return search + read + lru

    @property
    def insertion_energy_pj(self) -> float:
        p = self.params
        if p.insertion_energy_pj is not None:
            return p.insertion_energy_pj
        return (self.tag_bits + p.result_bits + 1) * self.bit_access_energy_pj

    @property
    def area_mm2(self) -> float:
        p = self.params
        bits = p.entries * (self.tag_bits * p.cam_cell_ratio + self.data_bits_per_entry)
        return bits * p.sram_bit_area_um2 / 1e6

    # -- counting ------------------------------------------------------------------------------
    def outcome(self, lookups, hit_rate) -> ReuseOpStats:
        """Counts and energy of ``lookups`` lookups at ``hit_rate`` (arrays are summed, e.g.
        one entry per tile); every miss inserts."""
        lookups = np.asarray(lookups, dtype=np.int64)
        rate = np.asarray(hit_rate, dtype=float)
        if np.any(lookups < 0) or np.any((rate < 0) | (rate > 1)):
            raise ValueError("lookups must be >= 0 and hit rates in [0, 1]")
        hit_count = np.rint(lookups * rate).astype(np.int64)
        total, hit_total = int(lookups.sum()), int(hit_count.sum())
        misses = total - hit_total
        return ReuseOpStats(lookups=total, hits=hit_total, misses=misses, insertions=misses,
                            lookup_energy_pj=total * self.lookup_energy_pj,
                            insertion_energy_pj=misses * self.insertion_energy_pj)

    def record(self, op: str, lookups, hit_rate) -> ReuseOpStats:
        """Count an op's lookups (:meth:`outcome`), added to what the op already counted."""
        stats = self.outcome(lookups, hit_rate)
        self.per_op[op] = self.per_op.get(op, ReuseOpStats()) + stats
        return stats

    def total(self) -> ReuseOpStats:
        result = ReuseOpStats()
        for stats in self.per_op.values():
            result = result + stats
        return result

    def energy_pj(self) -> dict[str, float]:
        """pJ by action over all ops."""
        total = self.total()
        return {"lookup": total.lookup_energy_pj, "insertion": total.insertion_energy_pj}
