"""The accuracy document (``accelsim.accuracy/1``): exact and technique curves of one study.

One JSON file per workload and technique, ``workloads/accuracy/<workload>/<technique>.json``
(``accelsim trace --numerics ... --compare-exact --accuracy-out workloads/accuracy/<workload>``
writes ``<technique>.json`` in that folder). Keys:

* ``schema`` ``"accelsim.accuracy/1"``; ``workload`` (the trace's workload name); ``technique``;
  ``params`` (the emulation's parameters, defaults included); ``seed``; ``dataset`` (what was
  trained and tested on); ``steps``; ``batch``;
* ``exact`` and ``technique_run``, each ``{loss, train_accuracy}`` (one value per step; the batch
  accuracy is that of the step's forward pass, before its update) and ``{test_accuracy,
  eval_steps}`` (held-out accuracy after ``eval_steps[i]`` steps; 0 is before training);
  accuracies are fractions in [0, 1];
* ``final``: ``exact_accuracy`` and ``technique_accuracy`` (the last held-out accuracy),
  ``difference_pp`` (technique minus exact, percentage points), ``metric``;
* ``command``, ``versions``, ``approximation`` (one sentence on what the emulation
  approximates); and beyond those: ``settings`` (model, input, optimizer, learning rate, set
  sizes, evaluation interval), ``seconds`` (wall time of each run) and ``emulation`` (what the
  emulation did over the run, e.g. ACRTC's k by step).
"""

from __future__ import annotations

import json
import platform
from pathlib import Path

from accelsim import __version__
from accelsim.errors import OutputError
from accelsim.outputs import atomic_write_text, prepare_folder

SCHEMA = "accelsim.accuracy/1"
METRIC = "held-out accuracy over the last evaluation"


def document(*, workload: str, technique: str, params: dict, seed: int, dataset: str,
             steps: int, batch: int, exact, run, command: str, versions: dict,
             approximation: str, settings: dict, emulation: dict) -> dict:
    e, t = exact.test_accuracy[-1], run.test_accuracy[-1]
    return {
        "schema": SCHEMA, "workload": workload, "technique": technique, "params": params,
        "seed": seed, "dataset": dataset, "steps": steps, "batch": batch,
        "exact": exact.as_dict(), "technique_run": run.as_dict(),
        "final": {"exact_accuracy": e, "technique_accuracy": t,
                  "difference_pp": round(100.0 * (t - e), 6), "metric": METRIC},
        "command": command, "versions": versions, "approximation": approximation,
        "settings": settings,
        "seconds": {"exact": round(exact.seconds, 1), "technique_run": round(run.seconds, 1)},
        "emulation": emulation,
    }


def versions(torch) -> dict:
    import numpy

    return {"accelsim": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}


def _is_accuracy_document(path: Path) -> bool:
    try:
        return json.loads(path.read_text()).get("schema") == SCHEMA
    except (OSError, ValueError, AttributeError):
        return False


def output_path(folder: str | Path, technique: str, force: bool) -> Path:
    """``folder/<technique>.json``, refused (before training) if it would replace a file that
    is not an earlier accuracy document (unless ``force``) or cannot be written."""
    target = prepare_folder("--accuracy-out", folder) / f"{technique}.json"
    if target.is_dir():
        raise OutputError("--accuracy-out", str(target), "a file path, not an existing folder")
    if target.exists() and not force and not _is_accuracy_document(target):
        raise OutputError("--accuracy-out", str(target), "a new file or an earlier accuracy "
                          "document (this existing file is neither; pass --force to replace "
                          "it)")
    return target


def write(path: Path, doc: dict) -> None:
    atomic_write_text(path, json.dumps(doc, indent=1) + "\n")


#: Keys every accuracy document has, and the keys of each run's curves.
KEYS = ("schema", "workload", "technique", "params", "seed", "dataset", "steps", "batch",
        "exact", "technique_run", "final", "command", "versions", "approximation")
CURVES = ("loss", "train_accuracy", "test_accuracy", "eval_steps")


def load(path: str | Path) -> dict:
    """An accuracy document (torch-free), checked: the schema, every key, one loss and batch
    accuracy per step and one held-out accuracy per evaluation in each run; else one
    :class:`~accelsim.errors.WorkloadError` naming the file and the key."""
    from accelsim.errors import WorkloadError

    path = Path(path)
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise WorkloadError(str(path), "", f"an {SCHEMA} JSON document",
                            got=type(error).__name__) from None
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise WorkloadError(str(path), "schema", f"{SCHEMA!r}",
                            got=doc.get("schema") if isinstance(doc, dict) else "not a mapping")
    for key in KEYS:
        if key not in doc:
            raise WorkloadError(str(path), key, "present (see accelsim.trace.numerics.report)")
    for run in ("exact", "technique_run"):
        curves = doc[run]
        missing = [k for k in CURVES if not isinstance(curves, dict) or k not in curves]
        if missing:
            raise WorkloadError(str(path), f"{run}.{missing[0]}", "present")
        if not len(curves["loss"]) == len(curves["train_accuracy"]) == doc["steps"]:
            raise WorkloadError(str(path), f"{run}.loss", f"one value per step ({doc['steps']})",
                                got=len(curves["loss"]))
        if len(curves["test_accuracy"]) != len(curves["eval_steps"]):
            raise WorkloadError(str(path), f"{run}.test_accuracy", "one value per evaluation "
                                f"({len(curves['eval_steps'])})", got=len(curves["test_accuracy"]))
    return doc
