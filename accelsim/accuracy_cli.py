"""``accelsim trace --numerics``: train with a technique's numerics beside an exact run.

The trace command's accuracy mode (:mod:`accelsim.trace.numerics`): instead of tracing a
workload, it trains the model with each named emulation and, with ``--compare-exact``, once
exactly from the same seed and data order, prints the final held-out accuracies and, with
``--accuracy-out DIR``, writes ``DIR/<technique>.json`` (:mod:`accelsim.trace.numerics.report`)
for each. torch runs on one thread unless ``--threads`` says otherwise (deterministic curves).
"""

from __future__ import annotations

import argparse
import shlex
from collections.abc import Sequence

from typing import TYPE_CHECKING

from accelsim.errors import ConfigError

if TYPE_CHECKING:
    from rich.console import Console


#: The accuracy mode's held-out evaluation when --eval-every / --eval-size are not given.
EVAL_EVERY = 25
EVAL_SIZE = 256


def add_arguments(trace: argparse.ArgumentParser) -> None:
    """The accuracy mode's options on the trace command."""
    group = trace.add_argument_group("accuracy mode (--numerics; --out is then not used)")
    group.add_argument("--numerics", action="append", default=[], metavar="NAME[:K=V,...]",
                       help="train with this technique's numerics applied, e.g. acrtc:k=8, "
                       "mquans, daa:low=fp8_e4m3 (repeatable: one run each)")
    group.add_argument("--compare-exact", action="store_true",
                       help="also train exactly with the same seed and data order")
    group.add_argument("--accuracy-out", metavar="DIR",
                       help="write DIR/<technique>.json (needs --compare-exact), e.g. "
                       "workloads/accuracy/<workload>")
    group.add_argument("--threads", type=int, default=1,
                       help="torch threads per run (default 1)")
    group.add_argument("--jobs", type=int, default=1,
                       help="runs trained at once in worker processes (default 1; the curves "
                       "do not depend on it)")


def run(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> None:
    from rich.table import Table

    from accelsim.trace import require_torch
    from accelsim.trace.factory import parse_model_args
    from accelsim.trace.numerics.spec import NumericsSpec
    from accelsim.trace.options import TraceOptions, parse_shape

    torch = require_torch()
    specs = [NumericsSpec.parse(text) for text in args.numerics]
    names = [spec.name for spec in specs]
    if len(set(names)) != len(names):
        raise ConfigError("--numerics", "", "each technique at most once", got=",".join(names))
    if args.accuracy_out and not args.compare_exact:
        raise ConfigError("--accuracy-out", "", "--compare-exact beside it (the document "
                          "holds the exact curves too)")
    for key in ("threads", "jobs"):
        if getattr(args, key) < 1:
            raise ConfigError(f"--{key}", "", "a positive integer", got=getattr(args, key))
    from accelsim.trace.numerics import report
    from accelsim.trace.numerics.training import EvalSettings, held_out_seed, train_runs

    options = TraceOptions(
        model=args.model, input_shape=parse_shape(args.input), out=args.out or "",
        model_args=parse_model_args(args.model_args), batch=args.batch, steps=args.steps,
        classes=args.classes, train_size=args.train_size, optimizer=args.optimizer,
        lr=args.lr, stats=False, seed=args.seed, name=args.name, threads=args.threads)
    if args.sparse_training:
        raise ConfigError("--sparse-training", "", "dense training in the accuracy mode "
                          "(--numerics)")
    # options of convergence runs that this mode's training loop does not apply: refused, not
    # ignored (shapes data, a constant learning rate, statistics not measured)
    for flag, given in (("--dataset", args.dataset != "shapes"),
                        ("--lr-schedule", args.lr_schedule != "constant"),
                        ("--warmup-steps", args.warmup_steps != 0),
                        ("--lr-milestones", bool(args.lr_milestones)),
                        ("--stats-steps", args.stats_steps is not None)):
        if given:
            raise ConfigError(flag, "", "its default in the accuracy mode (--numerics): its "
                              "training runs the generated shapes at a constant learning rate")
    settings = EvalSettings(EVAL_EVERY if args.eval_every is None else args.eval_every,
                            args.eval_size or EVAL_SIZE)
    options.validate()
    settings.validate()
    targets = ({spec.name: report.output_path(args.accuracy_out, spec.name, args.force)
                for spec in specs} if args.accuracy_out else {})
    workload = options.name or options.model.rpartition(":")[2]
    runs = train_runs(options, settings, ([None] if args.compare_exact else []) + specs,
                      args.jobs)
    exact = runs.pop(0)[0] if args.compare_exact else None
    table = Table(title=f"{workload}: held-out accuracy after {options.steps} steps "
                  f"(seed {options.seed})")
    for column in ("run", "accuracy", "vs exact (pp)", "final loss", "seconds"):
        table.add_column(column, justify="left" if column == "run" else "right")
    if exact is not None:
        table.add_row("exact", f"{exact.test_accuracy[-1]:.2%}", "",
                      f"{exact.loss[-1]:.3f}", f"{exact.seconds:,.1f}")
    dataset = (f"shapes (generated, accelsim.trace.dataset): {options.train_size} training "
               f"samples (seed {options.seed}); held-out {settings.test_size} samples "
               f"(seed {held_out_seed(options.seed)}), never trained on")
    for spec, (curves, described) in zip(specs, runs):
        cls = spec.numerics_class
        params = spec.validated()
        diff = "" if exact is None else \
            f"{100 * (curves.test_accuracy[-1] - exact.test_accuracy[-1]):+.2f}"
        table.add_row(spec.text, f"{curves.test_accuracy[-1]:.2%}", diff,
                      f"{curves.loss[-1]:.3f}", f"{curves.seconds:,.1f}")
        if spec.name in targets:
            doc = report.document(
                workload=workload, technique=spec.name,
                params=params.model_dump(mode="json"), seed=options.seed, dataset=dataset,
                steps=options.steps, batch=options.batch, exact=exact, run=curves,
                command=shlex.join(["accelsim", *argv]), versions=report.versions(torch),
                approximation=cls.approximation, emulation=described,
                settings={"model": options.model, "model_args": options.model_args,
                          "input_shape": list(options.input_shape),
                          "classes": options.classes, "train_size": options.train_size,
                          "test_size": settings.test_size, "eval_every": settings.eval_every,
                          "optimizer": options.optimizer, "lr": options.lr,
                          "momentum": options.momentum, "weight_decay": options.weight_decay,
                          "threads": options.threads})
            report.write(targets[spec.name], doc)
            console.print(f"wrote {targets[spec.name]}")
    console.print(table)
