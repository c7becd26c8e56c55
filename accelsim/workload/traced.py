"""Traced workload folders (``accelsim trace``) read back as workloads, without torch.

A folder holds ``manifest.json`` (format ``accelsim.traced/1``: what was traced and how),
``graph.json`` (the ops of one training iteration as they ran) and, optionally, the value
statistics ``stats.json`` / ``stats.npz`` / ``masks.npz`` (:mod:`accelsim.workload.value_stats`).
The format is documented in ``workloads/traced/FORMAT.md``; this module is its reader and the one
place that turns an :class:`~accelsim.workload.op.Op` into its stored form and back, so the
tracer (:mod:`accelsim.trace.writer`) writes exactly what is read here.

Stored tensors carry their element size, or ``null`` for the compute datatype: those take the
run's ``element_bytes`` (from the hwconfig), as zoo workloads do. Weight-update ops are stored as
the parameters and gradients they touch and rebuilt with the run's optimizer. Shapes are fixed
by the trace, so the batch is the traced one: asking for another is an error.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.workload.graph import Workload
from accelsim.workload.op import PHASES, Gemm, Op, Phase, Tensor
from accelsim.workload.training import TrainingOptions, update_op
from accelsim.workload.value_stats import STATS_FORMAT, STATS_JSON, ValueStats

FORMAT = "accelsim.traced/1"
MANIFEST = "manifest.json"
GRAPH = "graph.json"
#: Element size the tracer gives compute-datatype tensors before storing them as ``null``.
NOMINAL_COMPUTE_BYTES = 2


def is_traced_folder(ref: str | Path) -> bool:
    """Whether ``ref`` is a folder holding a traced workload's manifest."""
    path = Path(ref)
    return path.is_dir() and (path / MANIFEST).is_file()


# -- ops to stored form and back ----------------------------------------------------------------
def tensor_to_list(t: Tensor) -> list:
    size = None if t.element_bytes == NOMINAL_COMPUTE_BYTES else t.element_bytes
    return [t.name, t.elements, size]


def op_to_dict(op: Op) -> dict:
    """The stored form of an op (an update op keeps only what rebuilds it)."""
    if op.phase is Phase.UPDATE:
        return {"name": op.name, "layer": op.layer, "phase": op.phase.value, "kind": op.kind,
                "params": op.elements, "grads": [t.name for t in op.reads
                                                 if t.name.endswith(".grad")],
                "weights": list(op.attrs["weights"])}
    entry = {"name": op.name, "layer": op.layer, "phase": op.phase.value, "kind": op.kind,
             "reads": [tensor_to_list(t) for t in op.reads],
             "writes": [tensor_to_list(t) for t in op.writes]}
    if op.gemm is not None:
        entry["gemm"] = [op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count]
    else:
        entry["elements"] = op.elements
        entry["vector_ops"] = op.vector_ops
    if op.overwrites:
        entry["overwrites"] = list(op.overwrites)
    if op.attrs:
        entry["attrs"] = op.attrs
    return entry


def traced_update_op(layer: str, kind: str, params: int, grads: list[Tensor],
                     weights: list[str], options: TrainingOptions) -> Op:
    """The optimizer's update of a module's parameters: :func:`training.update_op` reading every
    parameter gradient of the module and overwriting every parameter tensor."""
    op = update_op(layer, kind, params, grads[0], options)
    return replace(op, reads=(*grads, *op.reads[1:]),
                   overwrites=(*weights, *op.overwrites[1:]),
                   attrs={"weights": list(weights)})


def op_from_dict(entry: dict, index: int, options: TrainingOptions, source: str,
                 sizes: dict[str, int]) -> Op:
    where = f"graph.ops[{index}]"
    try:
        phase = Phase(entry["phase"])
        if phase is Phase.UPDATE:
            grads = [Tensor(name, sizes.get(name, entry["params"]), options.element_bytes)
                     for name in entry["grads"]]
            if not grads:
                raise WorkloadError(source, f"{where}.grads", "at least one gradient tensor")
            return traced_update_op(entry["layer"], entry["kind"], entry["params"], grads,
                                    entry["weights"], options)

        def tensor(item: list) -> Tensor:
            name, elements, size = item
            return Tensor(name, int(elements), options.element_bytes if size is None else size)

        gemm = entry.get("gemm")
        return Op(entry["name"], entry["layer"], phase, entry["kind"],
                  tuple(tensor(t) for t in entry["reads"]),
                  tuple(tensor(t) for t in entry["writes"]),
                  gemm=Gemm(*gemm) if gemm is not None else None,
                  elements=int(entry.get("elements", 0)),
                  vector_ops=float(entry.get("vector_ops", 0.0)),
                  overwrites=tuple(entry.get("overwrites", ())),
                  attrs=dict(entry.get("attrs", {})))
    except WorkloadError:
        raise
    except KeyError as missing:
        raise WorkloadError(source, where, f"the key {missing.args[0]!r}") from None
    except (TypeError, ValueError) as bad:
        raise WorkloadError(source, where, f"an op of phase one of {', '.join(PHASES)} with "
                            "[name, elements, bytes] tensors", got=str(bad)) from None


# -- the folder ---------------------------------------------------------------------------------
def read_json(path: Path, source: str, what: str) -> dict:
    if not path.is_file():
        raise WorkloadError(source, path.name, what, got="missing")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise WorkloadError(source, path.name, f"{what} (JSON)", got=str(error)) from None
    if not isinstance(data, dict):
        raise WorkloadError(source, path.name, f"{what} (a JSON object)")
    return data


def read_manifest(folder: str | Path) -> dict:
    source = str(folder)
    manifest = read_json(Path(folder) / MANIFEST, source, "a traced-workload manifest")
    if manifest.get("format") != FORMAT:
        raise WorkloadError(source, f"{MANIFEST}: format", f"format {FORMAT!r}",
                            got=manifest.get("format"))
    return manifest


def load_traced(folder: str | Path, options: TrainingOptions | None = None) -> Workload:
    """The traced training iteration in ``folder``, with its value statistics if stored.

    ``options.batch`` None takes the traced batch; another batch is a :class:`WorkloadError`.
    """
    source = str(folder)
    path = Path(folder)
    manifest = read_manifest(folder)
    traced_batch = int(manifest["batch"])
    options = options or TrainingOptions(batch=None)
    if options.batch is None:
        options = replace(options, batch=traced_batch)
    elif options.batch != traced_batch:
        raise WorkloadError(source, "batch", f"the traced batch {traced_batch} (a traced "
                            "workload's shapes are fixed; trace again with --batch to change "
                            "it)", got=options.batch)
    options.validate(source)
    graph = read_json(path / GRAPH, source, "the traced ops")
    entries = graph.get("ops")
    if not isinstance(entries, list) or not entries:
        raise WorkloadError(source, f"{GRAPH}: ops", "a non-empty list of ops")
    sizes = {t[0]: t[1] for e in entries for t in e.get("writes", ())}
    ops = [op_from_dict(e, i, options, source, sizes) for i, e in enumerate(entries)]
    stats = None
    if (path / STATS_JSON).is_file():
        data = read_json(path / STATS_JSON, source, "value statistics")
        if data.get("format") != STATS_FORMAT:
            raise WorkloadError(source, f"{STATS_JSON}: format", f"format {STATS_FORMAT!r}",
                                got=data.get("format"))
        stats = ValueStats(path, data)
    meta = {"batch": traced_batch, "element_bytes": options.element_bytes,
            "optimizer": options.optimizer, "traced": True,
            "forward_macs_per_sample": sum(op.macs for op in ops if op.phase is Phase.FWD)
            // traced_batch,
            **{k: manifest[k] for k in ("model", "input_shape", "steps", "classes")
               if k in manifest}}
    return Workload(manifest.get("name", path.name), ops, source, meta=meta, value_stats=stats)
