"""Reproduce ACRTC (Servais and Atoofian, ACM TECS 2021) on the V100-like tensor-core baseline.

    python scripts/reproduce_acrtc.py                    # both traced workloads, ./out/acrtc
    python scripts/reproduce_acrtc.py --quick --out /tmp/acrtc   # mlp, last step, default only

A thin wrapper: the reproduction is :mod:`accelsim.reproduce.acrtc` (its docstring has the
model, the outputs and the figures); ``accelsim reproduce acrtc`` runs the same with the other
techniques' table beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelsim.reproduce import acrtc  # noqa: E402
from accelsim.reproduce.command import script_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(script_main(acrtc))
