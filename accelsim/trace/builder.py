"""Captured calls of one training step -> the ops of a workload graph (torch-free).

The graph has the zoo's shape (:mod:`accelsim.workload.training`): per layer a forward op, in the
backward pass bwd_data and bwd_weight ops, and per module with parameters an update op, with the
same op names (``<layer>.<phase>``) and tensor names (an activation is named after its layer, a
gradient ``grad(<tensor>)``, a parameter ``<module>/<param>`` and its gradient
``<module>/<param>.grad``). What differs is that every op is one that really ran.

Layer names. A forward op gets the path of the innermost module that ran it when that module is a
leaf (``layer1.0.conv1``) and it is the module's first op; otherwise the module path plus the
op's kind (``layer1.0.add`` for ``out + shortcut`` written in a block's ``forward``). A module
called again in the same step adds ``-<n>`` to its path. Backward ops take the layer of the
forward op whose autograd node ran them. Gradient sums that autograd's engine runs between
nodes are ``<tensor>.grad_accumulate`` ops, as in the zoo.

Phases. Forward ops are ``fwd``. A backward op is ``bwd_weight`` if it writes a parameter's
gradient, else ``bwd_data``; ``convolution_backward`` and normalisation backward ops are split
into both, like the zoo's conv and batch-norm layers. A conv's bwd_data op is the input gradient
as ``convolution_backward`` computed it (it writes dx) with the GEMM of accelsim's lowering
(:func:`accelsim.workload.training.conv_gemms`); the col2im op that a strided conv's lowering adds
is not stored but added when the workload is read (:mod:`accelsim.workload.traced`), so a trace
keeps the ops that really ran. A fused scaled-dot-product attention call becomes its GEMMs and softmax ops
(:mod:`accelsim.trace.attention`: layers ``<module>.scores`` / ``.softmax`` / ``.context``). An
op that :func:`accelsim.trace.aten.known_op` does not know is built as a vector op and counted in
:attr:`BuiltStep.unknown`, which the tracer reports. Update ops are built from the optimizer
(:func:`accelsim.workload.traced.traced_update_op`): the trace runs in fp32, the simulated
accelerator keeps fp32 master weights and optimizer state beside compute-precision weights.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from accelsim.trace.attention import (BACKWARD_OPS, FORWARD_OPS, MASK_OPS, RECOMPUTE_OPS,
                                      attention_shape)
from accelsim.trace.aten import (GEMM_OPERANDS, NORM_BACKWARD_OPS, POOL_FORWARD, known_op,
                                 vector_kind, vector_ops_per_element)
from accelsim.trace.gemms import GemmResolver
from accelsim.workload.op import Op, Phase, Tensor
from accelsim.workload.traced import NOMINAL_COMPUTE_BYTES, traced_update_op
from accelsim.workload.training import NORM_WEIGHT_GRAD_OPS, VECTOR_OPS, TrainingOptions

ROOT_MODULE = "model"
LABEL_BYTES = 4
INDEX_BYTES = 1
#: Backward ops with several outputs: (forward argument of each output, position of the
#: output mask among the backward op's arguments).
BACKWARD_OUTPUTS = {"convolution_backward": ((0, 1, 2), 10),
                    "native_batch_norm_backward": ((0, 1, 2), -1),
                    "batch_norm_backward": ((0, 1, 2), -1),
                    "native_layer_norm_backward": ((0, 2, 3), -1),
                    "native_group_norm_backward": ((0, 1, 2), -1)}
GRAD_NAME = re.compile(r"grad\((.+)\)(@.*)?(#\d+)?$")


@dataclass
class BuiltStep:
    """The ops of one step and where each call went."""

    ops: list[Op]
    #: (call index, phase value) -> op name, for every op built from a call.
    op_of: dict[tuple[int, str], str] = field(default_factory=dict)
    #: call index -> layer name.
    layer_of: dict[int, str] = field(default_factory=dict)
    #: aten op -> calls in this step of ops the tracer does not know (:func:`known_op`).
    unknown: dict[str, int] = field(default_factory=dict)


@dataclass
class _Attention:
    """The layers and the tensors a fused attention forward call was built into."""

    layers: dict[str, str]  # scores / softmax / context -> layer name
    scores: str  # tensor names of S and P
    probs: str


def _numel(shape) -> int:
    n = 1
    for d in shape:
        n *= d
    return n


class _Builder:
    def __init__(self, calls, tensors, params, batch, options: TrainingOptions) -> None:
        self.calls = calls
        self.tensors = tensors
        self.params = params  # module -> [(tensor name, numel)]
        self.options = options
        self.gemms = GemmResolver(calls, tensors, batch)
        self.names: dict[int, str] = {}
        self.written: set[str] = set()
        self.used_layers: set[str] = set()
        self.result = BuiltStep([])
        self.attention: dict[int, _Attention] = {}
        self.consumers: dict[int, set[int]] = {}
        for call in calls:
            if call.stage == "forward":
                for i in call.reads:
                    self.consumers.setdefault(i, set()).add(call.index)

    # -- names ---------------------------------------------------------------------------------
    def unique(self, name: str, taken: set[str]) -> str:
        candidate, n = name, 1
        while candidate in taken:
            n += 1
            candidate = f"{name}#{n}" if taken is self.written else f"{name}-{n}"
        taken.add(candidate)
        return candidate

    def tensor_name(self, tid: int) -> str:
        if tid in self.names:
            return self.names[tid]
        info = self.tensors[tid]
        return info.name or f"{info.origin}:{tid}"

    def tensor(self, tid: int) -> Tensor:
        info = self.tensors[tid]
        size = (NOMINAL_COMPUTE_BYTES if info.floating
                else LABEL_BYTES if info.origin == "labels" else INDEX_BYTES)
        return Tensor(self.tensor_name(tid), max(1, info.numel), size)

    def reads(self, call, ids=None) -> list[Tensor]:
        seen, out = set(), []
        for tid in (call.reads if ids is None else ids):
            info = self.tensors[tid]
            if tid in seen or info.origin == "buffer" or info.numel <= 1:
                continue
            seen.add(tid)
            out.append(self.tensor(tid))
        return out

    def name_write(self, tid: int, name: str, size: int | None = None) -> Tensor:
        name = self.unique(name, self.written)
        self.names[tid] = name
        info = self.tensors[tid]
        if size is None:
            size = NOMINAL_COMPUTE_BYTES if info.floating else INDEX_BYTES
        return Tensor(name, max(1, info.numel), size)

    def synthetic(self, name: str, elements: int) -> Tensor:
        """A tensor the fused op computes without storing it as an aten output (S, P, dS)."""
        return Tensor(self.unique(name, self.written), max(1, elements), NOMINAL_COMPUTE_BYTES)

    def module_path(self, call) -> str:
        frame = call.frame
        return frame.path if frame.invocation == 1 else f"{frame.path}-{frame.invocation}"

    def layer_name(self, call, kind: str) -> str:
        frame = call.frame
        path = self.module_path(call)
        if frame.path == ROOT_MODULE and not frame.leaf:
            base = kind
        elif frame.leaf and call.position == 0:
            base = path
        else:
            suffix = call.op.rstrip("_") if kind == frame.path.rpartition(".")[2] else kind
            base = f"{path}.{suffix}"
        return self.unique(base, self.used_layers)

    def emit(self, call, layer: str, phase: Phase, kind: str, reads, writes, **kw) -> Op:
        name = self.unique(f"{layer}.{phase.value}", self.used_ops)
        op = Op(name, layer, phase, kind, tuple(reads), tuple(writes), **kw)
        self.result.ops.append(op)
        self.result.op_of.setdefault((call.index, phase.value), name)
        self.result.layer_of[call.index] = layer
        return op

    # -- forward -------------------------------------------------------------------------------
    def forward(self, call) -> None:
        parts = self.gemms.parts(call)
        kind = parts[0].kind if parts else vector_kind(call.op)
        layer = self.layer_name(call, kind)
        reads = self.reads(call)
        writes = []
        for i, tid in enumerate(call.writes):
            if i == 0:
                writes.append(self.name_write(tid, layer))
            elif not self.tensors[tid].floating and kind == "maxpool":
                writes.append(self.name_write(tid, f"{layer}/argmax", INDEX_BYTES))
            else:
                writes.append(self.name_write(tid, f"{layer}/saved{i}"))
        if parts:
            part = parts[0]
            operands = [call.args[i].id for i in GEMM_OPERANDS[call.op][:2]]
            reads = self.reads(call, [*operands, *call.reads])  # A and B first, as every GEMM
            self.emit(call, layer, Phase.FWD, kind, reads, writes, gemm=part.gemm,
                      attrs=dict(part.attrs))
            return
        out = _numel(call.out_shapes[0]) if call.out_shapes else 0
        biggest = max([_numel(r.shape) for r in _refs(call.args)] + [out])
        elements, ops = (out, biggest / max(1, out)) if call.op in POOL_FORWARD else (
            biggest, vector_ops_per_element(call.op))
        if call.op in ("max_pool2d_with_indices", "avg_pool2d"):
            ops = float(_numel(_pair2(call.args[1])))
        self.emit(call, layer, Phase.FWD, kind, reads, writes, elements=max(1, elements),
                  vector_ops=ops)

    # -- backward ------------------------------------------------------------------------------
    def targets(self, call, owner) -> list[int | None]:
        """For each output of a backward call, the forward tensor it is the gradient of."""
        if call.op in BACKWARD_OUTPUTS:
            positions = [i for i, wanted in enumerate(call.args[BACKWARD_OUTPUTS[call.op][1]])
                         if wanted]
            forward_args = BACKWARD_OUTPUTS[call.op][0]
            return [owner.args[forward_args[p]].id for p in positions]
        read = set(call.reads)
        candidates = [i for i in dict.fromkeys(owner.reads) if self.tensors[i].numel > 1
                      and self.tensors[i].floating
                      and not (i in read and self.tensors[i].origin == "param")]
        result = []
        for shape in call.out_shapes:
            shape = tuple(shape)
            found = [i for i in candidates
                     if self.tensors[i].shape in (shape, shape[::-1])]
            if not found:
                found = [i for i in candidates if self.tensors[i].numel == _numel(shape)]
            result.append(found[0] if len({self.tensor_name(i) for i in found}) == 1 else None)
        return result

    def grad_names(self, call, owner, layer: str) -> list[tuple[str, bool]]:
        """(name, is a parameter gradient) for each output of a backward call."""
        result = []
        for i, target in enumerate(self.targets(call, owner)):
            if target is None:
                result.append((f"{layer}.{call.op}/out{i}", False))
            elif self.tensors[target].origin == "param":
                result.append((f"{self.tensors[target].name}.grad", True))
            else:
                name = self.tensor_name(target)
                shared = len(self.consumers.get(target, ())) > 1
                result.append((f"grad({name})" + (f"@{layer}" if shared else ""), False))
        return result

    def backward(self, call) -> None:
        owner = self.calls[call.node_call] if call.node_call is not None else None
        if owner is None:
            self.unattributed(call)
            return
        layer = self.result.layer_of.get(owner.index) or self.unique(call.node_name or "backward",
                                                                      self.used_layers)
        names = self.grad_names(call, owner, layer)
        writes = [self.name_write(tid, name) for tid, (name, _) in zip(call.writes, names)]
        parts = self.gemms.parts(call)
        if call.op == "convolution_backward":
            dy, x, w = (r.id for r in call.args[:3])
            data = [t for t, (_, is_param) in zip(writes, names) if not is_param]
            weight = [t for t, (_, is_param) in zip(writes, names) if is_param]
            for part in parts:
                if part.phase is Phase.BWD_DATA:
                    self.emit(call, layer, part.phase, part.kind, self.reads(call, [dy, w]),
                              data, gemm=part.gemm, attrs=dict(part.attrs))
                else:
                    self.emit(call, layer, part.phase, part.kind, self.reads(call, [dy, x]),
                              weight, gemm=part.gemm, attrs=dict(part.attrs))
            return
        if parts:
            part = parts[0]
            self.emit(call, layer, part.phase, part.kind, self.reads(call), writes,
                      gemm=part.gemm, attrs=dict(part.attrs))
            return
        kind = vector_kind(call.op)
        elements = max([_numel(s) for s in call.out_shapes]
                       + [_numel(r.shape) for r in _refs(call.args)])
        if call.op in NORM_BACKWARD_OPS:
            self.norm_backward(call, layer, kind, names, writes, elements)
            return
        weight = any(is_param for _, is_param in names)
        self.emit(call, layer, Phase.BWD_WEIGHT if weight else Phase.BWD_DATA, kind,
                  self.reads(call), writes, elements=elements,
                  vector_ops=vector_ops_per_element(call.op))

    def norm_backward(self, call, layer, kind, names, writes, elements) -> None:
        """As the zoo: parameter gradients (bwd_weight), then the input gradient (bwd_data)."""
        dparams = [t for t, (_, is_param) in zip(writes, names) if is_param]
        dx = [t for t, (_, is_param) in zip(writes, names) if not is_param]
        reads = self.reads(call)
        if dparams:
            self.emit(call, layer, Phase.BWD_WEIGHT, kind,
                      [t for t in reads if not t.name.endswith(("/weight", "/bias"))],
                      dparams, elements=elements, vector_ops=NORM_WEIGHT_GRAD_OPS)
        if dx:
            self.emit(call, layer, Phase.BWD_DATA, kind, reads + dparams, dx,
                      elements=elements, vector_ops=vector_ops_per_element(call.op))

    # -- fused attention (accelsim.trace.attention) ---------------------------------------------
    def attention_layers(self, base: str) -> dict[str, str]:
        return {part: self.unique(f"{base}.{part}", self.used_layers)
                for part in ("scores", "softmax", "context")}

    def attention_forward(self, call) -> None:
        """S = Q·Kᵀ, P = softmax(S), O = P·V: two matmul layers and a softmax layer."""
        named = call.extra["named"]
        shape = attention_shape(named)
        frame = call.frame
        base = ("attention" if frame.path == ROOT_MODULE and not frame.leaf
                else self.module_path(call))
        layers = self.attention_layers(base)
        q, k, v = (named[n].id for n in ("query", "key", "value"))
        s_gemm, o_gemm = shape.forward_gemms()
        scores = self.synthetic(layers["scores"], shape.scores)
        self.emit(call, layers["scores"], Phase.FWD, "matmul", self.reads(call, [q, k]),
                  [scores], gemm=s_gemm, attrs=shape.attrs(s_gemm))
        saved = []
        if len(call.writes) > 1 and FORWARD_OPS[call.op] == "probs":
            probs = self.name_write(call.writes[1], layers["softmax"])
        else:
            probs = self.synthetic(layers["softmax"], shape.scores)
            if len(call.writes) > 1:
                saved.append(self.name_write(call.writes[1], f"{layers['softmax']}/lse"))
        mask = self.mask_ids(named)
        self.emit(call, layers["softmax"], Phase.FWD, "softmax",
                  [scores] + self.reads(call, mask), [probs] + saved, elements=shape.scores,
                  vector_ops=VECTOR_OPS["softmax"][0] + (MASK_OPS if shape.masked else 0.0))
        writes = [self.name_write(call.writes[0], layers["context"])]
        writes += [self.name_write(tid, f"{layers['context']}/saved{i}")
                   for i, tid in enumerate(call.writes[2:], 2)]
        self.emit(call, layers["context"], Phase.FWD, "matmul", [probs] + self.reads(call, [v]),
                  writes, gemm=o_gemm, attrs=shape.attrs(o_gemm))
        self.attention[call.index] = _Attention(layers, scores.name, probs.name)

    @staticmethod
    def mask_ids(named: dict) -> list[int]:
        mask = named.get("attn_mask", named.get("attn_bias"))
        return [mask.id] if hasattr(mask, "id") else []

    def attention_backward(self, call) -> None:
        """Recomputed S and P, dP = dO·Vᵀ, dV = Pᵀ·dO, dS (softmax backward), dQ = dS·K,
        dK = dSᵀ·Q; dQ, dK, dV are the call's first three outputs."""
        named = call.extra["named"]
        shape = attention_shape(named)
        entry = self.attention.get(call.node_call)
        if entry is None:  # no forward call seen: name the layers after the autograd node
            layers = self.attention_layers(call.node_name or "attention")
            entry = _Attention(layers, layers["scores"], layers["softmax"])
        layers = entry.layers
        q, k, v = (named[n].id for n in ("query", "key", "value"))
        d_out = named.get("grad_out", named.get("grad_out_")).id
        grads = []
        for i, (target, layer) in enumerate(zip((q, k, v), (layers["scores"], layers["scores"],
                                                           layers["context"]))):
            name = self.tensor_name(target)
            shared = len(self.consumers.get(target, ())) > 1 or (q, k, v).count(target) > 1
            grad = f"grad({name})" + (f"@{layer}" if shared else "")
            grads.append(self.name_write(call.writes[i], grad) if i < len(call.writes)
                         else self.synthetic(grad, self.tensors[target].numel))
        extra = [self.name_write(tid, f"{layers['softmax']}.{call.op}/out{i}")
                 for i, tid in enumerate(call.writes[3:], 3)]
        gemms = shape.backward_gemms()
        mask = self.mask_ids(named)
        masking = MASK_OPS if shape.masked else 0.0
        out, lse = ([named[n].id] if hasattr(named.get(n), "id") else []
                    for n in ("out", "logsumexp"))

        def gemm(layer, reads, writes, which):
            self.emit(call, layer, Phase.BWD_DATA, "matmul", reads, writes, gemm=gemms[which],
                      attrs=shape.attrs(gemms[which]))

        scores = self.synthetic(f"{entry.scores}/recomputed", shape.scores)
        gemm(layers["scores"], self.reads(call, [q, k]), [scores], "scores")
        probs = self.synthetic(f"{entry.probs}/recomputed", shape.scores)
        self.emit(call, layers["softmax"], Phase.BWD_DATA, "softmax",
                  [scores] + self.reads(call, lse + mask), [probs],
                  elements=shape.scores, vector_ops=RECOMPUTE_OPS + masking)
        d_probs = self.synthetic(f"grad({entry.probs})", shape.scores)
        gemm(layers["context"], self.reads(call, [d_out, v]), [d_probs], "dP")
        gemm(layers["context"], [probs] + self.reads(call, [d_out]), [grads[2]], "dV")
        d_scores = self.synthetic(f"grad({entry.scores})", shape.scores)
        self.emit(call, layers["softmax"], Phase.BWD_DATA, "softmax",
                  [probs, d_probs] + self.reads(call, [d_out] + out),
                  [d_scores] + extra, elements=shape.scores,
                  vector_ops=VECTOR_OPS["softmax"][1] + masking)
        gemm(layers["scores"], [d_scores] + self.reads(call, [k]), [grads[0]], "dQ")
        gemm(layers["scores"], [d_scores] + self.reads(call, [q]), [grads[1]], "dK")
        self.result.layer_of[call.index] = layers["scores"]

    def unattributed(self, call) -> None:
        """An op the autograd engine ran between nodes: a sum of gradient contributions."""
        targets = []
        for tid in call.reads:
            match = GRAD_NAME.match(self.tensor_name(tid))
            if match:  # partial contributions (``grad(x)@layer``) name the tensor best
                targets.append((match.group(2) is None, match.group(1)))
        target = min(targets)[1] if targets else None
        layer = self.unique(f"{target}" if target else "grad_accumulate", self.used_layers)
        writes = [self.name_write(tid, f"grad({target})" if target else f"{layer}/out")
                  for tid in call.writes]
        elements = max(_numel(s) for s in call.out_shapes) if call.out_shapes else 1
        reads = self.reads(call)
        name = self.unique(f"{target}.grad_accumulate" if target else layer, self.used_ops)
        op = Op(name, layer, Phase.BWD_DATA, "grad_accumulate", tuple(reads), tuple(writes),
                elements=elements, vector_ops=float(max(1, len(reads) - 1)))
        self.result.ops.append(op)
        self.result.op_of.setdefault((call.index, Phase.BWD_DATA.value), name)
        self.result.layer_of[call.index] = layer

    # -- update --------------------------------------------------------------------------------
    def updates(self) -> None:
        """One update op per module with parameter gradients, after the last one is written."""
        kinds = {}
        for op in self.result.ops:
            if op.phase is Phase.FWD:
                for t in op.reads:
                    module = t.name.rpartition("/")[0]
                    if module in self.params:
                        kinds.setdefault(module, op.kind)
        last_writer: dict[str, int] = {}
        grads: dict[str, list[Tensor]] = {}
        for position, op in enumerate(self.result.ops):
            for t in op.writes:
                base = t.name.partition("#")[0]
                for module, entries in self.params.items():
                    if any(base == f"{name}.grad" for name, _ in entries):
                        grads.setdefault(module, []).append(t)
                        last_writer[module] = position
        inserts = []
        for module, position in last_writer.items():
            names = [name for name, _ in self.params[module]]
            params = sum(n for _, n in self.params[module])
            inserts.append((position, traced_update_op(module, kinds.get(module, "param"),
                                                       params, grads[module], names,
                                                       self.options)))
        for position, op in sorted(inserts, key=lambda item: -item[0]):
            self.result.ops.insert(position + 1, op)

    def build(self) -> BuiltStep:
        self.used_ops: set[str] = set()
        for call in self.calls:
            if not known_op(call.op):
                self.result.unknown[call.op] = self.result.unknown.get(call.op, 0) + 1
            if call.op in FORWARD_OPS and call.stage == "forward" and "named" in call.extra:
                self.attention_forward(call)
            elif call.op in BACKWARD_OPS and "named" in call.extra:
                self.attention_backward(call)
            elif call.stage == "forward":
                self.forward(call)
            else:
                self.backward(call)
        self.updates()
        return self.result


def _refs(args) -> list:
    out = []
    for a in args:
        if hasattr(a, "id") and hasattr(a, "shape"):
            out.append(a)
        elif isinstance(a, (list, tuple)):
            out.extend(_refs(a))
    return out


def _pair2(v) -> list[int]:
    v = list(v) if isinstance(v, (list, tuple)) else [v]
    return v * 2 if len(v) == 1 else v


def build_step(calls, tensors, params, batch: int, optimizer: str = "momentum") -> BuiltStep:
    """The ops of one captured training step (``params``: module -> [(name, numel)])."""
    options = TrainingOptions(batch=batch, element_bytes=NOMINAL_COMPUTE_BYTES,
                              optimizer=optimizer)
    return _Builder(calls, tensors, params, batch, options).build()
