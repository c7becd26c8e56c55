"""``accelsim report SWEEP.db --out DIR``: the tidy CSVs and the figures of a sweep store.

Writes into ``DIR`` (created if missing): ``points.csv``, ``phases.csv``, ``layers.csv``
(:mod:`accelsim.sweep.tables`); ``speedup.png`` and ``energy.png`` where points have a run
without techniques to compare with; ``phases.png`` and ``layers_<workload>.png``;
``sensitivity_<axis>.png`` for each numeric axis (or those ``--x`` names)
(:mod:`accelsim.sweep.plots`); and ``report.json``, the list of files written, by which a later
report knows the files it may replace. Every file is checked before any is written (an existing
file not listed in the folder's ``report.json`` is refused unless ``force``) and each is
written atomically.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from accelsim import __version__
from accelsim.errors import ConfigError
from accelsim.outputs import prepare_folder, write_file_set
from accelsim.sweep import plots
from accelsim.sweep.store import SweepStore
from accelsim.sweep.tables import (csv_text, layer_rows, numeric_axes, phase_rows,
                                   point_rows, shown_axes, zip_partners)

SCHEMA = "accelsim.report/1"


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "axis"


def build(stored: Sequence[dict], xs: Sequence[str] | None) -> tuple[dict[str, bytes], list[str]]:
    """(file name -> content, notes on what was left out) of a report of ``stored`` (the
    store's rows with their results)."""
    files: dict[str, bytes] = {}
    notes: list[str] = []
    done = [row for row in stored if row["status"] == "done"]
    numeric = numeric_axes(done)
    for axis in xs or ():
        if axis not in numeric:
            raise ConfigError("--x", axis, "a numeric axis of the stored points (with at "
                              "least two values)", choices=numeric or None)
    columns, rows = point_rows(stored)
    files["points.csv"] = csv_text(columns, rows).encode()
    for name, table in (("phases.csv", phase_rows), ("layers.csv", layer_rows)):
        files[name] = csv_text(*table(stored)).encode()
    with_ratio = [{**row, **point} for row, point in zip(stored, rows)
                  if point["speedup"] != "" and row["spec"]["techniques"]]
    shown = shown_axes(stored)
    if with_ratio:
        files["speedup.png"] = plots.ratio_bars(with_ratio, "speedup", "speedup (x)",
                                                "speedup over no technique", shown)
        files["energy.png"] = plots.ratio_bars(with_ratio, "energy_ratio",
                                               "energy / no technique", "energy over no technique",
                                               shown)
    else:
        notes.append("no speedup or energy bars: no point has a stored run without "
                     "techniques to compare with")
    if done:
        files["phases.png"] = plots.stacked_bars(
            done, [plots.phase_parts(row) for row in done], "cycles an op of the phase ran",
            "phases", "phase", shown)
        for workload in dict.fromkeys(row["workload"] for row in done):
            mine = [row for row in done if row["workload"] == workload]
            files[f"layers_{_file_name(workload)}.png"] = plots.stacked_bars(
                mine, plots.layer_parts(mine), "op cycles", "cycles by layer", "layer", shown)
    for axis in (xs or [axis for axis in numeric if axis in shown]):
        files[f"sensitivity_{_file_name(axis.removeprefix('set.'))}.png"] = plots.sensitivity(
            done, axis, [key for key in shown if key != axis
                         and key not in zip_partners(done, axis)])
    if not done:
        notes.append("no figures: no point finished without error")
    return files, notes


def write_report(db: str | Path, out: str | Path, xs: Sequence[str] | None = None,
                 force: bool = False, sweep: str | None = None) -> tuple[list[Path], list[str]]:
    """Write the report of the store ``db`` into ``out`` (module docstring); the paths written
    and notes on what was left out."""
    with SweepStore(db, create=False) as store:
        stored = list(store.rows(with_result=True, sweep=sweep))
    if not stored:
        raise ConfigError(str(db), "", "a store holding points" + (
            f" of the sweep {sweep!r}" if sweep else ""), got="none")
    folder = prepare_folder("--out", out)
    files, notes = build(stored, xs)
    manifest = {"schema": SCHEMA, "accelsim_version": __version__, "db": str(db),
                "sweep": sweep, "notes": notes}
    written = write_file_set("--out", folder, files, manifest, force)
    return written, notes
