"""Traced workload folders (``accelsim trace``) read back as workloads, without torch.

A folder holds ``manifest.json`` (format ``accelsim.traced/1``: what was traced and how),
``graph.json`` (the ops of one training iteration as they ran) and, optionally, the value
statistics ``stats.json`` / ``stats.npz`` / ``masks.npz`` (:mod:`accelsim.workload.value_stats`).
The format is documented in ``workloads/traced/FORMAT.md``; this module is its reader and the one
place that turns an :class:`~accelsim.workload.op.Op` into its stored form and back, so the
tracer (:mod:`accelsim.trace.writer`) writes exactly what is read here.

A conv's bwd_data op is stored as ``convolution_backward`` computed it (reading dy and w,
writing dx) and lowered here by accelsim's rule (:mod:`accelsim.workload.training`): its GEMM is
derived from its ``attrs`` and, for a strided conv (or one with H*W != Ho*Wo), it becomes the
col2im GEMM writing partial products plus the col2im op adding them into dx. The stored ``gemm``
may be that GEMM or the transposed-convolution GEMM (B*H*W) x Cin x (Cout*R*S) over the
zero-inserted gradient that earlier tracers stored (:func:`lower_conv_data_gradient`), so traces
of either kind load with the useful MACs.

Stored tensors carry their element size, or ``null`` for the compute datatype: those take the
run's ``element_bytes`` (from the hwconfig), as zoo workloads do. Weight-update ops are stored as
the parameters and gradients they touch and rebuilt with the run's optimizer. Shapes are fixed
by the trace, so the batch is the traced one: asking for another is an error.

Strict reading. ``manifest.json`` and ``graph.json`` are UTF-8 JSON objects (at most 64 MiB)
validated with the pydantic models below through :func:`accelsim.validation.validate`: every
key the format lists is required (``overwrites`` may be left out), unknown keys are errors at
every depth, numbers are JSON numbers of the right kind (no strings, no booleans for integers,
no NaN or infinities), counts are non-negative and sizes bounded
(:mod:`accelsim.workload.bounds`: a batch of at most 2^16; every count in the graph, batch
included, at most 2^36; at most 131,072 ops and 2^53 MACs in all). Value statistics are read,
whole and checked, at load time (:func:`accelsim.workload.value_stats.load_value_stats`). A
damaged folder is one :class:`~accelsim.errors.WorkloadError` naming the file and the key path,
e.g. ``.../graph.json: ops[3].gemm[0]: expected a valid integer, got '32'``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

from accelsim.errors import WorkloadError
from accelsim.validation import validate
from accelsim.workload.bounds import (MAX_BATCH, MAX_DIM, MAX_ELEMENTS, MAX_NAME, MAX_OPS,
                                      MAX_VECTOR_OPS, check_ops)
from accelsim.workload.files import read_json_object
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.training import (TrainingOptions, conv_gemms, data_gradient_ops,
                                       update_op)
from accelsim.workload.value_stats import MAX_STEPS, STATS_JSON, load_value_stats

FORMAT = "accelsim.traced/1"
MANIFEST = "manifest.json"
GRAPH = "graph.json"
#: Element size the tracer gives compute-datatype tensors before storing them as ``null``.
NOMINAL_COMPUTE_BYTES = 2
#: Characters of a free-text manifest field (versions, the model reference, descriptions).
MAX_TEXT = 4096


def is_traced_folder(ref: str | Path) -> bool:
    """Whether ``ref`` is a folder holding a traced workload's manifest."""
    path = Path(ref)
    return path.is_dir() and (path / MANIFEST).is_file()


# -- the stored form, as pydantic models --------------------------------------------------------
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


Name = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]
Text = Annotated[str, Field(max_length=MAX_TEXT)]
Count = Annotated[int, Field(ge=0, le=MAX_ELEMENTS)]
PositiveCount = Annotated[int, Field(ge=1, le=MAX_ELEMENTS)]
Dim = Annotated[int, Field(ge=1, le=MAX_DIM)]
Steps = Annotated[int, Field(ge=1, le=MAX_STEPS)]
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Fraction = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
Phases = Literal["fwd", "bwd_data", "bwd_weight", "update"]


def _three_items(value: object) -> object:
    if isinstance(value, list) and len(value) != 3:
        raise ValueError("a tensor [name, elements, bytes per element or null]")
    return value


#: A stored tensor: [name, elements, bytes per element or null for the compute datatype].
StoredTensor = Annotated[tuple[Name, Count, Annotated[int, Field(ge=1, le=8)] | None],
                         Field(strict=False), BeforeValidator(_three_items)]


def _model_argument(value: object, depth: int = 0) -> object:
    """A model-factory argument: a JSON scalar (finite), or a list or mapping of them."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and len(value) <= MAX_TEXT:
        return value
    if isinstance(value, int) and abs(value) <= 2**63:
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    if depth == 0 and isinstance(value, list) and len(value) <= 1024:
        return [_model_argument(item, 1) for item in value]
    if depth == 0 and isinstance(value, dict) and len(value) <= 1024:
        return {key: _model_argument(item, 1) for key, item in value.items()}
    raise ValueError("a model argument: a finite number, a string, true, false or null, or "
                     "one list or mapping of them")


class DatasetInfo(_Strict):
    name: Name
    size: PositiveCount
    classes: list[Name] = Field(max_length=MAX_DIM)
    seed: Annotated[int, Field(ge=-(2**63), le=2**64)]
    noise_std: NonNegative | None = None  # the generated shapes
    source: Text | None = None  # a bundled data set (digits): where it comes from
    fit: Text | None = None  # and how it is fitted to the input shape
    order: Text
    held_out: Count | None = None  # samples held out for evaluation


class LrSchedule(_Strict):
    kind: Literal["constant", "cosine", "step"]
    warmup_steps: Count
    milestones: list[Count] | None = None
    gamma: NonNegative | None = None


class SparsitySchedule(_Strict):
    dense_steps: Count
    ramp_steps: Count
    dense_layers: list[Name] = []
    sparse_gradients: bool = True


class TrainingInfo(_Strict):
    optimizer: Name
    lr: NonNegative
    momentum: NonNegative
    weight_decay: NonNegative
    loss: Text
    sparse_training: bool
    sparsity: Fraction
    lr_schedule: LrSchedule | None = None
    sparsity_schedule: SparsitySchedule | None = None


class MacsByPhase(_Strict):
    fwd: Annotated[int, Field(ge=0)] | None = None
    bwd_data: Annotated[int, Field(ge=0)] | None = None
    bwd_weight: Annotated[int, Field(ge=0)] | None = None
    update: Annotated[int, Field(ge=0)] | None = None


class Summary(_Strict):
    ops: Count
    gemm_ops: Count
    macs_by_phase: MacsByPhase
    accuracy_first_last: Annotated[tuple[Fraction, Fraction], Field(strict=False)]
    loss_first_last: Annotated[tuple[NonNegative, NonNegative], Field(strict=False)]
    held_out_accuracy_last: Fraction | None = None


class Files(_Strict):
    graph: Literal["graph.json"]
    stats: Literal["stats.json"]
    arrays: Literal["stats.npz"]
    masks: Literal["masks.npz"]


class UnknownOp(_Strict):
    """An aten op the tracer did not model, with its calls in the graph's step."""

    op: Name
    count: Count


class Manifest(_Strict):
    """``manifest.json``: what was traced and how (FORMAT.md)."""

    format: Literal["accelsim.traced/1"]
    name: Name
    model: Annotated[str, Field(min_length=1, max_length=MAX_TEXT)]
    model_args: dict[str, Annotated[Any, AfterValidator(_model_argument)]] = Field(
        max_length=1024)
    input_shape: list[Dim] = Field(min_length=1, max_length=5,
                                   description="the per-sample input shape")
    batch: Annotated[int, Field(ge=1, le=MAX_BATCH)] = Field(description="the traced batch")
    classes: Dim
    model_outputs: Dim
    steps: Steps
    steps_per_epoch: Steps
    graph_step: Annotated[int, Field(ge=0, le=MAX_STEPS)]
    dataset: DatasetInfo
    training: TrainingInfo
    torch_version: Text
    accelsim_version: Text
    trace_seconds: NonNegative
    unknown_ops: list[UnknownOp] = Field([], max_length=4096)
    summary: Summary
    files: Files


class GraphFile(_Strict):
    """``graph.json``: the format and the ops, each validated by its own model (below)."""

    format: Literal["accelsim.traced/1"]
    ops: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_OPS,
                                      description="the ops of one training iteration")


class _StoredOp(_Strict):
    name: Name
    layer: Name
    phase: Phases
    kind: Name


class _DataOp(_StoredOp):
    reads: list[StoredTensor] = Field(max_length=4096)
    writes: list[StoredTensor] = Field(min_length=1, max_length=4096)
    overwrites: list[Name] = Field([], max_length=4096)


class VectorOp(_DataOp):
    """An op of the vector unit: ``elements`` values, ``vector_ops`` operations each."""

    elements: Count
    vector_ops: Annotated[float, Field(ge=0, le=MAX_VECTOR_OPS, allow_inf_nan=False)]


Stride = PositiveCount | Annotated[list[PositiveCount], Field(min_length=1, max_length=3)]
Padding = Count | Annotated[list[Count], Field(min_length=1, max_length=3)]


class ConvAttrs(_Strict):
    cin: PositiveCount
    cout: PositiveCount
    h: PositiveCount
    w: PositiveCount
    r: PositiveCount
    s: PositiveCount
    stride: Stride
    pad: Padding
    ho: PositiveCount
    wo: PositiveCount
    groups: PositiveCount
    dilation: Stride
    transposed: bool


class LinearAttrs(_Strict):
    tokens: PositiveCount
    in_features: PositiveCount
    out_features: PositiveCount
    rows: PositiveCount


class MatmulAttrs(_Strict):
    count: PositiveCount
    m: PositiveCount
    n: PositiveCount
    k: PositiveCount


class _GemmOp(_DataOp):
    gemm: Annotated[tuple[PositiveCount, PositiveCount, PositiveCount, PositiveCount],
                    Field(strict=False, description="[m, n, k, count]")]


class ConvOp(_GemmOp):
    kind: Literal["conv"]
    attrs: ConvAttrs


class LinearOp(_GemmOp):
    kind: Literal["linear"]
    attrs: LinearAttrs


class MatmulOp(_GemmOp):
    kind: Literal["matmul"]
    attrs: MatmulAttrs


GEMM_OPS: dict[str, type[_GemmOp]] = {"conv": ConvOp, "linear": LinearOp, "matmul": MatmulOp}


class UpdateOpEntry(_StoredOp):
    """A weight update: the parameters and gradients it touches (rebuilt with the run's
    optimizer)."""

    phase: Literal["update"]
    params: PositiveCount
    grads: list[Name] = Field(min_length=1, max_length=4096)
    weights: list[Name] = Field(min_length=1, max_length=4096)


def _entry_model(entry: dict, where: str, source: str) -> type[_StoredOp]:
    """The model of one stored op: an update, a GEMM (it has ``gemm``) or a vector op."""
    if entry.get("phase") == "update":
        return UpdateOpEntry
    if "gemm" not in entry:
        return VectorOp
    kind = entry.get("kind")
    if not isinstance(kind, str) or kind not in GEMM_OPS:
        raise WorkloadError(source, f"{where}.kind", "the kind of a GEMM op", choices=GEMM_OPS,
                            got=kind)
    return GEMM_OPS[kind]


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


def op_from_entry(entry: _StoredOp, options: TrainingOptions, sizes: dict[str, int]) -> Op:
    """The op of a validated stored op, at the run's element size and optimizer."""
    if isinstance(entry, UpdateOpEntry):
        grads = [Tensor(name, sizes.get(name, entry.params), options.element_bytes)
                 for name in entry.grads]
        return traced_update_op(entry.layer, entry.kind, entry.params, grads,
                                list(entry.weights), options)

    def tensors(items: list[tuple]) -> tuple[Tensor, ...]:
        return tuple(Tensor(name, elements, options.element_bytes if size is None else size)
                     for name, elements, size in items)

    op = Op(entry.name, entry.layer, Phase(entry.phase), entry.kind, tensors(entry.reads),
            tensors(entry.writes), overwrites=tuple(entry.overwrites))
    if isinstance(entry, _GemmOp):
        gemm = Gemm(*entry.gemm)
        return replace(op, gemm=gemm, attrs=entry.attrs.model_dump(),
                       reads=operands_first(op.reads, op.kind, op.phase, gemm))
    return replace(op, elements=entry.elements, vector_ops=entry.vector_ops)


def operands_first(reads: tuple[Tensor, ...], kind: str, phase: Phase,
                   gemm: Gemm) -> tuple[Tensor, ...]:
    """A traced GEMM op's reads in the order every GEMM op has (:class:`Op`): its A operand,
    its B operand, then the rest. The tracer records a call's arguments as the call takes
    them: ``addmm(bias, x, W^T)`` reads the bias first, and a convolution's weight gradient
    recorded x before dy (its A operand, Cout x pixels); folders traced so that are read in
    the canonical order."""
    if (kind == "linear" and phase is Phase.FWD and len(reads) == 3
            and reads[0].elements == gemm.n and reads[1].elements == gemm.m * gemm.k):
        return (reads[1], reads[2], reads[0])
    if (kind == "conv" and phase is Phase.BWD_WEIGHT and len(reads) == 2
            and reads[1].name.startswith("grad(") and not reads[0].name.startswith("grad(")):
        return (reads[1], reads[0])  # dy is named grad(<conv>) by the tracer
    return reads


def _stored_data_gradient_gemms(attrs: dict, images: int) -> tuple[Gemm, Gemm]:
    """(accelsim's, the transposed-convolution) bwd_data GEMM of a conv over ``images``
    inputs: the second is what tracers before the col2im lowering stored for every conv
    (per group, ``groups`` of them); for a transposed conv both are its ordinary
    convolution's."""
    derived = conv_gemms(attrs, images)[Phase.BWD_DATA]
    if attrs.get("transposed"):
        return derived, derived
    groups = attrs.get("groups", 1)
    window = attrs["r"] * attrs["s"]
    return derived, Gemm(images * attrs["h"] * attrs["w"], attrs["cin"] // groups,
                         attrs["cout"] // groups * window, groups)


def lower_conv_data_gradient(op: Op, source: str, where: str) -> list[Op]:
    """The ops of a stored conv bwd_data op (the input gradient as ``convolution_backward``
    computed it): its GEMM derived from its ``attrs`` and its input images (the written
    gradient's elements / (Cin*H*W)) by accelsim's lowering rule, and the col2im op the rule
    adds (:func:`accelsim.workload.training.data_gradient_ops`). The stored ``gemm`` must be
    that GEMM or the transposed-convolution GEMM (B*H*W) x Cin x (Cout*R*S) that earlier
    tracers stored for every conv; anything else is refused."""
    attrs, gemm = op.attrs, op.gemm
    if len(op.writes) != 1:
        raise WorkloadError(source, f"{where}.writes", "one written tensor (the input "
                            "gradient) for a conv's bwd_data op",
                            got=[t.name for t in op.writes])
    dx = op.writes[0]
    per_image = attrs["cin"] * attrs["h"] * attrs["w"]
    if dx.elements % per_image:
        raise WorkloadError(source, f"{where}.writes[0]", "the input gradient: a whole number "
                            f"of images of Cin*H*W = {per_image} elements", got=dx.elements)
    derived, legacy = _stored_data_gradient_gemms(attrs, dx.elements // per_image)
    if gemm not in (derived, legacy):
        raise WorkloadError(source, f"{where}.gemm", "the input-gradient GEMM of the conv's "
                            f"attrs, [{derived.m}, {derived.n}, {derived.k}, {derived.count}] "
                            f"(or [{legacy.m}, {legacy.n}, {legacy.k}, {legacy.count}], the "
                            "transposed-convolution GEMM of earlier traces)",
                            got=[gemm.m, gemm.n, gemm.k, gemm.count])
    return data_gradient_ops(op.name, op.layer, op.kind, op.reads, dx, derived, attrs,
                             overwrites=op.overwrites)


# -- the folder ---------------------------------------------------------------------------------
def _read_versioned(path: Path, what: str) -> dict:
    """The JSON object of ``path``, refused first if it is of another format version."""
    data = read_json_object(path, what)
    if data.get("format") != FORMAT:
        raise WorkloadError(str(path), "format", f"format {FORMAT!r}", got=data.get("format"))
    return data


def read_manifest(folder: str | Path) -> Manifest:
    """The validated ``manifest.json`` of ``folder``."""
    path = Path(folder) / MANIFEST
    data = _read_versioned(path, "a traced-workload manifest")
    manifest = validate(Manifest, data, str(path), WorkloadError)
    if manifest.graph_step >= manifest.steps:
        raise WorkloadError(str(path), "graph_step", f"a traced step, below steps "
                            f"({manifest.steps})", got=manifest.graph_step)
    return manifest


def read_graph(folder: str | Path) -> list[_StoredOp]:
    """The validated ops of ``graph.json`` in ``folder``."""
    path = Path(folder) / GRAPH
    source = str(path)
    graph = validate(GraphFile, _read_versioned(path, "the traced ops"), source, WorkloadError)
    entries: list[_StoredOp] = []
    names: dict[str, int] = {}
    writers: dict[str, int] = {}
    for i, entry in enumerate(graph.ops):
        model = _entry_model(entry, f"ops[{i}]", source)
        op = validate(model, entry, source, WorkloadError, key_prefix=f"ops[{i}]")
        if op.name in names:
            raise WorkloadError(source, f"ops[{i}].name", f"a name no other op has (ops"
                                f"[{names[op.name]}] has it)", got=op.name)
        names[op.name] = i
        for j, (tensor, _, _) in enumerate(getattr(op, "writes", ())):
            if tensor in writers:
                raise WorkloadError(source, f"ops[{i}].writes[{j}]", "a tensor no other op "
                                    f"writes (ops[{writers[tensor]}] writes it)", got=tensor)
            writers[tensor] = i
        entries.append(op)
    return entries


def load_traced(folder: str | Path, options: TrainingOptions | None = None) -> Workload:
    """The traced training iteration in ``folder``, with its value statistics if stored.

    ``options.batch`` None takes the traced batch; another batch is a :class:`WorkloadError`.
    """
    source = str(folder)
    path = Path(folder)
    manifest = read_manifest(folder)
    traced_batch = manifest.batch
    options = options or TrainingOptions(batch=None)
    if options.batch is None:
        options = replace(options, batch=traced_batch)
    options.validate(source)
    if options.batch != traced_batch:
        raise WorkloadError(source, "batch", f"the traced batch {traced_batch} (a traced "
                            "workload's shapes are fixed; trace again with --batch to change "
                            "it)", got=options.batch)
    entries = read_graph(folder)
    sizes = {t[0]: t[1] for e in entries if isinstance(e, _DataOp) for t in e.writes}
    ops, index = [], {}
    for i, entry in enumerate(entries):
        op = op_from_entry(entry, options, sizes)
        lowered = (lower_conv_data_gradient(op, str(path / GRAPH), f"ops[{i}]")
                   if isinstance(entry, ConvOp) and op.phase is Phase.BWD_DATA else [op])
        index.update((each.name, i) for each in lowered)
        ops.extend(lowered)
    check_ops(ops, str(path / GRAPH), lambda op: f"ops[{index[op.name]}]", "ops")
    conv2d = frozenset(op.layer for op in ops if op.kind == "conv" and op.gemm is not None
                       and (op.attrs["w"] > 1 or op.attrs["s"] > 1))
    stats = load_value_stats(path, conv2d) if (path / STATS_JSON).is_file() else None
    meta = {"batch": traced_batch, "element_bytes": options.element_bytes,
            "optimizer": options.optimizer, "traced": True,
            "forward_macs_per_sample": sum(op.macs for op in ops if op.phase is Phase.FWD)
            // traced_batch,
            "model": manifest.model, "input_shape": list(manifest.input_shape),
            "steps": manifest.steps, "classes": manifest.classes}
    return Workload(manifest.name, ops, source, meta=meta, value_stats=stats)
