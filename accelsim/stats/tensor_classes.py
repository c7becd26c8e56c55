"""What each tensor of a training iteration is, and an op's DRAM traffic split by that class.

Classes (from who produces and who reads a tensor, not from its name):

* ``weights``: tensors a forward GEMM multiplies by (its second operand) and tensors the weight
  update overwrites that other ops read (parameters of normalisation layers), and their
  updated values;
* ``optimizer_state``: tensors the weight update overwrites that only it reads (fp32 master
  weights, momentum, Adam moments), and their updated values;
* ``saved_activations``: outputs of the forward pass that a backward op reads again;
* ``activations``: every other forward tensor (the input batch and labels included);
* ``gradients``: outputs of the backward passes.

An update op writes the new value of each tensor it overwrites, in the same order
(:func:`accelsim.workload.training.update_op`), so a written tensor takes its old value's class.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from accelsim.workload.graph import Workload
from accelsim.workload.op import Op, Phase, Tensor

TENSOR_CLASSES = ("weights", "optimizer_state", "saved_activations", "activations",
                  "gradients")


def tensor_classes(workload: Workload) -> dict[str, str]:
    """The class of every tensor ``workload`` reads or writes (module docstring)."""
    ops = workload.ops()
    producer: dict[str, Op] = {t.name: op for op in ops for t in op.writes}
    readers: dict[str, list[Op]] = {}
    for op in ops:
        for tensor in op.reads:
            readers.setdefault(tensor.name, []).append(op)
    overwritten = {name for op in ops for name in op.overwrites}
    classes: dict[str, str] = {}
    for name, by in readers.items():
        if name in producer:
            continue
        multiplied_by = any(op.gemm is not None and op.phase is Phase.FWD
                            and op.reads[1:2] and op.reads[1].name == name for op in by)
        if name not in overwritten and not multiplied_by:
            classes[name] = "activations"  # the input batch, labels
        elif multiplied_by or any(op.phase is not Phase.UPDATE for op in by):
            classes[name] = "weights"
        else:
            classes[name] = "optimizer_state"
    for name, op in producer.items():
        if op.phase is Phase.FWD:
            later = readers.get(name, ())
            classes[name] = ("saved_activations" if any(r.phase is not Phase.FWD for r in later)
                             else "activations")
        elif op.phase is Phase.UPDATE:
            old = dict(zip((t.name for t in op.writes), op.overwrites))
            classes[name] = classes.get(old.get(name, ""), "optimizer_state")
        else:
            classes[name] = "gradients"
    return classes


def split_by_class(tensors: tuple[Tensor, ...], total: int, weights: Mapping[str, int],
                   classes: Mapping[str, str]) -> dict[str, int]:
    """``total`` bytes moved for ``tensors``, split over their classes in proportion to
    ``weights`` (bytes per tensor name; a tensor's own size where absent), in whole bytes that
    add up to ``total``."""
    if not tensors or total <= 0:
        return {}
    share = np.array([weights.get(t.name, t.bytes) for t in tensors], dtype=np.int64)
    if share.sum() <= 0:
        share = np.array([t.bytes for t in tensors], dtype=np.int64)
    cumulative = np.cumsum(share) * total // max(int(share.sum()), 1)
    parts = np.diff(np.concatenate(([0], cumulative)))
    out: dict[str, int] = {}
    for tensor, part in zip(tensors, parts.tolist()):
        if part:
            cls = classes.get(tensor.name, "activations")
            out[cls] = out.get(cls, 0) + part
    return out
