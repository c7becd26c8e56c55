"""Residency study: DRAM traffic and iteration time versus on-chip SRAM, with tensors kept on chip.

    python scripts/residency_study.py
    python scripts/residency_study.py --workloads resnet50 --sizes 4 16 64 --out out/res

For each workload (ResNet-50 and BERT-base by default, batch 32), each total SRAM size (4 to
64 MiB; every buffer of the hwconfig scaled in proportion) and each mode, one training
iteration is simulated on the hwconfig (``tpu_like_128x128.yaml`` by default), in a local
process pool:

* ``off``: no residency and no fusion: every op reads its inputs from DRAM and writes its
  outputs there (its tiles use the whole buffers);
* ``residency``: tensors stay on chip between ops (``residency.policy: liveness``, half of
  each buffer for tiles, half for tensors);
* ``residency+fusion``: the same, with element-wise ops run in the output stream of the GEMM
  before them (``fusion.mode: output_stream``).

Writes ``residency.csv`` (one row per workload, size and mode: DRAM GiB by tensor class,
bytes served on chip, iteration ms, PE utilisation) and ``residency.png`` (DRAM traffic and
iteration time against SRAM size, one line per mode), and prints the table. The output
folder (``--out``) is checked before the sweep runs; every file is written atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from study_common import ROOT, ready, simulate, write_figure

from accelsim.config.loader import load_hwconfig
from accelsim.outputs import atomic_write_text

MIB = 1 << 20
DEFAULT_SIZES = (4, 8, 16, 32, 64)  # MiB of SRAM in all
#: Each mode's hwconfig overrides.
MODES = {
    "off": ("residency.policy=none", "fusion.mode=none"),
    "residency": ("residency.policy=liveness", "fusion.mode=none"),
    "residency+fusion": ("residency.policy=liveness", "fusion.mode=output_stream"),
}


def size_overrides(hw: str, total_mib: float) -> tuple[str, ...]:
    """``--set`` overrides giving the hwconfig's buffers ``total_mib`` MiB in all, each in
    proportion to its own capacity."""
    buffers = load_hwconfig(hw).sram
    total = sum(b.capacity for b in buffers.values())
    return tuple(f"sram.{name}.capacity={round(b.capacity * total_mib * MIB / total)}"
                 for name, b in buffers.items())


def row(workload: str, size: float, mode: str, r: dict) -> dict:
    by_class = r["dram_bytes_by_class"]
    figures = {"workload": workload, "sram_mib": size, "mode": mode,
               "dram_gib": r["dram_bytes"]["total"] / (1 << 30)}
    for cls, moved in by_class.items():
        figures[f"{cls}_gib"] = (moved["read"] + moved["written"]) / (1 << 30)
    figures["on_chip_gib"] = (r["onchip"]["bytes_read_on_chip"]
                              + r["onchip"]["bytes_kept_on_chip"]) / (1 << 30)
    figures["iteration_ms"] = r["seconds"] * 1e3
    figures["pe_utilization"] = r["utilization"]["pe_array"]
    return figures


def plot(out: Path, rows: list[dict], hw: str, batch: int) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = sorted({r["workload"] for r in rows})
    fig, axes = plt.subplots(2, len(workloads), figsize=(5 * len(workloads), 7), squeeze=False)
    for column, workload in enumerate(workloads):
        for mode in dict.fromkeys(r["mode"] for r in rows):
            points = sorted((r["sram_mib"], r["dram_gib"], r["iteration_ms"]) for r in rows
                            if r["workload"] == workload and r["mode"] == mode)
            sizes = [p[0] for p in points]
            axes[0][column].semilogx(sizes, [p[1] for p in points], "o-", label=mode, base=2)
            axes[1][column].semilogx(sizes, [p[2] for p in points], "o-", label=mode, base=2)
        axes[0][column].set_title(f"{workload} (batch {batch}) on {Path(hw).stem}")
        axes[0][column].set_ylabel("DRAM traffic (GiB)")
        axes[1][column].set_ylabel("iteration time (ms)")
        for ax in axes[:, column]:
            ax.set_xlabel("SRAM (MiB)")
            ax.grid(True, which="both", alpha=0.3)
            ax.legend()
    write_figure(fig, out / "residency.png")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hw", default=str(ROOT / "hwconfigs/tpu_like_128x128.yaml"))
    parser.add_argument("--workloads", nargs="+", default=["resnet50", "bert_base"])
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--sizes", type=float, nargs="+", default=DEFAULT_SIZES,
                        help="total SRAM sizes in MiB")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default="out/residency_study")
    args = parser.parse_args(argv)
    out = ready(args.out)
    runs = [(w, size, mode, (*size_overrides(args.hw, size), *keys))
            for w in args.workloads for size in sorted(args.sizes)
            for mode, keys in MODES.items()]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(pool.map(simulate, [args.hw] * len(runs), [r[0] for r in runs],
                                [args.batch] * len(runs), [r[3] for r in runs]))
    rows = [row(w, size, mode, r) for (w, size, mode, _), r in zip(runs, results)]
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "residency.csv", table.getvalue())
    plot(out, rows, args.hw, args.batch)
    print(f"{'workload':>10} {'SRAM MiB':>8} {'mode':>17} {'DRAM GiB':>9} {'on chip GiB':>11} "
          f"{'iteration ms':>12} {'PE util':>8}")
    for r in rows:
        print(f"{r['workload']:>10} {r['sram_mib']:8g} {r['mode']:>17} {r['dram_gib']:9.2f} "
              f"{r['on_chip_gib']:11.2f} {r['iteration_ms']:12.3f} {r['pe_utilization']:8.1%}")
    print(f"wrote {out}/residency.csv, residency.png")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
