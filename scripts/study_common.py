"""What the study scripts share: one simulation by hwconfig path and overrides, the output
folder check, and writing a matplotlib figure atomically (over :mod:`accelsim.reproduce.common`)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelsim.errors import AccelsimError  # noqa: E402
from accelsim.outputs import study_folder  # noqa: E402
from accelsim.reproduce.common import simulate_zoo, write_figure  # noqa: E402,F401


def simulate(hw: str, workload: str, batch: int, overrides: tuple[str, ...]) -> dict:
    """The result of one training iteration of ``workload`` on ``hw`` with ``--set``-style
    overrides."""
    return simulate_zoo(hw, workload, batch, (), overrides)


def ready(out: str) -> Path:
    """The output folder (:func:`accelsim.outputs.study_folder`), or one line and exit 2."""
    try:
        return study_folder(out)
    except AccelsimError as error:
        sys.stderr.write(f"error: {error}\n")
        raise SystemExit(2) from None


def save_figure(fig, ax, path: Path, xlabel: str, ylabel: str, title: str,
                grid: bool = True) -> None:
    """Label, legend, grid and write one figure."""
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend()
    if grid:
        ax.grid(True, which="both", alpha=0.3)
    write_figure(fig, path)
