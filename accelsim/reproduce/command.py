"""``accelsim reproduce [ant|acrtc|daa|mquans|confidence_skip|all]``, and the entry point of the
reproduction scripts (the command-line layer: the one part of the package that prints).

Each technique's reproduction (:mod:`accelsim.reproduce.ant`, ``acrtc``, ``daa``, ``mquans``,
``confidence_skip``) runs with its defaults (``--quick``: its reduced set) and writes its own
report (``report.txt``), CSV and figure into ``--out/<technique>``; the command prints one
table of every technique run beside the papers' figures (:mod:`accelsim.reproduce.summary`),
the accuracy column's footnotes, every difference above 20% with its explanation and, for
``all``, the stacks of techniques that make sense together and the pairs that do not. It
writes ``reproduction.csv`` and ``reproduction.png`` into ``--out``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from accelsim.errors import AccelsimError, ConfigError

TECHNIQUES = ("ant", "acrtc", "daa", "mquans", "confidence_skip")


def add_parser(commands) -> None:
    """Register ``reproduce`` on the CLI's subcommands."""
    parser = commands.add_parser(
        "reproduce", help="reproduce the techniques' papers: one table beside the published "
        "figures",
        description="Run the reproduction of one technique (or all, with the stacks that make "
        "sense together) and print one table of our speedup, energy saving and accuracy "
        "difference beside the papers' figures; writes CSV and a figure.")
    parser.add_argument("technique", choices=(*TECHNIQUES, "all"))
    parser.add_argument("--out", default=str(Path("out") / "reproduce"),
                        help="output folder (default: out/reproduce in the current folder)")
    parser.add_argument("--quick", action="store_true", help="tiny settings: each "
                        "technique's reduced set (traced mlp; ANT: ResNet-18 at batch 1)")
    parser.add_argument("--jobs", type=int, default=2, help="parallel simulations")


def technique_argv(name: str, out: Path, quick: bool, jobs: int) -> list[str]:
    """The options of one technique's reproduction under ``accelsim reproduce``."""
    argv = ["--out", str(out / name), "--jobs", str(jobs)]
    if name == "ant":
        return argv + (["--networks", "resnet18", "--batch", "1"] if quick else [])
    return argv + (["--quick"] if quick else [])


def run(args: argparse.Namespace, console) -> None:
    """The command (module docstring)."""
    from accelsim.outputs import atomic_write_text
    from accelsim.reproduce import summary
    from accelsim.reproduce.common import ready, run as simulate

    if args.jobs < 1:
        raise ConfigError("--jobs", "", "at least 1 parallel simulation", got=args.jobs)
    out = ready(args.out)
    names = TECHNIQUES if args.technique == "all" else (args.technique,)
    started = time.monotonic()
    entries, explanations, files = [], {}, []
    for name in names:
        module = importlib.import_module(f"accelsim.reproduce.{name}")
        options = module.parser().parse_args(technique_argv(name, out, args.quick, args.jobs))
        lines: list[str] = []
        outcome = module.reproduce(options, lines.append)
        report = Path(options.out) / "report.txt"
        atomic_write_text(report, "\n".join(lines) + "\n")
        entries += summary.entries(name, outcome)
        explanations[name] = outcome.explanations
        files += [report, *outcome.files]
        console.print(f"{name}: {outcome.simulations} simulations in {outcome.seconds:.0f} s "
                      f"(report: {report})", markup=False, highlight=False, soft_wrap=True)
    stacks = []
    if args.technique == "all":
        chosen = [summary.Stack(s.techniques, s.hw, "mlp" if args.quick else s.workload, s.why)
                  for s in summary.STACKS]
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = {(i, k): pool.submit(simulate, s.hw, s.workload, k)
                       for i, s in enumerate(chosen) for k in summary.stack_runs(s)}
            results = {key: f.result() for key, f in futures.items()}
        for i, s in enumerate(chosen):
            runs = [results[(i, k)] for k in summary.stack_runs(s)]
            stacks.append(summary.stack_row(s, runs[0], runs[1:-1], runs[-1]))

    def say(text: str = "") -> None:
        console.print(text, markup=False, highlight=False, soft_wrap=True)

    say("\nReproductions on one engine: ours beside the papers' figures")
    for line in summary.table_text(entries):
        say(line)
    say("Papers: " + "; ".join(f"{name}: {summary.paper(name)['paper']}" for name in names))
    say("\nAccuracy difference:")
    for note in dict.fromkeys(f"{e['technique']}, {e['workload']}: {e['accuracy']}: "
                              f"{e['accuracy_note']}" for e in entries):
        say(f"  {note}")
    gapped = [name for name in names if any(e["gap"] for e in entries
                                            if e["technique"] == name)]
    if gapped:
        say("\nDifferences from the papers above 20%, and why:")
        for name in gapped:
            for line in explanations[name]:
                say(f"- [{name}] {line}")
    if stacks:
        say("\nStacks (techniques applied in the order named, one chain):")
        for line in summary.stack_lines(stacks):
            say(f"- {line}")
        say("\nNot stacked:")
        for pair, why in summary.NOT_STACKED:
            say(f"- {pair}: {why}")
    summary.write_csv(out / "reproduction.csv", entries, stacks)
    summary.figure(out / "reproduction.png", entries)
    say(f"\n{time.monotonic() - started:.0f} s; wrote {out / 'reproduction.csv'}, "
        f"{out / 'reproduction.png'} and, per technique, {len(files)} files under {out}")


def script_main(module, argv: list[str] | None = None) -> int:
    """A reproduction script: its options, its report printed, exit code 2 on bad input."""
    args = module.parser().parse_args(argv)
    try:
        module.reproduce(args, print)
    except AccelsimError as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    return 0
