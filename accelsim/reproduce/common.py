"""What the reproductions share: one run of a workload with techniques at a training step, the
comparison figures (speedup, energy saving, gap to the paper), the table text beside the
paper's figures, the CSV, the output folder and the grouped bar chart.

Nothing here prints: reports are built as lines of text, which the command line (or a
script) writes out.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
from dataclasses import dataclass, field
from pathlib import Path

import accelsim
from accelsim.config.loader import load_hwconfig
from accelsim.outputs import atomic_write_bytes, atomic_write_text, study_folder
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.loader import load_workload
from accelsim.workload.training import TrainingOptions

#: The checkout the package runs from: its shipped hwconfigs and traced workloads.
ROOT = Path(accelsim.__file__).resolve().parent.parent
TRACED = ROOT / "workloads" / "traced"
HWCONFIGS = ROOT / "hwconfigs"
#: The accuracy column when no accuracy file and no model gives a number.
ACCURACY = "not measured"
ACCURACY_REASON = ("nothing here models it: the runs count work, time and energy; the "
                   "accuracy-side trace mode (training with the technique's approximation "
                   "applied) is future work")
MEASURED = "measured"
#: The traced workloads that carry the hit and change rates the techniques need.
WORKLOADS = ("resnet18_cifar", "mlp")


@dataclass
class Outcome:
    """What one technique's reproduction gives: its rows over training (the table's, each
    with ``speedup``, ``energy_saving`` and ``accuracy``), the explanation of every difference
    from the paper above 20%, the files written, and the simulations run and their time."""

    rows: list[dict]
    explanations: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    simulations: int = 0
    seconds: float = 0.0


def traced_batch(workload: str) -> int:
    """The batch a traced workload folder was traced at (its shapes are fixed)."""
    return int(json.loads((TRACED / workload / "manifest.json").read_text())["batch"])


def load_traced(workload: str, element_bytes: int | None = None):
    """The traced workload folder ``workloads/traced/<workload>`` at its own batch."""
    options = TrainingOptions(batch=traced_batch(workload), **(
        {"element_bytes": element_bytes} if element_bytes is not None else {}))
    return load_workload(str(TRACED / workload), options)


def sampled_steps(workload: str) -> list[int]:
    """The training steps at which the trace measured its value statistics."""
    return list(load_traced(workload).value_stats.steps)


def selection(args, settings: tuple) -> tuple[list[str], tuple]:
    """The workloads and settings a traced reproduction runs: with ``--quick`` the traced mlp
    and the first (default) setting, else ``--workloads`` and every setting."""
    if args.quick:
        return ["mlp"], settings[:1]
    return [w for w in args.workloads.split(",") if w], settings


def selected_steps(args, workloads: list[str]) -> dict[str, list[int]]:
    """The sampled steps run per workload: the last only with ``--quick``, else every one."""
    return {w: sampled_steps(w)[-1:] if args.quick else sampled_steps(w) for w in workloads}


def run(hw: str, workload: str, techniques: tuple[str, ...] = (), step: int | None = None,
        overrides: tuple[str, ...] = ()) -> dict:
    """One training iteration (forward, backward, weight update) of the traced ``workload``
    on ``hwconfigs/<hw>.yaml`` (with ``--set``-style ``overrides``) with ``techniques``
    (``--technique`` texts) at ``step`` (the trace's last sampled step when None)."""
    config = load_hwconfig(HWCONFIGS / f"{hw}.yaml", overrides)
    loaded = load_traced(workload, config.element_bytes)
    specs = [TechniqueSpec.parse(text) for text in techniques]
    return Simulation(config, loaded, specs, step=step).run().data


def simulate_zoo(hw: Path, network: str, batch: int, techniques: tuple[str, ...] = (),
                 overrides: tuple[str, ...] = (), seed: int = 0) -> dict:
    """One training iteration of a zoo ``network`` (or any workload reference) at ``batch``
    on the hwconfig file ``hw`` with ``overrides`` and ``techniques``."""
    config = load_hwconfig(hw, overrides)
    options = TrainingOptions(batch=batch, element_bytes=config.element_bytes)
    workload = load_workload(network, options)
    specs = [TechniqueSpec.parse(text) for text in techniques]
    return Simulation(config, workload, specs, seed=seed).run().data


def energy_by_component(result: dict) -> dict[str, float]:
    """pJ by top-level component (pe_array, sram, vector_unit, dram, technique)."""
    split: dict[str, float] = {}
    for name, actions in result["energy_pj"]["by_component"].items():
        key = name.split(".")[0]
        split[key] = split.get(key, 0.0) + sum(actions.values())
    return split


def compare(base_cycles: float, base_pj: float, cycles: float, pj: float) -> dict:
    """Speedup (baseline cycles over the technique's) and energy saving (share of the
    baseline's energy the technique removes; negative when it adds)."""
    return {"speedup": base_cycles / cycles, "energy_saving": 1.0 - pj / base_pj}


def gap(ours: float, paper: float) -> float:
    """Relative difference of our figure from the paper's."""
    return ours / paper - 1.0


def gaps_above(row: dict, paper: dict, threshold: float = 0.2) -> list[str]:
    """``speedup`` and ``energy_saving`` of ``row`` whose gap to the paper's is above
    ``threshold``, as ``"speedup -25%"`` text."""
    return [f"{key.replace('_', ' ')} {gap(row[key], paper[key]):+.0%}"
            for key in ("speedup", "energy_saving") if abs(gap(row[key], paper[key])) > threshold]


def arguments(description: str, name: str, quick: str) -> argparse.ArgumentParser:
    """The options of the traced-workload reproductions: ``--out`` (default out/<name> in
    the current folder), ``--workloads``, ``--quick`` (what ``quick`` says) and ``--jobs``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=str(Path("out") / name),
                        help=f"output folder (default: out/{name} in the current folder)")
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="traced workloads (folders of workloads/traced)")
    parser.add_argument("--quick", action="store_true", help=quick)
    parser.add_argument("--jobs", type=int, default=1, help="parallel simulations")
    return parser


def table_lines(rows: list[dict], paper: dict, keys: tuple[str, ...],
                notes: list[str] | None = None) -> list[str]:
    """Ours against the paper: one line per row, with the paper's figures in the header, and
    the accuracy column's ``notes`` (default: why it is not measured)."""
    sizes = widths(rows, keys)
    lines = ["".join(f"{k:<{w}}" for k, w in zip(keys, sizes))
             + f"{'speedup':>9}{'energy saving':>15}  accuracy difference",
             "".join(f"{'paper':<{w}}" if i == 0 else " " * w for i, w in enumerate(sizes))
             + f"{paper['speedup']:>8.2f}x{paper['energy_saving']:>15.0%}  {paper['accuracy']}"]
    for row in rows:
        lines.append("".join(f"{str(row[k]):<{w}}" for k, w in zip(keys, sizes))
                     + f"{row['speedup']:>8.3f}x{row['energy_saving']:>15.1%}  {row['accuracy']}")
    return lines + (notes if notes is not None
                    else [f"accuracy difference {ACCURACY}: {ACCURACY_REASON}"])


def widths(rows: list[dict], keys: tuple[str, ...]) -> list[int]:
    return [max(len(k), *(len(str(r[k])) for r in rows)) + 2 for k in keys]


def csv_text(rows: list[dict]) -> str:
    """``rows`` as CSV, header from the union of the rows' keys in first-seen order."""
    fields = list(dict.fromkeys(key for row in rows for key in row))
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def write_csv(path: Path, rows: list[dict]) -> None:
    atomic_write_text(path, csv_text(rows))


def ready(out: str | Path) -> Path:
    """The output folder, created and checked before any simulation
    (:func:`accelsim.outputs.study_folder`; an :class:`AccelsimError` when unusable)."""
    return study_folder(str(out))


def write_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, image.getvalue())


def chart(rows: list[dict], group_key: str, bar_key: str, paper: dict, title: str,
          path: Path, panels: tuple[tuple[str, str, float, float], ...] | None = None) -> None:
    """One panel per figure (default: speedup and energy saving, the paper's from ``paper``;
    else ``panels`` of (key, axis label, the paper's value, display scale)): a group of bars
    per ``group_key`` value, a bar per ``bar_key`` value, each labelled with its value; the
    paper's figure as a dashed line."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if panels is None:
        panels = (("speedup", "speedup over the baseline (x)", paper["speedup"], 1.0),
                  ("energy_saving", "energy saving (% of the baseline)",
                   paper["energy_saving"], 100.0))
    groups = list(dict.fromkeys(r[group_key] for r in rows))
    bars = list(dict.fromkeys(r[bar_key] for r in rows))
    fig, axes = plt.subplots(len(panels), 1, figsize=(7.5, 3.75 * len(panels)))
    width = 0.8 / len(bars)
    for ax, (key, ylabel, published, scale) in zip(axes, panels):
        def fmt(v: float, scale: float = scale) -> str:
            return f"{v:.2f}x" if scale == 1.0 else f"{v:.0%}"

        for index, bar in enumerate(bars):
            xs, values = [], []
            for g, group in enumerate(groups):
                found = [r for r in rows if r[group_key] == group and r[bar_key] == bar]
                if found:
                    xs.append(g + (index - (len(bars) - 1) / 2) * width)
                    values.append(found[0][key])
            drawn = ax.bar(xs, [v * scale for v in values], width, label=bar)
            ax.bar_label(drawn, labels=[fmt(v) for v in values], fontsize=7, padding=2)
        ax.axhline(published * scale, color="k", linestyle="--", linewidth=1.2,
                   label=f"paper {fmt(published)}")
        ax.axhline(1.0 if key == "speedup" else 0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(groups)), groups, fontsize=8)
        ax.set_ylabel(ylabel)
        ax.grid(True, axis="y", alpha=0.3)
        ax.margins(y=0.15)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[0].set_title(title, fontsize=10)
    write_figure(fig, path)
