"""Resolves a workload reference (a zoo name or a file) to the workload of a training iteration.

A reference is a zoo network name (see :mod:`accelsim.workload.zoo`), a YAML workload file
(``.yaml`` / ``.yml``, see :mod:`accelsim.workload.io`), a SCALE-Sim topology file (``.csv``,
see :mod:`accelsim.workload.scalesim_csv`) or a traced workload folder holding a
``manifest.json`` (see :mod:`accelsim.workload.traced`). A zoo name wins over a file of the same
name. A traced workload's batch is the traced one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.workload.graph import Workload
from accelsim.workload.io import load_network
from accelsim.workload.scalesim_csv import scalesim_workload
from accelsim.workload.traced import is_traced_folder, load_traced
from accelsim.workload.training import TrainingOptions, training_iteration
from accelsim.workload.zoo import ZOO

#: Batch when none is given: SCALE-Sim topologies are per sample; networks train in batches.
SCALESIM_BATCH = 1
NETWORK_BATCH = 32
YAML_SUFFIXES = (".yaml", ".yml")
CSV_SUFFIXES = (".csv",)


def load_workload(ref: str, options: TrainingOptions | None = None,
                  phases: Iterable[str] | None = None) -> Workload:
    """One training iteration of ``ref`` with ``options``, keeping only ``phases`` if given."""
    options = options or TrainingOptions()
    builder = ZOO.get(ref)
    if builder is None and is_traced_folder(ref):
        workload = load_traced(ref, options)
        return workload if phases is None else workload.only_phases(phases)
    suffix = Path(ref).suffix.lower()
    if options.batch is None:
        default = SCALESIM_BATCH if suffix in CSV_SUFFIXES and builder is None else NETWORK_BATCH
        options = replace(options, batch=default)
    if builder is not None:
        workload = training_iteration(builder(), options, source=f"zoo:{ref}")
    elif suffix in YAML_SUFFIXES:
        workload = training_iteration(load_network(ref), options, source=ref)
    elif suffix in CSV_SUFFIXES:
        workload = scalesim_workload(ref, options)
    else:
        raise WorkloadError(ref, "", "a zoo network name or a workload file ("
                            + ", ".join(YAML_SUFFIXES + CSV_SUFFIXES) + ")",
                            choices=ZOO.names())
    return workload if phases is None else workload.only_phases(phases)
