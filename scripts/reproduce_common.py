"""What the reproduction scripts share, kept for scripts that import it: a thin wrapper over
:mod:`accelsim.reproduce.common` (runs, comparison figures, table, CSV, chart)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelsim.reproduce.common import (ACCURACY, ACCURACY_REASON, HWCONFIGS,  # noqa: E402,F401
                                       MEASURED, TRACED, WORKLOADS, arguments, chart,
                                       compare, csv_text, energy_by_component, gap,
                                       gaps_above, run, sampled_steps, table_lines,
                                       traced_batch, widths, write_csv)


def print_table(rows: list[dict], paper: dict, keys: tuple[str, ...]) -> None:
    """Ours against the paper (:func:`accelsim.reproduce.common.table_lines`), printed."""
    print("\n".join(table_lines(rows, paper, keys)))
