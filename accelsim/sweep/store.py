"""The SQLite result store of sweeps (``--db sweep.db``).

One row per point that finished, keyed by the point's key (:mod:`accelsim.sweep.points`),
written in one transaction as its result arrives: a crash or a SIGKILL loses at most the
points still running, never a stored one, and leaves no partial row (SQLite's journal, here in
WAL mode). Columns: the sweep's name and the point's number in it, its axis labels and run spec
(JSON), ``status`` (``done`` or ``failed``), the one-line ``error``, the headline figures
(``total_cycles``, ``seconds``, ``energy_pj``, ``dram_bytes``, ``macs``, ``macs_skipped``,
``pe_utilization``), the workload, hwconfig and technique names, the full result JSON
zlib-compressed (``result``) with its SHA-256 (``result_sha256``, of the uncompressed JSON),
the worker, its wall time, the finishing time and ``attempts`` (how many times the point ran
to an outcome: a failed point runs again when the sweep runs again, a done point never).
A point shared by two sweeps is stored once, under the sweep that ran it; the ``members``
table lists every sweep's points (sweep, number, key, axis labels), so that each sweep's
report finds all of its points.

A file that exists is used only if it is a sweep store (its ``meta`` table names the schema
:data:`SCHEMA`); anything else is refused, never changed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib
from collections.abc import Iterable, Iterator
from datetime import datetime, timezone
from pathlib import Path

from accelsim import __version__
from accelsim.errors import OutputError

SCHEMA = "accelsim.sweep/1"
#: Seconds a write waits for another writer of the same file.
BUSY_TIMEOUT_S = 30.0
#: Headline columns, in order (each also a key of :func:`accelsim.sweep.worker.headline`).
HEADLINE = ("total_cycles", "seconds", "energy_pj", "dram_bytes", "macs", "macs_skipped",
            "pe_utilization")
NAMES = ("workload", "hwconfig", "techniques")

_CREATE = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    point INTEGER NOT NULL,
    axes TEXT NOT NULL,
    spec TEXT NOT NULL,
    accelsim_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('done', 'failed')),
    error TEXT,
    total_cycles REAL, seconds REAL, energy_pj REAL, dram_bytes INTEGER, macs INTEGER,
    macs_skipped INTEGER, pe_utilization REAL,
    workload TEXT, hwconfig TEXT, techniques TEXT,
    result BLOB,
    result_sha256 TEXT,
    worker TEXT,
    wall_seconds REAL,
    finished_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX IF NOT EXISTS points_by_sweep ON points (sweep, point);
CREATE TABLE IF NOT EXISTS members (
    sweep TEXT NOT NULL,
    point INTEGER NOT NULL,
    key TEXT NOT NULL,
    axes TEXT NOT NULL,
    PRIMARY KEY (sweep, point)
);
INSERT OR IGNORE INTO meta (key, value) VALUES ('schema', '{SCHEMA}');
"""

_COLUMNS = ("key", "sweep", "point", "axes", "spec", "accelsim_version", "status", "error",
            *HEADLINE, *NAMES, "result", "result_sha256", "worker", "wall_seconds",
            "finished_at")


def _refuse(path: Path, why: str) -> OutputError:
    return OutputError("--db", str(path), f"a new file or a sweep store of accelsim ({why})")


class SweepStore:
    """An open store (module docstring); use as a context manager or call :meth:`close`."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.path = Path(path)
        self.check(self.path, create)
        try:
            self.db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_CREATE)
        except sqlite3.Error as error:
            raise OutputError("--db", str(path), f"a writable SQLite file ({error})") from None

    @classmethod
    def check(cls, path: Path, create: bool = True) -> None:
        """Refuse (one :class:`OutputError`) a path that is not a store and could not become
        one (``create``: a new file may be made there), changing nothing."""
        exists = path.exists()
        if exists and not path.is_file():
            raise _refuse(path, "this is not a file")
        if not exists and not create:
            raise OutputError("db", str(path), "an existing sweep store (accelsim sweep --db "
                              "writes one)")
        if exists:
            cls._check_schema(path)
        elif not path.parent.is_dir():
            raise OutputError("--db", str(path), f"a path in an existing folder "
                              f"({path.parent} does not exist)")

    @staticmethod
    def _check_schema(path: Path) -> None:
        with open(path, "rb") as handle:
            head = handle.read(16)
        if head and head != b"SQLite format 3\x00":
            raise _refuse(path, "this file is not an SQLite database")
        if not head:
            raise _refuse(path, "this file is empty")
        try:
            uri = f"{path.resolve().as_uri()}?mode=ro"
            with sqlite3.connect(uri, uri=True) as probe:
                row = probe.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        except sqlite3.Error:
            row = None
        if row is None or row[0] != SCHEMA:
            raise _refuse(path, "this SQLite file is not one")

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> SweepStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def done_keys(self) -> set[str]:
        """Keys of the points that finished without error."""
        return {key for (key,) in self.db.execute(
            "SELECT key FROM points WHERE status = 'done'")}

    def write(self, sweep: str, point: int, axes: dict, spec: dict, outcome: dict) -> None:
        """Store one point's outcome (:func:`accelsim.sweep.worker.run_point`) in one
        transaction; a failed point stored before is replaced (``attempts`` counts up)."""
        result = outcome.get("result")
        digest = (hashlib.sha256(zlib.decompress(result)).hexdigest()
                  if result is not None else None)
        values = {"key": outcome["key"], "sweep": sweep, "point": point,
                  "axes": json.dumps(axes), "spec": json.dumps(spec),
                  "accelsim_version": __version__, "status": outcome["status"],
                  "error": outcome.get("error"), "result": result, "result_sha256": digest,
                  "worker": outcome.get("worker"), "wall_seconds": outcome.get("wall_seconds"),
                  "finished_at": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
                  **{name: outcome.get(name) for name in (*HEADLINE, *NAMES)}}
        columns = ", ".join(_COLUMNS)
        marks = ", ".join(f":{name}" for name in _COLUMNS)
        updates = ", ".join(f"{name} = excluded.{name}" for name in _COLUMNS if name != "key")
        with self.db:  # one transaction (BEGIN ... COMMIT)
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute(f"INSERT INTO points ({columns}) VALUES ({marks}) "
                            f"ON CONFLICT (key) DO UPDATE SET {updates}, "
                            "attempts = points.attempts + 1 WHERE points.status != 'done'",
                            values)

    def register(self, sweep: str, members: Iterable[tuple[int, str, dict]]) -> None:
        """Record the points (number, key, axis labels) of ``sweep``, replacing an earlier
        list of that sweep, in one transaction."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("DELETE FROM members WHERE sweep = ?", (sweep,))
            self.db.executemany("INSERT INTO members (sweep, point, key, axes) VALUES "
                                "(?, ?, ?, ?)", [(sweep, point, key, json.dumps(axes))
                                                 for point, key, axes in members])

    def rows(self, with_result: bool = False, sweep: str | None = None) -> Iterator[dict]:
        """Every stored point as a mapping of its columns (``axes`` and ``spec`` parsed; the
        result JSON parsed under ``result`` when ``with_result``), by sweep and number; with
        ``sweep``, the stored points of that sweep with its numbers and axis labels."""
        query = "SELECT * FROM points ORDER BY sweep, point, key"
        if sweep is not None:
            query = ("SELECT p.*, m.sweep AS sweep, m.point AS point, m.axes AS axes FROM "
                     "members m JOIN points p ON p.key = m.key WHERE m.sweep = :sweep "
                     "ORDER BY m.point")
        self.db.row_factory = sqlite3.Row
        try:
            for row in self.db.execute(query, {"sweep": sweep}):
                item = dict(zip(row.keys(), row))  # a later column of a name wins
                item["axes"], item["spec"] = json.loads(item["axes"]), json.loads(item["spec"])
                blob = item.pop("result")
                if with_result:
                    item["result"] = (json.loads(zlib.decompress(blob))
                                      if blob is not None else None)
                yield item
        finally:
            self.db.row_factory = None

    def count(self) -> dict[str, int]:
        """Stored points by status."""
        return dict(self.db.execute("SELECT status, COUNT(*) FROM points GROUP BY status"))
