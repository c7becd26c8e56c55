"""Runs real training steps of a model under the capture and assembles the traced workload.

Each step is a real training step: forward, softmax cross-entropy loss, backward and an
optimizer step (SGD, SGD with momentum or Adam, with weight decay) on the generated dataset
(:mod:`accelsim.trace.dataset`). The forward pass, the loss and the backward pass run inside the
dispatch mode (:class:`~accelsim.trace.capture.Capture`); the optimizer step runs outside it and
its ops are modelled as the zoo's update ops (:mod:`accelsim.trace.builder`). Every step's calls
are built into a graph; the last step's graph is the workload, and every step must give the same
GEMMs (a model whose control flow changes between steps is reported in the log).

At sampled steps the collector (:mod:`accelsim.trace.collector`) measures the value statistics;
at every step the tracer keeps each sample's (correct, max softmax probability, true-class
probability). An aten op that the tracer does not model (:func:`accelsim.trace.aten.known_op`) is
logged as a warning and listed in the manifest (``unknown_ops``). :func:`trace` returns a :class:`TraceResult` that the writer
(:mod:`accelsim.trace.writer`) stores.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from accelsim import __version__
from accelsim.trace import TraceError, require_torch
from accelsim.trace.builder import BuiltStep, build_step
from accelsim.trace.collector import Collector, StatsConfig, StepStats
from accelsim.trace.dataset import NOISE, SHAPES, ShapesDataset
from accelsim.trace.factory import build_model
from accelsim.trace.options import TraceOptions

log = logging.getLogger(__name__)


@dataclass
class TraceResult:
    options: TraceOptions
    graph: BuiltStep
    #: (step, its built graph, its statistics) for every sampled step.
    sampled: list[tuple[int, BuiltStep, StepStats]] = field(default_factory=list)
    correct: np.ndarray | None = None  # (steps, batch) bool
    p_max: np.ndarray | None = None
    p_true: np.ndarray | None = None
    labels: np.ndarray | None = None
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    manifest: dict = field(default_factory=dict)


def _optimizer(torch, model, options: TraceOptions):
    params = model.parameters()
    if options.optimizer == "adam":
        return torch.optim.Adam(params, lr=options.lr, weight_decay=options.weight_decay)
    momentum = options.momentum if options.optimizer == "momentum" else 0.0
    return torch.optim.SGD(params, lr=options.lr, momentum=momentum,
                           weight_decay=options.weight_decay)


def gemm_signature(built: BuiltStep) -> list[tuple]:
    return [(op.name, op.gemm) for op in built.ops if op.gemm is not None]


def trace(options: TraceOptions) -> TraceResult:
    """Trace ``options.steps`` training steps; see the module docstring."""
    torch = require_torch()
    from accelsim.trace.capture import Capture

    options.validate()
    started = time.perf_counter()
    torch.manual_seed(options.seed)
    if options.threads:
        torch.set_num_threads(options.threads)
    model = build_model(options.model, options.model_args)
    model.train()
    try:
        dataset = ShapesDataset(options.train_size, options.input_shape, options.classes,
                                options.seed)
    except ValueError as error:
        raise TraceError(f"--input / --classes: {error}") from None
    optimizer = _optimizer(torch, model, options)
    capture = Capture(model, options.sparsity if options.sparse_training else 0.0)
    collector = Collector(capture, options.batch, StatsConfig(
        sparsity=options.sparsity, mask_images=options.mask_images,
        mask_channels=options.mask_channels, seed=options.seed))
    capture.observer = collector
    sampled, masked = set(options.sampled_steps()), set(options.mask_steps_list())
    steps, batch = options.steps, options.batch
    result = TraceResult(options, BuiltStep([]))
    result.correct = np.zeros((steps, batch), dtype=bool)
    result.p_max = np.zeros((steps, batch), dtype=np.float32)
    result.p_true = np.zeros((steps, batch), dtype=np.float32)
    result.labels = np.zeros((steps, batch), dtype=np.int64)
    reference = None
    warned: set[str] = set()
    capture.install()
    try:
        for step in range(steps):
            images, labels = dataset.batch(step, batch)
            x, y = torch.from_numpy(images), torch.from_numpy(labels)
            capture.begin_step({"input": x, "input/labels": y})
            collector.begin(step, step in sampled, step in masked)
            optimizer.zero_grad(set_to_none=True)
            with capture:
                with capture.stage("forward"):
                    logits = model(x)
                    _check_logits(logits, batch, options.classes)
                    with capture.context("loss"):
                        loss = torch.nn.functional.cross_entropy(logits, y)
                capture.watch_backward(loss)
                with capture.stage("backward"):
                    loss.backward()
            optimizer.step()
            _confidence(torch, result, step, logits.detach(), y)
            result.losses.append(float(loss.detach()))
            stats = collector.end()
            if stats is not None or step == steps - 1:
                built = build_step(capture.calls, capture.tensors, capture.params, batch,
                                   options.optimizer)
                signature = gemm_signature(built)
                if reference is None:
                    reference = signature
                elif signature != reference:
                    log.warning("step %d ran other GEMMs than the first sampled step", step)
                _warn_unknown(built, warned)
                if stats is not None:
                    result.sampled.append((step, built, stats))
                result.graph = built
            log.info("step %d/%d: loss %.3f, accuracy %.2f", step + 1, steps,
                     result.losses[-1], result.correct[step].mean())
    finally:
        capture.remove()
    result.seconds = time.perf_counter() - started
    result.manifest = _manifest(torch, options, dataset, result, logits.shape[-1])
    return result


def _warn_unknown(built: BuiltStep, warned: set[str]) -> None:
    """Log each aten op the tracer does not model (once per trace); the manifest lists them."""
    for op, count in sorted(built.unknown.items()):
        if op not in warned:
            warned.add(op)
            log.warning("aten op %s (%d calls per step) is not known to the tracer: traced as a "
                        "vector op of one operation per element; listed in the manifest's "
                        "unknown_ops", op, count)


def _check_logits(logits, batch: int, classes: int) -> None:
    if logits.dim() != 2 or logits.shape[0] != batch or logits.shape[1] < classes:
        raise TraceError(f"--model: expected logits of shape ({batch}, >= {classes}) from the "
                         f"model, got {tuple(logits.shape)}")


def _confidence(torch, result: TraceResult, step: int, logits, labels) -> None:
    probs = torch.softmax(logits.float(), dim=1)
    p_max, predicted = probs.max(dim=1)
    result.correct[step] = (predicted == labels).numpy()
    result.p_max[step] = p_max.numpy()
    result.p_true[step] = probs.gather(1, labels[:, None])[:, 0].numpy()
    result.labels[step] = labels.numpy()


def _manifest(torch, options: TraceOptions, dataset: ShapesDataset, result: TraceResult,
              outputs: int) -> dict:
    macs: dict[str, int] = {}
    for op in result.graph.ops:
        macs[op.phase.value] = macs.get(op.phase.value, 0) + op.macs
    return {
        "name": options.name or options.model.rpartition(":")[2],
        "model": options.model, "model_args": options.model_args,
        "input_shape": list(options.input_shape), "batch": options.batch,
        "classes": options.classes, "model_outputs": int(outputs),
        "steps": options.steps, "steps_per_epoch": options.steps_per_epoch,
        "graph_step": options.steps - 1,
        "dataset": {"name": "shapes", "size": len(dataset), "classes": list(SHAPES[:options.classes]),
                    "seed": options.seed, "noise_std": NOISE,
                    "order": "fixed: step t reads batch t mod steps_per_epoch"},
        "training": {"optimizer": options.optimizer, "lr": options.lr,
                     "momentum": options.momentum if options.optimizer == "momentum" else 0.0,
                     "weight_decay": options.weight_decay, "loss": "softmax cross-entropy",
                     "sparse_training": options.sparse_training,
                     "sparsity": options.sparsity if options.sparse_training else 0.0},
        "torch_version": torch.__version__, "accelsim_version": __version__,
        "trace_seconds": round(result.seconds, 1),
        "unknown_ops": [{"op": op, "count": count}
                        for op, count in sorted(result.graph.unknown.items())],
        "summary": {"ops": len(result.graph.ops),
                    "gemm_ops": sum(op.gemm is not None for op in result.graph.ops),
                    "macs_by_phase": macs,
                    "accuracy_first_last": [float(result.correct[0].mean()),
                                            float(result.correct[-1].mean())],
                    "loss_first_last": [result.losses[0], result.losses[-1]]},
    }
