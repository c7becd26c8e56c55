"""A workload: ops in a networkx DiGraph whose edges are real data dependencies.

Edges are derived, never declared: an op depends on the op that wrote each tensor it reads
(read-after-write), and an op that overwrites a tensor in place depends on every other reader
of that tensor (write-after-read). Tensors nobody writes are inputs resident in DRAM at start.

GEMM ops without a batch axis of their own get one from the workload's batch
(``meta["batch"]``, :func:`accelsim.workload.op.batch_axis_of`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import replace

from accelsim.errors import WorkloadError
from accelsim.workload.op import PHASES, Op, batch_axis_of


class Workload:
    """The ops of one or more training iterations, in a dependency graph."""

    def __init__(self, name: str, ops: Iterable[Op], source: str = "<memory>",
                 meta: dict | None = None, value_stats: object | None = None) -> None:
        self.name = name
        self.source = source
        self.meta = dict(meta or {})
        #: Value statistics of real training steps (traced workloads), or None.
        self.value_stats = value_stats
        import networkx as nx  # here, not at import: error paths of the CLI stay light

        self.graph = nx.DiGraph()
        self._order: list[str] = []
        producers: dict[str, str] = {}
        readers: dict[str, list[str]] = {}
        batch = self.meta.get("batch")
        for op in ops:
            if op.batch is None and isinstance(batch, int):
                op = replace(op, batch=batch_axis_of(op, batch))
            if op.name in self.graph:
                raise WorkloadError(source, f"ops.{op.name}", "unique op names",
                                    got=f"{op.name} defined twice")
            self.graph.add_node(op.name, op=op, index=len(self._order))
            self._order.append(op.name)
            for tensor in op.reads:
                if tensor.name in producers:
                    self.graph.add_edge(producers[tensor.name], op.name, tensor=tensor.name)
                readers.setdefault(tensor.name, []).append(op.name)
            for name in op.overwrites:
                for reader in readers.get(name, ()):
                    if reader != op.name:
                        self.graph.add_edge(reader, op.name, tensor=name)
            for tensor in op.writes:
                if tensor.name in producers:
                    raise WorkloadError(source, f"ops.{op.name}.writes",
                                        "each tensor written by one op",
                                        got=f"{tensor.name} also written by {producers[tensor.name]}")
                producers[tensor.name] = op.name
        if not nx.is_directed_acyclic_graph(self.graph):
            cycle = nx.find_cycle(self.graph)
            raise WorkloadError(source, "ops", "an acyclic dependency graph",
                                got=" -> ".join(edge[0] for edge in cycle))

    def __len__(self) -> int:
        return len(self._order)

    def op(self, name: str) -> Op:
        return self.graph.nodes[name]["op"]

    def ops(self) -> list[Op]:
        """Ops in a deterministic topological order (ties broken by definition order)."""
        import networkx as nx

        index = nx.get_node_attributes(self.graph, "index")
        order = nx.lexicographical_topological_sort(self.graph, key=index.__getitem__)
        return [self.op(name) for name in order]

    @property
    def macs(self) -> int:
        return sum(self.op(name).macs for name in self._order)

    def macs_by_phase(self) -> dict[str, int]:
        totals = Counter({phase: 0 for phase in PHASES})
        for name in self._order:
            op = self.op(name)
            totals[op.phase.value] += op.macs
        return dict(totals)

    def with_ops(self, ops: Iterable[Op]) -> Workload:
        """A workload of the same name, source, meta and statistics with other ops."""
        return Workload(self.name, ops, self.source, self.meta, self.value_stats)

    def only_phases(self, phases: Iterable[str]) -> Workload:
        """The sub-workload of the named phases (dependencies on dropped ops disappear)."""
        wanted = set(phases)
        if not wanted:
            raise WorkloadError(self.source, "phases", "at least one training phase",
                                choices=PHASES)
        unknown = wanted - set(PHASES)
        if unknown:
            raise WorkloadError(self.source, "phases", "training phases",
                                choices=PHASES, got=",".join(sorted(unknown)))
        kept = [self.op(name) for name in self._order if self.op(name).phase.value in wanted]
        return self.with_ops(kept)
