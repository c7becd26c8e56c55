"""Forward-pass cycles of the SCNN-like array against DNNsim's SCNN model, layer by layer.

    python scripts/dnnsim_compare.py --dnnsim PATH/TO/DNNsim \
        --masks tests/golden/dnnsim_scnn/masks.npz
    python scripts/dnnsim_compare.py --dnnsim PATH/TO/DNNsim --trace TRACED_FOLDER \\
        --write-golden tests/golden/dnnsim_scnn

DNNsim (github.com/isakedo/DNNsim) is a public cycle-level simulator whose SCNN model
(``core/src/SCNN.cpp``) runs each chunk pair in lockstep with its worst accumulator-bank
conflict. ``--dnnsim`` is the path of an already built DNNsim binary; its ``DRAMSim2`` folder
(beside the binary) is linked into the working folder, where DNNsim reads and writes.

The layers (:data:`LAYERS`, from ResNet-18-CIFAR) are the sampled planes of a traced workload:
2 images, the 8 input channels and 8 output channels the tracer keeps, so both simulators see
exactly the same masks. Each runs dense (every element non-zero) and with the trace's Top-K
masks (90% sparsity). DNNsim gets the masks as 0/1 traces (:mod:`accelsim.trace.dnnsim_export`)
on an 8x8 grid of 4x4 multipliers, 32 banks and 1,024 accumulator entries per PE
(``hwconfigs/scnn_like.yaml``: 32 banks of 32 entries). accelsim's figure is the sum of the
op's tile cycles on ``scnn_like.yaml``, computed on the same masks (no sampling), in three
variants: as it runs (``accelsim``); on DNNsim's planar tiling (``dnnsim_tiling``: the
zero-padded input rounded up to a multiple of the grid, as DNNsim tiles it); and that with
lockstep banks (``lockstep``, queue depth 0, DNNsim's accumulator model). The table prints
the error of each against DNNsim. With ``--write-golden FOLDER`` the masks and DNNsim's
cycles are written there with their provenance.

Where the two differ, and why (each difference is a modelling choice, shown by the columns):

* tiling: DNNsim tiles the zero-padded input rounded up to the grid (32x32 -> 40x40, 5x5 per
  PE; 16x16 -> 24x24, 3x3 per PE), accelsim the input itself (4x4, 2x2), so DNNsim's
  busiest PE holds more activation chunks (``dnnsim tiling`` removes this);
* accumulators: DNNsim's chunk pairs wait in lockstep for their worst bank conflict, accelsim's
  banks queue their updates (``lockstep`` removes this; dense pairs never conflict);
* schedule: DNNsim synchronises the PEs after every input channel, accelsim at the end of a
  pass (``barrier`` removes this: on stride-1 layers the multiplier cycles are then DNNsim's);
* stride: DNNsim pairs only activations and weights of the same stride phase, accelsim (as
  SCNN) multiplies every pair and drops off-stride products as RCPs (3/4 of them at stride 2);
* halo: DNNsim charges a pass the largest of the 8 neighbour regions times Kc, accelsim sends
  all of a PE's halo partial sums over one link at ``halo_elements_per_cycle`` (1 per cycle).
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import simpy  # noqa: E402
import yaml  # noqa: E402

from accelsim.config.loader import validate_hwconfig  # noqa: E402
from accelsim.hw.kinds.outer_product.model import (  # noqa: E402
    OuterProductModel,
    op_geometry,
    plane_pairs,
)
from accelsim.hw.system import System  # noqa: E402
from accelsim.outputs import atomic_write_text  # noqa: E402
from accelsim.trace.dnnsim_export import batch_file, read_samples, write_layer  # noqa: E402
from accelsim.workload.op import Gemm, Op, Phase, Tensor  # noqa: E402

HW = ROOT / "hwconfigs" / "scnn_like.yaml"
LAYERS = ("conv1", "layer1.0.conv1", "layer2.0.conv1", "layer2.0.conv2",
          "layer2.0.downsample.0", "layer3.0.conv2", "layer4.0.conv2")
DENSITIES = ("dense", "topk")
MULTIPLIERS = 8 * 8 * 4 * 4


def conv_op(layer: str, x: np.ndarray, w: np.ndarray, stride: int, pad: int,
            out: tuple[int, int]) -> Op:
    """The forward op of a convolution of input ``x`` (N, C, H, W) and weights ``w``."""
    n, cin, h, wd = x.shape
    cout, _, r, s = w.shape
    attrs = {"cin": cin, "cout": cout, "h": h, "w": wd, "r": r, "s": s, "stride": stride,
             "pad": pad, "ho": out[0], "wo": out[1]}
    gemm = Gemm(n * out[0] * out[1], cout, cin * r * s)
    reads = (Tensor(f"{layer}.x", x.size, 2), Tensor(f"{layer}.w", w.size, 2))
    return Op(f"{layer}.fwd", layer, Phase.FWD, "conv", reads,
              (Tensor(f"{layer}.y", n * cout * out[0] * out[1], 2),), gemm=gemm, attrs=attrs)


def accelsim_cycles(x: np.ndarray, w: np.ndarray, stride: int, pad: int,
                    out: tuple[int, int], queue_depth: int | None = None
                    ) -> tuple[int, int, int]:
    """Compute cycles of the forward op on scnn_like.yaml, on exactly these masks (one op per
    image, each ending with its halo exchange as DNNsim's passes do), those of its
    multipliers (halo exchanges excluded), and what the multipliers would take with the PEs
    synchronised after every input channel (DNNsim's schedule; a diagnostic from the same
    chunk pairs, not accelsim's figure)."""
    data = yaml.safe_load(HW.read_text())
    if queue_depth is not None:
        data["pe_array"]["accumulator_queue_depth"] = queue_depth
    config = validate_hwconfig(copy.deepcopy(data), str(HW))
    system = System(config, simpy.Environment())
    capacity = {role: system.srams[system.buffer_of_role[role]].usable_bytes
                for role in ("ifmap", "filter", "ofmap")}
    model = OuterProductModel(config.pe_array, 2, 4)
    total = multipliers = synchronised = 0
    for image in x:  # one op per image: the model's figures come from that image's planes
        op = conv_op("layer", image[None], w, stride, pad, out)
        masks = plane_pairs(op_geometry(op), image[None], w)
        tiles = model.tiles(op, capacity, masks=masks)
        sample = tiles.sample
        total += int(tiles.compute_cycles.sum())
        multipliers += int(np.ceil(sample.slowest_pe() * tiles.pair_scale
                                   / sample.channel_scale).sum())
        per_channel = sample.pairs.channel_pe_cycles().max(axis=1).sum()
        synchronised += int(np.ceil(per_channel * tiles.pair_scale
                                    / sample.channel_scale * sample.channel_scale).sum())
    return total, multipliers, synchronised


def dnnsim_tiling(x: np.ndarray, pad: int, grid: tuple[int, int]) -> np.ndarray:
    """The input as DNNsim tiles it: zero-padded, then rounded up to a multiple of the grid."""
    n, c, h, w = x.shape
    rows = -(-(h + 2 * pad) // grid[0]) * grid[0]
    cols = -(-(w + 2 * pad) // grid[1]) * grid[1]
    padded = np.zeros((n, c, rows, cols), dtype=bool)
    padded[:, :, pad:pad + h, pad:pad + w] = x
    return padded


def traced_layers(folder: str) -> dict[str, dict]:
    """Masks and geometry of :data:`LAYERS` from a traced workload folder."""
    from accelsim.workload.loader import load_workload
    from accelsim.workload.training import TrainingOptions

    workload = load_workload(folder, TrainingOptions(batch=None))
    stats = workload.value_stats
    ops = {op.layer: op for op in workload.ops() if op.kind == "conv"
           and str(op.phase) == "fwd"}
    layers = {}
    for name in LAYERS:
        attrs = ops[name].attrs
        x, _ = stats.masks(name, "x", technique="outer_product")
        w, _ = stats.masks(name, "w", technique="outer_product")
        layers[name] = {"x": x, "w": w, "stride": _single(attrs.get("stride", 1)),
                        "pad": _single(attrs.get("pad", 0)),
                        "out": (int(attrs["ho"]), int(attrs["wo"]))}
    return layers


def _single(value) -> int:
    values = set(value) if isinstance(value, (list, tuple)) else {value}
    if len(values) != 1:
        raise ValueError(f"DNNsim takes one stride and padding per layer, got {value}")
    return int(values.pop())


def saved_layers(path: Path) -> dict[str, dict]:
    """Masks and geometry of the layers from a golden ``masks.npz``."""
    with np.load(path) as data:
        geometry = json.loads(str(data["geometry"]))
        return {name: {"x": np.unpackbits(data[f"{name}/x"], count=int(np.prod(g["x"])))
                       .astype(bool).reshape(g["x"]),
                       "w": np.unpackbits(data[f"{name}/w"], count=int(np.prod(g["w"])))
                       .astype(bool).reshape(g["w"]),
                       "stride": g["stride"], "pad": g["pad"], "out": tuple(g["out"])}
                for name, g in geometry.items()}


def masks_of(layer: dict, density: str) -> tuple[np.ndarray, np.ndarray]:
    if density == "dense":
        return np.ones_like(layer["x"]), np.ones_like(layer["w"])
    return layer["x"], layer["w"]


def run_dnnsim(binary: Path, work: Path, layers: dict[str, dict]) -> dict[tuple, dict]:
    """DNNsim's SCNN ``cycles`` and ``idle_halo`` per (layer, density), one per image."""
    work.mkdir(parents=True, exist_ok=True)
    link = work / "DRAMSim2"
    if not link.exists():
        link.symlink_to(binary.resolve().parent / "DRAMSim2")
    cycles = {}
    for name, layer in layers.items():
        for density in DENSITIES:
            network = f"{name.replace('.', '_')}_{density}"
            x, w = masks_of(layer, density)
            write_layer(work, network, "layer", x, w, layer["stride"], layer["pad"])
            batch = work / f"{network}.prototxt"
            atomic_write_text(batch, batch_file(network, 8, 8, 4, 4, 1024, 32))
            subprocess.run([str(binary.resolve()), "--quiet", batch.name], cwd=work,
                           check=True, capture_output=True)
            result = work / "results" / network / "SCNN_Wt8_Ht8_I4_F4_acc_out1024_B32_cycles.csv"
            cycles[(name, density)] = read_samples(result)["layer"]
    return cycles


def trace_note(folder: str) -> str:
    """How the traced folder was made, from its manifest."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text())
    return (f"the Top-K (sparsity 0.9) coordinate masks of the last masked step of an "
            f"'accelsim trace' of {manifest['model']} (input {manifest['input_shape']}, batch "
            f"{manifest['batch']}, {manifest['steps']} steps, dataset seed "
            f"{manifest['dataset']['seed']}, torch {manifest['torch_version']}): images 0-1, "
            "the 8 input and 8 output channels the tracer samples")


def write_golden(folder: Path, layers: dict[str, dict], cycles: dict, binary: Path,
                 source: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    geometry = {name: {"x": list(l["x"].shape), "w": list(l["w"].shape), "stride": l["stride"],
                       "pad": l["pad"], "out": list(l["out"])} for name, l in layers.items()}
    arrays = {f"{name}/{role}": np.packbits(l[role]) for name, l in layers.items()
              for role in ("x", "w")}
    np.savez_compressed(folder / "masks.npz", geometry=json.dumps(geometry), **arrays)
    commit = subprocess.run(["git", "-C", str(binary.resolve().parent), "rev-parse", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "unknown"
    golden = {
        "source": (f"DNNsim (github.com/isakedo/DNNsim) commit {commit}, SCNN 'Cycles' task, "
                   "batch file: model CSV, data_type Fixed, Wt 8, Ht 8, I 4, F 4, "
                   "out_acc_size 1024, banks 32; run as 'DNNsim --quiet <batch>.prototxt' by "
                   "scripts/dnnsim_compare.py --write-golden; values = 'cycles' and "
                   "'idle_halo' per sample (image) from the 'Per sample scalar results' of "
                   "results/<network>/"
                   "SCNN_Wt8_Ht8_I4_F4_acc_out1024_B32_cycles.csv. Inputs: masks.npz (0/1 "
                   f"traces; dense = all ones of the same shapes), from {source}. "
                   f"Date: {datetime.date.today().isoformat()}."),
        "samples": {f"{name}/{density}": values for (name, density), values in cycles.items()},
    }
    atomic_write_text(folder / "cycles.json", json.dumps(golden, indent=1) + "\n")


def table(layers: dict[str, dict], cycles: dict) -> list[dict]:
    """Per (layer, density): DNNsim's cycles and accelsim's (module docstring), in total and
    of the multipliers alone (DNNsim's halo cycles are its ``idle_halo`` over the grid's
    1,024 multipliers)."""
    rows = []
    for (name, density), reported in cycles.items():
        layer = layers[name]
        x, w = masks_of(layer, density)
        padded = dnnsim_tiling(x, layer["pad"], (8, 8))
        total, multipliers, _ = accelsim_cycles(x, w, layer["stride"], layer["pad"],
                                                layer["out"])
        _, tiled, _ = accelsim_cycles(padded, w, layer["stride"], 0, layer["out"])
        _, lockstep, barrier = accelsim_cycles(padded, w, layer["stride"], 0, layer["out"],
                                               queue_depth=0)
        reference = sum(reported["cycles"])
        halo = sum(reported["idle_halo"]) // MULTIPLIERS
        rows.append({"layer": name, "density": density,
                     "x_density": float(x.mean()), "w_density": float(w.mean()),
                     "dnnsim": reference, "accelsim": total,
                     "dnnsim_multipliers": reference - halo, "accelsim_multipliers": multipliers,
                     "dnnsim_tiling": tiled, "lockstep": lockstep,
                     "lockstep_barrier": barrier})
    return rows


def error(value: float, reference: float) -> str:
    return f"{(value - reference) / reference:>+7.0%}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dnnsim", required=True, type=Path, help="a built DNNsim binary")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--trace", help="traced ResNet-18-CIFAR workload folder (masks)")
    source.add_argument("--masks", type=Path, help="a golden masks.npz")
    parser.add_argument("--work", type=Path, default=Path("out") / "dnnsim",
                        help="working folder for DNNsim's inputs and results")
    parser.add_argument("--write-golden", type=Path, help="folder for masks.npz and "
                        "cycles.json")
    args = parser.parse_args(argv)
    layers = traced_layers(args.trace) if args.trace else saved_layers(args.masks)
    cycles = run_dnnsim(args.dnnsim, args.work, layers)
    if args.write_golden:
        write_golden(args.write_golden, layers, cycles, args.dnnsim,
                     trace_note(args.trace) if args.trace else str(args.masks))
    print("cycles of 2 images; total (halo exchanges included), then the multipliers' alone")
    print(f"{'layer':<22}{'density':>8}{'x/w':>10}{'DNNsim':>8}{'accelsim':>9}{'err':>7}"
          f"{'| DNNsim':>9}{'accelsim':>9}{'err':>7}{'dnn tiling':>11}{'err':>7}"
          f"{'lockstep':>9}{'err':>7}{'barrier':>8}{'err':>7}")
    for row in table(layers, cycles):
        ref, mult = row["dnnsim"], row["dnnsim_multipliers"]
        print(f"{row['layer']:<22}{row['density']:>8}"
              f"{row['x_density']:>5.2f}/{row['w_density']:.2f}{ref:>8}{row['accelsim']:>9}"
              f"{error(row['accelsim'], ref)}{'| ' + str(mult):>9}"
              f"{row['accelsim_multipliers']:>9}{error(row['accelsim_multipliers'], mult)}"
              f"{row['dnnsim_tiling']:>11}{error(row['dnnsim_tiling'], mult)}"
              f"{row['lockstep']:>9}{error(row['lockstep'], mult)}"
              f"{row['lockstep_barrier']:>8}{error(row['lockstep_barrier'], mult)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
