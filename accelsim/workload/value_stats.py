"""Value statistics of real training steps, attached to a traced workload (torch-free).

A traced workload (``accelsim trace``, format in ``workloads/traced/FORMAT.md``) carries what the
techniques need from the values flowing through training: operand densities, Top-K coordinate
masks (ANT), reuse-buffer hit rates (ACRTC), paired-stream statistics (DAA), input change rates
and neuron sensitivities (Mquans) and per-sample confidence (confidence skipping).

:class:`ValueStats` reads them lazily from the workload folder and gives typed accessors. Every
accessor of a statistic that is absent raises one clear :class:`~accelsim.errors.WorkloadError`
through :meth:`ValueStats.require`, naming the workload folder, the statistic, the op or layer
and what records it. Workloads without statistics (zoo, YAML, CSV) have ``value_stats = None``;
techniques call the module function :func:`require`, which words that case too.

Statistics are sampled at training steps ``steps`` (the training phase of the technique
schedules is the step index, or the epoch ``epoch_of(step)``). Accessors taking ``step`` use the
sampled step nearest to it, and the mean over all sampled steps when ``step`` is None.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import numpy as np

from accelsim.errors import WorkloadError

STATS_FORMAT = "accelsim.traced.stats/1"
STATS_JSON = "stats.json"
STATS_NPZ = "stats.npz"
MASKS_NPZ = "masks.npz"

#: Statistic name -> where it lives ("ops", "layers" or "global") and what records it.
STATISTICS: dict[str, tuple[str, str]] = {
    "density": ("ops", "accelsim trace (every sampled step)"),
    "topk_density": ("ops", "accelsim trace with --sparsity > 0"),
    "acrtc_hit_rate": ("ops", "accelsim trace (reuse-buffer model on sampled operand tiles)"),
    "daa": ("ops", "accelsim trace (paired MAC streams on sampled operand tiles)"),
    "masks": ("layers", "accelsim trace (Top-K coordinate masks at --mask-steps)"),
    "sensitivity": ("layers", "accelsim trace (mean |dL/dy| per neuron at sampled steps)"),
    "mquans_change_rate": ("layers", ("accelsim trace with --steps longer than one epoch "
                                      "(the same sample in consecutive epochs)")),
    "confidence": ("global", "accelsim trace (every step)"),
}


class ValueStats:
    """The value statistics of one traced workload folder (see the module docstring)."""

    def __init__(self, folder: str | Path, data: dict) -> None:
        self.folder = Path(folder)
        self.source = str(folder)
        self.data = data
        #: Sampled training steps (the phase index of every per-step list).
        self.steps: list[int] = list(data.get("steps", []))
        self.params: dict = dict(data.get("params", {}))

    # -- presence and the one error ------------------------------------------------------------
    def names(self) -> list[str]:
        """The statistics this workload carries."""
        present = set()
        for op in self.data.get("ops", {}).values():
            present.update(k for k in op if k in STATISTICS)
        for layer in self.data.get("layers", {}).values():
            present.update(k for k in layer if k in STATISTICS)
        if self.data.get("confidence"):
            present.add("confidence")
        return sorted(present)

    def has(self, name: str, target: str | None = None) -> bool:
        return self._lookup(name, target) is not None

    def require(self, name: str, target: str | None = None, technique: str = "a technique"):
        """The statistic ``name`` of op or layer ``target`` (None for a global one), or a
        :class:`WorkloadError` naming the folder, the statistic and what provides it."""
        if name not in STATISTICS:
            raise WorkloadError(self.source, f"value_stats.{name}", "a known statistic",
                                choices=STATISTICS, got=name)
        found = self._lookup(name, target)
        if found is None:
            raise missing_statistic(self.source, name, target, technique)
        return found

    def _lookup(self, name: str, target: str | None):
        where = STATISTICS.get(name, ("ops", ""))[0]
        if where == "global":
            return self.data.get(name) or None
        table = self.data.get(where, {})
        if target is None:
            return None
        return table.get(target, {}).get(name)

    # -- steps ---------------------------------------------------------------------------------
    def step_position(self, step: int) -> int:
        """Index into the sampled steps of the sampled step nearest to ``step``."""
        if not self.steps:
            raise missing_statistic(self.source, "steps", None, "value statistics")
        return int(np.argmin([abs(s - step) for s in self.steps]))

    def epoch_of(self, step: int) -> int:
        return int(step // max(1, self.data.get("steps_per_epoch", 1)))

    def _at(self, values: list, step: int | None):
        if step is None:
            return np.mean(np.asarray(values, dtype=float), axis=0)
        return np.asarray(values[self.step_position(step)], dtype=float)

    # -- per-op statistics ---------------------------------------------------------------------
    def operands(self, op_name: str, technique: str = "a technique") -> dict[str, str]:
        """Roles of an op's GEMM operands: ``{"a": "x", "b": "w"}`` (x activation, w weight,
        dy output gradient)."""
        self.require("density", op_name, technique)
        return dict(self.data["ops"][op_name]["operands"])

    def density(self, op_name: str, operand: str, step: int | None = None,
                technique: str = "a technique", topk: bool = False) -> float:
        """Fraction of non-zero values of operand ``a``, ``b`` or ``out`` of a GEMM op (as run;
        ``topk`` after Top-K sparsification at the traced sparsity)."""
        stat = self.require("topk_density" if topk else "density", op_name, technique)
        if operand not in stat:
            raise WorkloadError(self.source, f"value_stats.density[{op_name}]",
                                "an operand", choices=stat, got=operand)
        return float(self._at(stat[operand], step))

    def acrtc_hit_rate(self, op_name: str, k: int, entries: int, granularity: str = "scalar",
                       step: int | None = None, technique: str = "acrtc") -> float:
        """Reuse-buffer hit rate of an op with ``k`` low mantissa bits masked and ``entries``
        buffer entries (the nearest measured k and size at or below the ones asked)."""
        stat = self.require("acrtc_hit_rate", op_name, technique)
        grid = self.params["acrtc"]
        if granularity not in stat:
            raise WorkloadError(self.source, f"value_stats.acrtc_hit_rate[{op_name}]",
                                "a reuse granularity", choices=stat, got=granularity)
        ki = _floor_index(grid["k"], k)
        ei = _floor_index(grid["entries"], entries)
        table = self._at(stat[granularity], step)  # (k, entries)
        return float(table[ki][ei])

    def daa(self, op_name: str, step: int | None = None, technique: str = "daa") -> dict:
        """Paired-stream statistics of an op: ``both_nonzero``, ``one_nonzero``, ``none``,
        ``mean_ratio`` and ``exponent_gap_hist`` (fractions of pairs, see FORMAT.md)."""
        stat = self.require("daa", op_name, technique)
        return {key: (self._at(values, step).tolist() if key == "exponent_gap_hist"
                      else float(self._at(values, step)))
                for key, values in stat.items()}

    # -- per-layer statistics ------------------------------------------------------------------
    def sensitivity(self, layer: str, which: str = "dy", technique: str = "mquans") -> np.ndarray:
        """Mean |dL/dy| (``dy``: per output neuron) or |dL/dx| (``dx``: per input neuron) of a
        GEMM layer, one row per sampled step."""
        stat = self.require("sensitivity", layer, technique)
        if which not in stat:
            raise missing_statistic(self.source, f"sensitivity.{which}", layer, technique)
        return self._arrays[stat[which]].astype(np.float32)

    def mquans_change_rate(self, layer: str, bits: int, neuron_class: str = "all",
                           technique: str = "mquans") -> float:
        """Fraction of a layer's inputs whose ``bits``-bit quantized value changes between the
        same sample in consecutive epochs, mean over the measured pairs."""
        stat = self.require("mquans_change_rate", layer, technique)
        grid = self.params["mquans"]["bits"]
        if bits not in grid:
            raise WorkloadError(self.source, f"value_stats.mquans_change_rate[{layer}]",
                                "a measured bit-width", choices=map(str, grid), got=bits)
        if neuron_class not in stat["rate"]:
            raise WorkloadError(self.source, f"value_stats.mquans_change_rate[{layer}]",
                                "a neuron class", choices=stat["rate"], got=neuron_class)
        rates = np.asarray(stat["rate"][neuron_class], dtype=float)  # (pairs, bits)
        return float(rates[:, grid.index(bits)].mean())

    def masks(self, layer: str, role: str, step: int | None = None,
              technique: str = "ant") -> tuple[np.ndarray, dict]:
        """The sampled non-zero coordinate mask of tensor ``role`` (``x``, ``w`` or ``dy``) of a
        GEMM layer at the mask step nearest ``step`` (the last if None), and its index:
        which images / channels of the full tensor the mask's axes are."""
        stat = self.require("masks", layer, technique)
        if role not in stat:
            raise missing_statistic(self.source, f"masks.{role}", layer, technique)
        entry = stat[role]
        steps = entry["steps"]
        pos = len(steps) - 1 if step is None else int(np.argmin([abs(s - step) for s in steps]))
        packed = self._masks[f"{layer}/{role}/{steps[pos]}"]
        shape = tuple(entry["shape"])
        mask = np.unpackbits(packed, count=int(np.prod(shape))).astype(bool).reshape(shape)
        return mask, {"step": steps[pos], **entry["index"]}

    # -- global statistics ---------------------------------------------------------------------
    def confidence(self, step: int, technique: str = "confidence_skip") -> dict[str, np.ndarray]:
        """Per sample of training step ``step``: ``correct`` (bool), ``p_max`` (max softmax
        probability), ``p_true`` (softmax probability of the true class), ``label``."""
        stat = self.require("confidence", None, technique)
        count = stat["steps"]
        if not 0 <= step < count:
            raise WorkloadError(self.source, "value_stats.confidence", f"a step in 0..{count - 1}",
                                got=step)
        arrays = self._arrays
        return {"correct": arrays["confidence/correct"][step].astype(bool),
                "p_max": arrays["confidence/p_max"][step].astype(np.float32),
                "p_true": arrays["confidence/p_true"][step].astype(np.float32),
                "label": arrays["confidence/label"][step].astype(np.int64)}

    # -- lazily read arrays --------------------------------------------------------------------
    @cached_property
    def _arrays(self):
        return _load_npz(self.folder / STATS_NPZ, self.source)

    @cached_property
    def _masks(self):
        return _load_npz(self.folder / MASKS_NPZ, self.source)


def _load_npz(path: Path, source: str):
    if not path.is_file():
        raise WorkloadError(source, path.name, "the value-statistics array file",
                            got="missing")
    with np.load(path) as data:
        return {key: data[key] for key in data.files}


def _floor_index(grid: list[int], value: int) -> int:
    """Index of the largest grid value not above ``value`` (the first one if all are above)."""
    below = [i for i, g in enumerate(grid) if g <= value]
    return below[-1] if below else 0


def missing_statistic(source: str, name: str, target: str | None,
                      technique: str) -> WorkloadError:
    """The error of a technique that needs a statistic the workload does not carry."""
    provider = STATISTICS.get(name.split(".")[0], ("", "accelsim trace"))[1]
    what = f"the value statistic {name!r}" + (f" of {target}" if target else "")
    return WorkloadError(source, f"value_stats.{name}", f"{what}, needed by technique "
                         f"{technique}; it is recorded by {provider}", got="absent")


def require(workload, name: str, target: str | None = None, technique: str = "a technique"):
    """``workload.value_stats.require(...)``, or a clear error when the workload has none."""
    stats = getattr(workload, "value_stats", None)
    if stats is None:
        provider = STATISTICS.get(name, ("", "accelsim trace"))[1]
        raise WorkloadError(workload.source, f"value_stats.{name}",
                            f"a workload with value statistics: technique {technique} needs "
                            f"{name!r}" + (f" of {target}" if target else "")
                            + f", which only traced workloads carry (recorded by {provider}; "
                            "see workloads/traced/FORMAT.md)", got="no value statistics")
    return stats.require(name, target, technique)
