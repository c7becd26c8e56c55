"""Two run results side by side: totals, phases, the energy split, the ops that moved most and
the hwconfig values and run settings that differ.

Results are the JSON files ``accelsim run --out`` writes (schema ``accelsim.run/1``); anything
else is refused with the file and what was expected. Ops are matched by name; an op only one
run has (a fused or a skipped op) is listed as such.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from accelsim.errors import ConfigError
from accelsim.stats.result import SCHEMA

#: Largest result file read (a ResNet-50 result is a few MiB; 50,000 ops would be ~100 MiB).
MAX_RESULT_BYTES = 512 << 20


def load_result(path: str | Path) -> dict:
    """The result JSON at ``path``, or a :class:`ConfigError` naming the file."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ConfigError(str(path), "", "a result JSON file written by accelsim run --out",
                          got=error.strerror) from None
    if size > MAX_RESULT_BYTES:
        raise ConfigError(str(path), "", f"a result of at most {MAX_RESULT_BYTES >> 20} MiB",
                          got=f"{size:,} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError(str(path), "", "a result JSON file written by accelsim run --out",
                          got=f"not JSON ({error})") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise ConfigError(str(path), "schema", f"an accelsim result ({SCHEMA})", got=got)
    return data


@dataclass
class Comparison:
    """Rows of (what, a, b): figures of run ``a`` and run ``b``."""

    totals: list[tuple[str, float, float]] = field(default_factory=list)
    phases: list[tuple[str, float, float]] = field(default_factory=list)
    energy: list[tuple[str, float, float]] = field(default_factory=list)
    ops: list[tuple[str, float | None, float | None]] = field(default_factory=list)
    settings: list[tuple[str, object, object]] = field(default_factory=list)


def _flatten(value: object, prefix: str = "") -> dict[str, object]:
    """Dotted key paths of a nested mapping (lists as values)."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, object] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat


def _differences(a: dict, b: dict, prefix: str) -> list[tuple[str, object, object]]:
    fa, fb = _flatten(a, prefix), _flatten(b, prefix)
    return [(key, fa.get(key), fb.get(key)) for key in sorted(set(fa) | set(fb))
            if fa.get(key) != fb.get(key)]


def compare(a: dict, b: dict, top: int = 10) -> Comparison:
    """The comparison of results ``a`` and ``b``; ``top``: ops listed, by the largest change of
    their cycles."""
    result = Comparison()
    result.totals = [
        ("total cycles", a["total_cycles"], b["total_cycles"]),
        ("seconds", a["seconds"], b["seconds"]),
        ("energy (uJ)", a["energy_pj"]["total"] / 1e6, b["energy_pj"]["total"] / 1e6),
        ("MACs issued", a["macs_issued"], b["macs_issued"]),
        ("MACs skipped", a["macs_skipped"], b["macs_skipped"]),
        ("PE utilisation", a["utilization"]["pe_array"], b["utilization"]["pe_array"]),
        ("DRAM MiB", a["dram_bytes"]["total"] / 2**20, b["dram_bytes"]["total"] / 2**20),
    ]
    result.phases = [(phase, a["phases"].get(phase, 0.0), b["phases"].get(phase, 0.0))
                     for phase in dict.fromkeys([*a["phases"], *b["phases"]])]

    def energy_by_component(data: dict) -> dict[str, float]:
        return {name: sum(actions.values()) / 1e6
                for name, actions in data["energy_pj"]["by_component"].items()}

    ea, eb = energy_by_component(a), energy_by_component(b)
    result.energy = [(name, ea.get(name, 0.0), eb.get(name, 0.0))
                     for name in dict.fromkeys([*ea, *eb])]
    ops_a = {row["name"]: row["cycles"] for row in a["ops"]}
    ops_b = {row["name"]: row["cycles"] for row in b["ops"]}
    moved = sorted(((name, ops_a.get(name), ops_b.get(name))
                    for name in dict.fromkeys([*ops_a, *ops_b])),
                   key=lambda row: (-abs((row[2] or 0) - (row[1] or 0)), row[0]))
    result.ops = moved[:top]
    result.settings = (_differences(a["hwconfig_resolved"], b["hwconfig_resolved"], "hw")
                       + _differences({"workload": a["workload"], **a["workload_meta"],
                                       "techniques": a["run"].get("techniques"),
                                       "step": a["run"].get("step"),
                                       "seed": a["run"].get("seed")},
                                      {"workload": b["workload"], **b["workload_meta"],
                                       "techniques": b["run"].get("techniques"),
                                       "step": b["run"].get("step"),
                                       "seed": b["run"].get("seed")}, "run"))
    return result
