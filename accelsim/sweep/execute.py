"""Running a sweep's points on dask.distributed and storing each outcome as it arrives.

By default a ``LocalCluster`` of ``workers`` processes with one thread each (a simulation
holds the GIL); with ``scheduler`` (``tcp://HOST:PORT``) the points go to an existing Dask
cluster, whose workers must import accelsim and see the sweep's files at the same paths.
Points already stored as done are skipped; failed ones run again. Dask does the scheduling and
the transport; the client collects results with ``as_completed`` and writes each in one
transaction (:mod:`accelsim.sweep.store`), so a killed sweep keeps every finished point.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from accelsim.errors import ConfigError
from accelsim.sweep.points import Point
from accelsim.sweep.store import SweepStore
from accelsim.sweep.worker import error_line, run_point

#: Seconds to wait for an existing scheduler to answer.
CONNECT_TIMEOUT_S = 20


@dataclass
class Summary:
    """What a sweep did: points in it, stored done / failed by this run, skipped (done
    before), the failures' lines by point number, and the wall time."""

    points: int
    done: int = 0
    failed: int = 0
    skipped: int = 0
    failures: dict[int, str] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def finished(self) -> int:
        return self.done + self.failed


#: ``progress(summary, running)``: called before the first point and after every outcome.
Progress = Callable[[Summary, int], None]


def default_workers() -> int:
    """Workers of a local cluster when not given: the machine's cores."""
    return os.cpu_count() or 1


@contextlib.contextmanager
def dask_client(workers: int | None = None, scheduler: str | None = None) -> Iterator:
    """A ``distributed.Client``: of a new local cluster, or connected to ``scheduler``."""
    from distributed import Client, LocalCluster

    if scheduler is not None:
        try:
            client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
        except (OSError, TimeoutError, ValueError) as error:
            raise ConfigError("--scheduler", scheduler, "the address of a running Dask "
                              "scheduler, tcp://HOST:PORT (start one with `dask scheduler`)",
                              got=" ".join(str(error).split()) or type(error).__name__) from None
        with client:
            yield client
        return
    cluster = LocalCluster(n_workers=workers or default_workers(), threads_per_worker=1,
                           processes=True, dashboard_address=None,
                           # no dashboard; the scheduler's health endpoints on a free port
                           scheduler_kwargs={"dashboard_address": ":0"},
                           # a worker's failure reaches its point as a failed future; the
                           # workers' own logs would add shutdown-race tracebacks
                           silence_logs=logging.CRITICAL)
    with cluster, Client(cluster) as client:
        yield client


def _threads(client) -> int:
    return max(1, sum(client.nthreads().values()))


def run_sweep(name: str, points: Sequence[Point], store: SweepStore, client,
              progress: Progress | None = None) -> Summary:
    """Run the points of sweep ``name`` not yet done in ``store`` on ``client`` (module
    docstring)."""
    from distributed import as_completed

    started = time.perf_counter()
    done = store.done_keys()
    unique: dict[str, Point] = {}
    for point in points:
        unique.setdefault(point.key, point)
    todo = [point for key, point in unique.items() if key not in done]
    store.register(name, [(point.index, point.key, point.axes) for point in points])
    summary = Summary(points=len(unique), skipped=len(unique) - len(todo))
    if progress is not None:
        progress(summary, min(len(todo), _threads(client)) if todo else 0)
    futures = {client.submit(run_point, point.payload(), key=f"accelsim-point-{point.key}",
                             pure=False): point for point in todo}
    pending = len(futures)
    for future in as_completed(futures):
        point = futures.pop(future)
        try:
            outcome = future.result()
        except Exception as error:  # noqa: BLE001 - a lost worker: recorded, the sweep goes on
            outcome = {"key": point.key, "status": "failed", "error": error_line(error),
                       "result": None}
        future.release()
        store.write(name, point.index, point.axes, point.spec.model_dump(mode="json"), outcome)
        if outcome["status"] == "done":
            summary.done += 1
        else:
            summary.failed += 1
            summary.failures[point.index] = outcome["error"]
        pending -= 1
        if progress is not None:
            progress(summary, min(pending, _threads(client)))
    summary.wall_seconds = time.perf_counter() - started
    return summary
