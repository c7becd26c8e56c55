"""Technique controllers: stream filters between the workload and the hardware."""
