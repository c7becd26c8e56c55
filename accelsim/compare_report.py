"""``accelsim compare A.json B.json --out DIR``: the comparison as a tidy CSV and a figure.

Writes into ``DIR`` (created if missing):

- ``compare.csv``: one row per figure compared, columns ``section`` (totals, phase cycles,
  energy by component, ops that moved most, settings that differ), ``what``, ``a``, ``b`` and
  ``b_over_a`` (empty where a figure is missing or not a number);
- ``compare.png``: three panels, a beside b: cycles while each training phase ran, energy by
  top-level component (PE array, SRAM, vector unit, DRAM, techniques; one below 0.1% of the
  largest is left out and the title says so), and the ops whose cycles moved most; titles
  name each run's workload, hwconfig and techniques, values are written on the bars and an
  axis whose values span a factor of ten or more is logarithmic;
- ``compare.json``: the files written and the two results compared, by which a later comparison
  knows the files it may replace (:func:`accelsim.outputs.write_file_set`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

from accelsim import __version__
from accelsim.compare import Comparison
from accelsim.outputs import prepare_folder, write_file_set

SCHEMA = "accelsim.compare/1"
#: Ratio of largest to smallest value from which an axis is logarithmic.
LOG_SPAN = 10.0
#: Energy components below this share of the largest are left out of the figure (not the CSV).
SMALLEST = 1e-3
_SECTIONS = (("totals", "totals"), ("phase cycles", "phases"),
             ("energy by component (uJ)", "energy"), ("ops whose cycles moved most", "ops"),
             ("settings that differ", "settings"))


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def csv_text(result: Comparison) -> str:
    """The comparison's rows as CSV text (module docstring)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["section", "what", "a", "b", "b_over_a"])
    for section, attribute in _SECTIONS:
        for what, a, b in getattr(result, attribute):
            na, nb = _number(a), _number(b)
            ratio = nb / na if na not in (None, 0.0) and nb is not None else None
            writer.writerow([section, what, "" if a is None else a, "" if b is None else b,
                             "" if ratio is None else f"{ratio:.6g}"])
    return out.getvalue()


def _label(data: dict) -> str:
    techniques = ", ".join(data.get("techniques") or []) or "no technique"
    return f"{data['workload']} on {data['hwconfig']} ({techniques})"


def _top_level(rows: Sequence[tuple[str, float, float]]) -> list[tuple[str, float, float]]:
    """Energy rows summed by top-level component (``sram.ifmap`` -> ``sram``)."""
    summed: dict[str, list[float]] = {}
    for name, a, b in rows:
        pair = summed.setdefault(name.split(".")[0], [0.0, 0.0])
        pair[0] += a or 0.0
        pair[1] += b or 0.0
    return [(name, a, b) for name, (a, b) in summed.items()]


def _panel(axis, rows: Sequence[tuple[str, float | None, float | None]], unit: str,
           title: str) -> None:
    import numpy as np

    names = [name for name, _, _ in rows]
    a = np.array([value or 0.0 for _, value, _ in rows])
    b = np.array([value or 0.0 for _, _, value in rows])
    y = np.arange(len(names))
    height = 0.4
    bars_a = axis.barh(y - height / 2, a, height, label="a", color="#4c72b0")
    bars_b = axis.barh(y + height / 2, b, height, label="b", color="#dd8452")
    positive = np.concatenate([a, b])
    positive = positive[positive > 0]
    if len(positive) and positive.max() / positive.min() >= LOG_SPAN:
        axis.set_xscale("log")
    for bars, values in ((bars_a, a), (bars_b, b)):
        for bar, value in zip(bars, values):
            if value > 0:
                axis.annotate(f"{value:,.3g}", (bar.get_width(), bar.get_y() + height / 2),
                              xytext=(2, 0), textcoords="offset points", va="center",
                              fontsize=6)
    axis.set_yticks(y, names)
    axis.invert_yaxis()
    axis.set_xlabel(unit)
    axis.set_title(title)
    axis.legend(loc="lower right")


def figure_png(a: dict, b: dict, result: Comparison) -> bytes:
    """The three-panel figure (module docstring) as PNG bytes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    with plt.rc_context({"font.size": 8, "axes.titlesize": 9, "legend.fontsize": 7}):
        ops = [row for row in result.ops if row[1] is not None or row[2] is not None]
        heights = [max(1.6, 0.35 * len(rows) + 0.8)
                   for rows in (result.phases, _top_level(result.energy), ops)]
        figure, axes = plt.subplots(3, 1, figsize=(7.0, sum(heights) + 0.8),
                                    gridspec_kw={"height_ratios": heights})
        _panel(axes[0], result.phases, "cycles", "cycles while each phase ran")
        energy = _top_level(result.energy)
        largest = max((max(a or 0.0, b or 0.0) for _, a, b in energy), default=0.0)
        shown = [row for row in energy
                 if max(row[1] or 0.0, row[2] or 0.0) >= SMALLEST * largest]
        _panel(axes[1], shown, "uJ", "energy by component" + (
            f" (below {SMALLEST:.1%} of the largest left out; in compare.csv)"
            if len(shown) < len(energy) else ""))
        _panel(axes[2], ops, "cycles", "ops whose cycles moved most")
        figure.suptitle(f"a: {_label(a)}\nb: {_label(b)}", fontsize=8)
        figure.tight_layout()
        out = io.BytesIO()
        figure.savefig(out, format="png", dpi=150)
        plt.close(figure)
    return out.getvalue()


def write_comparison(a: dict, b: dict, result: Comparison, sources: tuple[str, str],
                     out: str | Path, force: bool = False) -> list[Path]:
    """Write ``compare.csv``, ``compare.png`` and ``compare.json`` into ``out``."""
    folder = prepare_folder("--out", out)
    files = {"compare.csv": csv_text(result).encode(), "compare.png": figure_png(a, b, result)}
    manifest = {"schema": SCHEMA, "accelsim_version": __version__, "a": sources[0],
                "b": sources[1]}
    return write_file_set("--out", folder, files, manifest, force)
