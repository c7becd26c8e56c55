"""Runs real training steps of a model under the capture and assembles the traced workload.

Each step is a real training step: forward, softmax cross-entropy loss, backward and an
optimizer step (SGD, SGD with momentum or Adam, with weight decay) on the generated dataset
(:mod:`accelsim.trace.dataset`: the generated shapes or the bundled digits). The forward pass, the loss and the backward pass run inside the
dispatch mode (:class:`~accelsim.trace.capture.Capture`); the optimizer step runs outside it and
its ops are modelled as the zoo's update ops (:mod:`accelsim.trace.builder`). Every step's calls
are built into a graph; the last step's graph is the workload, and every step must give the same
GEMMs (a model whose control flow changes between steps is reported in the log).

Only the steps whose graph or statistics are kept (sampled, masked and the last) run under the
capture; the others run plain (:mod:`accelsim.trace.sparse_mode` for sparse training), with the
same arithmetic. At sampled steps the collector (:mod:`accelsim.trace.collector`) measures the value statistics;
at every step the tracer keeps each sample's (correct, max softmax probability, true-class
probability). An aten op that the tracer does not model (:func:`accelsim.trace.aten.known_op`) is
logged as a warning and listed in the manifest (``unknown_ops``).

Convergence runs: each step's learning rate comes from the schedule and, with sparse
training, its Top-K sparsity from the sparsity ramp (:mod:`accelsim.trace.schedule`); both are
recorded per step. With a held-out set the model is evaluated (eval mode, no gradients, outside
the capture) after the update of the steps of :meth:`TraceOptions.evaluated_steps`. :func:`trace` returns a :class:`TraceResult` that the writer
(:mod:`accelsim.trace.writer`) stores.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from accelsim import __version__
from accelsim.trace import TraceError, require_torch
from accelsim.trace.builder import BuiltStep, build_step
from accelsim.trace.collector import Collector, StatsConfig, StepStats
from accelsim.trace.dataset import ImageSet, make_datasets
from accelsim.trace.factory import build_model
from accelsim.trace.options import TraceOptions
from accelsim.trace.schedule import learning_rate, sparsity_at

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
    lrs: list[float] = field(default_factory=list)  # per step
    sparsities: list[float] = field(default_factory=list)  # per step (sparse training)
    #: held-out evaluations: {"step", "accuracy", "loss", "mean_p_max"} each
    evaluations: list[dict] = field(default_factory=list)
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
        dataset, held_out = make_datasets(options.dataset, options.train_size,
                                          options.eval_size, options.input_shape,
                                          options.classes, options.seed)
    except ValueError as error:
        raise TraceError(f"--dataset / --input / --classes: {error}") from None
    evaluated = set(options.evaluated_steps())
    optimizer = _optimizer(torch, model, options)
    capture = Capture(model, options.sparsity if options.sparse_training else 0.0)
    collector = Collector(capture, options.batch, StatsConfig(
        sparsity=options.sparsity, mask_images=options.mask_images,
        mask_channels=options.mask_channels, seed=options.seed))
    capture.observer = collector
    capture.dense = dense_storages(model, options.dense_layers)
    capture.sparse_gradients = options.sparse_gradients
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
            recorded = step in sampled or step in masked or step == steps - 1
            if recorded:
                capture.begin_step({"input": x, "input/labels": y})
            collector.begin(step, step in sampled, step in masked)
            optimizer.zero_grad(set_to_none=True)
            _schedule(result, optimizer, capture, options, step)
            if recorded:
                with capture:
                    with capture.stage("forward"):
                        logits = model(x)
                        _check_logits(logits, batch, options.classes)
                        with capture.context("loss"):
                            loss = torch.nn.functional.cross_entropy(logits, y)
                    capture.watch_backward(loss)
                    with capture.stage("backward"):
                        loss.backward()
            else:
                logits, loss = _unrecorded_pass(torch, model, x, y, capture, options)
            optimizer.step()
            _confidence(torch, result, step, logits.detach(), y)
            result.losses.append(float(loss.detach()))
            if step in evaluated:
                capture.remove()  # the module hooks record nothing of the evaluation
                result.evaluations.append(evaluate(torch, model, held_out, batch, step,
                                                   capture.sparsity, capture.dense))
                capture.install()
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


def dense_storages(model, layers: tuple[str, ...]) -> frozenset[int]:
    """Storages (data pointers) of the parameters of the modules ``layers`` (kept dense in
    sparse training); an unknown module name is a :class:`TraceError`."""
    modules = dict(model.named_modules())
    for name in layers:
        if name not in modules:
            raise TraceError(f"--dense-layers: the model has no module {name!r}")
    return frozenset(p.untyped_storage().data_ptr() for name in layers
                     for p in modules[name].parameters())


def _unrecorded_pass(torch, model, x, y, capture, options: TraceOptions):
    """Forward, loss and backward of a step whose graph and statistics are not kept: without
    the capture, under :class:`~accelsim.trace.sparse_mode.TopkMode` when training sparse."""
    from accelsim.trace.sparse_mode import TopkMode

    sparsity = capture.sparsity
    mode = (TopkMode(sparsity, capture.dense, capture.sparse_gradients) if sparsity > 0
            else contextlib.nullcontext())
    with mode:
        logits = model(x)
        _check_logits(logits, options.batch, options.classes)
        loss = torch.nn.functional.cross_entropy(logits, y)
        if sparsity > 0:
            mode.backward = True
        loss.backward()
    return logits, loss


def _schedule(result: TraceResult, optimizer, capture, options: TraceOptions,
              step: int) -> None:
    """Set (and record) the step's learning rate and, with sparse training, its sparsity."""
    lr = learning_rate(step, options.lr, options.steps, options.lr_schedule,
                       options.warmup_steps, options.lr_milestones, options.lr_gamma)
    for group in optimizer.param_groups:
        group["lr"] = lr
    result.lrs.append(lr)
    if options.sparse_training:
        capture.sparsity = sparsity_at(step, options.sparsity, options.sparsity_dense_steps,
                                       options.sparsity_ramp_steps)
        result.sparsities.append(capture.sparsity)


def evaluate(torch, model, data: ImageSet, batch: int, step: int, sparsity: float = 0.0,
             dense: frozenset[int] = frozenset()) -> dict:
    """Accuracy, mean loss and mean max softmax probability of ``model`` on ``data`` (eval
    mode, no gradients; the model is left in training mode). A sparse-trained model is
    evaluated as it trains: its GEMM operands Top-K sparsified at the step's ``sparsity``."""
    from accelsim.trace.sparse_mode import TopkMode

    model.eval()
    correct, loss, p_max = 0, 0.0, 0.0
    mode = TopkMode(sparsity, dense) if sparsity > 0 else contextlib.nullcontext()
    with torch.no_grad(), mode:
        for start in range(0, len(data), batch):
            x = torch.from_numpy(data.images[start:start + batch])
            y = torch.from_numpy(data.labels[start:start + batch])
            logits = model(x).float()
            loss += float(torch.nn.functional.cross_entropy(logits, y, reduction="sum"))
            probs = torch.softmax(logits, dim=1)
            correct += int((probs.argmax(dim=1) == y).sum())
            p_max += float(probs.max(dim=1).values.sum())
    model.train()
    n = len(data)
    log.info("step %d: held-out accuracy %.3f, loss %.3f", step + 1, correct / n, loss / n)
    return {"step": step, "accuracy": correct / n, "loss": loss / n, "mean_p_max": p_max / n}


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


def _manifest(torch, options: TraceOptions, dataset: ImageSet, result: TraceResult,
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
        "dataset": {**dataset.describe(),
                    "order": "fixed: step t reads batch t mod steps_per_epoch",
                    **({"held_out": options.eval_size} if options.eval_size else {})},
        "training": {"optimizer": options.optimizer, "lr": options.lr,
                     "momentum": options.momentum if options.optimizer == "momentum" else 0.0,
                     "weight_decay": options.weight_decay, "loss": "softmax cross-entropy",
                     "sparse_training": options.sparse_training,
                     "sparsity": options.sparsity if options.sparse_training else 0.0,
                     **_schedule_manifest(options)},
        "torch_version": torch.__version__, "accelsim_version": __version__,
        "trace_seconds": round(result.seconds, 1),
        "unknown_ops": [{"op": op, "count": count}
                        for op, count in sorted(result.graph.unknown.items())],
        "summary": {"ops": len(result.graph.ops),
                    "gemm_ops": sum(op.gemm is not None for op in result.graph.ops),
                    "macs_by_phase": macs,
                    "accuracy_first_last": [float(result.correct[0].mean()),
                                            float(result.correct[-1].mean())],
                    "loss_first_last": [result.losses[0], result.losses[-1]],
                    **({"held_out_accuracy_last": result.evaluations[-1]["accuracy"]}
                       if result.evaluations else {})},
    }


def _schedule_manifest(options: TraceOptions) -> dict:
    """The manifest's schedule entries (only those that differ from a constant, dense run)."""
    out: dict = {}
    if options.lr_schedule != "constant" or options.warmup_steps:
        out["lr_schedule"] = {"kind": options.lr_schedule, "warmup_steps": options.warmup_steps}
        if options.lr_schedule == "step":
            out["lr_schedule"].update(milestones=list(options.lr_milestones),
                                      gamma=options.lr_gamma)
    if options.sparse_training and (options.sparsity_dense_steps or options.sparsity_ramp_steps
                                    or options.dense_layers or not options.sparse_gradients):
        out["sparsity_schedule"] = {"dense_steps": options.sparsity_dense_steps,
                                    "ramp_steps": options.sparsity_ramp_steps,
                                    "dense_layers": list(options.dense_layers),
                                    "sparse_gradients": options.sparse_gradients}
    return out
