"""Reproduce ACRTC (Servais and Atoofian, ACM TECS 2021) on the V100-like tensor-core baseline.

    python scripts/reproduce_acrtc.py                    # both traced workloads, ./out/acrtc
    python scripts/reproduce_acrtc.py --quick --out /tmp/acrtc   # mlp, last step, default only
    accelsim reproduce acrtc --quick          # the quick set, beside the other techniques' table

For each traced workload (``workloads/traced/resnet18_cifar`` and ``workloads/traced/mlp``) one
full training iteration (forward, backward-data, backward-weight, weight update) runs on
``hwconfigs/tensor_core_like.yaml`` without the technique, and with ``--technique acrtc`` at
every training step the trace sampled its hit rates at. A setting's figure over training is
the sum over those steps (each weighted equally): speedup = the baseline's cycles over the
technique's, energy saving = 1 - the technique's energy over the baseline's. Settings: the
default (``k=8``: 8 masked mantissa bits, dot4 lookups, 16-entry buffers, ``issue=lookup``:
each hit frees its MMA slot) and one sensitivity row per key assumption: ``issue=mma`` (an MMA
is skipped only when all its lookups hit), ``lookup_rate=2`` (each buffer answers two lookups a
cycle, bounding the cycles hits free) and ``granularity=scalar`` (a lookup per product). Every
hit rate is measured by the trace (the zoo networks carry none; see GAPS for why none is
added with an assumed rate). The accuracy difference is printed as not measured: nothing here
models it.

Prints the table beside the paper's figures (1.33x, 32%), per setting the figures that explain
the difference, and for every difference above 20% the assumption behind it and what would
close it. Writes ``acrtc.csv`` (one row per workload, setting and step, plus the over-training
rows, step ``all``) and ``acrtc.png`` (grouped bars per workload, the paper's figures marked)
into ``--out`` (default ``out/acrtc`` in the current folder), created and checked before the
sweep; every file is written atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor

from accelsim.reproduce.accuracy import accuracy_notes, read_accuracy
from accelsim.reproduce.common import (MEASURED, Outcome, arguments, chart, compare,
                                       energy_by_component, gap, gaps_above, ready, run,
                                       selected_steps, selection, table_lines, write_csv)
from accelsim.reproduce.papers import paper

HW = "tensor_core_like"
_PUBLISHED = paper("acrtc")["results"]
PAPER = {"speedup": _PUBLISHED["training_speedup"],
         "energy_saving": _PUBLISHED["energy_saving_fraction"],
         "accuracy": _PUBLISHED["accuracy"]}
DEFAULT = "acrtc:k=8"
#: Setting label and technique text: the default and one row per key assumption.
SETTINGS = (("default k=8 dot4", DEFAULT),
            ("issue=mma", DEFAULT + ",issue=mma"),
            ("lookup_rate=2", DEFAULT + ",lookup_rate=2"),
            ("granularity=scalar", DEFAULT + ",granularity=scalar"))


def over_training(workload: str, label: str, base: dict, results: list[tuple[int, dict]]
                  ) -> tuple[list[dict], dict]:
    """Rows per step and the over-training row of one setting."""
    rows = []
    base_pj = base["energy_pj"]["total"]
    for step, result in results:
        stats = result["technique_stats"]["acrtc"]
        rows.append({"network": workload, "rates": MEASURED, "setting": label, "step": step,
                     "k": stats["k"], "hit_rate": stats["hit_rate"],
                     **compare(base["total_cycles"], base_pj, result["total_cycles"],
                               result["energy_pj"]["total"]),
                     "accuracy": read_accuracy(workload, "acrtc",
                                               setting=dict(SETTINGS)[label]).text,
                     "base_cycles": base["total_cycles"], "cycles": result["total_cycles"],
                     "base_energy_uj": base_pj / 1e6,
                     "energy_uj": result["energy_pj"]["total"] / 1e6})
    n = len(results)
    total_cycles = sum(r["total_cycles"] for _, r in results)
    total_pj = sum(r["energy_pj"]["total"] for _, r in results)
    lookups = sum(r["technique_stats"]["acrtc"]["lookups"] for _, r in results)
    hits = sum(r["technique_stats"]["acrtc"]["hits"] for _, r in results)
    summary = {"network": workload, "rates": MEASURED, "setting": label, "step": "all",
               "k": rows[-1]["k"], "hit_rate": hits / lookups if lookups else 0.0,
               **compare(n * base["total_cycles"], n * base_pj, total_cycles, total_pj),
               "accuracy": read_accuracy(workload, "acrtc",
                                         setting=dict(SETTINGS)[label]).text,
               "base_cycles": n * base["total_cycles"],
               "cycles": total_cycles, "base_energy_uj": n * base_pj / 1e6,
               "energy_uj": total_pj / 1e6}
    return rows, summary


def diagnosis(base: dict, result: dict) -> dict:
    """The figures behind the speedup and energy saving of one run against the baseline."""
    stats = result["technique_stats"]["acrtc"]
    base_split, split = energy_by_component(base), energy_by_component(result)
    base_pj = base["energy_pj"]["total"]
    mac_pj = base["energy_pj"]["mac_pj"]
    width = 4 if stats["granularity"] == "dot4" else 1
    lookup, insertion = stats["lookup_energy_pj_each"], stats["insertion_energy_pj_each"]
    return {"pe_busy": base["utilization"]["pe_array_busy"],
            "dram_busy": base["utilization"]["dram_busy"],
            "vector_busy": base["utilization"]["vector_unit_busy"],
            "cycles_saved_share": stats["compute_cycles_saved"] / base["total_cycles"],
            "mac_share": base_split["pe_array"] / base_pj,
            "mac_saved_share": (base_split["pe_array"] - split["pe_array"]) / base_pj,
            "buffer_share": split.get("technique", 0.0) / base_pj,
            "hit_rate": stats["hit_rate"], "lookup_pj": lookup, "insertion_pj": insertion,
            "saved_per_hit_pj": width * mac_pj,
            "break_even": (lookup + insertion) / (width * mac_pj + insertion),
            "area_mm2": result["technique_area_mm2"]["acrtc"]}


def explain(workload: str, d: dict, summary: dict) -> list[str]:
    """The assumption behind each difference above 20% and what would close it."""
    lines = []
    speed_gap, energy_gap = (gap(summary["speedup"], PAPER["speedup"]),
                             gap(summary["energy_saving"], PAPER["energy_saving"]))
    if abs(speed_gap) > 0.2:
        lines.append(
            f"{workload}, speedup {summary['speedup']:.3f}x ({speed_gap:+.0%} from the paper): "
            f"ACRTC shortens only the MMA issue of the GEMMs. In the baseline iteration the "
            f"PE array is busy {d['pe_busy']:.0%} of the time, DRAM {d['dram_busy']:.0%} and "
            f"the vector unit {d['vector_busy']:.0%} (element-wise ops run unfused); at the "
            f"last step the {d['hit_rate']:.0%} hit rate freed compute cycles worth "
            f"{d['cycles_saved_share']:.1%} of the baseline's cycles, and DRAM transfers and "
            f"vector ops overlap or follow them. Assumption: the V100-like baseline as "
            f"modelled (HBM2 traffic of every op, unfused element-wise ops, no kernel "
            f"overheads); the paper's simulated baseline is not reproduced. What would close "
            f"it: a baseline whose iteration is bound by MMA issue (fused element-wise ops, "
            f"operands kept on chip), and hit rates measured over whole operand streams "
            f"rather than sampled 32x32x16 tiles each streamed into an empty buffer.")
    if abs(energy_gap) > 0.2:
        lines.append(
            f"{workload}, energy saving {summary['energy_saving']:.1%} ({energy_gap:+.0%} "
            f"from the paper): MACs are {d['mac_share']:.0%} of the baseline's energy "
            f"(fp16 MAC at 45 nm, Horowitz ISSCC 2014); at the last step the hits removed "
            f"{d['mac_saved_share']:.1%} of it, while the buffers' lookups and insertions "
            f"cost {d['buffer_share']:.1%} ({d['lookup_pj']:.2f} pJ a lookup, "
            f"{d['insertion_pj']:.2f} pJ an insertion, against {d['saved_per_hit_pj']:.0f} pJ "
            f"saved per hit: break-even at a {d['break_even']:.0%} hit rate, measured "
            f"{d['hit_rate']:.0%} at the last step and {summary['hit_rate']:.0%} over "
            f"training); operand reads, DRAM and the vector unit do not change "
            f"(the keys need the operands). Assumption: a fully associative LRU buffer per "
            f"lane whose lookup rewrites every entry's rank (accelsim/hw/reuse_buffer.py), "
            f"and an energy model in which the MMA is a minority of the iteration. What "
            f"would close it: a cheaper buffer (set-associative or pseudo-LRU, sized from "
            f"the paper's design), a baseline whose energy is dominated by the MACs, and "
            f"measured hit rates above the break-even.")
    return lines


def same_assumptions(workload: str, summary: dict, default: str) -> list[str]:
    """One line for a sensitivity row's differences above 20%: those of the default row, with
    the one assumption the row changes."""
    gaps = gaps_above(summary, PAPER)
    if not gaps:
        return []
    return [f"{workload}, {summary['setting']}: {', '.join(gaps)} from the paper; the "
            f"assumptions of the {default} row explain it, this row changing only "
            f"{summary['setting']} (hit rate {summary['hit_rate']:.0%} over training)."]


def parser():
    """The script's options."""
    return arguments(__doc__.split("\n")[0], "acrtc",
                     "mlp only, its last sampled step, the default setting only")


def reproduce(args, emit: Callable[[str], None]) -> Outcome:
    """Run the reproduction with the parsed options ``args``, write its CSV and chart into
    ``args.out`` and emit the report line by line."""
    out = ready(args.out)
    started = time.monotonic()
    workloads, settings = selection(args, SETTINGS)
    steps = selected_steps(args, workloads)
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        bases = {w: pool.submit(run, HW, w) for w in workloads}
        futures = {(w, label, step): pool.submit(run, HW, w, (text,), step)
                   for w in workloads for label, text in settings for step in steps[w]}
        bases = {w: f.result() for w, f in bases.items()}
        results = {key: f.result() for key, f in futures.items()}
    seconds = time.monotonic() - started

    emit(f"ACRTC reproduction on {HW}.yaml: one full training iteration per sampled step "
         f"of each traced workload, against the same iteration without ACRTC\n")
    per_step, summaries, explanations = [], [], []
    for w in workloads:
        base = bases[w]
        emit(f"{w}: baseline {base['total_cycles']:,.0f} cycles, "
             f"{base['energy_pj']['total'] / 1e6:,.1f} uJ; steps {', '.join(map(str, steps[w]))}")
        for label, _ in settings:
            chosen = [(s, results[(w, label, s)]) for s in steps[w]]
            rows, summary = over_training(w, label, base, chosen)
            per_step += rows
            summaries.append(summary)
            d = diagnosis(base, chosen[-1][1])
            emit(f"  {label:<20} hit rate {summary['hit_rate']:.1%} (k {summary['k']}); at "
                 f"the last step: compute cycles saved {d['cycles_saved_share']:.1%} of the "
                 f"baseline's, MAC energy saved {d['mac_saved_share']:.1%} of its energy, "
                 f"buffers cost {d['buffer_share']:.1%}, break-even hit rate "
                 f"{d['break_even']:.0%}, buffers' area {d['area_mm2']:.1f} mm2")
            if label == settings[0][0]:
                explanations += explain(w, d, summary)
            else:
                explanations += same_assumptions(w, summary, settings[0][0])
        emit("")
    emit("Over training (sum over the sampled steps), measured hit rates, ours beside the "
         "paper's:")
    for line in table_lines(summaries, PAPER, ("network", "rates", "setting"),
                            accuracy_notes(workloads, "acrtc")):
        emit(line)
    if explanations:
        emit("\nDifferences from the paper above 20%, the assumption behind each and what "
             "would close it:")
        for line in explanations:
            emit(f"- {line}")
    emit("\nNo zoo network is run: the zoo carries no hit rates, and a rate assumed for it "
         "would be a number chosen, not measured.")
    write_csv(out / "acrtc.csv", [*summaries, *per_step])
    chart(summaries, "network", "setting", PAPER,
          f"ACRTC on {HW} (V100-like), traced training, over the sampled steps", out / "acrtc.png")
    emit(f"\n{len(futures) + len(bases)} simulations in {seconds:.0f} s; wrote "
         f"{out / 'acrtc.csv'}, {out / 'acrtc.png'}")
    return Outcome(summaries, explanations, [out / "acrtc.csv", out / "acrtc.png"],
                   len(futures) + len(bases), seconds)

