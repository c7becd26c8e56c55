"""Energy: per-action counts of the components times per-action energies from the hwconfig.

Defaults are Horowitz, ISSCC 2014, 45 nm. The PE array reports its own energy by action (a MAC
costs one multiply at the op's operand datatype plus one add at its accumulator's; a kind adds
what else it spends, e.g. an outer-product array's multiplies of redundant products); SRAM
accesses are charged per 64 bits at the buffer's capacity-dependent energy
(:func:`accelsim.hw.sram.horowitz_sram_energy`); DRAM per 64 bits at the hwconfig's figure, or
its preset's published pJ/bit when the hwconfig sets none (:attr:`Dram.access_energy_pj_per_64b`).
Leakage and the on-chip link's wire energy are not modelled.
"""

from __future__ import annotations

from accelsim.hw.system import System


def energy_by_component(system: System) -> dict[str, dict[str, float]]:
    """pJ by component and action."""
    cfg = system.config
    result: dict[str, dict[str, float]] = {"pe_array": system.pe_array.energy()}
    for name, sram in system.srams.items():
        result[f"sram.{name}"] = {
            "array_access": sram.stats.array_bytes / 8 * sram.energy_pj_per_64b,
            "fill": sram.stats.filled_bytes / 8 * sram.energy_pj_per_64b,
            "drain": sram.stats.drained_bytes / 8 * sram.energy_pj_per_64b,
            "vector_exchange": sram.stats.exchanged_bytes / 8 * sram.energy_pj_per_64b,
        }
    vector = system.vector
    result["vector_unit"] = {
        "op": vector.stats.operations * cfg.energy.vector_op_pj,
        "buffer_access": vector.stats.buffer_access_bytes / 8 * vector.energy_pj_per_64b,
    }
    dram_pj = system.dram.access_energy_pj_per_64b
    result["dram"] = {"read": system.dram.stats.bytes_read / 8 * dram_pj,
                      "write": system.dram.stats.bytes_written / 8 * dram_pj}
    return result


def default_mac_energy_pj(system: System) -> float:
    """One MAC at the array's own datatypes (ops may run at others)."""
    params = system.config.pe_array
    energy = system.config.energy
    return energy.mult_pj[params.datatype] + energy.add_pj[params.accumulator]
