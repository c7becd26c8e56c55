"""What a Dask worker runs for one point: the simulation, its result JSON compressed, the
headline figures, or the one-line error.

A point that fails (a bad combination, a deadlock, a capacity overflow, a bug) is an outcome
too: ``status: failed`` with the line ``accelsim run`` would print for it (``error: ...`` for
the user's input, ``internal error in accelsim ...: Type: message`` for a bug). Results do not
depend on the worker: no clock, host or process figure enters the result JSON; the worker's
wall time and name are returned beside it.
"""

from __future__ import annotations

import json
import os
import socket
import time
import zlib
from pathlib import Path

from accelsim import __version__
from accelsim.errors import AccelsimError, clip

#: Longest error line stored (as the command line prints at most).
MAX_ERROR_LINE = 2000
#: zlib level of the stored result JSON.
COMPRESSION_LEVEL = 6


def error_line(error: BaseException) -> str:
    """The one line ``accelsim run`` prints for ``error`` (line breaks folded into ``; ``)."""
    if isinstance(error, AccelsimError):
        text = f"error: {error}"
    else:
        text = f"internal error in accelsim {__version__}: {type(error).__name__}: {error}"
    return clip("; ".join(line.strip() for line in text.splitlines() if line.strip()),
                MAX_ERROR_LINE)


def result_bytes(data: dict) -> bytes:
    """The stored form of a result: compact JSON, zlib-compressed."""
    text = json.dumps(data, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return zlib.compress(text.encode("utf-8"), COMPRESSION_LEVEL)


def headline(data: dict) -> dict:
    """The figures stored as columns of a finished point."""
    return {"total_cycles": data["total_cycles"], "seconds": data["seconds"],
            "energy_pj": data["energy_pj"]["total"], "dram_bytes": data["dram_bytes"]["total"],
            "macs": data["macs"], "macs_skipped": data["macs_skipped"],
            "pe_utilization": data["utilization"]["pe_array"], "workload": data["workload"],
            "hwconfig": data["hwconfig"], "techniques": ",".join(data["techniques"])}


def run_point(payload: dict) -> dict:
    """Simulate the point ``payload`` (:meth:`accelsim.sweep.points.Point.payload`)."""
    from accelsim.api import simulate
    from accelsim.spec import spec_from_mapping

    started = time.perf_counter()
    outcome: dict = {"key": payload["key"], "worker": f"{socket.gethostname()}:{os.getpid()}"}
    try:
        spec = spec_from_mapping(payload["spec"], payload["source"], Path(payload["folder"]))
        data = simulate(spec).data
        outcome.update(status="done", error=None, result=result_bytes(data), **headline(data))
    except Exception as error:  # noqa: BLE001 - every failure is recorded, the sweep goes on
        outcome.update(status="failed", error=error_line(error), result=None)
    outcome["wall_seconds"] = time.perf_counter() - started
    return outcome
