"""The tidy tables of a sweep store: one row per point, per point and phase, per point and layer.

Points: the sweep and point number, the key, status and error, one column per axis (its
label), the workload, hwconfig and ``technique_names`` (``none`` when empty), the headline figures, and,
where the store holds the same run without techniques (the same spec with ``techniques: []``,
done), ``speedup`` (its cycles / these) and ``energy_ratio`` (this energy / its). Phases: the
cycles during which an op of each phase ran (``phases`` of the result) and the summed op
figures of ``phase_stats``. Layers: the summed op cycles, MACs and DRAM bytes of each layer
and phase, from the result's op rows.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence

from accelsim.sweep.points import canonical_json
from accelsim.sweep.store import HEADLINE
from accelsim.units import UnitError, parse_frequency, parse_size

FIXED = ("sweep", "point", "key", "status", "error")
#: Name columns (``technique_names``: the store's ``techniques``, apart from an axis of that
#: name).
NAMES = ("workload", "hwconfig", "technique_names")
RATIOS = ("speedup", "energy_ratio")
#: Axes that say what ran rather than on what hardware (bars group by the rest).
WHAT_RAN = ("workload", "techniques")


def technique_label(row: dict) -> str:
    return row["techniques"] or "none"


def axis_keys(rows: Iterable[dict]) -> list[str]:
    """Every axis of the stored points, in first-seen order."""
    return list(dict.fromkeys(key for row in rows for key in row["axes"]))


def _without_techniques(spec: dict) -> str:
    return canonical_json({**spec, "techniques": []})


def point_rows(stored: Sequence[dict]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the points table (module docstring); ``stored``: the store's rows."""
    axes = axis_keys(stored)
    baselines = {_without_techniques(row["spec"]): row for row in stored
                 if row["status"] == "done" and not row["spec"]["techniques"]}
    rows = []
    for row in stored:
        item = {name: row[name] for name in FIXED}
        item.update({axis: row["axes"].get(axis, "") for axis in axes})
        item.update(workload=row["workload"], hwconfig=row["hwconfig"],
                    technique_names=technique_label(row) if row["status"] == "done" else "")
        item.update({name: row[name] for name in HEADLINE})
        base = baselines.get(_without_techniques(row["spec"]))
        done = row["status"] == "done" and base is not None
        item["speedup"] = base["total_cycles"] / row["total_cycles"] if done else ""
        item["energy_ratio"] = row["energy_pj"] / base["energy_pj"] if done else ""
        rows.append(item)
    return [*FIXED, *axes, *NAMES, *HEADLINE, *RATIOS], rows


def phase_rows(stored: Sequence[dict]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the phases table; ``stored`` with results."""
    columns = ["sweep", "point", "key", "phase", "cycles", "ops", "macs", "op_cycles",
               "dram_bytes"]
    rows = []
    for row in stored:
        result = row.get("result")
        if result is None:
            continue
        for phase, cycles in result["phases"].items():
            stats = result["phase_stats"].get(phase, {})
            rows.append({"sweep": row["sweep"], "point": row["point"], "key": row["key"],
                         "phase": phase, "cycles": cycles, **{
                             name: stats.get(name, "") for name in columns[5:]}})
    return columns, rows


def layer_rows(stored: Sequence[dict]) -> tuple[list[str], list[dict]]:
    """(columns, rows) of the layers table; ``stored`` with results."""
    columns = ["sweep", "point", "key", "workload", "layer", "phase", "ops", "op_cycles",
               "macs", "macs_skipped", "dram_bytes"]
    rows = []
    for row in stored:
        result = row.get("result")
        if result is None:
            continue
        sums: dict[tuple[str, str], dict] = {}
        for op in result["ops"]:
            entry = sums.setdefault((op["layer"], op["phase"]), defaultdict(float))
            entry["ops"] += 1
            entry["op_cycles"] += op["cycles"]
            entry["macs"] += op["macs"]
            entry["macs_skipped"] += op["macs_skipped"]
            entry["dram_bytes"] += op["dram_bytes"]
        for (layer, phase), entry in sums.items():
            rows.append({"sweep": row["sweep"], "point": row["point"], "key": row["key"],
                         "workload": result["workload"], "layer": layer, "phase": phase,
                         **{name: _whole(entry[name]) for name in columns[6:]}})
    return columns, rows


def _whole(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def csv_text(columns: Sequence[str], rows: Iterable[dict]) -> str:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    for row in rows:
        writer.writerow({key: (repr(value) if isinstance(value, float) else value)
                         for key, value in row.items()})
    return text.getvalue()


def numeric(label: object) -> float | None:
    """An axis label as a number: a number, a size (``64KiB``) or a frequency (``1GHz``);
    ``None`` otherwise."""
    if isinstance(label, bool):
        return None
    if isinstance(label, (int, float)):
        return float(label)
    for parse in (parse_size, parse_frequency):
        try:
            return float(parse(label))
        except (UnitError, TypeError, ValueError):
            continue
    return None


def numeric_axes(rows: Sequence[dict]) -> list[str]:
    """Axes whose every label is numeric and which take at least two values."""
    found = []
    for axis in axis_keys(rows):
        values = {numeric(row["axes"].get(axis)) for row in rows}
        if None not in values and len(values) >= 2:
            found.append(axis)
    return found


def zip_partners(rows: Sequence[dict], axis: str) -> list[str]:
    """Axes whose label follows from ``axis``'s over ``rows`` (zipped with it)."""
    partners = []
    for other in axis_keys(rows):
        if other == axis:
            continue
        pairs = {(json.dumps(row["axes"].get(axis)), json.dumps(row["axes"].get(other)))
                 for row in rows}
        if len({a for a, _ in pairs}) == len(pairs) and len(pairs) > 1:
            partners.append(other)
    return partners


def shown_axes(rows: Sequence[dict]) -> list[str]:
    """The axes that name points: every axis but those that follow from an earlier one."""
    shown: list[str] = []
    for axis in axis_keys(rows):
        if not any(axis in zip_partners(rows, earlier) for earlier in shown):
            shown.append(axis)
    return shown


def short_name(axis: str) -> str:
    """An axis key as a plot labels it: ``set.sram.ifmap.capacity`` -> ``ifmap.capacity``."""
    return ".".join(axis.removeprefix("set.").split(".")[-2:])
