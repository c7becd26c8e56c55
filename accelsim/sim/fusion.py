"""Operator fusion: element-wise ops that run in a GEMM's output stream, as one op.

With ``fusion.mode: output_stream`` the hwconfig's vector unit sits at the PE array's output
(a TPUv2 core's vector unit takes the matrix unit's results, Norrie et al., IEEE Micro 2021),
so the element-wise ops that follow a GEMM can work on its output tiles as they leave the
array, and the tensors between them never go to the buffers' resident pool or to DRAM. Before
the run, :func:`fuse_elementwise` rewrites the workload: each GEMM op whose output is read by
exactly one op, an element-wise one (:data:`ELEMENTWISE`) over as many elements, absorbs that
op, and so on down the chain while each intermediate tensor has a single reader (and no tensor
of the chain is overwritten in place). The fused op keeps the GEMM's name, phase, kind and
GEMM (the PE-array kind lowers it as before, so every MAC stays counted); it reads the GEMM's
operands and then the other inputs of the chain (a residual, a saved activation for a ReLU's
backward mask, another gradient contribution), writes the chain's last output, and carries the
chain's vector operations per output element in ``vector_ops`` (every vector operation stays
counted). Its tile plan gets that work on the vector lanes
(:func:`accelsim.sim.output_stream.stream_elementwise`).

What is not fused, and why:

* a chain stops at a tensor with more than one reader: a GEMM output that a backward op saves
  (the input of a GELU or of a batch norm) must be written out anyway;
* batch norm and layer norm (training mode) are not element-wise: the normalisation needs the
  mean and variance of the whole GEMM output, known only after its last tile, and the GEMM
  output is the saved activation their backward reads, so it goes out regardless. A fused
  kernel can compute the statistics in the GEMM's epilogue, but the apply pass still reads the
  whole output again; the ``batchnorm`` op's single read of its input already leaves out the
  separate statistics pass, so such an epilogue would save vector-unit time, not DRAM traffic,
  and is not modelled;
* softmax, pooling, the loss and col2im reduce or scatter, and a concat's output is larger
  than its inputs;
* the weight update: in data-parallel training the weight gradient is all-reduced across
  replicas between the GEMM and the optimizer;
* an op whose other inputs are produced after a tensor the fused op reads is overwritten in
  place (the fused op could not be placed between them in the issue order).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import networkx as nx

from accelsim.errors import ConfigError
from accelsim.workload.graph import Workload
from accelsim.workload.op import Op, Phase, Tensor

#: Op kinds whose output element i needs element i of each input only (forward or backward):
#: ReLU and GELU (the backward multiplies the gradient by the derivative at the saved
#: activation), the residual ``add`` and ``grad_accumulate`` (sums of equal-shaped tensors).
ELEMENTWISE = frozenset({"relu", "gelu", "add", "grad_accumulate"})

#: Attribute of a fused op naming the element-wise ops it absorbed, in order.
FUSED_ATTR = "fused_ops"


def fuse_elementwise(workload: Workload, mode: str, pe_array, source: str) -> Workload:
    """The workload with element-wise chains folded into their GEMMs (module docstring);
    unchanged (the same object) with mode ``none``. ``pe_array``: the run's PE-array kind,
    which must report its output tiles (``streams_outputs``); ``source``: the hwconfig's file,
    for the error when it does not."""
    if mode == "none":
        return workload
    if not pe_array.streams_outputs:
        raise ConfigError(source, "fusion.mode", f"none for the {pe_array.name} PE array, "
                          "whose tile plans do not report the output elements each tile "
                          "finishes", choices=("none",), got=mode)
    ops = workload.ops()
    chains = _chains(workload, ops)
    if not chains:
        return workload
    return workload.with_ops(_rewrite(ops, chains))


def _elementwise(op: Op, output: Tensor) -> bool:
    """Whether ``op`` can run on ``output``'s stream: an element-wise kind outside the weight
    update, one output of ``output``'s size, and every input of that size."""
    return (op.gemm is None and op.kind in ELEMENTWISE and op.phase is not Phase.UPDATE
            and not op.overwrites and len(op.writes) == 1
            and op.writes[0].elements == output.elements == op.elements
            and all(t.elements == output.elements for t in op.reads))


def _chains(workload: Workload, ops: Sequence[Op]) -> dict[str, list[Op]]:
    """GEMM op name -> the element-wise ops it absorbs, in order."""
    graph = workload.graph
    readers: dict[str, set[str]] = {}
    overwritten: set[str] = set()
    for op in ops:
        for tensor in op.reads:
            readers.setdefault(tensor.name, set()).add(op.name)
        overwritten.update(op.overwrites)
    chains: dict[str, list[Op]] = {}
    # an op reading two GEMM outputs (a gradient sum) joins the later GEMM's chain: the
    # other output is ready when the fused op is issued
    claimed: set[str] = set()
    for head in reversed(ops):
        if (head.gemm is None or len(head.reads) != 2 or len(head.writes) != 1
                or head.writes[0].elements != head.gemm.m * head.gemm.n * head.gemm.count):
            continue
        members, output = [head], head.writes[0]
        while output.name not in overwritten and len(readers.get(output.name, ())) == 1:
            (name,) = readers[output.name]
            follower = workload.op(name)
            if (name in claimed or not _elementwise(follower, output)
                    or any(t.name in overwritten for t in follower.reads)
                    or _reaches_inputs(graph, members, follower)):
                break
            members.append(follower)
            claimed.add(name)
            output = follower.writes[0]
        if len(members) > 1:
            chains[head.name] = members[1:]
    return dict(reversed(chains.items()))


def _reaches_inputs(graph: nx.DiGraph, members: list[Op], follower: Op) -> bool:
    """Whether an op that ``follower`` waits on (other than the chain's last op) depends on
    a chain member: fusing would then make the fused op wait on itself."""
    others = [p for p in graph.predecessors(follower.name) if p != members[-1].name]
    return any(nx.has_path(graph, m.name, p) for m in members for p in others)


def _rewrite(ops: Sequence[Op], chains: dict[str, list[Op]]) -> list[Op]:
    """``ops`` with each chain replaced by its fused op, placed after the last producer of
    what it reads; a chain that cannot be placed so (a tensor it reads is overwritten in
    place before that point) is shortened until it can."""
    position = {op.name: i for i, op in enumerate(ops)}
    producer = {t.name: op.name for op in ops for t in op.writes}
    overwriter: dict[str, list[int]] = {}
    for op in ops:
        for name in op.overwrites:
            overwriter.setdefault(name, []).append(position[op.name])
    fused_at: dict[int, list[Op]] = {}
    absorbed: set[str] = set()
    for head_name, chain in chains.items():
        head = ops[position[head_name]]
        while chain:
            fused = fused_op(head, chain)
            at = max([position[head_name], *(position[producer[t.name]]
                                             for t in fused.reads[2:] if t.name in producer)])
            if not any(position[head_name] < i <= at for t in fused.reads
                       for i in overwriter.get(t.name, ())):
                break
            chain = chain[:-1]
        if chain:
            fused_at.setdefault(at, []).append(fused)
            absorbed.update(op.name for op in [head, *chain])
    result = []
    for i, op in enumerate(ops):
        if op.name not in absorbed:
            result.append(op)
        result.extend(fused_at.get(i, ()))
    return result


def fused_op(head: Op, chain: Sequence[Op]) -> Op:
    """The GEMM op ``head`` with the element-wise ops ``chain`` (each reading the previous
    one's output) run in its output stream: it reads the GEMM's two operands, then every other
    input of the chain once (``reads[2:]``, streamed to the vector lanes); writes the chain's
    last output; its ``vector_ops`` per output element (``elements``) are the chain's."""
    inner = {head.writes[0].name, *(op.writes[0].name for op in chain)}
    extra: dict[str, Tensor] = {}
    for op in chain:
        for tensor in op.reads:
            if tensor.name not in inner:
                extra.setdefault(tensor.name, tensor)
    return replace(head, reads=(*head.reads, *extra.values()), writes=chain[-1].writes,
                   elements=head.writes[0].elements,
                   vector_ops=sum(op.vector_ops for op in chain),
                   attrs={**head.attrs, FUSED_ATTR: tuple(op.name for op in chain)})
