"""Reproduce ANT (Lew et al., ISCA 2022) on the SCNN-like outer-product baseline.

    python scripts/reproduce_ant.py                       # five networks, batch 2, ./out/ant
    python scripts/reproduce_ant.py --networks resnet18 --batch 1 --out /tmp/ant

A thin wrapper: the reproduction is :mod:`accelsim.reproduce.ant` (its docstring has the
model, the outputs and the figures); ``accelsim reproduce ant`` runs the same with the other
techniques' table beside it.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from accelsim.reproduce import ant  # noqa: E402
from accelsim.reproduce.command import script_main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(script_main(ant))
