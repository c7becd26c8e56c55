"""Simulation: lowering of ops to tiles, the technique chain, the driver and the engine."""
