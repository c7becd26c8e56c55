"""ANT (Lew et al., ISCA 2022) on the Top-K masks of a real sparse-training run, beside random masks.

    python scripts/ant_real_masks.py                          # resnet18_cifar_swat, ./out/ant_real_masks
    python scripts/ant_real_masks.py --workloads resnet18_cifar_swat,resnet18_cifar

For each traced workload (default ``resnet18_cifar_swat``: a width-16 ResNet-18 trained with
SWAT-style 90% Top-K of weights, activations and output gradients, dense warm-up and ramped
sparsity, masks stored at three steps), one training iteration runs on
``hwconfigs/scnn_like.yaml`` without and with ``--technique ant`` (chunk granularity) on the
same traced graph, with the outer-product model's masks from three sources:

* ``traced``: the trace's own Top-K coordinate masks of the simulated step (``--step``,
  default the trace's last; convolutions whose layer carries masks, ``mask_source`` traced);
* ``random, traced densities``: the same workload with its masks hidden, so every op takes
  random masks at the trace's own Top-K densities (the statistical fallback);
* ``random, density 0.1``: the workload without its statistics, so every op takes random
  masks at ``scnn_like.yaml``'s ``operand_density`` 0.1, the setting of
  ``scripts/reproduce_ant.py`` on the zoo networks.

The first two differ only in where the non-zeros sit, so their gap is what the masks'
structure does to ANT. Prints per source and phase the RCP share of the products issued, the
share of RCPs anticipated and the PE-array speedup, then per source the iteration speedup and
the total energy reduction. Writes ``ant_real_masks.csv`` (per workload, source and phase) in
``--out`` (default ``out/ant_real_masks``), atomically.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from accelsim.config.loader import load_hwconfig  # noqa: E402
from accelsim.outputs import atomic_write_text  # noqa: E402
from accelsim.sim.engine import Simulation  # noqa: E402
from accelsim.techniques.chain import TechniqueSpec  # noqa: E402
from accelsim.workload.loader import load_workload  # noqa: E402
from accelsim.workload.training import TrainingOptions  # noqa: E402
from study_common import ready  # noqa: E402

TRACED = ROOT / "workloads" / "traced"
HW = ROOT / "hwconfigs" / "scnn_like.yaml"
PHASES = ("fwd", "bwd_data", "bwd_weight", "all")
SOURCES = ("traced", "random, traced densities", "random, density 0.1")
PAPER_ANTICIPATED = 0.90  # ../shared/reproduction.yaml ant: rcp_anticipated_fraction min
PAPER_SPEEDUP = 3.71


def without_masks(workload):
    """A copy of ``workload`` whose statistics keep everything but the coordinate masks."""
    stats = copy.copy(workload.value_stats)
    stats.data = dict(stats.data, layers={name: {k: v for k, v in layer.items() if k != "masks"}
                                          for name, layer in stats.data["layers"].items()})
    hidden = copy.copy(workload)
    hidden.value_stats = stats
    return hidden


def without_statistics(workload):
    hidden = copy.copy(workload)
    hidden.value_stats = None
    return hidden


def settings(folder: Path, config) -> dict:
    manifest = json.loads((folder / "manifest.json").read_text())
    options = TrainingOptions(batch=manifest["batch"], element_bytes=config.element_bytes)
    workload = load_workload(str(folder), options)
    if workload.value_stats is None or not any(
            "masks" in layer for layer in workload.value_stats.data["layers"].values()):
        raise SystemExit(f"error: {folder}: expected a traced workload with coordinate masks "
                         "(accelsim trace stores them at --mask-steps steps)")
    return {"traced": workload, "random, traced densities": without_masks(workload),
            "random, density 0.1": without_statistics(workload)}


def simulate(config, workload, techniques: tuple[str, ...], step: int | None) -> dict:
    specs = [TechniqueSpec.parse(text) for text in techniques]
    return Simulation(config, workload, specs, step=step).run().data


def phase_rows(base: dict, ant: dict) -> list[dict]:
    """Per phase (and all): products issued, RCPs, anticipated, PE-array cycles."""
    def pick(result: dict, phase: str) -> list[dict]:
        return [r for r in result["ops"] if r["unit"] == "pe_array"
                and (phase == "all" or r["phase"] == phase)]

    rows = []
    for phase in PHASES:
        b_ops, a_ops = pick(base, phase), pick(ant, phase)
        issued = sum(r["products_issued"] for r in b_ops)
        rcps = sum(r["rcps"] for r in b_ops)
        anticipated = sum(r["rcps_anticipated"] for r in a_ops)
        b_cycles = sum(r["cycles"] for r in b_ops)
        a_cycles = sum(r["cycles"] for r in a_ops)
        traced = sum(1 for r in b_ops if r.get("mask_source") == "traced")
        rows.append({"phase": phase, "products_issued": issued, "rcps": rcps,
                     "rcp_share": rcps / issued if issued else 0.0,
                     "rcps_anticipated": anticipated,
                     "anticipated_share": anticipated / rcps if rcps else 0.0,
                     "pe_speedup": b_cycles / a_cycles if a_cycles else 1.0,
                     "ops_traced_masks": traced, "ops": len(b_ops)})
    return rows


def study(workload: str, step: int | None) -> list[dict]:
    folder = Path(workload) if Path(workload).is_dir() else TRACED / workload
    config = load_hwconfig(HW, ())
    rows = []
    for source, loaded in settings(folder, config).items():
        base = simulate(config, loaded, (), step)
        ant = simulate(config, loaded, ("ant",), step)
        for row in phase_rows(base, ant):
            rows.append({"workload": folder.name, "source": source, **row,
                         "iteration_speedup": base["total_cycles"] / ant["total_cycles"],
                         "energy_reduction": base["energy_pj"]["total"]
                         / ant["energy_pj"]["total"]})
    return rows


def print_rows(rows: list[dict], step: int | None) -> None:
    at = "the trace's last step" if step is None else f"step {step}"
    print(f"\nANT on {HW.name}, {rows[0]['workload']}, at {at}")
    print(f"{'masks':<26}{'phase':<11}{'RCP share':>10}{'anticipated':>12}{'PE speedup':>11}"
          f"{'traced ops':>11}")
    for row in rows:
        print(f"{row['source']:<26}{row['phase']:<11}{row['rcp_share']:>10.1%}"
              f"{row['anticipated_share']:>12.1%}{row['pe_speedup']:>10.2f}x"
              f"{row['ops_traced_masks']:>6}/{row['ops']:<4}")
    print(f"{'masks':<26}{'anticipated':>12}{'PE-array':>10}{'iteration':>10}{'energy':>8}")
    for row in rows:
        if row["phase"] == "all":
            print(f"{row['source']:<26}{row['anticipated_share']:>12.1%}"
                  f"{row['pe_speedup']:>9.2f}x{row['iteration_speedup']:>9.2f}x"
                  f"{row['energy_reduction']:>7.2f}x")
    print(f"paper: >{PAPER_ANTICIPATED:.0%} of RCPs anticipated, {PAPER_SPEEDUP}x speedup "
          "(geomean of five networks)")


def csv_text(rows: list[dict]) -> str:
    import csv
    import io

    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return text.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--workloads", default="resnet18_cifar_swat",
                        help="traced workloads with masks (folders of workloads/traced, or "
                        "paths), comma separated")
    parser.add_argument("--step", type=int, help="training step simulated (default: the "
                        "trace's last; masks from the masked step nearest to it)")
    parser.add_argument("--out", default=str(Path("out") / "ant_real_masks"),
                        help="output folder (default: out/ant_real_masks in the current folder)")
    args = parser.parse_args(argv)
    out = ready(args.out)
    rows = []
    for workload in args.workloads.split(","):
        found = study(workload, args.step)
        print_rows(found, args.step)
        rows += found
    atomic_write_text(out / "ant_real_masks.csv", csv_text(rows))
    print(f"\nwrote {out / 'ant_real_masks.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
