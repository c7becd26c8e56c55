"""Dispatch-level capture of the aten ops of a training step (a ``TorchDispatchMode``).

:class:`Capture` sits below autograd, so it sees every aten op as it really runs, forward and
backward alike: a convolution's backward is one ``convolution_backward`` call, a linear layer's
backward two ``mm`` calls and a ``sum``. For each op that does work it records a :class:`Call`:
the op, the step stage, where it came from, the tensors it read and wrote.

Where an op came from:

* forward: the innermost module being called (forward hooks on every module), the invocation
  count of that module in the step and the op's position inside that invocation;
* backward: the forward call whose autograd node is running (node pre/post hooks; nodes are
  matched to forward calls through the ``grad_fn`` of each call's outputs). Ops that run outside
  any node are the engine summing gradient contributions.

Tensors are identified by their storage: views share their base's identity, a copy takes its
source's identity, an in-place op writes a new version. Parameters, buffers, the input batch and
the labels are registered at the start of each step. Tensors nobody wrote (for instance a
constant built outside the step) get the origin ``external``.

The mode can also change what runs: with ``sparsity`` > 0 every GEMM operand is Top-K sparsified
before the op (SWAT-style sparse training, :mod:`accelsim.trace.topk`), and an ``observer``
receives each op's actual tensors (the value statistics, :mod:`accelsim.trace.collector`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

from accelsim.trace.aten import COPY_OPS, CREATION_OPS, GEMM_OPERANDS, METADATA_INPLACE_OPS
from accelsim.trace.attention import ATTENTION_OPS
from accelsim.trace.topk import backward_positions, sparsify_operands

FORWARD, BACKWARD = "forward", "backward"
ROOT_MODULE = "model"


@dataclass
class TensorInfo:
    """One version of a tensor within a step."""

    id: int
    shape: tuple[int, ...]
    origin: str  # param | buffer | input | labels | external | created | forward | backward
    floating: bool
    name: str | None = None  # parameters: "module/param"; "input"; "input/labels"
    producer: int | None = None  # index of the call that wrote it
    module: str | None = None  # owner of a parameter

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


@dataclass(frozen=True)
class Ref:
    """A tensor argument of a recorded call."""

    id: int
    shape: tuple[int, ...]


@dataclass(frozen=True)
class Frame:
    """A module invocation in the forward pass."""

    path: str
    leaf: bool
    invocation: int


@dataclass
class Call:
    """One recorded aten op."""

    index: int
    op: str
    stage: str
    args: tuple  # the op's arguments, tensors replaced by Ref
    reads: list[int]  # ids of the tensors read, in argument order
    writes: list[int | None]  # one per tensor output (None: not a new version)
    out_shapes: list[tuple[int, ...]]
    frame: Frame | None = None  # forward: innermost module invocation
    position: int = 0  # forward: index of this call within its frame
    node_call: int | None = None  # backward: forward call whose autograd node ran this
    node_name: str | None = None
    extra: dict = field(default_factory=dict)


def storage_key(t: torch.Tensor) -> int | None:
    try:
        ptr = t.untyped_storage().data_ptr()
    except (RuntimeError, NotImplementedError):
        return None
    return ptr or None


def _is_view(func) -> bool:
    returns = func._schema.returns
    return bool(returns) and all(r.alias_info is not None and not r.alias_info.is_write
                                 for r in returns)


class Capture(TorchDispatchMode):
    """Records the aten calls of training steps; see the module docstring."""

    def __init__(self, model: torch.nn.Module, sparsity: float = 0.0,
                 observer: Callable | None = None) -> None:
        super().__init__()
        self.model = model
        self.sparsity = sparsity
        self.dense: frozenset[int] = frozenset()  # parameter storages kept dense (topk.py)
        self.sparse_gradients = True  # False: output gradients stay dense (topk.py)
        self.observer = observer
        self.stage_name: str | None = None
        self.calls: list[Call] = []
        self.tensors: list[TensorInfo] = []
        self._by_storage: dict[int, int] = {}
        self._frames: list[Frame] = []
        self._positions: dict[Frame, int] = {}
        self._invocations: dict[str, int] = {}
        self._pending: list[tuple[int, list[torch.Tensor]]] = []
        self._node_calls: dict = {}
        self._node: tuple[int | None, str] | None = None
        self._hooks: list = []
        self.params: dict[str, list[tuple[str, int]]] = {}  # module -> [(tensor name, numel)]

    # -- setup ---------------------------------------------------------------------------------
    def install(self) -> None:
        """Forward hooks on every module (their path is the forward context)."""
        for path, module in self.model.named_modules():
            leaf = next(module.children(), None) is None
            self._hooks.append(module.register_forward_pre_hook(
                lambda _m, _a, path=path, leaf=leaf: self._enter(path or ROOT_MODULE, leaf)))
            self._hooks.append(module.register_forward_hook(
                lambda _m, _a, _o: self._leave()))

    def remove(self) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks.clear()

    def begin_step(self, inputs: dict[str, torch.Tensor]) -> None:
        """Forget the previous step; register parameters, buffers and ``inputs`` by name."""
        self.calls, self.tensors = [], []
        self._by_storage.clear()
        self._invocations.clear()
        self._positions.clear()
        self._node_calls.clear()
        self._pending.clear()
        self.params = {}
        for full, p in self.model.named_parameters():
            module, _, local = full.rpartition(".")
            module = module or ROOT_MODULE
            name = f"{module}/{local}"
            self._register(p, "param", name, module)
            self.params.setdefault(module, []).append((name, p.numel()))
        for _, b in self.model.named_buffers():
            self._register(b, "buffer")
        for name, t in inputs.items():
            self._register(t, "labels" if name.endswith("labels") else "input", name)

    def _register(self, t: torch.Tensor, origin: str, name: str | None = None,
                  module: str | None = None, producer: int | None = None) -> int:
        info = TensorInfo(len(self.tensors), tuple(t.shape), origin, t.is_floating_point(),
                          name, producer, module)
        self.tensors.append(info)
        key = storage_key(t)
        if key is not None:
            self._by_storage[key] = info.id
        return info.id

    def _id(self, t: torch.Tensor) -> int:
        key = storage_key(t)
        if key is not None and key in self._by_storage:
            return self._by_storage[key]
        return self._register(t, "external")

    # -- contexts ------------------------------------------------------------------------------
    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        self.stage_name = name
        try:
            yield
        finally:
            self._resolve_pending()
            self.stage_name = None

    @contextlib.contextmanager
    def context(self, path: str) -> Iterator[None]:
        """A pseudo module (e.g. ``loss``) for ops the training loop runs itself."""
        self._enter(path, True)
        try:
            yield
        finally:
            self._leave()

    def _enter(self, path: str, leaf: bool) -> None:
        if self.stage_name != FORWARD:
            return
        self._invocations[path] = self._invocations.get(path, 0) + 1
        self._frames.append(Frame(path, leaf, self._invocations[path]))

    def _leave(self) -> None:
        if self.stage_name == FORWARD and self._frames:
            self._frames.pop()

    def watch_backward(self, loss: torch.Tensor) -> None:
        """Hook every autograd node of ``loss`` so backward ops know their forward call."""
        self._resolve_pending()
        seen, stack = set(), [loss.grad_fn]
        while stack:
            node = stack.pop()
            if node is None or node in seen:
                continue
            seen.add(node)
            context = (self._node_calls.get(node), node.name())
            node.register_prehook(lambda _g, context=context: self._set_node(context))
            node.register_hook(lambda _i, _o: self._set_node(None))
            stack.extend(child for child, _ in node.next_functions)

    def _set_node(self, node) -> None:
        self._node = node

    def _resolve_pending(self) -> None:
        """Match the autograd nodes of the last forward call's outputs to that call."""
        for index, outputs in self._pending:
            for t in outputs:
                if t.grad_fn is not None:
                    self._node_calls.setdefault(t.grad_fn, index)
        self._pending.clear()

    # -- the mode ------------------------------------------------------------------------------
    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if self.stage_name is None or func.namespace != "aten":
            return func(*args, **kwargs)
        if self.stage_name == FORWARD:
            self._resolve_pending()
        op = func._overloadpacket.__name__
        ran = args
        if self.sparsity > 0 and op in GEMM_OPERANDS:  # identities stay those of ``args``
            positions = GEMM_OPERANDS[op]
            if self.stage_name != FORWARD:
                positions = backward_positions(op, positions, self.sparse_gradients)
            ran = sparsify_operands(args, positions, self.sparsity, self.dense)
        out = func(*ran, **kwargs)
        if _is_view(func) or op in METADATA_INPLACE_OPS:
            return out
        inputs = [a for a in tree_flatten((args, kwargs))[0] if isinstance(a, torch.Tensor)]
        outputs = [o for o in tree_flatten(out)[0] if isinstance(o, torch.Tensor)]
        if op in COPY_OPS and inputs:
            source = self._id(inputs[-1] if op == "copy_" else inputs[0])
            for o in outputs:
                key = storage_key(o)
                if key is not None:
                    self._by_storage[key] = source
            return out
        if op in CREATION_OPS or not inputs:
            for o in outputs:
                self._register(o, "created")
            return out
        reads = [self._id(t) for t in inputs]
        mutable = func._schema.is_mutable
        if mutable and any(self.tensors[i].origin == "buffer" for i in reads[:1]):
            return out  # running statistics and counters of the model's buffers
        named = None
        if op in ATTENTION_OPS:  # keyword-only arguments (attn_mask, scale) matter here
            names = [a.name for a in func._schema.arguments]
            named = {**dict(zip(names, args)), **kwargs}
        self._record(op, args, ran, kwargs, reads, outputs, out, named)
        return out

    def _ref(self, a):
        return Ref(self._id(a), tuple(a.shape)) if isinstance(a, torch.Tensor) else a

    def _record(self, op, args, ran, kwargs, reads, outputs, out, named=None) -> None:
        index = len(self.calls)
        ref_args = tree_map(self._ref, args)
        call = Call(index, op, self.stage_name, ref_args, reads, [],
                    [tuple(o.shape) for o in outputs])
        if named is not None:
            call.extra["named"] = tree_map(self._ref, named)
        if self.stage_name == FORWARD:
            frame = self._frames[-1] if self._frames else Frame(ROOT_MODULE, False, 1)
            call.frame = frame
            call.position = self._positions.get(frame, 0)
            self._positions[frame] = call.position + 1
            self._pending.append((index, outputs))
        elif self._node is not None:
            call.node_call, call.node_name = self._node
        stage_origin = FORWARD if self.stage_name == FORWARD else BACKWARD
        call.writes = [self._register(o, stage_origin, producer=index) for o in outputs]
        self.calls.append(call)
        if self.observer is not None:
            self.observer(call, ran, kwargs, out)
