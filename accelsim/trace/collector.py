"""Gathers the value statistics of sampled training steps from the captured ops (torch).

The :class:`Collector` is the capture's observer. At a sampled step it receives every GEMM call
with its actual tensors (after Top-K when training is sparse) and records, per GEMM part (keyed
by call index and phase until the step's graph names the op):

* ``density`` of operands A and B and of the output, and ``topk_density`` (the share Top-K at the
  traced sparsity keeps);
* ``acrtc_hit_rate`` (:mod:`accelsim.trace.stats.reuse`): the mean over ``REUSE_SAMPLES``
  operand tiles at independent seeded random positions (:mod:`accelsim.trace.operands`), with
  its Student-t confidence interval over the tiles (:func:`acrtc_estimate`);
* ``daa`` (:mod:`accelsim.trace.stats.pairs`) on the first of those tiles;

and per GEMM layer (keyed by its forward call): the mean |dL/dy| per output neuron and |dL/dx| per
input neuron, the layer's input for the sampled images (paired with the same samples one epoch
later for Mquans, :mod:`accelsim.trace.stats.change`: a rate per sample pair, their mean and
confidence interval), and at mask steps the Top-K masks of x, w
and dy (:mod:`accelsim.trace.stats.masks`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from accelsim.trace.aten import GEMM_OPERANDS
from accelsim.trace.gemms import GemmResolver
from accelsim.trace.operands import gemm_tile
from accelsim.trace.stats import change, masks, pairs, reuse
from accelsim.trace.topk import density, topk_density, topk_mask

#: Tile (rows, depth, cols) of the tile statistics (DAA, ACRTC).
TILE = (32, 32, 16)
#: Operand tiles per op and sampled step whose ACRTC hit rates are averaged.
REUSE_SAMPLES = 8
#: Confidence of the intervals (ACRTC over tiles, Mquans over sample pairs).
CONFIDENCE = 0.95


@dataclass
class StatsConfig:
    sparsity: float = 0.9
    mask_images: int = 2
    mask_channels: int = 8
    mask_features: int = 256
    mquans_images: int = 16
    seed: int = 0


@dataclass
class StepStats:
    """What one sampled step measured, before op names are known."""

    step: int
    parts: dict[tuple[int, str], dict] = field(default_factory=dict)
    sensitivity: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    masks: dict[int, dict[str, np.ndarray]] = field(default_factory=dict)
    mask_index: dict[int, dict[str, dict]] = field(default_factory=dict)
    inputs: dict[int, tuple[np.ndarray, int]] = field(default_factory=dict)


def channel_means(t: torch.Tensor, axis: int) -> np.ndarray:
    """Mean |t| per index of ``axis`` (the neuron axis)."""
    dims = [d for d in range(t.dim()) if d != axis % t.dim()]
    return t.detach().abs().float().mean(dim=dims).cpu().numpy()


def neuron_axis(t: torch.Tensor) -> int:
    """Channels of a feature map (axis 1), features of anything else (the last axis)."""
    return 1 if t.dim() >= 3 else -1


class Collector:
    def __init__(self, capture, batch: int, config: StatsConfig) -> None:
        self.capture = capture
        self.batch = batch
        self.config = config
        self.current: StepStats | None = None
        self.masking = False
        self.resolver: GemmResolver | None = None

    def begin(self, step: int, sample: bool, masking: bool) -> None:
        self.current = StepStats(step) if sample else None
        self.masking = masking and sample
        self.resolver = GemmResolver(self.capture.calls, self.capture.tensors, self.batch)

    def end(self) -> StepStats | None:
        done, self.current = self.current, None
        return done

    # -- the observer --------------------------------------------------------------------------
    def __call__(self, call, args, kwargs, out) -> None:
        if self.current is None:
            return
        parts = self.resolver.parts(call)
        if not parts:
            return
        tensors = self.role_tensors(call, args)
        outputs = out if isinstance(out, (tuple, list)) else (out,)
        owner = call.index if call.stage == "forward" else call.node_call
        rng = np.random.default_rng([self.config.seed, self.current.step, call.index])
        for number, part in enumerate(parts):
            more = np.random.default_rng([self.config.seed, self.current.step, call.index,
                                          number, 1])
            self.part_stats(call, part, tensors, outputs, args, rng, more)
        if owner is None:
            return
        layer = self.current.sensitivity.setdefault(owner, {})
        if "dy" in tensors and "dy" not in layer:
            layer["dy"] = channel_means(tensors["dy"], neuron_axis(tensors["dy"]))
        for part, result in zip(parts, self.part_outputs(call, parts, outputs)):
            if part.phase.value == "bwd_data" and result is not None and "dx" not in layer:
                layer["dx"] = channel_means(result, neuron_axis(result))
        if call.stage == "forward" and "x" in tensors and "w" in tensors:
            x = tensors["x"][: self.config.mquans_images]
            self.current.inputs[owner] = (x.detach().float().cpu().numpy(), neuron_axis(x))
        if self.masking:
            self.layer_masks(owner, tensors)

    def role_tensors(self, call, args) -> dict[str, torch.Tensor]:
        """The call's operands by role (x, w, dy), each in its natural layout."""
        roles: dict[str, torch.Tensor] = {}
        if call.op in ("convolution", "convolution_backward"):
            names = ("x", "w") if call.op == "convolution" else ("dy", "x", "w")
            return dict(zip(names, args))
        for position in GEMM_OPERANDS[call.op][:2]:
            arg, ref = args[position], call.args[position]
            if not isinstance(arg, torch.Tensor) or not hasattr(ref, "id"):
                continue
            info = self.capture.tensors[ref.id]
            natural = arg
            if tuple(arg.shape) != info.shape:
                natural = (arg.t() if arg.dim() == 2 and tuple(arg.shape)[::-1] == info.shape
                           else arg.reshape(info.shape))
            roles.setdefault(self.resolver.role(ref), natural)
        return roles

    def part_outputs(self, call, parts, outputs) -> list:
        if call.op == "convolution_backward":
            return [outputs[0] if p.phase.value == "bwd_data" else outputs[1] for p in parts]
        return [outputs[0] for _ in parts]

    def part_stats(self, call, part, tensors, outputs, args, rng, more) -> None:
        """Densities and tile statistics of one GEMM part; ``rng`` places the first tile,
        ``more`` the other ACRTC tiles."""
        names = part.operands
        raw = None
        if part.kind == "matmul":
            m1, m2 = (args[0], args[1]) if call.op in ("mm", "bmm") else (args[1], args[2])
            operands = {"a": m1, "b": m2}
            raw = (m1, m2)
        else:
            operands = {"a": tensors.get(names[0]), "b": tensors.get(names[1])}
        result = self.part_outputs(call, [part], outputs)[0]
        record = {"operands": {"a": names[0], "b": names[1]},
                  "density": {k: density(v) for k, v in operands.items() if v is not None}}
        if result is not None:
            record["density"]["out"] = density(result)
        if self.config.sparsity > 0:
            record["topk_density"] = {k: topk_density(v, self.config.sparsity)
                                      for k, v in operands.items() if v is not None}
        tiles = sample_tiles(part.kind, part.phase.value, tensors, part.attrs, raw, rng, more)
        if tiles:
            record["acrtc_hit_rate"] = acrtc_estimate(tiles)
            record["daa"] = pairs.pair_stats(*tiles[0])
        self.current.parts[(call.index, part.phase.value)] = record

    def layer_masks(self, owner: int, tensors: dict[str, torch.Tensor]) -> None:
        store = self.current.masks.setdefault(owner, {})
        index = self.current.mask_index.setdefault(owner, {})
        cfg = self.config
        for role in ("x", "dy"):
            t = tensors.get(role)
            if t is None or role in store or t.dim() < 2:
                continue
            channels = masks.spaced(t.shape[1], self.channel_count(t.dim()))
            images = list(range(min(cfg.mask_images, t.shape[0])))
            index[role] = {"images": images, "channels": channels}
            store[role] = topk_mask(t, cfg.sparsity)[images][:, channels].cpu().numpy()
        w = tensors.get("w")
        if w is not None and "w" not in store and w.dim() >= 2:
            count = self.channel_count(w.dim())
            rows, cols = masks.spaced(w.shape[0], count), masks.spaced(w.shape[1], count)
            index["w"] = {"out_channels": rows, "in_channels": cols}
            store["w"] = topk_mask(w, cfg.sparsity)[rows][:, cols].cpu().numpy()

    def channel_count(self, dims: int) -> int:
        """Channels sampled of a feature map or a conv weight; features of a vector."""
        return self.config.mask_channels if dims >= 3 else self.config.mask_features


def sample_tiles(kind: str, phase: str, tensors: dict, attrs: dict, raw, rng, more,
                 count: int = REUSE_SAMPLES) -> list:
    """``count`` operand tiles of a GEMM (:func:`gemm_tile`, shape ``TILE``), each at an
    independent uniformly random position: the first placed by ``rng``, the others by
    ``more``; [] when the layout has no tiles."""
    first = gemm_tile(kind, phase, tensors, attrs, TILE, rng, raw)
    if first is None:
        return []
    return [first] + [gemm_tile(kind, phase, tensors, attrs, TILE, more, raw)
                      for _ in range(count - 1)]


def acrtc_estimate(tiles, confidence: float = CONFIDENCE) -> dict:
    """ACRTC hit-rate tables of an op from its sampled operand ``tiles`` (pairs ``(a, b)``):
    per granularity the mean table over the tiles, and ``interval``: ``confidence``,
    ``samples`` (tiles) and per granularity the ``low`` and ``high`` tables."""
    record: dict = {}
    interval = {"confidence": confidence, "samples": len(tiles), "low": {}, "high": {}}
    for granularity in reuse.GRANULARITIES:
        found = reuse.sampled_hit_rate_tables(tiles, granularity, confidence=confidence)
        record[granularity] = found["mean"]
        interval["low"][granularity] = found["low"]
        interval["high"][granularity] = found["high"]
    record["interval"] = interval
    return record


def mquans_pairs(earlier: StepStats, later: StepStats) -> dict[int, dict]:
    """Change rates of every layer input measured at both steps (same samples): per neuron
    class the mean over the sample pairs and its interval (:func:`change.change_rates`)."""
    rates = {}
    for owner, (before, axis) in earlier.inputs.items():
        if owner not in later.inputs:
            continue
        after = later.inputs[owner][0]
        if after.shape != before.shape:
            continue
        sensitivity = earlier.sensitivity.get(owner, {}).get("dx")
        rates[owner] = change.change_rates(before, after, axis, sensitivity,
                                           confidence=CONFIDENCE)
    return rates
