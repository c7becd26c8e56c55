"""The command line: ``accelsim run | workloads | techniques | kinds | trace | compare | sweep |
report``. The only module that prints (with the command modules it registers).

Exit codes: 0 done; 2 the user's input (bad hwconfig, workload, option, an output path that
would cost a file): one line ``error: ...`` on stderr, no traceback; 3 a bug in accelsim: one
line naming the exception and a log file (traceback, command line, versions) in the temporary
folder; 130 Ctrl-C and 143 SIGTERM: one line (files being written are left as they were).

``accelsim run`` checks every output path before it simulates (:mod:`accelsim.outputs`) and
writes each output atomically.
"""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING
from pathlib import Path

if TYPE_CHECKING:
    from rich.console import Console

    from accelsim.stats.result import RunResult

# Only what parsing the command line needs is imported here: `accelsim --help` and errors in
# the input stay quick; rich, the outputs and the engine are imported when a command runs.
from accelsim import __version__, accuracy_cli
from accelsim.errors import AccelsimError, ConfigError, clip
from accelsim.workload.op import PHASES
from accelsim.workload.optimizers import OPTIMIZERS

EXIT_USER_ERROR = 2
EXIT_BUG = 3
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM
#: Longest error text printed (a ConfigError is at most errors.MAX_MESSAGE; a deadlock lists
#: up to ten ops on lines of their own).
MAX_ERROR_TEXT = 2000
#: Packages whose versions an internal-error log records.
LOGGED_PACKAGES = ("accelsim", "simpy", "numpy", "networkx", "pyyaml", "pydantic", "rich",
                   "matplotlib", "torch")


def Table(*args, **kwargs):  # noqa: N802 - rich's Table, imported when a table is drawn
    from rich.table import Table as RichTable

    return RichTable(*args, **kwargs)


def _console(**kwargs) -> Console:
    from rich.console import Console

    return Console(**kwargs)


class UsageError(AccelsimError):
    """A command line argparse refuses (unknown option, bad value, missing argument)."""


class _Terminated(BaseException):
    """SIGTERM, raised in the main thread so that writes in progress remove their temporary
    files (a BaseException: no ``except Exception`` swallows it)."""


class _Parser(argparse.ArgumentParser):
    """argparse with the project's error form: one line and exit code 2 (no usage dump)."""

    def error(self, message: str):
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def _count(text: str) -> int:
    """An argparse type: a whole number >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0, got {text!r}")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="accelsim",
        description="Discrete-event simulator of DNN training accelerators.")
    parser.add_argument("--version", action="version", version=f"accelsim {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="simulate one training iteration",
        description="Simulate one training iteration. A run spec (--spec) and the flags build "
        "the same run; flags given beside --spec replace the spec's values (--set and "
        "--technique add to them).")
    run.add_argument("--spec", help="run-spec YAML file (keys: hwconfig, overrides, "
                     "workload, batch, phases, optimizer, techniques, step, seed)")
    run.add_argument("--hw", help="hwconfig YAML file")
    run.add_argument("--workload",
                     help="zoo name (see `accelsim workloads`), workload YAML or SCALE-Sim CSV")
    run.add_argument("--batch", type=int, default=None,
                     help="batch size (default: 1 for SCALE-Sim CSV files, else 32)")
    run.add_argument("--optimizer", choices=sorted(OPTIMIZERS),
                     help="weight-update op (default momentum)")
    run.add_argument("--phases", help=f"comma-separated subset of {','.join(PHASES)}")
    run.add_argument("--set", dest="overrides", action="append", default=[],
                     metavar="KEY.PATH=VALUE", help="override a hwconfig key (repeatable)")
    run.add_argument("--technique", dest="techniques", action="append", default=[],
                     metavar="NAME[:KEY=VALUE,...]",
                     help="technique controller with parameters, e.g. "
                     "ant:granularity=row (repeatable, applied in order)")
    run.add_argument("--step", type=int, default=None,
                     help="training step simulated (default: the trace's last)")
    run.add_argument("--seed", type=int, default=None, help="seed (default 0)")
    run.add_argument("--out", help="write the result JSON here")
    run.add_argument("--csv", help="write the per-op CSV here")
    run.add_argument("--timeline", dest="trace_out", metavar="FILE.json",
                     help="write a Chrome/Perfetto timeline trace here")
    run.add_argument("--scalesim-reports", metavar="DIR", help="write SCALE-Sim v3's "
                     "COMPUTE_REPORT, BANDWIDTH_REPORT and DETAILED_ACCESS_REPORT CSVs of the "
                     "forward GEMM layers into this folder")
    run.add_argument("--force", action="store_true",
                     help="replace existing files that are not earlier accelsim outputs")
    run.add_argument("--top", type=_count, default=10, help="ops shown in the summary (>= 0)")
    run.add_argument("--quiet", action="store_true",
                     help="no progress bar (it shows on a terminal once a run takes a second)")

    commands.add_parser("workloads", help="list the model zoo with MAC counts")
    commands.add_parser("techniques", help="list the technique controllers and their "
                        "parameters")
    commands.add_parser("kinds", help="list the PE-array kinds and their parameters")

    compare_runs = commands.add_parser(
        "compare", help="two run results side by side",
        description="Two results of `accelsim run --out` side by side: totals, phases, energy "
        "by component, the ops whose cycles moved most, and the hwconfig values and run "
        "settings that differ.")
    compare_runs.add_argument("a", help="first result JSON")
    compare_runs.add_argument("b", help="second result JSON")
    compare_runs.add_argument("--top", type=_count, default=10,
                              help="ops listed, by the largest change (>= 0)")
    compare_runs.add_argument("--out", metavar="DIR",
                              help="also write compare.csv and compare.png into DIR")
    compare_runs.add_argument("--force", action="store_true",
                              help="replace files in DIR that no earlier comparison wrote")

    from accelsim.reproduce.command import add_parser as add_reproduce
    add_reproduce(commands)
    from accelsim.sweep import commands as sweep_commands
    sweep_commands.register(commands)

    trace = commands.add_parser(
        "trace", help="trace real PyTorch training steps into a workload folder (needs torch)")
    trace.add_argument("--model", required=True, metavar="MODULE:FACTORY",
                       help="importable factory returning a torch.nn.Module, e.g. "
                       "accelsim.trace.models:resnet18_cifar")
    trace.add_argument("--model-arg", dest="model_args", action="append", default=[],
                       metavar="KEY=VALUE", help="keyword argument of the factory (repeatable)")
    trace.add_argument("--input", required=True, metavar="CxHxW",
                       help="per-sample input shape, e.g. 3x32x32 or 784")
    trace.add_argument("--out", help="workload folder to write (required unless --numerics)")
    trace.add_argument("--batch", type=int, default=32, help="batch size (default 32)")
    trace.add_argument("--steps", type=int, default=50, help="training steps (default 50)")
    trace.add_argument("--classes", type=int, default=10,
                       help="classes of the generated shapes dataset, 2..10 (default 10)")
    trace.add_argument("--train-size", type=int, default=512,
                       help="samples in the training set, read in a fixed order every epoch")
    trace.add_argument("--optimizer", default="momentum", choices=sorted(OPTIMIZERS))
    trace.add_argument("--lr", type=float, default=0.05, help="learning rate (default 0.05)")
    trace.add_argument("--sparsity", type=float, default=0.9,
                       help="Top-K sparsity of the stored masks (default 0.9)")
    trace.add_argument("--sparse-training", action="store_true",
                       help="train with Top-K sparsified GEMM operands (SWAT-style)")
    trace.add_argument("--stats-every", type=int, default=8,
                       help="measure value statistics every N steps (default 8)")
    trace.add_argument("--no-stats", dest="stats", action="store_false",
                       help="record the graph and per-sample confidence only")
    trace.add_argument("--mask-steps", type=int, default=3,
                       help="sampled steps whose coordinate masks are stored (default 3)")
    trace.add_argument("--seed", type=int, default=0)
    trace.add_argument("--name", help="workload name (default: the factory's name)")
    trace.add_argument("--force", action="store_true",
                       help="write into an existing folder that holds other files")
    accuracy_cli.add_arguments(trace)
    _convergence_arguments(trace)
    return parser


def _convergence_arguments(trace: argparse.ArgumentParser) -> None:
    """``accelsim trace`` options of convergence runs: data set, held-out evaluation,
    learning-rate and sparsity schedules, light statistics."""
    from accelsim.trace.options import DATASETS
    from accelsim.trace.schedule import SCHEDULES

    group = trace.add_argument_group("convergence runs")
    group.add_argument("--dataset", default="shapes", choices=DATASETS,
                       help="shapes: generated figures; digits: scikit-learn's bundled 8x8 "
                       "digits, enlarged to the input shape (default shapes)")
    group.add_argument("--eval-size", "--test-size", dest="eval_size", type=int, default=0,
                       help="held-out samples evaluated during training (default 0: none; "
                       "256 in the accuracy mode)")
    group.add_argument("--eval-every", type=int,
                       help="evaluate every N steps (default: every epoch; 25 in the accuracy "
                       "mode) and at the end")
    group.add_argument("--lr-schedule", default="constant", choices=SCHEDULES,
                       help="learning-rate schedule after the warm-up (default constant)")
    group.add_argument("--warmup-steps", type=int, default=0,
                       help="linear learning-rate warm-up steps (default 0)")
    group.add_argument("--lr-milestones", default="", metavar="STEP,STEP",
                       help="steps where the step schedule multiplies the rate by --lr-gamma")
    group.add_argument("--lr-gamma", type=float, default=0.1,
                       help="the step schedule's factor (default 0.1)")
    group.add_argument("--sparsity-dense-steps", type=int, default=0,
                       help="sparse training: dense steps before the sparsity ramp")
    group.add_argument("--sparsity-ramp-steps", type=int, default=0,
                       help="sparse training: steps over which sparsity rises linearly to "
                       "--sparsity")
    group.add_argument("--dense-layers", default="", metavar="MODULE,MODULE",
                       help="sparse training: modules whose products stay dense, e.g. "
                       "conv1,fc (the first convolution and the classifier)")
    group.add_argument("--dense-gradients", dest="sparse_gradients", action="store_false",
                       help="sparse training: output gradients stay dense (SWAT: Top-K of "
                       "weights and activations only; masks still record their Top-K)")
    group.add_argument("--stats-steps", type=int,
                       help="light statistics: value statistics at only N steps spread over "
                       "the run (and one epoch after each); confidence at every step")


def _summary(console: Console, result: RunResult, top: int) -> None:
    d = result.data
    title = f"{d['workload']} on {d['hwconfig']}"
    overrides = (d["run"].get("spec") or {}).get("overrides")
    if overrides:
        title += f" with {', '.join(overrides)}"
    if d["techniques"]:
        title += f" + {', '.join(d['techniques'])}"
    head = Table(title=title, show_header=False)
    head.add_row("total cycles", f"{d['total_cycles']:,.0f}")
    head.add_row("time", f"{d['seconds'] * 1e3:,.3f} ms at {d['clock_hz'] / 1e6:g} MHz")
    head.add_row("energy", f"{d['energy_pj']['total'] / 1e6:,.3f} uJ")
    head.add_row("MACs", f"{d['macs']:,} (issued {d['macs_issued']:,}, "
                 f"skipped {d['macs_skipped']:,})")
    head.add_row("PE utilisation", f"{d['utilization']['pe_array']:.1%} "
                 f"(array busy {d['utilization']['pe_array_busy']:.1%})")
    dram = d["dram"]
    head.add_row("DRAM traffic", f"{d['dram_bytes']['total'] / 2**20:,.1f} MiB at "
                 f"{dram['achieved_gbytes_per_s']:,.1f} GB/s (bus busy "
                 f"{d['utilization']['dram_busy']:.1%})")
    if dram["model"] == "row_buffer":
        head.add_row("DRAM model", f"{dram['preset']} banks: {dram['row_hit_rate']:.1%} "
                     f"row hits, {dram['row_visits']:,.0f} activations")
    by_class = {cls: moved["read"] + moved["written"]
                for cls, moved in d["dram_bytes_by_class"].items()}
    head.add_row("DRAM by tensor", ", ".join(f"{cls.replace('_', ' ')} "
                                             f"{nbytes / 2**20:,.1f} MiB"
                                             for cls, nbytes in by_class.items() if nbytes))
    onchip = d["onchip"]
    if onchip["policy"] != "none":
        head.add_row("on chip", f"{onchip['policy']} residency in a "
                     f"{onchip['pool_bytes'] / 2**20:,.2f} MiB pool: "
                     f"{onchip['bytes_read_on_chip'] / 2**20:,.1f} MiB read and "
                     f"{onchip['bytes_kept_on_chip'] / 2**20:,.1f} MiB kept instead of DRAM")
    fusion, prefetch = d["fusion"], d["prefetch"]
    if fusion["mode"] != "none" or prefetch["mode"] != "none":
        head.add_row("fusion, prefetch", f"{fusion['fused_gemms']} GEMMs absorbed "
                     f"{fusion['fused_ops']} element-wise ops; {prefetch['ops']} ops' first "
                     f"tiles partly prefetched ({prefetch['bytes'] / 2**20:,.1f} MiB)")
    footprint = d["dram_footprint"]
    head.add_row("DRAM footprint", f"peak {footprint['peak_bytes'] / 2**30:,.2f} GiB "
                 f"({footprint['resident_bytes'] / 2**30:,.2f} GiB resident)")
    array = d["stall_cycles_by_unit"]["pe_array"]
    head.add_row("PE array cycles", ", ".join(f"{k} {v:,.0f}" for k, v in array.items()
                                              if k != "unit_wait"))
    head.add_row("simulation", f"{d['simulation']['ops']} ops, {d['simulation']['tiles']:,} "
                 f"tiles, {d['simulation']['simpy_events']:,} events")
    console.print(head)

    phases = Table(title="phases")
    for column in ("phase", "cycles", "ops", "MACs", "DRAM MiB"):
        phases.add_column(column, justify="right")
    for phase, cycles in d["phases"].items():
        stats = d["phase_stats"][phase]
        phases.add_row(phase, f"{cycles:,.0f}", str(stats["ops"]), f"{stats['macs']:,}",
                       f"{stats['dram_bytes'] / 2**20:,.1f}")
    console.print(phases)

    ops = Table(title=f"top {top} ops by cycles")
    ops.add_column("op", no_wrap=True, min_width=24)
    for column in ("cycles", "compute", "stall", "GMACs", "DRAM MiB"):
        ops.add_column(column, justify="right", no_wrap=True)
    for row in sorted(d["ops"], key=lambda r: (-r["cycles"], r["name"]))[:top]:
        ops.add_row(row["name"], f"{row['cycles']:,.0f}", f"{row['compute_cycles']:,.0f}",
                    f"{row['stall_cycles']:,.0f}", f"{row['macs'] / 1e9:,.3f}",
                    f"{row['dram_bytes'] / 2**20:,.2f}")
    console.print(ops)
    console.print("[dim]Approximations: " + " ".join(d["approximations"]) + "[/dim]")


def _run_spec(args: argparse.Namespace):
    """The run spec the flags (and ``--spec``) describe."""
    from accelsim.spec import load_spec, spec_from_mapping
    from accelsim.techniques.chain import TechniqueSpec

    for text in args.techniques:  # errors name the flag, not a position in the spec
        TechniqueSpec.parse(text)
    base = load_spec(args.spec) if args.spec else None
    data = base.model_dump() if base is not None else {}
    flags = {"hwconfig": args.hw, "workload": args.workload, "batch": args.batch,
             "optimizer": args.optimizer, "step": args.step, "seed": args.seed,
             "phases": ([p.strip() for p in args.phases.split(",") if p.strip()]
                        if args.phases is not None else None)}
    data.update({key: value for key, value in flags.items() if value is not None})
    data["overrides"] = [*data.get("overrides", []), *args.overrides]
    data["techniques"] = [*data.get("techniques", []), *args.techniques]
    for required, flag in (("hwconfig", "--hw"), ("workload", "--workload")):
        if required not in data:
            raise AccelsimError(f"accelsim run: {flag} (or --spec naming {required}) is "
                                "required")
    if base is None:
        return spec_from_mapping(data, "command line")
    return spec_from_mapping(data, base.source, base.folder)


def _extends_chain(name: object, folder: Path) -> Iterator[Path]:
    """The file ``name`` (relative to ``folder``) and every base its ``extends:`` names, as far
    as they exist and read; the hwconfig loader reports what does not."""
    from accelsim.config.loader import read_yaml_mapping

    seen: set[Path] = set()
    while isinstance(name, str):
        path = (folder / name).resolve()
        if path in seen or not path.is_file():
            return
        seen.add(path)
        yield path
        try:
            name = read_yaml_mapping(path).get("extends")
        except ConfigError:
            return
        folder = path.parent


def _run_inputs(args: argparse.Namespace, spec) -> dict[Path, str]:
    """Every file the run reads, with what it is: no output may be written onto one."""
    inputs: dict[Path, str] = {}
    if args.spec:
        inputs[Path(args.spec)] = "the run-spec file"
    if isinstance(spec.hwconfig, str):
        files = list(_extends_chain(spec.path(spec.hwconfig), Path.cwd()))
        if files:
            inputs[files.pop(0)] = "the hwconfig file"
    else:
        files = list(_extends_chain(spec.hwconfig.get("extends"), spec.folder))
    for base in files:
        inputs.setdefault(base, "a base the hwconfig extends")
    workload = Path(spec.path(spec.workload))
    if workload.is_file():
        inputs.setdefault(workload, "the workload file")
    elif workload.is_dir():
        for path in sorted(workload.rglob("*")):
            if path.is_file():
                inputs.setdefault(path, f"a file of the workload folder {workload}")
    return inputs


def _run(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> None:
    from accelsim.api import simulate  # the engine is imported once the inputs are good
    from accelsim.outputs import check_outputs
    from accelsim.stats.scalesim_reports import report_paths, write_reports

    spec = _run_spec(args)
    folder = args.scalesim_reports
    reports = {f"--scalesim-reports ({name})": path
               for name, path in (report_paths(folder) if folder else {}).items()}
    check_outputs({"--out": args.out, "--csv": args.csv, "--timeline": args.trace_out,
                   **reports}, _run_inputs(args, spec), args.force,
                  {"--scalesim-reports": folder} if folder else None)
    from accelsim.progress import RunProgress

    errors = _console(stderr=True)
    progress = RunProgress(errors) if errors.is_terminal and not args.quiet else None
    try:
        result = simulate(spec, command=["accelsim", *argv], progress=progress,
                          keep_transfers=bool(args.trace_out or folder))
    finally:
        if progress is not None:
            progress.close()
    if args.out:
        result.write_json(args.out)
    if args.csv:
        result.write_csv(args.csv)
    if args.trace_out:
        from accelsim.stats.timeline_trace import write_trace

        write_trace(result, args.trace_out)
    if folder:
        write_reports(result, folder)
    _summary(console, result, args.top)
    if args.out:
        console.print(f"result written to {args.out}")


def _workloads(console: Console) -> None:
    from accelsim.workload.zoo import describe_zoo

    table = Table(title="model zoo (forward pass, one sample)")
    for column in ("name", "input", "parameters", "forward GMACs"):
        table.add_column(column, justify="right")
    for row in describe_zoo():
        table.add_row(row["name"], "x".join(map(str, row["input_shape"])),
                      f"{row['params']:,}", f"{row['forward_gmacs']:.3f}")
    console.print(table)


def _trace(args: argparse.Namespace, console: Console) -> None:
    from accelsim.trace import require_torch
    from accelsim.trace.factory import parse_model_args
    from accelsim.trace.options import TraceOptions, parse_shape

    from accelsim.outputs import check_trace_folder

    require_torch()
    if args.out is None:
        raise UsageError("accelsim trace: --out is required (or --numerics for the accuracy "
                         "mode)")
    check_trace_folder("--out", args.out, args.force)
    from accelsim.trace.tracer import trace
    from accelsim.trace.writer import write

    options = TraceOptions(
        model=args.model, input_shape=parse_shape(args.input), out=args.out,
        model_args=parse_model_args(args.model_args), batch=args.batch, steps=args.steps,
        classes=args.classes, train_size=args.train_size, optimizer=args.optimizer,
        lr=args.lr, sparsity=args.sparsity, sparse_training=args.sparse_training,
        stats=args.stats, stats_every=args.stats_every, mask_steps=args.mask_steps, seed=args.seed,
        name=args.name, **_convergence_options(args))
    result = trace(options)
    folder = write(result, args.out)
    summary = result.manifest["summary"]
    table = Table(title=f"traced {result.manifest['name']} -> {folder}", show_header=False)
    table.add_row("steps", f"{options.steps} of batch {options.batch} "
                  f"({options.steps_per_epoch} per epoch), {result.seconds:,.1f} s")
    table.add_row("ops", f"{summary['ops']} ({summary['gemm_ops']} GEMMs)")
    table.add_row("MACs", ", ".join(f"{phase} {macs:,}"
                                    for phase, macs in summary["macs_by_phase"].items()))
    first, last = summary["accuracy_first_last"]
    table.add_row("train accuracy", f"{first:.0%} at the first step, {last:.0%} at the last")
    confident = (result.p_max >= 0.9).mean(axis=1)
    table.add_row("confident (p_max >= 0.9)", f"{confident[0]:.0%} -> {confident[-1]:.0%}")
    table.add_row("statistics", f"{len(result.sampled)} sampled steps")
    if result.evaluations:
        table.add_row("held-out accuracy", f"{result.evaluations[0]['accuracy']:.0%} -> "
                      f"{result.evaluations[-1]['accuracy']:.0%} "
                      f"({options.eval_size} samples)")
    size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
    table.add_row("folder", f"{size / 1024:,.0f} KiB")
    console.print(table)


def _convergence_options(args: argparse.Namespace) -> dict:
    from accelsim.trace.options import parse_steps

    return {"dataset": args.dataset, "eval_size": args.eval_size, "eval_every": args.eval_every,
            "lr_schedule": args.lr_schedule, "warmup_steps": args.warmup_steps,
            "lr_milestones": parse_steps(args.lr_milestones), "lr_gamma": args.lr_gamma,
            "sparsity_dense_steps": args.sparsity_dense_steps,
            "sparsity_ramp_steps": args.sparsity_ramp_steps, "stats_steps": args.stats_steps,
            "dense_layers": tuple(n for n in args.dense_layers.split(",") if n.strip()),
            "sparse_gradients": args.sparse_gradients}


def _parameter_rows(model) -> list[tuple[str, str, str, str, str]]:
    """(name, type, default, unit, description) of each field of a pydantic model."""
    from accelsim.validation import describe_type

    rows = []
    for name, field in model.model_fields.items():
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, dict) else {}
        default = "required" if field.is_required() else repr(field.get_default(
            call_default_factory=True))
        rows.append((name, describe_type(field.annotation), default, str(extra.get("unit", "")),
                     field.description or ""))
    return rows


def _parameter_table(title: str, model) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("parameter", no_wrap=True)
    for column in ("type", "default", "unit", "description"):
        table.add_column(column, overflow="fold")
    for row in _parameter_rows(model):
        table.add_row(*row)
    return table


def _techniques(console: Console) -> None:
    from accelsim.hw.kinds import PE_ARRAY_KINDS
    from accelsim.techniques.base import TECHNIQUES

    for name in TECHNIQUES.names():
        technique = TECHNIQUES.get(name)
        kinds = ", ".join(technique.applies_to or PE_ARRAY_KINDS.names())
        console.print(f"[bold]{name}[/bold]: {technique.description} (PE-array kinds: {kinds})",
                      soft_wrap=True)
        console.print(_parameter_table(f"{name} parameters (--technique {name}:key=value,...)",
                                       technique.Params))


def _kinds(console: Console) -> None:
    from accelsim.hw.kinds import PE_ARRAY_KINDS

    for name in PE_ARRAY_KINDS.names():
        kind = PE_ARRAY_KINDS.get(name)
        console.print(f"[bold]{name}[/bold]: {kind.description}", soft_wrap=True)
        console.print(_parameter_table(f"pe_array keys of kind {name}", kind.Params))


def _package_versions() -> str:
    from importlib import metadata

    found = []
    for name in LOGGED_PACKAGES:
        try:
            found.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return ", ".join(found)


def _report_bug(error: Exception, argv: Sequence[str]) -> str:
    """Write the traceback, command line and versions to a log in the temporary folder; the
    one line that tells the user."""
    import tempfile
    import traceback
    from datetime import datetime

    from accelsim.outputs import atomic_write_text

    message = " ".join(clip(str(error), 1000).split())
    head = (f"internal error in accelsim {__version__}: {type(error).__name__}: "
            f"{clip(message, 300)}")
    log = Path(tempfile.gettempdir()) / (f"accelsim-{datetime.now():%Y%m%d-%H%M%S-%f}-"
                                         f"{os.getpid()}.log")
    text = "\n".join([
        head, f"command: {shlex.join(['accelsim', *argv])}", f"folder: {os.getcwd()}",
        f"python: {sys.version.split()[0]} on {sys.platform}", f"packages: {_package_versions()}",
        "", *traceback.format_exception(error)])
    try:
        atomic_write_text(log, text)
    except AccelsimError as failed:
        return (f"{head} (a bug: please report it with the command line; no log could be "
                f"written: {failed})")
    return f"{head} (a bug: please report it with the command line and the log {log})"


def _on_sigterm(signum, frame) -> None:
    raise _Terminated


def _dispatch(args: argparse.Namespace, console: Console, argv: Sequence[str]) -> None:
    if args.command == "run":
        _run(args, console, argv)
    elif args.command == "workloads":
        _workloads(console)
    elif args.command == "techniques":
        _techniques(console)
    elif args.command == "kinds":
        _kinds(console)
    elif args.command == "trace" and args.numerics:
        accuracy_cli.run(args, console, argv)
    elif args.command == "trace":
        _trace(args, console)
    elif args.command == "compare":
        _compare(args, console)
    elif args.command == "reproduce":
        from accelsim.reproduce.command import run
        run(args, console)
    elif hasattr(args, "handler"):
        args.handler(args, console, argv)


def _ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "only in " + ("b" if a is None else "a")
    if a == b:
        return "="
    return f"{b / a:.3f}x" if a else "new"


def _compare(args: argparse.Namespace, console: Console) -> None:
    from accelsim.compare import compare, load_result

    a, b = load_result(args.a), load_result(args.b)
    result = compare(a, b, args.top)
    title = f"a: {a['workload']} on {a['hwconfig']}   b: {b['workload']} on {b['hwconfig']}"
    totals = {"total cycles": "{:,.0f}", "seconds": "{:.6f}", "energy (uJ)": "{:,.1f}",
              "MACs issued": "{:,.0f}", "MACs skipped": "{:,.0f}", "PE utilisation": "{:.1%}",
              "DRAM MiB": "{:,.1f}"}
    for name, rows, number in (("totals", result.totals, totals),
                               ("phase cycles", result.phases, "{:,.0f}"),
                               ("energy by component (uJ)", result.energy, "{:,.1f}"),
                               ("ops whose cycles moved most", result.ops, "{:,.0f}")):
        table = Table(title=f"{name}" + (f" ({title})" if name == "totals" else ""))
        for column in ("", "a", "b", "b / a"):
            table.add_column(column, justify="right" if column else "left")
        for what, va, vb in rows:
            form = number[what] if isinstance(number, dict) else number
            table.add_row(what, "-" if va is None else form.format(va),
                          "-" if vb is None else form.format(vb), _ratio(va, vb))
        console.print(table)
    settings = Table(title="settings that differ")
    for column in ("key", "a", "b"):
        settings.add_column(column)
    for key, va, vb in result.settings:
        settings.add_row(key, str(va), str(vb))
    console.print(settings if result.settings else "settings: the same")
    if args.out:
        from accelsim.compare_report import write_comparison

        written = write_comparison(a, b, result, (args.a, args.b), args.out, args.force)
        console.print("wrote " + ", ".join(str(path) for path in written))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit code (module docstring)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        args = _parser().parse_args(argv)
        import logging

        logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                            format="%(levelname)s %(name)s: %(message)s")
        _dispatch(args, _console(), argv)
    except AccelsimError as error:
        sys.stderr.write(f"error: {clip(str(error), MAX_ERROR_TEXT)}\n")
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        sys.stderr.write("interrupted (Ctrl-C)\n")
        return EXIT_INTERRUPTED
    except _Terminated:
        sys.stderr.write("terminated (SIGTERM)\n")
        return EXIT_TERMINATED
    except Exception as error:  # noqa: BLE001 - the last resort: a bug, told in one line
        sys.stderr.write(_report_bug(error, argv) + "\n")
        return EXIT_BUG
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
    return 0
