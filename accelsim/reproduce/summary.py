"""The one comparison table of ``accelsim reproduce``: each technique's headline rows beside
the paper's figures, the stacks of techniques that make sense together, and those that do not.

Per technique (:data:`REPRODUCTIONS`) the rows of its reproduction's :class:`Outcome` become
table entries: baseline hardware, workload, setting, our speedup and energy saving, the
accuracy difference (:mod:`accelsim.reproduce.accuracy`), the paper's figures
(:mod:`accelsim.reproduce.papers`) and the technique's own key figure; a gap above 20% is
flagged and explained by the technique's reproduction. ANT's accuracy difference is 0 by
construction (it drops only products whose results are discarded) unless a file says
otherwise.

Stacks (:data:`STACKS`) run on one traced workload and one hwconfig: the baseline, each
technique alone and all of them in the chain, with the MAC invariant checked and the MACs
skipped by the stack compared with those skipped alone (each MAC is skipped at most once:
the stack skips no fewer than either technique alone and no more than both together).
:data:`NOT_STACKED` says which pairs are not run and why. The figure: grouped bars per
network, one bar per technique (log scale when the values span a decade or more), value
labels, each technique's published figure marked over its bars.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelsim.reproduce.accuracy import read_accuracy
from accelsim.reproduce.common import Outcome, compare, csv_text, gap, write_figure
from accelsim.reproduce.confidence_skip import UNMEASURED
from accelsim.reproduce.papers import paper
from accelsim.outputs import atomic_write_text

TECHNIQUES = ("ant", "acrtc", "daa", "mquans", "confidence_skip")
BASELINES = {"ant": "scnn_like", "acrtc": "tensor_core_like", "daa": "scalesim_32x32_os",
             "confidence_skip": "tpu_like_128x128"}
ANT_ACCURACY = ("by construction: ANT drops only redundant Cartesian products, whose "
                "results are discarded, so the training arithmetic is unchanged")


@dataclass(frozen=True)
class Stack:
    """Techniques that run together on one hwconfig and traced workload."""

    techniques: tuple[str, ...]
    hw: str
    workload: str
    why: str


STACKS = (
    Stack(("ant", "confidence_skip:tau=0.9"), "scnn_like", "resnet18_cifar",
          "ANT drops redundant products of the issued work, confidence skipping drops whole "
          "samples' backward work: disjoint savings on the SCNN-like array"),
    Stack(("acrtc:k=8", "confidence_skip:tau=0.9"), "tensor_core_like", "resnet18_cifar",
          "reuse hits inside the MMAs of the samples kept"),
    Stack(("mquans", "confidence_skip:tau=0.9"), "scalesim_32x32_os", "resnet18_cifar",
          "Mquans reuses forward inputs, confidence skipping drops backward work: different "
          "phases"),
    Stack(("daa", "confidence_skip:tau=0.9"), "scalesim_32x32_os", "resnet18_cifar",
          "DAA pairs the MACs of the samples kept"),
)
NOT_STACKED = (
    ("ant + acrtc, ant + daa, ant + mquans", "ANT needs the outer-product (SCNN-like) array; "
     "ACRTC runs only on tensor cores, DAA only on an output-stationary systolic array, Mquans "
     "on systolic arrays and tensor cores: no one hwconfig runs both"),
    ("acrtc + daa", "ACRTC needs tensor cores, DAA an output-stationary systolic array"),
    ("acrtc + mquans", "both stand in for the same forward MACs: Mquans issues deltas "
     "w (q_t - q_t-1) of the changed inputs, while ACRTC's hit rates were measured on the full "
     "operands, so the stack would apply rates to operands they do not describe"),
    ("daa + mquans", "Mquans issues deltas of the changed inputs; DAA's pair statistics (zero "
     "products, magnitudes) were measured on the full operands, not on those deltas"),
)


def _fmt_x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _fmt_pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


#: The computation-reuse techniques' table figures: the paper's speedup key, and the key
#: figure's name and row column.
REUSE_FIGURES = {"acrtc": ("training_speedup", "hit rate", "hit_rate"),
                 "mquans": ("speedup", "inputs reused", "inputs_reused")}


def entries(technique: str, outcome: Outcome) -> list[dict]:
    """The table entries of one technique's reproduction."""
    published = paper(technique)["results"]
    rows, out = outcome.rows, []
    if technique == "ant" and len(rows) == 2:  # one network: its geometric mean is itself
        rows = rows[:1]
    for r in rows:
        network = r["network"]
        entry = {"technique": technique, "baseline": r.get("hw", BASELINES.get(technique)),
                 "workload": network, "setting": r.get("setting", "default"),
                 "speedup": r["speedup"], "energy_saving": r["energy_saving"]}
        if technique == "ant":
            entry.update(paper_speedup=published["speedup_geomean"],
                         paper_energy_saving=1 - 1 / published["energy_reduction_geomean"],
                         key="RCPs anticipated", key_ours=f"{r['anticipated_share']:.1%}",
                         key_paper=f">{published['rcp_anticipated_fraction']['min']:.0%}",
                         paper_accuracy="-")
            found = read_accuracy(network, technique)
            entry["accuracy"], entry["accuracy_note"] = (
                (found.text, found.note) if found.difference_pp is not None
                else ("0.00 pp", ANT_ACCURACY))
        else:
            found = (read_accuracy(network, technique, unmeasured=UNMEASURED)
                     if technique == "confidence_skip" else read_accuracy(network, technique))
            entry["accuracy"], entry["accuracy_note"] = found.text, found.note
        if technique in REUSE_FIGURES:  # the default setting's rows only
            if r["setting"] != rows[0]["setting"]:
                continue
            speedup_key, key, column = REUSE_FIGURES[technique]
            entry.update(paper_speedup=published[speedup_key],
                         paper_energy_saving=published["energy_saving_fraction"],
                         paper_accuracy=published["accuracy"], key=key,
                         key_ours=f"{r[column]:.1%}", key_paper="-")
        elif technique == "daa":
            entry.update(paper_speedup=published["throughput_gain"],
                         paper_energy_saving=published["energy_saving_fraction"],
                         paper_accuracy=f"< {published['accuracy_drop_max']:.1%}",
                         key="PE-array speedup / energy saving",
                         key_ours=f"{r['pe_speedup']:.2f}x / {r['pe_energy_saving']:.0%}",
                         key_paper=f"{published['throughput_gain']:.1f}x / "
                                   f"{published['energy_saving_fraction']:.0%}")
        elif technique == "confidence_skip":
            entry.update(paper_speedup=None, paper_energy_saving=None,
                         paper_accuracy=published["accuracy"],
                         key="skipped; energy / time saving of ideal",
                         key_ours=f"{r['skipped_share']:.1%}; {r['energy_of_ideal']:.0%} / "
                                  f"{r['time_of_ideal']:.0%}",
                         key_paper=f"{published['gradient_computation_skipped_fraction']:.1%}; "
                                   f"{published['per_epoch_energy_saving_of_max']:.2%} / "
                                   f"{published['per_epoch_time_saving_of_max']:.2%}")
        pairs = [("speedup", entry["speedup"], entry["paper_speedup"]),
                 ("energy", entry["energy_saving"], entry["paper_energy_saving"])]
        if technique == "confidence_skip":
            pairs = [("skipped", r["skipped_share"],
                      published["gradient_computation_skipped_fraction"]),
                     ("energy of ideal", r["energy_of_ideal"],
                      published["per_epoch_energy_saving_of_max"]),
                     ("time of ideal", r["time_of_ideal"],
                      published["per_epoch_time_saving_of_max"])]
        entry["gap"] = ", ".join(f"{name} {gap(ours, theirs):+.0%}" for name, ours, theirs in pairs
                                 if theirs is not None and ours == ours
                                 and abs(gap(ours, theirs)) > 0.2)
        out.append(entry)
    return out


HEADER = ("technique", "baseline", "workload", "setting", "speedup (paper)",
          "energy saving (paper)", "accuracy diff. (paper)", "key figure: ours (paper)",
          "gap > 20%")


def table_rows(all_entries: list[dict]) -> list[list[str]]:
    """The cells of the printed table, one list per entry."""
    return [[e["technique"], e["baseline"], e["workload"], e["setting"],
             f"{_fmt_x(e['speedup'])} ({_fmt_x(e['paper_speedup'])})",
             f"{_fmt_pct(e['energy_saving'])} ({_fmt_pct(e['paper_energy_saving'])})",
             f"{e['accuracy']} ({e['paper_accuracy']})",
             f"{e['key']}: {e['key_ours']} ({e['key_paper']})", e["gap"] or "-"]
            for e in all_entries]


def table_text(all_entries: list[dict]) -> list[str]:
    """The table as fixed-width lines of text."""
    rows = [list(HEADER), *table_rows(all_entries)]
    sizes = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = ["  ".join(cell.ljust(size) for cell, size in zip(r, sizes)).rstrip()
             for r in rows]
    return [lines[0], "-" * len(lines[0]), *lines[1:]]


def stack_runs(stack: Stack) -> list[tuple[str, ...]]:
    """The technique lists a stack runs: none (the baseline), each alone, all together."""
    return [(), *[(t,) for t in stack.techniques], stack.techniques]


def stack_row(stack: Stack, base: dict, alone: list[dict], stacked: dict) -> dict:
    """Figures of one stack from its runs, and its checks."""
    pj = base["energy_pj"]["total"]

    def figs(result: dict) -> dict:
        return compare(base["total_cycles"], pj, result["total_cycles"],
                       result["energy_pj"]["total"])

    skipped = [r["macs_skipped"] - base["macs_skipped"] for r in alone]
    together = stacked["macs_skipped"] - base["macs_skipped"]
    invariant = stacked["macs_issued"] + stacked["macs_skipped"] == stacked["macs"]
    once = max(skipped) <= together <= sum(skipped)
    names = [t.split(":")[0] for t in stack.techniques]
    row = {"stack": " + ".join(names), "baseline": stack.hw, "workload": stack.workload,
           "techniques": " ".join(stack.techniques)}
    for name, result in zip(names, alone):
        f = figs(result)
        row[f"{name}_speedup"], row[f"{name}_energy_saving"] = f["speedup"], f["energy_saving"]
    f = figs(stacked)
    row.update(speedup=f["speedup"], energy_saving=f["energy_saving"],
               macs_skipped_alone=" / ".join(f"{s:,}" for s in skipped),
               macs_skipped_stacked=together, mac_invariant=invariant,
               skipped_at_most_once=once, why=stack.why)
    return row


def stack_lines(rows: list[dict]) -> list[str]:
    lines = []
    for r in rows:
        names = r["stack"].split(" + ")
        alone = ", ".join(f"{n} {r[n + '_speedup']:.2f}x / {r[n + '_energy_saving']:.1%}"
                          for n in names)
        lines.append(f"{r['stack']} on {r['baseline']}, {r['workload']}: stacked "
                     f"{r['speedup']:.2f}x / {r['energy_saving']:.1%} (alone: {alone}); MACs "
                     f"issued + skipped = workload: {'holds' if r['mac_invariant'] else 'FAILS'}"
                     f"; skipped {r['macs_skipped_stacked']:,} against {r['macs_skipped_alone']}"
                     f" alone: {'each MAC skipped at most once' if r['skipped_at_most_once'] else 'INCONSISTENT'}"
                     f" ({r['why']})")
    return lines


def write_csv(path: Path, all_entries: list[dict], stacks: list[dict]) -> None:
    rows = [{"kind": "technique", **e} for e in all_entries]
    rows += [{"kind": "stack", "technique": s["stack"], "baseline": s["baseline"],
              "workload": s["workload"], "setting": s["techniques"], "speedup": s["speedup"],
              "energy_saving": s["energy_saving"], "gap": "",
              "key": "MACs skipped stacked (alone)",
              "key_ours": f"{s['macs_skipped_stacked']} ({s['macs_skipped_alone']})"}
             for s in stacks]
    atomic_write_text(path, csv_text(rows))


def figure(path: Path, all_entries: list[dict]) -> None:
    """Grouped bars per network, one bar per technique (its first setting on each network),
    value labels, each technique's published figure as an outlined mark across its bar; the
    speedup panel in log scale when its values (and the papers') span a decade or more."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib import patheffects

    chosen: dict[tuple[str, str], dict] = {}
    for e in all_entries:
        chosen.setdefault((e["technique"], e["workload"]), e)
    networks = list(dict.fromkeys(w for _, w in chosen))
    techniques = [t for t in TECHNIQUES if any(k[0] == t for k in chosen)]
    colours = dict(zip(TECHNIQUES, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    fig, axes = plt.subplots(2, 1, figsize=(max(8.0, 1.1 * len(networks) + 3), 8.5))
    present = {network: [t for t in techniques if (t, network) in chosen]
               for network in networks}
    width = 0.8 / max(len(p) for p in present.values())
    outline = [patheffects.Stroke(linewidth=3.2, foreground="black"), patheffects.Normal()]
    for ax, key, label, scale in ((axes[0], "speedup", "speedup over the baseline (x)", 1.0),
                                  (axes[1], "energy_saving", "energy saving (%)", 100.0)):
        values = [e[key] for e in chosen.values()] + [
            e["paper_" + key] for e in chosen.values() if e["paper_" + key] is not None]
        log = key == "speedup" and max(values) / min(values) >= 10
        marked, drawn_once = set(), set()
        for g, network in enumerate(networks):
            here = present[network]
            for index, technique in enumerate(here):
                e = chosen[(technique, network)]
                x = g + (index - (len(here) - 1) / 2) * width
                bar = ax.bar([x], [e[key] * scale], width, color=colours[technique],
                             label=None if technique in drawn_once else technique)
                drawn_once.add(technique)
                ax.bar_label(bar, labels=[f"{e[key]:.2f}x" if scale == 1 else
                                          f"{e[key]:.0%}"], fontsize=6, padding=2,
                             rotation=90 if len(here) > 2 else 0)
                mark = e["paper_" + key]
                if mark is not None:
                    ax.hlines(mark * scale, x - width / 2, x + width / 2,
                              colors=colours[technique], linestyles="-", linewidth=2.0,
                              zorder=3, path_effects=outline,
                              label=None if technique in marked else f"paper {technique}")
                    marked.add(technique)
        if log:
            ax.set_yscale("log")
        ax.axhline(1.0 if key == "speedup" else 0.0, color="grey", linewidth=0.8)
        ax.set_xticks(range(len(networks)), networks, fontsize=7, rotation=20)
        ax.set_ylabel(label + (" (log scale)" if log else ""))
        ax.grid(True, axis="y", alpha=0.3)
        ax.margins(y=0.15)
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    axes[0].set_title("Training techniques on one engine: ours (bars) and the papers' "
                      "figures (outlined marks)", fontsize=10)
    write_figure(fig, path)
