"""The accuracy column of the reproductions: measured differences from accuracy files.

An accuracy file ``workloads/accuracy/<workload>/<technique>.json`` (schema
``accelsim.accuracy/1``, written by the accuracy-side training mode) holds the training curves
of an exact run and of a run with the technique's numerics applied, and ``final``:
``exact_accuracy``, ``technique_accuracy``, ``difference_pp`` (percentage points) and
``metric``; ``approximation`` says how the technique's numerics were applied. When the file
exists for the workload and the technique, the column shows ``final.difference_pp`` and a
footnote with the file's ``approximation``; otherwise it says "not measured" and why. A row
whose setting gives a technique parameter another value than the study ran with (Mquans at
4/2 bits beside a study at 6/4) is "not measured" too: the study does not describe it. A file
that exists but does not follow the schema is an error naming it and the key.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.reproduce.common import ROOT

ACCURACY_FOLDER = ROOT / "workloads" / "accuracy"
SCHEMA = "accelsim.accuracy/1"
#: At most this many bytes are read from an accuracy file (curves of a long run fit easily).
MAX_BYTES = 16 * 2**20


@dataclass(frozen=True)
class Accuracy:
    """One cell of the accuracy column: ``text`` to show, the difference in percentage points
    (None when not measured), and the footnote (the approximation and the file, or why it is
    not measured)."""

    text: str
    difference_pp: float | None
    note: str


def accuracy_file(workload: str, technique: str, folder: Path | None = None) -> Path:
    """Where the accuracy file of ``technique`` on ``workload`` is (``folder``: default
    :data:`ACCURACY_FOLDER`, read when called)."""
    return (folder if folder is not None else ACCURACY_FOLDER) / workload / f"{technique}.json"


def read_accuracy(workload: str, technique: str, folder: Path | None = None,
                  unmeasured: str = "no accuracy file", setting: str | None = None
                  ) -> Accuracy:
    """The measured accuracy difference of ``technique`` on ``workload``, or "not measured"
    with ``unmeasured`` as the reason when the file does not exist. ``setting``: the row's
    ``--technique`` text; a parameter it sets to another value than the study's makes the
    row "not measured"."""
    path = accuracy_file(workload, technique, folder)
    if not path.is_file():
        return Accuracy("not measured", None, f"{unmeasured} ({path} does not exist)")
    source = str(path)
    if path.stat().st_size > MAX_BYTES:
        raise WorkloadError(source, "", f"an accuracy file of at most {MAX_BYTES} bytes")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise WorkloadError(source, "", f"a JSON accuracy file ({SCHEMA})",
                            got=str(error)) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise WorkloadError(source, "schema", f"{SCHEMA!r}",
                            got=data.get("schema") if isinstance(data, dict) else type(data))
    for key, expected in (("workload", workload), ("technique", technique)):
        if data.get(key) != expected:
            raise WorkloadError(source, key, f"{expected!r} (the file's folder and name)",
                                got=data.get(key))
    final = data.get("final")
    if not isinstance(final, dict):
        raise WorkloadError(source, "final", "a mapping with difference_pp and metric")
    difference = final.get("difference_pp")
    if isinstance(difference, bool) or not isinstance(difference, (int, float)) \
            or not math.isfinite(difference):
        raise WorkloadError(source, "final.difference_pp", "a finite number (percentage "
                            "points)", got=difference)
    approximation = data.get("approximation")
    if not isinstance(approximation, str) or not approximation.strip():
        raise WorkloadError(source, "approximation", "a text saying how the technique's "
                            "numerics were applied", got=approximation)
    differing = _differing_params(data.get("params"), setting)
    if differing:
        return Accuracy("not measured", None, f"the study ({path}) ran {differing}")
    metric = final.get("metric", "accuracy")
    return Accuracy(f"{difference:+.2f} pp", float(difference),
                    f"{metric}, {approximation} ({path})")


def _differing_params(studied: object, setting: str | None) -> str:
    """``key=study's value, not the row's`` for each parameter both name with other values."""
    if setting is None or not isinstance(studied, dict):
        return ""
    from accelsim.techniques.chain import TechniqueSpec

    _, params = TechniqueSpec.split(setting)
    return ", ".join(f"{key}={studied[key]} (this row: {value})"
                     for key, value in params.items()
                     if key in studied and studied[key] != value)


def accuracy_notes(workloads: list[str], technique: str, folder: Path | None = None
                   ) -> list[str]:
    """The accuracy column's footnotes: per workload, its figure and where it comes from (the
    file's approximation), or why it is not measured."""
    notes = []
    for workload in workloads:
        found = read_accuracy(workload, technique, folder)
        notes.append(f"accuracy difference, {workload}: {found.text}: {found.note}")
    return notes
