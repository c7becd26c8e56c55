"""The DRAM address patterns of a table of GEMM tiles (:class:`~accelsim.hw.kinds.systolic.
tiling.TileArrays`), shared by the kinds that tile GEMMs into operand blocks.

Each role's block of a tile is one transfer pattern (:meth:`accelsim.hw.system.System.
fetch_pattern`: row visits per channel and channels busy). A tile loads several roles at once:
their row visits add up, and so do their column times, so the channels busy are the bytes over
the sum of each role's bytes per channel. The stores are the ofmap role's pattern.
"""

from __future__ import annotations

import numpy as np


def dram_patterns(system, tiles) -> dict[str, np.ndarray]:
    """``load_visits``, ``load_channels``, ``store_visits`` and ``store_channels`` of
    ``tiles`` on ``system`` (module docstring)."""
    n = len(tiles)
    load_visits, channel_bytes = np.zeros(n), np.zeros(n)
    for role, fetched in tiles.load_bytes.items():
        visits, used = system.fetch_pattern(fetched, tiles.block_rows[role],
                                            tiles.block_cols[role], tiles.matrix_cols[role])
        load_visits += visits
        channel_bytes += np.divide(fetched, used, out=np.zeros(n), where=used > 0)
    fetched_total = sum(tiles.load_bytes.values(), np.zeros(n))
    load_channels = np.divide(fetched_total, channel_bytes, out=np.zeros(n),
                              where=channel_bytes > 0)
    store_visits, store_channels = system.fetch_pattern(
        tiles.store_bytes, tiles.block_rows["ofmap"], tiles.block_cols["ofmap"],
        tiles.matrix_cols["ofmap"])
    return {"load_visits": load_visits, "load_channels": load_channels,
            "store_visits": store_visits, "store_channels": store_channels}
