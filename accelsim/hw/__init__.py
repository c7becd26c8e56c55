"""Hardware components: PE array, SRAM buffers, DRAM, interconnect, vector unit, energy."""
