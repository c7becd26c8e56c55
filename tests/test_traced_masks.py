"""Outer-product figures from a traced workload's Top-K masks, or the density fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.hw.outer_product import op_geometry, traced_masks
from accelsim.hw.rcp import count_exact
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueChain
from accelsim.workload.traced import load_traced
from tests.conftest import HWCONFIGS

RESNET = Path(__file__).resolve().parents[1] / "workloads" / "traced" / "resnet18_cifar"
WGRAD = "layer2.0.conv1.bwd_weight"


def run(with_stats: bool, techniques=("ant",)) -> dict:
    workload = load_traced(RESNET)
    if not with_stats:
        workload.value_stats = None
    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml")
    return Simulation(config, workload, TechniqueChain.from_names(techniques)).run().data


@pytest.fixture(scope="module")
def traced():
    return run(True)


@pytest.fixture(scope="module")
def fallback():
    return run(False)


def rows(result: dict) -> dict[str, dict]:
    return {row["name"]: row for row in result["ops"] if "mask_source" in row}


def test_convolutions_use_the_traced_masks(traced):
    """Every convolution of the traced ResNet-18 uses its layer's masks; the classifier
    (a matrix product, masks not whole planes) falls back to densities; the run counts both."""
    by_name = rows(traced)
    sources = {name: row["mask_source"] for name, row in by_name.items()}
    assert {s for n, s in sources.items() if not n.startswith("fc.")} == {"traced"}
    assert {s for n, s in sources.items() if n.startswith("fc.")} == {"density"}
    assert traced["mask_sources"] == {"traced": sum(s == "traced" for s in sources.values()),
                                      "density": sum(s == "density" for s in sources.values())}


def test_fallback_says_density(fallback):
    assert {row["mask_source"] for row in rows(fallback).values()} == {"density"}
    assert fallback["mask_sources"] == {"density": len(rows(fallback))}


@pytest.mark.parametrize("which", ["traced", "fallback"])
def test_products_add_up_and_macs_are_invariant(which, request):
    result = request.getfixturevalue(which)
    for row in rows(result).values():
        assert row["products_valid"] + row["rcps"] == row["products_issued"]
        assert row["macs"] == row["products_valid"]
        assert 0 <= row["rcps_anticipated"] <= row["rcps"]
    assert result["macs_issued"] + result["macs_skipped"] == result["macs"]
    assert result["macs"] == load_traced(RESNET).macs


def test_traced_figures_differ_from_the_fallback(traced, fallback):
    """Real masks are not random masks of a density: products, RCPs, anticipation and time
    all move; the weight gradient stays mostly RCPs either way."""
    ours, theirs = rows(traced)[WGRAD], rows(fallback)[WGRAD]
    for key in ("products_issued", "rcps", "rcps_anticipated", "compute_cycles"):
        assert ours[key] != theirs[key], key
    assert ours["rcps"] / ours["products_issued"] > 0.9
    assert traced["total_cycles"] != fallback["total_cycles"]
    assert (traced["technique_stats"]["ant"]["anticipated_fraction"]
            != fallback["technique_stats"]["ant"]["anticipated_fraction"])


def test_valid_products_are_counted_exactly_on_the_sampled_masks():
    """The per-pair counts are the exact counts of the layer's masks (x against dy of the same
    image for a weight gradient), and the densities those of the masks."""
    workload = load_traced(RESNET)
    stats = workload.value_stats
    op = workload.op(WGRAD)
    geom = op_geometry(op)
    masks = traced_masks(stats, op.layer, geom)
    x, _ = stats.masks(op.layer, "x")
    dy, _ = stats.masks(op.layer, "dy")
    counts = count_exact(x[:, :, None], dy[:, None], geom.axes)  # (images, C, K)
    assert masks.per_pair.issued == pytest.approx(counts.issued.mean())
    assert masks.per_pair.valid == pytest.approx(counts.valid.mean())
    assert masks.density_a == pytest.approx(x.mean())
    assert masks.density_b == pytest.approx(dy.mean())
    assert traced_masks(None, op.layer, geom) is None
    assert traced_masks(stats, "fc", op_geometry(workload.op("fc.fwd"))) is None


def test_plane_pairs_line_up_by_phase():
    """A and B planes per phase: forward x[i, c] meets w[:, c]; backward-data dy[i, k] meets
    w[k]; backward-weight x[i, c] meets dy[i] (planes image-major)."""
    workload = load_traced(RESNET)
    stats = workload.value_stats
    layer = "layer2.0.conv1"
    x, dy, w = (stats.masks(layer, role)[0] for role in ("x", "dy", "w"))
    images, channels = x.shape[:2]
    pick = (images - 1) * channels + 3  # last image, channel 3
    expected = {"fwd": (x[-1, 3], w[:, 3]), "bwd_data": (dy[-1, 3], w[3]),
                "bwd_weight": (x[-1, 3], dy[-1])}
    for phase, (a, b) in expected.items():
        masks = traced_masks(stats, layer, op_geometry(workload.op(f"{layer}.{phase}")))
        assert len(masks.a) == images * channels
        assert np.array_equal(masks.a[pick], a) and np.array_equal(masks.b[pick], b), phase
