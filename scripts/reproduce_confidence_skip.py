"""Reproduce confidence-based gradient skipping (Shin, Kim, Jo, Park, DAC 2020) over a traced run.

    python scripts/reproduce_confidence_skip.py                  # both traced workloads, ./out/confidence_skip
    python scripts/reproduce_confidence_skip.py --quick --out /tmp/confidence_skip   # traced mlp only

A thin wrapper: the reproduction is :mod:`accelsim.reproduce.confidence_skip` (its docstring has the
model, the outputs and the figures); ``accelsim reproduce confidence_skip`` runs the same with the other
techniques' table beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelsim.reproduce import confidence_skip  # noqa: E402
from accelsim.reproduce.command import script_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(script_main(confidence_skip))
