"""Reproduce DAA (Kurzum, Shomron, Gabbay, Weiser, IEEE CAL 2023) on a systolic baseline.

    python scripts/reproduce_daa.py                  # both traced workloads, ./out/daa
    python scripts/reproduce_daa.py --quick --out /tmp/daa   # traced mlp only

A thin wrapper: the reproduction is :mod:`accelsim.reproduce.daa` (its docstring has the
model, the outputs and the figures); ``accelsim reproduce daa`` runs the same with the other
techniques' table beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelsim.reproduce import daa  # noqa: E402
from accelsim.reproduce.command import script_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(script_main(daa))
