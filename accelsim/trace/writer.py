"""Writes a :class:`~accelsim.trace.tracer.TraceResult` as a traced workload folder (numpy).

Files (format ``accelsim.traced/1``, documented in ``workloads/traced/FORMAT.md`` and read by
:mod:`accelsim.workload.traced` / :mod:`accelsim.workload.value_stats`): ``manifest.json``,
``graph.json``, ``stats.json`` (per-op and per-layer statistics, one list entry per sampled step),
``stats.npz`` (per-sample confidence, per-neuron sensitivities) and ``masks.npz`` (bit-packed
coordinate masks).
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

from accelsim.outputs import atomic_write_bytes, atomic_write_text
from accelsim.trace.collector import CONFIDENCE, mquans_pairs
from accelsim.trace.stats import change, pairs, reuse
from accelsim.trace.stats.masks import pack
from accelsim.trace.tracer import TraceResult
from accelsim.workload.traced import FORMAT, GRAPH, MANIFEST, op_to_dict
from accelsim.workload.value_stats import MASKS_NPZ, STATS_FORMAT, STATS_JSON, STATS_NPZ

#: p_max at or above which a sample counts as confident in the summary.
CONFIDENT = 0.9
PER_STEP = ("density", "topk_density", "acrtc_hit_rate", "daa")


def _rounded(value, digits: int = 5):
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _rounded(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(v, digits) for v in value]
    return value


def op_statistics(result: TraceResult) -> dict:
    """Per op: its operand roles and, per statistic and field, one value per sampled step."""
    ops: dict[str, dict] = {}
    count = len(result.sampled)
    for position, (_, built, stats) in enumerate(result.sampled):
        for key, record in stats.parts.items():
            name = built.op_of.get(key)
            if name is None:
                continue
            entry = ops.setdefault(name, {"operands": record["operands"]})
            for stat in PER_STEP:
                for field, value in record.get(stat, {}).items():
                    if field == "interval":
                        per_step_interval(entry[stat], value, position, count)
                        continue
                    values = entry.setdefault(stat, {}).setdefault(field, [None] * count)
                    values[position] = value
    return _rounded(ops)


def per_step_interval(stat: dict, interval: dict, position: int, count: int) -> None:
    """Store one step's ``interval`` (``confidence``, ``samples``, ``low`` and ``high`` per
    field) in the statistic's per-step ``interval`` entry."""
    entry = stat.setdefault("interval", {"confidence": interval["confidence"],
                                         "samples": [None] * count, "low": {}, "high": {}})
    entry["samples"][position] = interval["samples"]
    for side in ("low", "high"):
        for field, value in interval[side].items():
            entry[side].setdefault(field, [None] * count)[position] = value


def layer_statistics(result: TraceResult, arrays: dict, packed: dict) -> dict:
    layers: dict[str, dict] = {}
    by_step = {step: (built, stats) for step, built, stats in result.sampled}
    # sensitivities: one row per sampled step
    rows: dict[tuple[str, str], list] = {}
    for _, built, stats in result.sampled:
        for owner, found in stats.sensitivity.items():
            layer = built.layer_of.get(owner)
            for which, values in found.items():
                if layer is not None:
                    rows.setdefault((layer, which), []).append(values)
    for (layer, which), values in rows.items():
        if len(values) == len(result.sampled) and len({len(v) for v in values}) == 1:
            key = f"sensitivity/{layer}/{which}"
            arrays[key] = np.stack(values).astype(np.float16)
            layers.setdefault(layer, {}).setdefault("sensitivity", {})[which] = key
    # Mquans: the same samples one epoch apart
    spe = result.options.steps_per_epoch
    for step, (built, earlier) in by_step.items():
        if step + spe not in by_step:
            continue
        for owner, rates in mquans_pairs(earlier, by_step[step + spe][1]).items():
            layer = built.layer_of.get(owner)
            if layer is None:
                continue
            entry = layers.setdefault(layer, {}).setdefault(
                "mquans_change_rate", {"pairs": [], "rate": {}, "interval": {
                    "confidence": CONFIDENCE, "samples": [], "low": {}, "high": {}}})
            entry["pairs"].append([step, step + spe])
            entry["interval"]["samples"].append(rates["samples"])
            for side in ("rate", "low", "high"):
                into = entry[side] if side == "rate" else entry["interval"][side]
                for neuron_class, values in rates[side].items():
                    into.setdefault(neuron_class, []).append(_rounded(values))
    for entry in layers.values():  # a class is kept only when measured at every pair
        mq = entry.get("mquans_change_rate")
        if mq:
            kept = [k for k, v in mq["rate"].items() if len(v) == len(mq["pairs"])]
            mq["rate"] = {k: mq["rate"][k] for k in kept}
            for side in ("low", "high"):
                mq["interval"][side] = {k: mq["interval"][side][k] for k in kept}
    # masks
    for step, (built, stats) in by_step.items():
        for owner, found in stats.masks.items():
            layer = built.layer_of.get(owner)
            if layer is None:
                continue
            for role, mask in found.items():
                entry = layers.setdefault(layer, {}).setdefault("masks", {}).setdefault(
                    role, {"shape": list(mask.shape), "index": stats.mask_index[owner][role],
                           "steps": []})
                entry["steps"].append(step)
                packed[f"{layer}/{role}/{step}"] = pack(mask)
    return layers


def confidence_summary(result: TraceResult, arrays: dict) -> dict:
    arrays["confidence/correct"] = result.correct.astype(np.uint8)
    arrays["confidence/p_max"] = result.p_max.astype(np.float16)
    arrays["confidence/p_true"] = result.p_true.astype(np.float16)
    arrays["confidence/label"] = result.labels.astype(np.int16)
    return _rounded({
        "steps": int(result.correct.shape[0]), "batch": int(result.correct.shape[1]),
        "accuracy": result.correct.mean(axis=1).tolist(),
        "loss": result.losses,
        "mean_p_max": result.p_max.mean(axis=1).tolist(),
        "confident_threshold": CONFIDENT,
        "confident_share": (result.p_max >= CONFIDENT).mean(axis=1).tolist(),
        "confident_correct_share": ((result.p_max >= CONFIDENT) & result.correct)
        .mean(axis=1).tolist(),
    }, 4)


def training_summary(result: TraceResult) -> dict:
    """The per-step learning rate and sparse-training sparsity, and the held-out evaluations
    (each only when the run had it)."""
    out: dict = {}
    if len(set(result.lrs)) > 1:
        out["lr"] = [float(f"{lr:.6g}") for lr in result.lrs]
    if result.sparsities:
        out["sparsity"] = _rounded(result.sparsities, 4)
    if result.evaluations:
        out["held_out"] = {key: _rounded([e[key] for e in result.evaluations], 4)
                           for key in ("step", "accuracy", "loss", "mean_p_max")}
        out["held_out"]["samples"] = result.options.eval_size
    return out


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """A compressed ``.npz`` archive of ``arrays``, in memory (written atomically)."""
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def write(result: TraceResult, out: str | Path) -> Path:
    """Write the folder ``out`` (created, or its traced files replaced)."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    options = result.options
    arrays: dict[str, np.ndarray] = {}
    packed: dict[str, np.ndarray] = {}
    stats = {
        "format": STATS_FORMAT,
        "steps": [step for step, _, _ in result.sampled],
        "steps_per_epoch": options.steps_per_epoch,
        "params": {
            "sparsity": options.sparsity, "sparse_training": options.sparse_training,
            "acrtc": {"k": list(reuse.MASKED_BITS), "entries": list(reuse.ENTRIES),
                      "granularities": list(reuse.GRANULARITIES),
                      "mantissa_bits": reuse.FP16_MANTISSA_BITS},
            "daa": {"gap_bins": pairs.GAP_BINS},
            "mquans": {"bits": list(change.BITS),
                       "critical_fraction": change.CRITICAL_FRACTION,
                       "pair_distance": options.steps_per_epoch},
            "masks": {"images": options.mask_images, "channels": options.mask_channels},
        },
        "ops": op_statistics(result),
        "layers": layer_statistics(result, arrays, packed),
        "confidence": confidence_summary(result, arrays),
        **training_summary(result),
    }
    manifest = dict(result.manifest, format=FORMAT,
                    files={"graph": GRAPH, "stats": STATS_JSON, "arrays": STATS_NPZ,
                           "masks": MASKS_NPZ})
    atomic_write_text(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    graph = {"format": FORMAT, "ops": [op_to_dict(op) for op in result.graph.ops]}
    atomic_write_text(folder / GRAPH, json.dumps(graph, separators=(",", ":")) + "\n")
    atomic_write_text(folder / STATS_JSON, json.dumps(stats, separators=(",", ":")) + "\n")
    atomic_write_bytes(folder / STATS_NPZ, _npz_bytes(arrays))
    atomic_write_bytes(folder / MASKS_NPZ, _npz_bytes(packed))
    return folder
