"""What the study scripts share: one simulation by hwconfig path and overrides, the output
folder check, and writing a matplotlib figure atomically."""

from __future__ import annotations

import io
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from accelsim.config.loader import load_hwconfig  # noqa: E402
from accelsim.errors import AccelsimError  # noqa: E402
from accelsim.outputs import atomic_write_bytes, study_folder  # noqa: E402
from accelsim.sim.engine import Simulation  # noqa: E402
from accelsim.workload.loader import load_workload  # noqa: E402
from accelsim.workload.training import TrainingOptions  # noqa: E402


def simulate(hw: str, workload: str, batch: int, overrides: tuple[str, ...]) -> dict:
    """The result of one training iteration of ``workload`` on ``hw`` with ``--set``-style
    overrides."""
    config = load_hwconfig(hw, overrides)
    options = TrainingOptions(batch=batch, element_bytes=config.element_bytes)
    return Simulation(config, load_workload(workload, options)).run().data


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


def write_figure(fig, path: Path) -> None:
    """Write ``fig`` as a PNG, atomically, and close it."""
    import matplotlib.pyplot as plt

    fig.tight_layout()
    image = io.BytesIO()
    fig.savefig(image, format="png", dpi=120)
    plt.close(fig)
    atomic_write_bytes(path, image.getvalue())
