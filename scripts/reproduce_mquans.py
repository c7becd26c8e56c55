"""Reproduce Mquans (Qi, Wang, Zhu, Zhang, ICA3PP 2019) on a systolic and a tensor-core baseline.

    python scripts/reproduce_mquans.py                   # both traced workloads, ./out/mquans
    python scripts/reproduce_mquans.py --quick --out /tmp/mquans   # mlp, 6/4 bits only

A thin wrapper: the reproduction is :mod:`accelsim.reproduce.mquans` (its docstring has the
model, the outputs and the figures); ``accelsim reproduce mquans`` runs the same with the other
techniques' table beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelsim.reproduce import mquans  # noqa: E402
from accelsim.reproduce.command import script_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(script_main(mquans))
