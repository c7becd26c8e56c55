"""Energy: per-action counts of the components times per-action energies from the hwconfig.

Defaults are Horowitz, ISSCC 2014, 45 nm: a MAC costs one multiply in the operand datatype
plus one add in the accumulator datatype; SRAM accesses are charged per 64 bits at the
buffer's capacity-dependent energy (:func:`accelsim.hw.sram.horowitz_sram_energy`); DRAM per
64 bits at the hwconfig's figure. Leakage and the on-chip link's wire energy are not
modelled. An outer-product array's redundant Cartesian products cost a multiply each.
"""

from __future__ import annotations

from accelsim.hw.system import System


def energy_by_component(system: System) -> dict[str, dict[str, float]]:
    """pJ by component and action."""
    cfg = system.config
    table = cfg.energy
    result: dict[str, dict[str, float]] = {
        "pe_array": {"mac": system.pe_array.stats.macs * mac_energy_pj(system),
                     "rcp_mult": (system.pe_array.stats.rcps_multiplied
                                  * table.mult_pj[cfg.pe_array.datatype])},
    }
    for name, sram in system.srams.items():
        result[f"sram.{name}"] = {
            "array_access": sram.stats.array_bytes / 8 * sram.energy_pj_per_64b,
            "fill": sram.stats.filled_bytes / 8 * sram.energy_pj_per_64b,
            "drain": sram.stats.drained_bytes / 8 * sram.energy_pj_per_64b,
        }
    vector = system.vector
    result["vector_unit"] = {
        "op": vector.stats.operations * table.vector_op_pj,
        "buffer_access": vector.stats.buffer_access_bytes / 8 * vector.energy_pj_per_64b,
    }
    dram_pj = cfg.dram.access_energy_pj_per_64b
    result["dram"] = {"read": system.dram.stats.bytes_read / 8 * dram_pj,
                      "write": system.dram.stats.bytes_written / 8 * dram_pj}
    return result


def mac_energy_pj(system: System) -> float:
    cfg = system.config
    return (cfg.energy.mult_pj[cfg.pe_array.datatype]
            + cfg.energy.add_pj[cfg.pe_array.accumulator])
