"""The figures of ``accelsim report`` (matplotlib, Agg), each returned as PNG bytes.

- speedup and energy bars: one panel per network (workload), groups of bars per hardware
  setting (the labels of every axis but the workload and techniques), one bar per technique,
  each over the same run without techniques; values written on the bars;
- phase and layer breakdowns: one stacked bar per point (cycles while each phase ran; summed op
  cycles of the largest layers, the rest as ``other``);
- sensitivity curves: cycles and energy along a numeric axis, one line per setting of the other
  axes (axes zipped with it move with it).

Titles name the workloads and hwconfigs; an axis whose values span a factor of ten or more is
drawn on a log scale. Figures are sized to stay readable at a paper's column width (3.5 in)
when scaled down, with one inch per ~3 bars beyond that.
"""

from __future__ import annotations

import io
from collections import defaultdict
from collections.abc import Sequence

from accelsim.sweep.tables import WHAT_RAN, numeric, short_name

#: Layers drawn in a layer breakdown; the rest are summed as ``other``.
TOP_LAYERS = 8
#: Ratio of largest to smallest value from which an axis is logarithmic.
LOG_SPAN = 10.0
_FONT = {"font.size": 8, "axes.titlesize": 9, "axes.labelsize": 8, "legend.fontsize": 7,
         "xtick.labelsize": 7, "ytick.labelsize": 7}


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(_FONT)
    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=150, metadata={"Software": "accelsim report"})
    plt.close(fig)
    return image.getvalue()


def spans_decades(values: Sequence[float]) -> bool:
    positive = [v for v in values if v > 0]
    return len(positive) == len(values) and bool(positive) and (
        max(positive) / min(positive) >= LOG_SPAN)


def _names(rows: Sequence[dict], column: str) -> str:
    return ", ".join(dict.fromkeys(str(row[column]) for row in rows))


def technique_of(row: dict) -> str:
    """The technique label of a point: its ``techniques`` and ``param.*`` axis labels, else
    the technique names it ran."""
    labels = [str(label) for axis, label in row["axes"].items()
              if axis == "techniques" or axis.startswith("param.")]
    return " ".join(labels) if labels else (row["techniques"] or "none")


def setting_axes(row: dict, shown: Sequence[str]) -> list[str]:
    """The ``shown`` axes of a point that name its hardware (not what ran)."""
    return [axis for axis in shown if axis in row["axes"] and axis not in WHAT_RAN
            and not axis.startswith("param.")]


def setting_of(row: dict, shown: Sequence[str]) -> str:
    """The hardware setting of a point: its labels of the ``shown`` axes but what ran, one
    per line (the x-axis title names the axes)."""
    labels = [str(row["axes"][axis]) for axis in setting_axes(row, shown)]
    return "\n".join(labels) if labels else row["hwconfig"]


def point_label(row: dict, shown: Sequence[str]) -> str:
    labels = [str(row["axes"][axis]) for axis in shown if axis in row["axes"]]
    return " ".join(labels) if labels else f"#{row['point']}"


def ratio_bars(rows: Sequence[dict], column: str, ylabel: str, title: str,
               shown: Sequence[str]) -> bytes:
    """Grouped bars of ``column`` (``speedup`` or ``energy_ratio``) (module docstring);
    ``rows``: points that have it; ``shown``: the axes that name hardware settings."""
    plt = _pyplot()
    networks = list(dict.fromkeys(row["workload"] for row in rows))
    techniques = list(dict.fromkeys(technique_of(row) for row in rows))
    settings = list(dict.fromkeys(setting_of(row, shown) for row in rows))
    width = max(3.5, 0.3 * len(settings) * len(techniques) + 1.5)
    fig, axes = plt.subplots(len(networks), 1, figsize=(width, 2.6 * len(networks)),
                             squeeze=False)
    bar = 0.8 / len(techniques)
    for ax, network in zip(axes[:, 0], networks):
        mine = [row for row in rows if row["workload"] == network]
        for t, technique in enumerate(techniques):
            xs, ys = [], []
            for s, setting in enumerate(settings):
                for row in mine:
                    if technique_of(row) == technique and setting_of(row, shown) == setting:
                        xs.append(s + (t - (len(techniques) - 1) / 2) * bar)
                        ys.append(row[column])
            bars = ax.bar(xs, ys, bar, label=technique)
            ax.bar_label(bars, labels=[f"{y:.2f}" for y in ys], fontsize=6, rotation=90,
                         padding=2)
        values = [row[column] for row in mine]
        if spans_decades(values):
            ax.set_yscale("log")
        ax.axhline(1.0, color="black", linewidth=0.6)
        ax.set_ylim(top=max(values) * (3 if ax.get_yscale() == "log" else 1.25))
        ax.set_xticks(range(len(settings)), settings)
        ax.set_xlabel(" / ".join(short_name(axis) for axis in setting_axes(mine[0], shown))
                      or "hwconfig")
        ax.set_ylabel(ylabel)
        ax.set_title(f"{title}: {network} on {_names(mine, 'hwconfig')}")
        ax.legend(title="technique", loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def stacked_bars(rows: Sequence[dict], parts: Sequence[dict[str, float]], ylabel: str,
                 title: str, legend: str, shown: Sequence[str]) -> bytes:
    """One stacked bar per point: ``parts[i]`` maps each part's name to its height."""
    plt = _pyplot()
    names = list(dict.fromkeys(name for part in parts for name in part))
    fig, ax = plt.subplots(figsize=(max(3.5, 0.3 * len(rows) + 1.5), 3.2))
    bottoms = [0.0] * len(rows)
    for name in names:
        heights = [part.get(name, 0.0) for part in parts]
        ax.bar(range(len(rows)), heights, 0.7, bottom=bottoms, label=name)
        bottoms = [b + h for b, h in zip(bottoms, heights)]
    ax.set_xticks(range(len(rows)), [point_label(row, shown) for row in rows], rotation=90)
    ax.set_ylabel(ylabel)
    ax.set_title(f"{title}: {_names(rows, 'workload')} on {_names(rows, 'hwconfig')}")
    ax.legend(title=legend, fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return _png(fig)


def phase_parts(row: dict) -> dict[str, float]:
    return dict(row["result"]["phases"])


def layer_parts(rows: Sequence[dict]) -> list[dict[str, float]]:
    """Summed op cycles per layer of each point: the :data:`TOP_LAYERS` largest over all the
    points, the rest as ``other``."""
    sums = []
    for row in rows:
        cycles: dict[str, float] = defaultdict(float)
        for op in row["result"]["ops"]:
            cycles[op["layer"]] += op["cycles"]
        sums.append(cycles)
    totals: dict[str, float] = defaultdict(float)
    for cycles in sums:
        for layer, value in cycles.items():
            totals[layer] += value
    top = sorted(totals, key=lambda layer: (-totals[layer], layer))[:TOP_LAYERS]
    parts = []
    for cycles in sums:
        part = {layer: cycles.get(layer, 0.0) for layer in top}
        part["other"] = sum(v for layer, v in cycles.items() if layer not in top)
        parts.append(part)
    return parts


def sensitivity(rows: Sequence[dict], axis: str, others: Sequence[str]) -> bytes:
    """Cycles and energy against the numeric ``axis``, one line per combination of the
    ``others`` axes' labels (not those zipped with ``axis``, which move with it)."""
    plt = _pyplot()
    lines: dict[str, list[dict]] = defaultdict(list)
    for row in rows:
        label = " ".join(f"{short_name(key)}={row['axes'][key]}" for key in others
                         if key in row["axes"])
        lines[label or "all"].append(row)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(5.0, 5.2 + 0.12 * len(lines)),
                                      sharex=True, layout="constrained")
    xs_all = [numeric(row["axes"][axis]) for row in rows]
    for label, members in lines.items():
        members = sorted(members, key=lambda row: numeric(row["axes"][axis]))
        xs = [numeric(row["axes"][axis]) for row in members]
        top.plot(xs, [row["total_cycles"] for row in members], marker="o", label=label)
        bottom.plot(xs, [row["energy_pj"] / 1e6 for row in members], marker="o", label=label)
    for ax, column, ylabel in ((top, "total_cycles", "cycles"),
                               (bottom, "energy_pj", "energy (uJ)")):
        if spans_decades([row[column] for row in rows]):
            ax.set_yscale("log")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    if spans_decades(xs_all):
        bottom.set_xscale("log")
    ticks = sorted(set(xs_all))
    bottom.set_xticks(ticks, [str(next(row["axes"][axis] for row in rows
                                       if numeric(row["axes"][axis]) == x)) for x in ticks])
    bottom.minorticks_off()
    bottom.set_xlabel(short_name(axis))
    fig.suptitle(f"sensitivity to {short_name(axis)}: {_names(rows, 'workload')} on "
                 f"{_names(rows, 'hwconfig')}", fontsize=9)
    fig.legend(*top.get_legend_handles_labels(), fontsize=6, loc="outside lower center",
               ncols=2)
    return _png(fig)
