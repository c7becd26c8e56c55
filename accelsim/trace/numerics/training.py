"""Train exactly and with an emulation from the same seed and data order; record both curves.

A run builds the model from ``options.model`` after ``torch.manual_seed(options.seed)``, reads
the generated training set in the tracer's fixed order (step t reads batch ``t mod
steps_per_epoch``, :class:`~accelsim.trace.dataset.ShapesDataset`) and takes real training
steps (forward, softmax cross-entropy, backward, the tracer's optimizer). The exact run is plain
torch: no capture, no hook, nothing between the model and autograd. The technique run is the
same loop with the emulation :func:`~accelsim.trace.numerics.base.applied`.

Per step it records the loss and the batch accuracy (before the step's update, as the tracer
does). Every ``eval_every`` steps, before the first step and after the last, it measures the
accuracy on a held-out set: ``test_size`` further samples of the same generator with a seed of
their own (:func:`held_out_seed`), never trained on; the model in eval mode (batch norm on its
running statistics), the emulation's forward GEMMs applied in the technique run.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import numpy as np
import torch

from accelsim.trace import TraceError
from accelsim.trace.dataset import ShapesDataset
from accelsim.trace.factory import build_model
from accelsim.trace.numerics.base import Emulation, applied
from accelsim.trace.options import TraceOptions
from accelsim.trace.tracer import _optimizer

log = logging.getLogger(__name__)

#: Mixed into the seed of the held-out set so that it is a stream of its own.
HELD_OUT_STREAM = 0x7E57


def held_out_seed(seed: int) -> int:
    """Seed of the held-out set of a run seeded ``seed`` (another numpy stream)."""
    return int(np.random.SeedSequence([seed, HELD_OUT_STREAM]).generate_state(1)[0])


@dataclass(frozen=True)
class EvalSettings:
    eval_every: int = 25
    test_size: int = 256

    def validate(self) -> None:
        for key in ("eval_every", "test_size"):
            if getattr(self, key) < 1:
                raise TraceError(f"--{key.replace('_', '-')}: expected a positive integer, "
                                 f"got {getattr(self, key)}")


@dataclass
class Curves:
    loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    test_accuracy: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict:
        return {"loss": self.loss, "train_accuracy": self.train_accuracy,
                "test_accuracy": self.test_accuracy, "eval_steps": self.eval_steps}


def datasets(options: TraceOptions, settings: EvalSettings):
    try:
        train = ShapesDataset(options.train_size, options.input_shape, options.classes,
                              options.seed)
        test = ShapesDataset(settings.test_size, options.input_shape, options.classes,
                             held_out_seed(options.seed))
    except ValueError as error:
        raise TraceError(f"--input / --classes: {error}") from None
    return train, test


def _accuracy(model, emulation: Emulation | None, test: ShapesDataset, batch: int) -> float:
    model.eval()
    if emulation is not None:
        emulation.training = False
    correct = 0
    with torch.no_grad():
        for start in range(0, len(test), batch):
            x = torch.from_numpy(test.images[start:start + batch])
            y = torch.from_numpy(test.labels[start:start + batch])
            correct += int((model(x).argmax(dim=1) == y).sum())
    model.train()
    if emulation is not None:
        emulation.training = True
    return correct / len(test)


def train_curves(options: TraceOptions, settings: EvalSettings,
                 emulation: Emulation | None = None) -> Curves:
    """Train ``options.steps`` steps (with ``emulation`` applied, if given); the curves."""
    options.validate()
    settings.validate()
    if options.threads:
        torch.set_num_threads(options.threads)
    started = time.perf_counter()
    torch.manual_seed(options.seed)
    model = build_model(options.model, options.model_args)
    model.train()
    train, test = datasets(options, settings)
    optimizer = _optimizer(torch, model, options)
    curves = Curves()
    context = applied(model, emulation) if emulation is not None else nullcontext()
    with context:
        curves.test_accuracy.append(_accuracy(model, emulation, test, options.batch))
        curves.eval_steps.append(0)
        for step in range(options.steps):
            images, labels = train.batch(step, options.batch)
            x, y = torch.from_numpy(images), torch.from_numpy(labels)
            if emulation is not None:
                emulation.begin_step(step, curves.loss)
            optimizer.zero_grad(set_to_none=True)
            logits = model(x)
            loss = torch.nn.functional.cross_entropy(logits, y)
            loss.backward()
            optimizer.step()
            curves.loss.append(float(loss.detach()))
            curves.train_accuracy.append(float((logits.detach().argmax(dim=1) == y)
                                               .float().mean()))
            if (step + 1) % settings.eval_every == 0 or step == options.steps - 1:
                curves.test_accuracy.append(_accuracy(model, emulation, test, options.batch))
                curves.eval_steps.append(step + 1)
                log.info("%s step %d/%d: loss %.3f, held-out accuracy %.3f",
                         emulation.name if emulation is not None else "exact", step + 1,
                         options.steps, curves.loss[-1], curves.test_accuracy[-1])
    curves.seconds = time.perf_counter() - started
    return curves


def train_run(options: TraceOptions, settings: EvalSettings, spec=None) -> tuple[Curves, dict]:
    """One run of a study: exact (``spec`` None) or with the emulation ``spec`` names, made
    fresh here; the curves and what the emulation did. A top-level function, so that runs
    can go to worker processes (each run seeds itself, so where it runs changes nothing)."""
    if spec is None:
        return train_curves(options, settings), {}
    emulation = spec.numerics_class(spec.validated(), options.seed, options.steps_per_epoch)
    return train_curves(options, settings, emulation), emulation.describe()


def train_runs(options: TraceOptions, settings: EvalSettings, specs: list, jobs: int = 1
               ) -> list[tuple[Curves, dict]]:
    """:func:`train_run` for each of ``specs`` (None: the exact run), in order, in up to
    ``jobs`` worker processes (1: in this process)."""
    if jobs <= 1 or len(specs) <= 1:
        return [train_run(options, settings, spec) for spec in specs]
    import multiprocessing

    # A Pool, not a ProcessPoolExecutor: leaving the block on an error or a signal
    # terminates the workers instead of waiting for their runs.
    with multiprocessing.get_context("spawn").Pool(min(jobs, len(specs))) as pool:
        pending = [pool.apply_async(train_run, (options, settings, spec)) for spec in specs]
        return [result.get() for result in pending]
