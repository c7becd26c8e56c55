"""The sweep store: one row per point, a done row never replaced, failed rows replaced with
their attempts counted, and any file that is not a store refused untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zlib

import pytest

from accelsim.errors import ConfigError, OutputError
from accelsim.sweep.store import SweepStore
from accelsim.sweep.worker import error_line, run_point


def outcome(key: str, status: str = "done", cycles: float = 10.0) -> dict:
    data = {"total_cycles": cycles}
    if status == "failed":
        return {"key": key, "status": "failed", "error": "error: bad", "result": None}
    return {"key": key, "status": "done", "error": None, "total_cycles": cycles,
            "result": zlib.compress(json.dumps(data).encode())}


def test_rows_round_trip_and_done_rows_stay(tmp_path):
    """A written point reads back with its axes, spec and result; writing a done point again
    changes nothing; a failed point is replaced and its attempts count 2."""
    with SweepStore(tmp_path / "s.db") as store:
        store.write("s", 0, {"batch": 2}, {"batch": 2}, outcome("a", cycles=10))
        store.write("s", 0, {"batch": 2}, {"batch": 2}, outcome("a", cycles=99))
        store.write("s", 1, {"batch": 4}, {"batch": 4}, outcome("b", "failed"))
        assert store.done_keys() == {"a"}
        store.write("s", 1, {"batch": 4}, {"batch": 4}, outcome("b", cycles=20))
        rows = {row["key"]: row for row in store.rows(with_result=True)}
    assert rows["a"]["total_cycles"] == 10 and rows["a"]["attempts"] == 1
    assert rows["a"]["result"] == {"total_cycles": 10}
    assert rows["a"]["result_sha256"] == hashlib.sha256(b'{"total_cycles": 10}').hexdigest()
    assert rows["b"]["status"] == "done" and rows["b"]["attempts"] == 2
    assert rows["b"]["axes"] == {"batch": 4} and rows["b"]["error"] is None
    with sqlite3.connect(tmp_path / "s.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@pytest.mark.parametrize("content", [b"", b"not a database", None])
def test_other_files_are_refused_unchanged(tmp_path, content):
    """An empty file, a text file or an SQLite file of another program is refused with one
    error naming --db, and left as it was."""
    path = tmp_path / "other.db"
    if content is None:
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE mine (x)")
    else:
        path.write_bytes(content)
    before = path.read_bytes()
    with pytest.raises(OutputError, match=r"^--db: .*other\.db: expected a new file or a sweep "
                       r"store of accelsim"):
        SweepStore(path)
    assert path.read_bytes() == before


def test_failed_point_records_the_command_lines_error(tmp_path):
    """A point whose technique does not apply to the PE array fails with the line accelsim run
    prints for it, on one line."""
    from tests.conftest import HWCONFIGS, ROOT

    spec = {"hwconfig": str(HWCONFIGS / "edge_16x16.yaml"),
            "workload": str(ROOT / "workloads" / "lenet5.yaml"), "batch": 2,
            "techniques": ["ant"]}
    result = run_point({"key": "k", "spec": spec, "source": "s.yaml", "folder": str(tmp_path)})
    assert result["status"] == "failed" and result["result"] is None
    assert result["error"].startswith("error: ") and "ant" in result["error"]
    assert "\n" not in result["error"]
    assert error_line(ConfigError("f.yaml", "a.b", "x\ny")) == "error: f.yaml: a.b: expected x; y"
