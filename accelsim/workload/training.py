"""Expands a forward :class:`Network` into the ops of one full training iteration.

For every layer it emits the forward op, then (walking the layers backwards) the
backward-data op (input gradient; not for a layer whose input is the network input), the
backward-weight op (weight gradient) and the weight-update op. GEMM shapes follow the usual
lowering of a convolution with batch B, output Ho x Wo, input H x W and kernel R x S:

=========== ============================ ============================================
phase       GEMM (M x N x K)             computes
=========== ============================ ============================================
fwd         (B*Ho*Wo) x Cout x (Cin*R*S) Y = conv(X, W)
bwd_data    (B*H*W) x Cin x (Cout*R*S)   dX = conv_T(dY, W): stride 1 and H*W = Ho*Wo
bwd_data    (B*Ho*Wo) x (Cin*R*S) x Cout dX = col2im(dY . W): every other conv
bwd_weight  Cout x (Cin*R*S) x (B*Ho*Wo) dW = conv(X, dY)
=========== ============================ ============================================

The input gradient. Its useful MACs are the forward's, B*Ho*Wo*Cin*Cout*R*S (each product of
the forward has one partner in the backward pass, as torch's ``FlopCounterMode`` counts it). The
transposed-convolution GEMM (B*H*W) x Cin x (Cout*R*S) has those MACs only when H*W = Ho*Wo at
stride 1 ("same" padding): at stride s it runs over dY with s-1 zeros inserted between
neighbours, about s^2 times the useful MACs, and with less padding it covers more positions
than dY has. Every other convolution is lowered as col2im, as Caffe-style frameworks do: the GEMM
dX_cols = dY (B*Ho*Wo x Cout) . W (Cout x Cin*R*S), whose MACs are the forward's, then a col2im
vector op that adds each of the B*Ho*Wo*Cin*R*S partial products into its input position of dX
(:func:`col2im_lowered`, :func:`data_gradient_ops`). That is one rule for the zoo, workload
YAML, SCALE-Sim CSV files and traced workloads; a PE-array kind whose array scatters products
into its accumulators itself runs the pair as one op (:func:`merge_col2im`).

Activations written by the forward pass stay in memory and are read again by the backward
ops that need them (that is the activation footprint). A tensor used several times (by several
layers, or twice by one layer: ``concat`` of ``[x, x]``, ``matmul`` of ``x`` by itself) gets
one gradient contribution per use, summed by a ``grad_accumulate`` op. Non-GEMM layers run on the
vector unit; ``VECTOR_OPS`` gives their operation counts per element, an approximation of the
arithmetic in the usual formulations (PyTorch's native kernels), each documented below.

Precision follows mixed-precision training: activations, weights and gradients use the
compute datatype (``element_bytes``); the optimizer keeps fp32 master weights and state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from accelsim.errors import WorkloadError
from accelsim.workload.bounds import MAX_BATCH, check_ops, power_of_two
from accelsim.workload.graph import Workload
from accelsim.workload.network import Layer, Network
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.optimizers import OPTIMIZERS

#: Vector-unit operations per element, (forward, backward) for each non-GEMM layer kind.
#: batchnorm/layernorm fwd: mean (1 add) + variance (sub, mul, add) + normalise and affine
#: (sub, mul, mul, add) = 8; their backward is split into the parameter-gradient reduction
#: (dbeta += dy, dgamma += dy * xhat with xhat recomputed: 5) and the input gradient
#: (xhat recompute 2 + mul, sub, sub, mul = 6). relu: one compare / one masked select.
#: gelu: tanh approximation, 8 ops forward and 12 backward. softmax: max, sub, exp, sum, div
#: = 5 forward; y * (dy - sum(dy * y)) = 4 backward. add: 1 forward, gradient passes through.
#: concat: one copy per element both ways. loss (softmax cross-entropy): 6 per logit forward,
#: p - onehot = 1 backward. Pools: kernel-window ops per output forward, 1 per input backward.
VECTOR_OPS = {
    "batchnorm": (8.0, 6.0), "layernorm": (8.0, 6.0), "relu": (1.0, 1.0), "gelu": (8.0, 12.0),
    "softmax": (5.0, 4.0), "add": (1.0, 0.0), "concat": (1.0, 1.0), "loss": (6.0, 1.0),
}
#: Ops per parameter-gradient element of a normalisation layer (see above).
NORM_WEIGHT_GRAD_OPS = 5.0

MASTER_BYTES = 4  # fp32 master weights and optimizer state
LABELS = "input/labels"  # class labels, one int32 per sample

# Tensor names: an activation is named after the layer that writes it; derived tensors add
# a "/" suffix (``conv1/weight``) or wrap the name (``grad(conv1)``). Layer names may not
# contain "/", "(", ")" or "@" (:mod:`accelsim.workload.network` checks), so none collide.


def _unit(value) -> bool:
    """Whether a stride (a number, or one per spatial axis) is 1 on every axis."""
    return all(int(v) == 1 for v in (value if isinstance(value, (list, tuple)) else [value]))


def col2im_lowered(g: dict) -> bool:
    """Whether a conv's input gradient is lowered as a GEMM plus col2im (module docstring):
    every convolution but a transposed one and one of unit stride with as many input as output
    positions, whose transposed-convolution GEMM has exactly the useful MACs. (A transposed
    convolution's input gradient is an ordinary convolution of dY: its GEMM has one row per
    position of its output, H x W.)"""
    if g.get("transposed"):
        return False
    return not (_unit(g.get("stride", 1)) and g["h"] * g["w"] == g["ho"] * g["wo"])


def layer_gemms(kind: str, geometry: dict, batch: int) -> dict[Phase, Gemm]:
    """The fwd / bwd_data / bwd_weight GEMMs of a ``conv`` or ``linear`` layer (table above)."""
    g = geometry
    if kind == "conv":
        window, out_rows = g["r"] * g["s"], batch * g["ho"] * g["wo"]
        data = (Gemm(out_rows, g["cin"] * window, g["cout"]) if col2im_lowered(g)
                else Gemm(batch * g["h"] * g["w"], g["cin"], g["cout"] * window))
        return {Phase.FWD: Gemm(out_rows, g["cout"], g["cin"] * window),
                Phase.BWD_DATA: data,
                Phase.BWD_WEIGHT: Gemm(g["cout"], g["cin"] * window, out_rows)}
    if kind == "linear":
        rows, n, k = batch * g["tokens"], g["out_features"], g["in_features"]
        return {Phase.FWD: Gemm(rows, n, k), Phase.BWD_DATA: Gemm(rows, k, n),
                Phase.BWD_WEIGHT: Gemm(n, k, rows)}
    raise ValueError(f"layer kind {kind!r} has no weight GEMMs")


def conv_gemms(g: dict, batch: int) -> dict[Phase, Gemm]:
    """The three GEMMs of any conv (traced attributes: ``groups``, ``transposed``): the table
    above per group, ``groups`` of them. A transposed convolution's forward is the data-gradient
    form of a convolution (each input position scatters Cout*R*S outputs) and its input gradient
    an ordinary convolution of dY."""
    groups = g.get("groups", 1)
    if g.get("transposed"):
        rows = batch * g["h"] * g["w"]
        window = g["r"] * g["s"]
        cin, cout = g["cin"] // groups, g["cout"] // groups
        table = {Phase.FWD: Gemm(rows, cout * window, cin),
                 Phase.BWD_DATA: Gemm(rows, cin, cout * window),
                 Phase.BWD_WEIGHT: Gemm(cin, cout * window, rows)}
    else:
        per_group = dict(g, cin=g["cin"] // groups, cout=g["cout"] // groups)
        table = layer_gemms("conv", per_group, batch)
    return {phase: replace(gemm, count=groups) for phase, gemm in table.items()}


#: Kind of the vector op that scatters a col2im-lowered input gradient into dX.
COL2IM = "col2im"
#: Vector-unit operations per partial product of a col2im: one add into its dX position.
COL2IM_OPS = 1.0


def data_gradient_ops(name: str, layer: str, kind: str, reads, dx: Tensor, gemm: Gemm,
                      attrs: dict, **fields) -> list[Op]:
    """The op(s) computing the input gradient ``dx`` of a ``conv`` or ``linear`` layer with the
    bwd_data GEMM ``gemm`` (:func:`layer_gemms`, :func:`conv_gemms`): the GEMM op ``name``
    writing ``dx``, or, for a col2im-lowered conv (:func:`col2im_lowered`), the GEMM op writing
    the partial products ``<layer>/dx_cols`` (its M x N output) and the vector op
    ``<name>.col2im`` adding them into ``dx``. ``fields``: further :class:`Op` fields of the
    GEMM op (a batch axis)."""
    if kind != "conv" or not col2im_lowered(attrs):
        return [Op(name, layer, Phase.BWD_DATA, kind, tuple(reads), (dx,), gemm=gemm,
                   attrs=dict(attrs), **fields)]
    cols = Tensor(f"{layer}/dx_cols", gemm.m * gemm.n * gemm.count, dx.element_bytes)
    return [Op(name, layer, Phase.BWD_DATA, kind, tuple(reads), (cols,), gemm=gemm,
               attrs=dict(attrs), **fields),
            Op(f"{name}.{COL2IM}", layer, Phase.BWD_DATA, COL2IM, (cols,), (dx,),
               elements=cols.elements, vector_ops=COL2IM_OPS)]


def merge_col2im(ops) -> list[Op]:
    """``ops`` with every col2im op of :func:`data_gradient_ops` folded into its GEMM op, which
    then writes ``dx`` itself: for an array that adds each product into its output position as
    it computes it (an outer-product array's accumulators). Other ops are unchanged."""
    ops = list(ops)
    by_name = {op.name: op for op in ops}
    scatter = {}
    for op in ops:
        follower = by_name.get(f"{op.name}.{COL2IM}")
        if (op.gemm is not None and op.phase is Phase.BWD_DATA and follower is not None
                and follower.kind == COL2IM and follower.gemm is None
                and follower.reads == op.writes):
            scatter[op.name] = follower
    dropped = {op.name for op in scatter.values()}
    return [replace(op, writes=scatter[op.name].writes) if op.name in scatter else op
            for op in ops if op.name not in dropped]


def update_op(layer: str, kind: str, params: int, grad: Tensor,
              options: TrainingOptions) -> Op:
    """The weight update of ``layer``: reads the gradient, fp32 master weights and optimizer
    state; writes them back and the compute-precision weights, in place."""
    states, ops_per_param = OPTIMIZERS[options.optimizer]
    master = Tensor(f"{layer}/weight.master", params, MASTER_BYTES)
    state = [Tensor(f"{layer}/weight.state{i}", params, MASTER_BYTES) for i in range(states)]
    writes = [Tensor(f"{layer}/weight.next", params, options.element_bytes),
              *(Tensor(f"{t.name}.next", params, MASTER_BYTES) for t in (master, *state))]
    return Op(f"{layer}.{Phase.UPDATE.value}", layer, Phase.UPDATE, kind,
              (grad, master, *state), tuple(writes), elements=params,
              vector_ops=ops_per_param,
              overwrites=(f"{layer}/weight", master.name, *(t.name for t in state)))


@dataclass(frozen=True)
class TrainingOptions:
    """How a network is expanded: batch size, datatype width and optimizer.

    ``batch=None`` lets the workload source choose (:mod:`accelsim.workload.loader`).
    """

    batch: int | None = 1
    element_bytes: int = 2
    optimizer: str = "momentum"

    def validate(self, source: str) -> None:
        """One :class:`WorkloadError` for a batch outside 1..:data:`MAX_BATCH`, an element size
        outside 1..8 bytes or an unknown optimizer (integers only: no bools, no strings)."""
        if not _is_int(self.batch) or not 1 <= self.batch <= MAX_BATCH:
            raise WorkloadError(source, "batch", "a batch size from 1 to "
                                f"{power_of_two(MAX_BATCH)}", got=self.batch)
        if not _is_int(self.element_bytes) or not 1 <= self.element_bytes <= 8:
            raise WorkloadError(source, "element_bytes", "an element size from 1 to 8 bytes",
                                got=self.element_bytes)
        if self.optimizer not in OPTIMIZERS:
            raise WorkloadError(source, "optimizer", "a known optimizer", choices=OPTIMIZERS,
                                got=self.optimizer)


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _Expander:
    def __init__(self, network: Network, options: TrainingOptions) -> None:
        self.net = network
        self.opt = options
        self.ops: list[Op] = []
        self.consumers: dict[str, list[Layer]] = {}
        for layer in network.layers:
            for x in layer.inputs:
                self.consumers.setdefault(x, []).append(layer)

    # -- tensors -------------------------------------------------------------------------------
    def act(self, name: str, elements_per_sample: int | None = None) -> Tensor:
        per_sample = (math.prod(self.net.shape(name)) if elements_per_sample is None
                      else elements_per_sample)
        return Tensor(name, per_sample * self.opt.batch, self.opt.element_bytes)

    def grad(self, name: str, elements_per_sample: int | None = None) -> Tensor:
        t = self.act(name, elements_per_sample)
        return Tensor(f"grad({name})", t.elements, t.element_bytes)

    def weight(self, layer: Layer, suffix: str = "weight", master: bool = False) -> Tensor:
        return Tensor(f"{layer.name}/{suffix}", layer.params,
                      MASTER_BYTES if master else self.opt.element_bytes)

    def emit(self, layer: Layer, phase: Phase, reads, writes, **kw) -> None:
        self.ops.append(Op(f"{layer.name}.{phase.value}", layer.name, phase, layer.kind,
                           tuple(reads), tuple(writes), **kw))

    # -- forward -------------------------------------------------------------------------------
    def forward(self, layer: Layer) -> None:
        g, B = layer.geometry, self.opt.batch
        inputs = [self.act(x) for x in layer.inputs]
        out = self.act(layer.output)
        if layer.kind in ("conv", "linear"):
            gemm = layer_gemms(layer.kind, g, B)[Phase.FWD]
            self.emit(layer, Phase.FWD, [*inputs, self.weight(layer)], [out], gemm=gemm,
                      attrs=dict(g))
        elif layer.kind == "matmul":
            gemm = Gemm(g["m"], g["n"], g["k"], count=B * g["count"])
            self.emit(layer, Phase.FWD, inputs, [out], gemm=gemm, attrs=dict(g))
        elif layer.kind in ("maxpool", "avgpool"):
            writes = [out]
            if layer.kind == "maxpool":  # argmax position in the window, one byte per output
                writes.append(Tensor(f"{layer.name}/argmax", out.elements, 1))
            self.emit(layer, Phase.FWD, inputs, writes, elements=out.elements,
                      vector_ops=float(g["kernel"] ** 2), attrs=dict(g))
        else:
            reads = inputs + ([self.weight(layer)] if layer.params else [])
            if layer.kind == "loss":
                reads.append(Tensor(LABELS, B, 4))
            self.emit(layer, Phase.FWD, reads, [out], elements=out.elements,
                      vector_ops=VECTOR_OPS[layer.kind][0])

    # -- backward ------------------------------------------------------------------------------
    def output_gradient(self, layer: Layer, contributions: dict[str, list[Tensor]]) -> Tensor | None:
        """The complete gradient of ``layer.output``, summing several contributions."""
        if layer.kind == "loss":
            return None
        parts = contributions.pop(layer.output, [])
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0]
        total = self.grad(layer.output)
        self.ops.append(Op(f"{layer.output}.grad_accumulate", layer.name, Phase.BWD_DATA,
                           "grad_accumulate", tuple(parts), (total,), elements=total.elements,
                           vector_ops=float(len(parts) - 1)))
        return total

    def input_gradients(self, layer: Layer) -> list[tuple[int, str, str, Tensor]]:
        """(position in ``layer.inputs``, input name, op-name suffix, tensor the gradient is
        written to) of every input that needs a gradient (all but the network input).

        A tensor with one use gets its gradient written directly (``grad(x)``). A tensor with
        several uses (read by several layers, or twice by one: ``torch.cat([x, x])``,
        ``x @ x``) gets one contribution per use, ``grad(x)@layer`` (``grad(x)@layer[i]`` for
        the input at position i of a layer reading it more than once; the op writing it is
        suffixed ``x[i]`` likewise), and :meth:`output_gradient` sums them.
        """
        result = []
        for position, x in enumerate(layer.inputs):
            if x == self.net.input_name:
                continue
            t = self.grad(x)
            repeated = layer.inputs.count(x) > 1
            suffix = f"{x}[{position}]" if repeated else x
            if len(self.consumers[x]) > 1:
                use = f"{layer.name}[{position}]" if repeated else layer.name
                t = Tensor(f"{t.name}@{use}", t.elements, t.element_bytes)
            result.append((position, x, suffix, t))
        return result

    def backward(self, layer: Layer, contributions: dict[str, list[Tensor]]) -> None:
        dy = self.output_gradient(layer, contributions)
        if layer.kind == "loss":
            (x,) = layer.inputs
            dx = self.grad(x)
            self.emit(layer, Phase.BWD_DATA, [self.act(layer.output), Tensor(LABELS, self.opt.batch, 4)],
                      [dx], elements=dx.elements, vector_ops=VECTOR_OPS["loss"][1])
            contributions.setdefault(x, []).append(dx)
            return
        if dy is None:
            return
        kind = layer.kind
        if kind == "add":  # the gradient passes through to both inputs: no data moves
            for x in layer.inputs:
                if x != self.net.input_name:
                    contributions.setdefault(x, []).append(dy)
            return
        g, B = layer.geometry, self.opt.batch
        targets = self.input_gradients(layer)
        for _, x, _, t in targets:
            contributions.setdefault(x, []).append(t)
        if kind in ("conv", "linear"):
            x_act = self.act(layer.inputs[0])
            gemms = layer_gemms(kind, g, B)
            data, wgrad = gemms[Phase.BWD_DATA], gemms[Phase.BWD_WEIGHT]
            if targets:
                self.ops.extend(data_gradient_ops(
                    f"{layer.name}.{Phase.BWD_DATA.value}", layer.name, kind,
                    [dy, self.weight(layer)], targets[0][3], data, g))
            dw = self.weight(layer, "weight.grad")
            self.emit(layer, Phase.BWD_WEIGHT, [dy, x_act], [dw], gemm=wgrad, attrs=dict(g))
            self.update(layer, dw)
        elif kind == "matmul":
            a, b = (self.act(x) for x in layer.inputs)
            count = B * g["count"]
            # dA = dC . B^T (A-side operand dC), dB = A^T . dC (A-side operand A); for x @ x
            # both are contributions to the gradient of x
            by_position = {0: ((dy, b), Gemm(g["m"], g["k"], g["n"], count)),
                           1: ((a, dy), Gemm(g["k"], g["n"], g["m"], count))}
            for position, _, suffix, t in targets:
                operands, gemm = by_position[position]
                self.ops.append(Op(f"{layer.name}.bwd_data.{suffix}", layer.name,
                                   Phase.BWD_DATA, kind, operands, (t,), gemm=gemm,
                                   attrs=dict(g)))
        elif kind == "concat":  # the gradient is split along channels: copy each slice
            for _, _, suffix, t in targets:
                part = Tensor(dy.name, t.elements, dy.element_bytes)
                self.ops.append(Op(f"{layer.name}.bwd_data.{suffix}", layer.name,
                                   Phase.BWD_DATA, kind, (part,), (t,), elements=t.elements,
                                   vector_ops=VECTOR_OPS["concat"][1]))
        elif kind in ("maxpool", "avgpool"):
            reads = [dy] + ([Tensor(f"{layer.name}/argmax", dy.elements, 1)]
                            if kind == "maxpool" else [])
            for _, _, _, t in targets:
                self.emit(layer, Phase.BWD_DATA, reads, [t], elements=t.elements, vector_ops=1.0)
        elif kind in ("batchnorm", "layernorm"):
            x_act = self.act(layer.inputs[0])
            dparams = self.weight(layer, "weight.grad")
            self.emit(layer, Phase.BWD_WEIGHT, [x_act, dy], [dparams], elements=dy.elements,
                      vector_ops=NORM_WEIGHT_GRAD_OPS)
            if targets:
                self.emit(layer, Phase.BWD_DATA, [x_act, dy, dparams, self.weight(layer)],
                          [targets[0][3]], elements=dy.elements,
                          vector_ops=VECTOR_OPS[kind][1])
            self.update(layer, dparams)
        else:  # relu, gelu, softmax: elementwise with a saved tensor
            saved = self.act(layer.output if kind in ("relu", "softmax") else layer.inputs[0])
            for _, _, _, t in targets:
                self.emit(layer, Phase.BWD_DATA, [dy, saved], [t], elements=dy.elements,
                          vector_ops=VECTOR_OPS[kind][1])

    def update(self, layer: Layer, grad: Tensor) -> None:
        self.ops.append(update_op(layer.name, layer.kind, layer.params, grad, self.opt))

    def expand(self) -> list[Op]:
        for layer in self.net.layers:
            self.forward(layer)
        contributions: dict[str, list[Tensor]] = {}
        for layer in reversed(self.net.layers):
            self.backward(layer, contributions)
        return self.ops


def training_iteration(network: Network, options: TrainingOptions | None = None,
                       source: str = "<zoo>") -> Workload:
    """The workload of one full training iteration of ``network``; a tensor above
    :data:`~accelsim.workload.bounds.MAX_ELEMENTS` elements at the run's batch or more than
    :data:`~accelsim.workload.bounds.MAX_MACS` MACs in all is a :class:`WorkloadError` naming
    the layer (``layers[i]``, its index in the network)."""
    options = options or TrainingOptions()
    options.validate(source)
    ops = _Expander(network, options).expand()
    index = {layer.name: i for i, layer in enumerate(network.layers)}
    check_ops(ops, source, lambda op: (f"layers[{index[op.layer]}]" if op.layer in index
                                       else f"layers.{op.layer}"), "layers", options.batch)
    return Workload(network.name, ops, source,
                    meta={"batch": options.batch, "element_bytes": options.element_bytes,
                          "optimizer": options.optimizer,
                          "forward_macs_per_sample": network.forward_macs_per_sample})
