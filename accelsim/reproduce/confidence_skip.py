"""Reproduce confidence-based gradient skipping (Shin, Kim, Jo, Park, DAC 2020) over a traced run.

    accelsim reproduce confidence_skip              # both traced workloads, ./out/reproduce
    accelsim reproduce confidence_skip --quick      # traced mlp, the default budget only

The trace records each sample's (correct, p_true) at every training step. At each step the
technique (:mod:`accelsim.techniques.confidence_skip`) drops the error back-propagation and
weight-gradient work of the samples predicted correctly with p_true >= tau, tau = 1 -
sqrt(epsilon / 2); one full training iteration is simulated on
``hwconfigs/tpu_like_128x128.yaml`` (a TPUv2-like training core) per distinct number of
skipped samples (steps that skip as many samples cost the same: kept samples are repacked),
and every step of the trace is counted with its own. Figures over the run are sums over every
traced step; per epoch over that epoch's steps.

Both readings of the paper's headline are reported:

* the share of gradient computations skipped (backward MACs skipped over backward MACs; the
  paper: 72.6% on CIFAR-100 ResNet-18);
* the saving per epoch (1 - energy or time with skipping over without), and the fraction of
  the ideal saving realised: the saving over (skipped share x the saving when every sample's
  backward work is dropped, ``assumed_skip_fraction=1``), which is 1 when the cost of
  backward work is proportional to the samples kept (the paper: 88.84% of the maximum
  per-epoch energy saving, 98.16% of the time saving).

Settings: epsilon = 0.02 (tau = 0.9, default) and epsilon = 0.08 (tau = 0.8). The accuracy
difference is read from ``workloads/accuracy/<workload>/confidence_skip.json`` when it exists;
otherwise "not measured": the error budget bounds each skipped sample's squared output error,
which the model does not turn into an accuracy figure. Writes ``confidence_skip.csv`` (per
setting: the run, then per epoch) and ``confidence_skip.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import math
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache

import numpy as np

from accelsim.reproduce.accuracy import read_accuracy
from accelsim.reproduce.common import (Outcome, TRACED, arguments, chart, gap, load_traced, ready,
                                       run, selection, write_csv)
from accelsim.reproduce.papers import paper

HW = "tpu_like_128x128"
TECHNIQUE = "confidence_skip"
_PUBLISHED = paper(TECHNIQUE)["results"]
SKIPPED = _PUBLISHED["gradient_computation_skipped_fraction"]
ENERGY_OF_MAX = _PUBLISHED["per_epoch_energy_saving_of_max"]
TIME_OF_MAX = _PUBLISHED["per_epoch_time_saving_of_max"]
SETTINGS = (("epsilon=0.02 (tau=0.9)", 0.02), ("epsilon=0.08 (tau=0.8)", 0.08))
UNMEASURED = ("the error budget bounds each skipped sample's squared output error, not the "
              "accuracy; no accuracy file")


def skipped_per_step(workload: str, epsilon: float) -> tuple[list[int], int, int]:
    """Samples skipped at every traced step at the budget ``epsilon``, the batch, and the
    steps per epoch (from the trace's recorded confidence)."""
    stats = load_traced(workload).value_stats
    tau = 1.0 - math.sqrt(epsilon / 2.0)
    steps = stats.require("confidence", None, TECHNIQUE)["steps"]
    counts, batch = [], 0
    for step in range(steps):
        found = stats.confidence(step)
        batch = len(found["correct"])
        counts.append(int(np.count_nonzero(found["correct"] & (found["p_true"] >= tau))))
    return counts, batch, int(stats.data.get("steps_per_epoch", steps))


@lru_cache(maxsize=None)
def final_accuracy(workload: str) -> float:
    """The train accuracy the trace recorded at its last step."""
    stats = load_traced(workload).value_stats
    return float(stats.require("confidence", None, TECHNIQUE)["accuracy"][-1])


@lru_cache(maxsize=None)
def dataset_of(workload: str) -> str:
    """The traced dataset, as its manifest names it (name, classes, training-set size)."""
    found = json.loads((TRACED / workload / "manifest.json").read_text()).get("dataset") or {}
    if not isinstance(found, dict):
        return str(found)
    classes = found.get("classes")
    count = len(classes) if isinstance(classes, list) else classes
    return (f"the {found.get('name', 'traced')} dataset ({count} classes, "
            f"{found.get('size', '?')} images)")


def backward_macs(result: dict) -> int:
    return sum(op["macs"] + op["macs_skipped"] for op in result["ops"]
               if op["phase"] in ("bwd_data", "bwd_weight"))


def figures(label: str, workload: str, base: dict, full: dict, by_count: dict[int, dict],
            counts: list[int], batch: int) -> dict:
    """Sums over the steps of ``counts`` (samples skipped at each)."""
    n = len(counts)
    cycles = sum(by_count[c]["total_cycles"] for c in counts)
    pj = sum(by_count[c]["energy_pj"]["total"] for c in counts)
    skipped_macs = sum(by_count[c]["macs_skipped"] - base["macs_skipped"] for c in counts)
    share = skipped_macs / (n * backward_macs(base))
    time_saving = 1.0 - cycles / (n * base["total_cycles"])
    energy_saving = 1.0 - pj / (n * base["energy_pj"]["total"])
    max_time = 1.0 - full["total_cycles"] / base["total_cycles"]
    max_energy = 1.0 - full["energy_pj"]["total"] / base["energy_pj"]["total"]
    return {"network": workload, "hw": HW, "setting": label, "steps": n,
            "dataset": dataset_of(workload), "final_accuracy": final_accuracy(workload),
            "samples_skipped": sum(counts) / (n * batch), "skipped_share": share,
            "speedup": n * base["total_cycles"] / cycles, "energy_saving": energy_saving,
            "time_saving": time_saving,
            "energy_of_ideal": energy_saving / (share * max_energy) if share else float("nan"),
            "time_of_ideal": time_saving / (share * max_time) if share else float("nan"),
            "max_energy_saving": max_energy, "max_time_saving": max_time,
            "base_cycles": n * base["total_cycles"], "cycles": cycles,
            "base_energy_uj": n * base["energy_pj"]["total"] / 1e6, "energy_uj": pj / 1e6}


def explain(r: dict) -> list[str]:
    lines, name = [], f"{r['network']}, {r['setting']}"
    if abs(gap(r["skipped_share"], SKIPPED)) > 0.2:
        head = (f"{name}, gradient computations skipped {r['skipped_share']:.1%} "
                f"({gap(r['skipped_share'], SKIPPED):+.0%} from the paper's {SKIPPED:.1%}): the "
                f"skip rate is the share of samples the network already predicts correctly with "
                f"p_true >= tau, so it follows how far training got. The trace covers "
                f"{r['steps']} steps on {r['dataset']}, reaching a train "
                f"accuracy of {r['final_accuracy']:.0%} on its last batch, while the paper's "
                f"share is over a whole CIFAR-100 training run to convergence. ")
        if r["skipped_share"] < SKIPPED:
            lines.append(head + "Assumption: the traced run as it is; a trace covering "
                         "training to convergence would close it.")
        else:
            lines.append(head + "Here the network memorises its small training set (no "
                         "augmentation, 10 classes), after which every sample is confident "
                         "and skipped, so the share over the run grows with the epochs "
                         "traced; CIFAR-100 stays harder for longer. Assumption: the traced "
                         "run as it is; a harder data set (CIFAR-100 is not shipped inside "
                         "any package) or fewer epochs traced would move it.")
    for key, ours, published in (("energy", r["energy_of_ideal"], ENERGY_OF_MAX),
                                 ("time", r["time_of_ideal"], TIME_OF_MAX)):
        if not math.isnan(ours) and abs(gap(ours, published)) > 0.2:
            lines.append(
                f"{name}, {key} saving realised {ours:.0%} of the ideal "
                f"({gap(ours, published):+.0%} from the paper's {published:.2%} of the "
                f"maximum): the kept samples are repacked, so the backward work shrinks with "
                f"them, but its cost is not proportional to the samples kept: weights are "
                f"read and weight gradients written once per op whatever the batch, array "
                f"folds and tiles are chosen for each batch size, and residency keeps a "
                f"different share on chip; at {r['samples_skipped']:.1%} of the samples "
                f"skipped the saving per sample differs from that of skipping every sample "
                f"({r['max_' + key + '_saving']:.1%}). Assumption: the reading 'fraction of "
                f"the ideal saving' of the paper's figure, the ideal being proportional.")
    return lines


#: The traced runs: the convergence traces (every step's confidence over 12 to 30 epochs)
#: and the short traces of the other reproductions.
WORKLOADS = ("resnet18_cifar_converge", "resnet18_digits", "mlp_digits", "resnet18_cifar",
             "mlp")


def parser() -> argparse.ArgumentParser:
    """The reproduction's options."""
    parser = arguments(__doc__.split("\n")[0], TECHNIQUE, "mlp only, the default budget only")
    parser.set_defaults(workloads=",".join(WORKLOADS))
    return parser


def reproduce(args, emit: Callable[[str], None]) -> Outcome:
    """Run the reproduction with the parsed options ``args``, write its CSV and chart into
    ``args.out`` and emit the report line by line."""
    out = ready(args.out)
    started = time.monotonic()
    workloads, settings = selection(args, SETTINGS)
    plans = {(w, label): skipped_per_step(w, eps) for w in workloads for label, eps in settings}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        bases = {w: pool.submit(run, HW, w) for w in workloads}
        fulls = {w: pool.submit(run, HW, w, ("confidence_skip:tau=0.9,"
                                             "assumed_skip_fraction=1.0",)) for w in workloads}
        futures = {}
        for (w, label), (counts, _, _) in plans.items():
            eps = dict(settings)[label]
            for count in sorted(set(counts)):
                futures[(w, label, count)] = pool.submit(
                    run, HW, w, (f"confidence_skip:epsilon={eps}",), counts.index(count))
        bases = {w: f.result() for w, f in bases.items()}
        fulls = {w: f.result() for w, f in fulls.items()}
        results = {key: f.result() for key, f in futures.items()}
    seconds = time.monotonic() - started

    emit(f"Confidence-skipping reproduction on {HW}.yaml: one full training iteration per "
         f"traced step (steps that skip as many samples simulated once), against the same "
         f"iteration without skipping\n")
    rows, per_epoch, explanations = [], [], []
    for w in workloads:
        base, full = bases[w], fulls[w]
        accuracy = read_accuracy(w, TECHNIQUE, unmeasured=UNMEASURED)
        emit(f"{w}: baseline {base['total_cycles']:,.0f} cycles, "
             f"{base['energy_pj']['total'] / 1e6:,.1f} uJ per iteration; every sample skipped: "
             f"time saving {1 - full['total_cycles'] / base['total_cycles']:.1%}, energy "
             f"saving {1 - full['energy_pj']['total'] / base['energy_pj']['total']:.1%}")
        for label, _ in settings:
            counts, batch, per = plans[(w, label)]
            by_count = {c: results[(w, label, c)] for c in set(counts)}
            r = {**figures(label, w, base, full, by_count, counts, batch),
                 "accuracy": accuracy.text, "accuracy_note": accuracy.note}
            rows.append(r)
            explanations += explain(r)
            emit(f"  {label}: over {len(counts)} steps {r['samples_skipped']:.1%} of the samples "
                 f"skipped, {r['skipped_share']:.1%} of the gradient computations; saving per "
                 f"epoch {r['energy_saving']:.1%} energy, {r['time_saving']:.1%} time "
                 f"({r['speedup']:.3f}x); of the ideal saving {r['energy_of_ideal']:.1%} energy, "
                 f"{r['time_of_ideal']:.1%} time")
            emit(f"    {'epoch':<7}{'skipped':>9}{'energy saving':>15}{'time saving':>13}")
            for epoch in range(math.ceil(len(counts) / per)):
                chunk = counts[epoch * per:(epoch + 1) * per]
                e = figures(label, w, base, full, by_count, chunk, batch)
                per_epoch.append({**e, "epoch": epoch})
                emit(f"    {epoch:<7}{e['samples_skipped']:>9.1%}{e['energy_saving']:>15.1%}"
                     f"{e['time_saving']:>13.1%}")
        emit("")
    emit("Over the traced run, ours beside the paper's (CIFAR-100 ResNet-18):")
    emit(f"{'network':<16}{'setting':<24}{'skipped':>9}{'energy saving':>15}{'time saving':>13}"
         f"{'energy of ideal':>17}{'time of ideal':>15}  accuracy difference")
    emit(f"{'paper':<40}{SKIPPED:>9.1%}{'':>15}{'':>13}{ENERGY_OF_MAX:>17.2%}"
         f"{TIME_OF_MAX:>15.2%}  {_PUBLISHED['accuracy']}")
    for r in rows:
        emit(f"{r['network']:<16}{r['setting']:<24}{r['skipped_share']:>9.1%}"
             f"{r['energy_saving']:>15.1%}{r['time_saving']:>13.1%}{r['energy_of_ideal']:>17.1%}"
             f"{r['time_of_ideal']:>15.1%}  {r['accuracy']}")
    for r in rows[::len(settings)]:
        emit(f"accuracy difference, {r['network']}: {r['accuracy']}: {r['accuracy_note']}")
    if explanations:
        emit("\nDifferences from the paper above 20%, the assumption behind each and what "
             "would close it:")
        for line in explanations:
            emit(f"- {line}")
    write_csv(out / "confidence_skip.csv", [*rows, *per_epoch])
    chart([{**r, "group": r["network"]} for r in rows], "group", "setting", {},
          f"Confidence skipping on {HW}, traced training run", out / "confidence_skip.png",
          panels=(("skipped_share", "gradient computations skipped (%)", SKIPPED, 100.0),
                  ("energy_of_ideal", "energy saving, % of the ideal", ENERGY_OF_MAX, 100.0),
                  ("time_of_ideal", "time saving, % of the ideal", TIME_OF_MAX, 100.0)))
    simulations = len(futures) + len(bases) + len(fulls)
    emit(f"\n{simulations} simulations in {seconds:.0f} s; wrote "
         f"{out / 'confidence_skip.csv'}, {out / 'confidence_skip.png'}")
    return Outcome(rows, explanations, [out / "confidence_skip.csv",
                                        out / "confidence_skip.png"], simulations, seconds)
