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

:func:`load_value_stats` reads a folder's statistics strictly, all at load time: ``stats.json``
validated against :class:`StatsFile` (pydantic, through :func:`accelsim.validation.validate`:
strict types, finite numbers, fractions in [0, 1], unknown keys an error at every depth), both
``.npz`` archives read whole (:func:`accelsim.workload.files.read_npz`), and the two checked
against each other: one entry per sampled step in every per-step list, tables of the grid's
shape, and every array ``stats.json`` names present in its archive with the shape it implies.
A damaged folder is one :class:`~accelsim.errors.WorkloadError` naming the file and the key;
an accessor never meets a missing array or a list of the wrong length.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator

from accelsim.errors import WorkloadError
from accelsim.validation import validate
from accelsim.workload.bounds import MAX_BATCH, MAX_ELEMENTS, MAX_NAME
from accelsim.workload.files import read_json_object, read_npz

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
    """The value statistics of one traced workload folder (see the module docstring):
    ``data`` the validated ``stats.json``, ``arrays`` and ``masks`` the arrays of ``stats.npz``
    and ``masks.npz``."""

    def __init__(self, folder: str | Path, data: dict, arrays: dict[str, np.ndarray],
                 masks: dict[str, np.ndarray]) -> None:
        self.folder = Path(folder)
        self.source = str(folder)
        self.data = data
        self._arrays = arrays
        self._masks = masks
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
        granularities = [g for g in stat if g != "interval"]
        if granularity not in granularities:
            raise WorkloadError(self.source, f"value_stats.acrtc_hit_rate[{op_name}]",
                                "a reuse granularity", choices=granularities, got=granularity)
        ki = _floor_index(grid["k"], k)
        ei = _floor_index(grid["entries"], entries)
        table = self._at(stat[granularity], step)  # (k, entries)
        return float(table[ki][ei])

    def acrtc_hit_rate_interval(self, op_name: str, k: int, entries: int,
                                granularity: str = "scalar", step: int | None = None,
                                technique: str = "acrtc") -> tuple[float, float]:
        """Confidence interval (low, high) of :meth:`acrtc_hit_rate` at the same grid point,
        over the operand tiles sampled at a step. With ``step`` None, of the mean over the
        steps: each side's half-width is the root sum of the steps' squares over the step
        count (the steps' samples independent)."""
        stat = self.require("acrtc_hit_rate", op_name, technique)
        interval = stat.get("interval")
        if interval is None:
            raise missing_statistic(self.source, "acrtc_hit_rate.interval", op_name,
                                    technique)
        if granularity not in interval["low"]:
            raise WorkloadError(self.source, f"value_stats.acrtc_hit_rate[{op_name}]",
                                "a reuse granularity", choices=interval["low"], got=granularity)
        grid = self.params["acrtc"]
        ki, ei = _floor_index(grid["k"], k), _floor_index(grid["entries"], entries)
        mean = np.asarray(stat[granularity], dtype=float)[:, ki, ei]
        low = np.asarray(interval["low"][granularity], dtype=float)[:, ki, ei]
        high = np.asarray(interval["high"][granularity], dtype=float)[:, ki, ei]
        if step is not None:
            pos = self.step_position(step)
            return float(low[pos]), float(high[pos])
        centre, count = mean.mean(), len(mean)
        below = math.sqrt(float(np.sum((mean - low) ** 2))) / count
        above = math.sqrt(float(np.sum((high - mean) ** 2))) / count
        return max(0.0, centre - below), min(1.0, centre + above)

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


# -- reading a folder's statistics strictly ---------------------------------------------------
#: Training steps of a trace: at most 16,777,216.
MAX_STEPS = 2**24


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Optional(_Strict):
    """A model whose fields may be absent (the statistic was not recorded) but never null."""

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: object) -> object:
        if value is None:
            raise ValueError("a value (leave the key out when the statistic is absent)")
        return value


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Step = Annotated[int, Field(ge=0, le=MAX_STEPS)]
Count = Annotated[int, Field(ge=0, le=MAX_ELEMENTS)]
Positive = Annotated[int, Field(ge=1, le=MAX_ELEMENTS)]
Bits = Annotated[int, Field(ge=0, le=64)]
#: One value per sampled step.
PerStep = list[Fraction]
#: The index keys of each mask role, one per leading axis of the mask.
MASK_INDEX = {"x": ("images", "channels"), "dy": ("images", "channels"),
              "w": ("out_channels", "in_channels")}
Role = Literal["x", "w", "dy", "a", "b"]


class AcrtcParams(_Strict):
    k: list[Bits] = Field(min_length=1, description="masked low mantissa bits measured")
    entries: list[Positive] = Field(min_length=1, description="reuse-buffer sizes measured")
    granularities: list[Literal["scalar", "dot4"]] = Field(min_length=1)
    mantissa_bits: Bits


class DaaParams(_Strict):
    gap_bins: Annotated[int, Field(ge=1, le=1024)]


class MquansParams(_Strict):
    bits: list[Annotated[int, Field(ge=1, le=64)]] = Field(min_length=1)
    critical_fraction: Fraction
    pair_distance: Positive


class MaskParams(_Strict):
    images: Count
    channels: Count


class StatsParams(_Strict):
    sparsity: Fraction
    sparse_training: bool
    acrtc: AcrtcParams
    daa: DaaParams
    mquans: MquansParams
    masks: MaskParams


class Operands(_Strict):
    a: Role
    b: Role


class Density(_Strict):
    a: PerStep
    b: PerStep
    out: PerStep


class TopkDensity(_Strict):
    a: PerStep
    b: PerStep


class AcrtcTables(_Strict):
    scalar: list[list[list[Fraction]]] = Field(description="per step a [k][entries] table")
    dot4: list[list[list[Fraction]]] = Field(description="per step a [k][entries] table")


class AcrtcInterval(_Strict):
    """The spread of the hit rates: per step, the confidence interval over ``samples``
    independent operand tiles (:func:`accelsim.trace.stats.reuse.sampled_hit_rate_tables`)."""

    confidence: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
    samples: list[Positive] = Field(description="operand tiles sampled, per step")
    low: AcrtcTables
    high: AcrtcTables


class AcrtcHitRate(_Optional):
    scalar: list[list[list[Fraction]]] = Field(description="per step a [k][entries] table "
                                               "(mean over the sampled tiles)")
    dot4: list[list[list[Fraction]]] = Field(description="per step a [k][entries] table")
    interval: AcrtcInterval | None = None


class Daa(_Strict):
    both_nonzero: PerStep
    one_nonzero: PerStep
    none: PerStep
    mean_ratio: PerStep
    exponent_gap_hist: list[list[Fraction]]


class OpStats(_Optional):
    operands: Operands
    density: Density | None = None
    topk_density: TopkDensity | None = None
    acrtc_hit_rate: AcrtcHitRate | None = None
    daa: Daa | None = None


MquansRates = dict[Literal["all", "critical", "tolerant"], list[list[Fraction]]]


class MquansInterval(_Strict):
    """The spread of the change rates: per pair, the confidence interval over ``samples``
    sample pairs (:func:`accelsim.trace.stats.change.change_rates`)."""

    confidence: Annotated[float, Field(gt=0, lt=1, allow_inf_nan=False)]
    samples: list[Positive] = Field(description="sample pairs, per pair of steps")
    low: MquansRates
    high: MquansRates


class MquansChangeRate(_Optional):
    pairs: list[Annotated[tuple[Step, Step], Field(strict=False)]] = Field(min_length=1)
    rate: MquansRates
    interval: MquansInterval | None = None


class MaskEntry(_Strict):
    shape: list[Positive] = Field(min_length=1, max_length=6)
    index: dict[Literal["images", "channels", "out_channels", "in_channels"], list[Count]]
    steps: list[Step] = Field(min_length=1)


class LayerStats(_Optional):
    sensitivity: dict[Literal["dy", "dx"], Name] | None = None
    mquans_change_rate: MquansChangeRate | None = None
    masks: dict[Literal["x", "w", "dy"], MaskEntry] | None = None


class Confidence(_Strict):
    steps: Annotated[int, Field(ge=1, le=MAX_STEPS)]
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)]
    accuracy: list[Fraction]
    loss: list[NonNegative]
    mean_p_max: list[Fraction]
    confident_threshold: Fraction
    confident_share: list[Fraction]
    confident_correct_share: list[Fraction]


class HeldOut(_Strict):
    """Evaluations of the held-out set, one entry per evaluated step."""

    step: list[Step]
    accuracy: list[Fraction]
    loss: list[NonNegative]
    mean_p_max: list[Fraction]
    samples: Positive


class StatsFile(_Strict):
    """``stats.json`` (format ``accelsim.traced.stats/1``, workloads/traced/FORMAT.md)."""

    format: Literal["accelsim.traced.stats/1"]
    steps: list[Step] = Field(description="the sampled training steps (none with "
                              "`accelsim trace --no-stats`)")
    steps_per_epoch: Annotated[int, Field(ge=1, le=MAX_STEPS)]
    params: StatsParams
    ops: dict[Name, OpStats]
    layers: dict[Name, LayerStats]
    confidence: Confidence
    lr: list[NonNegative] | None = Field(None, description="learning rate per step (a "
                                         "schedule's; absent when constant)")
    sparsity: list[Fraction] | None = Field(None, description="sparse training's Top-K "
                                            "sparsity per step")
    held_out: HeldOut | None = None


def load_value_stats(folder: str | Path, conv2d_layers: frozenset[str] = frozenset()
                     ) -> ValueStats:
    """The value statistics of ``folder`` (``stats.json``, ``stats.npz``, ``masks.npz``), read
    and checked at once (see the module docstring). The masks of ``conv2d_layers`` (layers of
    2-D convolutions, whose planes the outer-product kind reads) must have 4 axes."""
    folder = Path(folder)
    path = folder / STATS_JSON
    data = read_json_object(path, "value statistics")
    if data.get("format") != STATS_FORMAT:
        raise WorkloadError(str(path), "format", f"format {STATS_FORMAT!r}",
                            got=data.get("format"))
    stats = validate(StatsFile, data, str(path), WorkloadError)
    arrays = read_npz(folder / STATS_NPZ, "value-statistics arrays written with stats.json")
    masks = read_npz(folder / MASKS_NPZ, "coordinate masks written with stats.json")
    _Consistency(folder, stats, arrays, masks, conv2d_layers).check()
    return ValueStats(folder, data, arrays, masks)


class _Consistency:
    """``stats.json`` against itself (list lengths, table shapes) and against its arrays."""

    def __init__(self, folder: Path, stats: StatsFile, arrays: dict[str, np.ndarray],
                 masks: dict[str, np.ndarray], conv2d_layers: frozenset[str]) -> None:
        self.conv2d_layers = conv2d_layers
        self.json = str(folder / STATS_JSON)
        self.npz = str(folder / STATS_NPZ)
        self.masks_npz = str(folder / MASKS_NPZ)
        self.stats, self.arrays, self.masks = stats, arrays, masks

    def length(self, key: str, values: list, size: int, what: str) -> None:
        if len(values) != size:
            raise WorkloadError(self.json, key, f"{size} values, {what}",
                                got=f"{len(values)} values")

    def check(self) -> None:
        stats = self.stats
        steps = len(stats.steps)
        per_step = f"one per sampled step (steps holds {steps})"
        for name, op in stats.ops.items():
            at = f"ops.{name}"
            for stat in ("density", "topk_density", "daa"):
                for field, values in (getattr(op, stat) or {}):
                    self.length(f"{at}.{stat}.{field}", values, steps, per_step)
            if op.daa is not None:
                for i, hist in enumerate(op.daa.exponent_gap_hist):
                    self.length(f"{at}.daa.exponent_gap_hist[{i}]", hist,
                                stats.params.daa.gap_bins, "one per exponent gap (gap_bins)")
            if op.acrtc_hit_rate is not None:
                self.acrtc(f"{at}.acrtc_hit_rate", op.acrtc_hit_rate, steps, per_step)
        for name, layer in stats.layers.items():
            self.layer(f"layers.{name}", name, layer, steps)
        self.confidence()

    def acrtc_tables(self, at: str, tables: AcrtcTables | AcrtcHitRate, steps: int,
                     per_step: str) -> None:
        grid = self.stats.params.acrtc
        for granularity in ("scalar", "dot4"):
            per_steps = getattr(tables, granularity)
            self.length(f"{at}.{granularity}", per_steps, steps, per_step)
            for i, table in enumerate(per_steps):
                self.length(f"{at}.{granularity}[{i}]", table, len(grid.k),
                            "one row per masked-bit count of params.acrtc.k")
                for j, row in enumerate(table):
                    self.length(f"{at}.{granularity}[{i}][{j}]", row, len(grid.entries),
                                "one per buffer size of params.acrtc.entries")

    def acrtc(self, at: str, stat: AcrtcHitRate, steps: int, per_step: str) -> None:
        self.acrtc_tables(at, stat, steps, per_step)
        interval = stat.interval
        if interval is None:
            return
        self.length(f"{at}.interval.samples", interval.samples, steps, per_step)
        self.acrtc_tables(f"{at}.interval.low", interval.low, steps, per_step)
        self.acrtc_tables(f"{at}.interval.high", interval.high, steps, per_step)
        for granularity in ("scalar", "dot4"):
            mean = np.asarray(getattr(stat, granularity), dtype=float)
            low = np.asarray(getattr(interval.low, granularity), dtype=float)
            high = np.asarray(getattr(interval.high, granularity), dtype=float)
            if np.any(low > mean + 1e-9) or np.any(mean > high + 1e-9):
                raise WorkloadError(self.json, f"{at}.interval.{granularity}", "intervals "
                                    f"low <= {granularity} <= high, entry by entry",
                                    got="an interval not containing its mean")

    def layer(self, at: str, name: str, layer: LayerStats, steps: int) -> None:
        bits = self.stats.params.mquans.bits
        if layer.mquans_change_rate is not None:
            pairs = layer.mquans_change_rate.pairs
            for neuron_class, rows in layer.mquans_change_rate.rate.items():
                key = f"{at}.mquans_change_rate.rate.{neuron_class}"
                self.length(key, rows, len(pairs), "one row per pair of pairs")
                for i, row in enumerate(rows):
                    self.length(f"{key}[{i}]", row, len(bits),
                                "one per bit-width of params.mquans.bits")
            interval = layer.mquans_change_rate.interval
            if interval is not None:
                at_interval = f"{at}.mquans_change_rate.interval"
                self.length(f"{at_interval}.samples", interval.samples, len(pairs),
                            "one per pair of pairs")
                for side in ("low", "high"):
                    got = getattr(interval, side)
                    if set(got) != set(layer.mquans_change_rate.rate):
                        raise WorkloadError(self.json, f"{at_interval}.{side}", "the neuron "
                                            "classes of rate", got=sorted(got))
                    for neuron_class, rows in got.items():
                        self.length(f"{at_interval}.{side}.{neuron_class}", rows, len(pairs),
                                    "one row per pair of pairs")
                        for i, row in enumerate(rows):
                            self.length(f"{at_interval}.{side}.{neuron_class}[{i}]", row,
                                        len(bits), "one per bit-width of params.mquans.bits")
        for which, array_name in (layer.sensitivity or {}).items():
            array = self.array(self.arrays, self.npz, array_name,
                               f"{at}.sensitivity.{which}")
            if array.ndim != 2 or array.shape[0] != steps:
                raise WorkloadError(self.npz, array_name, f"an array of one row per sampled "
                                    f"step ({steps} x neurons)", got=f"shape {array.shape}")
        for role, entry in (layer.masks or {}).items():
            if name in self.conv2d_layers and len(entry.shape) != 4:
                raise WorkloadError(self.json, f"{at}.masks.{role}.shape", "4 axes, the mask "
                                    "of a 2-D convolution (samples or output channels, "
                                    "channels, height, width)", got=entry.shape)
            for axis, key in enumerate(MASK_INDEX[role]):
                where = f"{at}.masks.{role}.index.{key}"
                if key not in entry.index:
                    raise WorkloadError(self.json, where, f"this required key (which "
                                        f"{key.replace('_', ' ')} of the tensor axis {axis} of "
                                        "the mask samples)")
                if len(entry.shape) <= axis or len(entry.index[key]) != entry.shape[axis]:
                    raise WorkloadError(self.json, where, f"one index per entry of axis {axis} "
                                        f"of the mask's shape {tuple(entry.shape)}",
                                        got=f"{len(entry.index[key])} indices")
            bits_per_mask = math.prod(entry.shape)
            for step in entry.steps:
                key = f"{name}/{role}/{step}"
                packed = self.array(self.masks, self.masks_npz, key, f"{at}.masks.{role}")
                if (packed.dtype != np.uint8 or packed.ndim != 1
                        or packed.size != -(-bits_per_mask // 8)):
                    raise WorkloadError(self.masks_npz, key, f"{-(-bits_per_mask // 8)} "
                                        f"packed bytes (uint8) of a mask of shape "
                                        f"{tuple(entry.shape)}",
                                        got=f"{packed.dtype} of shape {packed.shape}")

    def array(self, arrays: dict, file: str, key: str, named_at: str) -> np.ndarray:
        if key not in arrays:
            raise WorkloadError(file, key, f"the array {STATS_JSON} names at {named_at}",
                                got="missing")
        return arrays[key]

    def confidence(self) -> None:
        conf = self.stats.confidence
        for field in ("accuracy", "loss", "mean_p_max", "confident_share",
                      "confident_correct_share"):
            self.length(f"confidence.{field}", getattr(conf, field), conf.steps,
                        "one per traced step (confidence.steps)")
        for field in ("lr", "sparsity"):
            if getattr(self.stats, field) is not None:
                self.length(field, getattr(self.stats, field), conf.steps,
                            "one per traced step (confidence.steps)")
        held = self.stats.held_out
        if held is not None:
            for field in ("accuracy", "loss", "mean_p_max"):
                self.length(f"held_out.{field}", getattr(held, field), len(held.step),
                            "one per evaluated step (held_out.step)")
        for key in ("correct", "p_max", "p_true", "label"):
            array = self.array(self.arrays, self.npz, f"confidence/{key}", "confidence")
            if array.shape != (conf.steps, conf.batch):
                raise WorkloadError(self.npz, f"confidence/{key}", "an array of one row per "
                                    f"step and one column per sample ({conf.steps} x "
                                    f"{conf.batch})", got=f"shape {array.shape}")
