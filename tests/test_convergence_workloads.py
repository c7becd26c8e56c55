"""The shipped convergence traces (workloads/traced/): per-sample confidence over a whole run
to a training-accuracy plateau, held-out evaluations, and a SWAT-style sparse run that learns
with its Top-K masks stored. Read without torch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from accelsim.workload.traced import load_traced
from tests.conftest import ROOT

TRACED = ROOT / "workloads" / "traced"
CONVERGENCE = ("resnet18_cifar_converge", "mlp_digits", "resnet18_cifar_swat")


def shipped(name: str):
    folder = TRACED / name
    if not folder.is_dir():
        pytest.skip(f"{name} is not shipped")
    return folder, json.loads((folder / "manifest.json").read_text()), load_traced(folder)


@pytest.mark.parametrize("name", CONVERGENCE)
def test_confidence_covers_the_run_to_a_plateau(name):
    folder, manifest, workload = shipped(name)
    stats = workload.value_stats
    confidence = stats.data["confidence"]
    assert confidence["steps"] == manifest["steps"]
    epochs = manifest["steps"] // manifest["steps_per_epoch"]
    assert epochs >= 10
    accuracy = np.asarray(confidence["accuracy"])
    last_epoch = accuracy[-manifest["steps_per_epoch"]:].mean()
    assert accuracy[:manifest["steps_per_epoch"]].mean() < 0.8 < last_epoch
    held = stats.data["held_out"]
    assert held["step"][-1] == manifest["steps"] - 1
    assert held["accuracy"][-1] > 0.5  # 10 classes: chance is 0.1
    assert stats.confidence(manifest["steps"] - 1)["p_true"].shape == (manifest["batch"],)
    assert sum(f.stat().st_size for f in folder.iterdir()) < 3_000_000


def test_sparse_run_ramps_and_stores_masks():
    _, manifest, workload = shipped("resnet18_cifar_swat")
    stats = workload.value_stats
    schedule = manifest["training"]["sparsity_schedule"]
    sparsity = stats.data["sparsity"]
    assert sparsity[:schedule["dense_steps"]] == [0.0] * schedule["dense_steps"]
    assert sparsity[-1] == manifest["training"]["sparsity"] == 0.9
    masks = {tuple(entry["steps"]) for layer in stats.data["layers"].values()
             for entry in layer.get("masks", {}).values()}
    assert masks and all(len(steps) == 3 and steps[-1] == manifest["steps"] - 1
                         for steps in masks)
    # the masks of the last step are 90% Top-K: about a tenth of x's values are kept
    x = stats.masks("layer2.0.conv1", "x")[0]
    assert 0.05 < x.mean() < 0.15
