"""Run statistics: per-op records, invariants and the :class:`RunResult`."""
