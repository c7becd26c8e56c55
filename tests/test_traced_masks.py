"""Outer-product figures from a traced workload's Top-K masks, or the density fallback."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.hw.kinds.outer_product.model import op_geometry, traced_masks
from accelsim.sim.engine import Simulation
from accelsim.techniques.chain import TechniqueSpec
from accelsim.workload.traced import load_traced
from tests.conftest import HWCONFIGS

RESNET = Path(__file__).resolve().parents[1] / "workloads" / "traced" / "resnet18_cifar"
WGRAD = "layer2.0.conv1.bwd_weight"
BATCH = 32  # the traced workload's batch (workloads/traced/resnet18_cifar, --batch 32)
DENSITY = 0.1  # scnn_like.yaml's pe_array.operand_density: the fallback's mask density


def pair_counts(a_plane: np.ndarray, b_plane: np.ndarray, phase: str, g: dict
                ) -> tuple[int, int]:
    """Brute-force reference: (products issued, products valid) of one plane pair, one
    product at a time. Every non-zero of A (coordinate x on an axis) meets every non-zero of
    B (coordinate u); the output coordinate on each axis is, with stride s and padding p (the
    table in rcp.py's docstring): fwd (A = x, B = w tap r) o = (x - r + p) / s in [0, Wo);
    bwd_data (A = dy at q, B = w tap r) o = q*s + r - p in [0, W); bwd_weight (A = x,
    B = dy at q) o = x - q*s + p in [0, R). A product is valid iff o is an integer inside the
    range on both axes."""
    s, p = int(g["stride"]), int(g["pad"])

    def on_axis(x: int, u: int, size: int, kernel: int, out: int) -> bool:
        if phase == "fwd":
            return (x - u + p) % s == 0 and 0 <= (x - u + p) // s < out
        if phase == "bwd_data":
            return 0 <= x * s + u - p < size
        return 0 <= x - u * s + p < kernel

    a = [(int(h), int(w)) for h, w in zip(*np.nonzero(a_plane))]
    b = [(int(h), int(w)) for h, w in zip(*np.nonzero(b_plane))]
    valid = 0
    for xh, xw in a:
        for uh, uw in b:
            if (on_axis(xh, uh, g["h"], g["r"], g["ho"])
                    and on_axis(xw, uw, g["w"], g["s"], g["wo"])):
                valid += 1
    return len(a) * len(b), valid


def sampled_pairs(stats, layer: str, phase: str):
    """The sampled plane pairs of a convolution's phase, from the layer's stored masks: forward
    x[i, c] meets w[k, c]; backward-data dy[i, k] meets w[k, c]; backward-weight x[i, c] meets
    dy[i, k] of the same image (every sampled image i, channel c, output channel k)."""
    x, dy, w = (stats.masks(layer, role)[0] for role in ("x", "dy", "w"))
    images, channels, outputs = x.shape[0], x.shape[1], dy.shape[1]
    for i in range(images):
        for c in range(channels):
            for k in range(outputs):
                yield {"fwd": (x[i, c], w[k, c]), "bwd_data": (dy[i, k], w[k, c]),
                       "bwd_weight": (x[i, c], dy[i, k])}[phase]


def reference_totals(workload, layer: str, phase: str) -> tuple[int, int, int]:
    """(plane pairs, products issued, products valid) summed over the sampled plane pairs."""
    g = workload.op(f"{layer}.{phase}").attrs
    pairs = issued = valid = 0
    for a, b in sampled_pairs(workload.value_stats, layer, phase):
        i, v = pair_counts(a, b, phase, g)
        pairs, issued, valid = pairs + 1, issued + i, valid + v
    return pairs, issued, valid


def dense_gemm_macs(op) -> int:
    """An op's dense MACs from the README's GEMM table: conv fwd (B*Ho*Wo) x Cout x (Cin*R*S),
    bwd_weight Cout x (Cin*R*S) x (B*Ho*Wo), bwd_data the same count B*Ho*Wo*Cin*Cout*R*S
    ((B*H*W) x Cin x (Cout*R*S) with H*W = Ho*Wo for the stride-1 "same" convs, the col2im
    GEMM (B*Ho*Wo) x (Cin*R*S) x Cout for the stride-2 ones); linear B x out x in in every
    phase."""
    g = op.attrs
    if op.kind == "linear":
        return BATCH * g["tokens"] * g["in_features"] * g["out_features"]
    return BATCH * g["cin"] * g["cout"] * g["r"] * g["s"] * g["ho"] * g["wo"]


def run(with_stats: bool, techniques=("ant",)) -> dict:
    workload = load_traced(RESNET)
    if not with_stats:
        workload.value_stats = None
    config = load_hwconfig(HWCONFIGS / "scnn_like.yaml")
    specs = [TechniqueSpec.parse(text) for text in techniques]
    return Simulation(config, workload, specs).run().data


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
    (a matrix product, masks not whole planes) falls back to densities; the run counts both.
    Hand count: 20 convolutions (the stem, 4 in stage 1, 5 in each of stages 2-4 with the
    downsample) give 20 fwd + 19 bwd_data (none for the stem) + 20 bwd_weight = 59 traced
    ops; the fc's fwd, bwd_data and bwd_weight are 3 density ops."""
    by_name = rows(traced)
    sources = {name: row["mask_source"] for name, row in by_name.items()}
    assert {s for n, s in sources.items() if not n.startswith("fc.")} == {"traced"}
    assert {s for n, s in sources.items() if n.startswith("fc.")} == {"density"}
    assert traced["mask_sources"] == {"traced": 59, "density": 3}


def test_fallback_says_density(fallback):
    """Without value statistics every outer-product op takes the density fallback."""
    assert {row["mask_source"] for row in rows(fallback).values()} == {"density"}
    assert fallback["mask_sources"] == {"density": 59 + 3}  # as counted for the traced run


@pytest.mark.parametrize("which", ["traced", "fallback"])
def test_macs_done_and_skipped_cover_the_dense_gemm(which, request):
    """For every GEMM op, the MACs done plus those skipped (zero operands and RCPs) are the
    dense GEMM's MACs, computed by hand from the layer's geometry and the README's GEMM table;
    ANT anticipates only RCPs."""
    result = request.getfixturevalue(which)
    workload = load_traced(RESNET)
    by_name = rows(result)
    assert set(by_name) == {op.name for op in workload.ops() if op.gemm is not None}
    for name, row in by_name.items():
        assert row["macs"] + row["macs_skipped"] == dense_gemm_macs(workload.op(name)), name
        assert 0 <= row["rcps_anticipated"] <= row["rcps"], name


def test_weight_gradient_traced_masks_versus_density_fallback(traced, fallback):
    """Real masks are not random masks of a density. Weight gradient of layer2.0.conv1
    (x 32x32 against dy 16x16, stride 2, pad 1, 64 x 128 channels, batch 32):

    * traced: products issued and valid are the brute-force counts over the sampled plane
      pairs, scaled to the op's 32*64*128 plane pairs (per-pair mean times plane pairs);
    * fallback: the expectation for independent masks of density 0.1: issued per pair
      0.1*32*32 * 0.1*16*16 = 2621.44; valid per pair 0.1^2 * 47^2 = 22.09, with 47 valid
      (x, q) pairs per axis counted by hand (0 <= x - 2q + 1 < 3: x in {0, 1} for q = 0,
      three values of x for each q = 1..15); each tile rounds to whole products, so the op
      may differ by at most half a product per tile.
    """
    workload = load_traced(RESNET)
    g = workload.op(WGRAD).attrs
    plane_pairs = BATCH * g["cin"] * g["cout"]
    pairs, issued, valid = reference_totals(workload, "layer2.0.conv1", "bwd_weight")
    assert (issued * plane_pairs) % pairs == 0 and (valid * plane_pairs) % pairs == 0
    ours = rows(traced)[WGRAD]
    assert ours["mask_source"] == "traced"
    assert ours["products_issued"] == issued * plane_pairs // pairs == 657_428_480
    assert ours["products_valid"] == valid * plane_pairs // pairs == 12_324_864
    assert ours["rcps"] == (issued - valid) * plane_pairs // pairs

    axis_pairs = sum(1 for x in range(32) for q in range(16) if 0 <= x - 2 * q + 1 < 3)
    assert axis_pairs == 47
    theirs = rows(fallback)[WGRAD]
    assert theirs["mask_source"] == "density"
    rounding = theirs["tiles"] / 2
    expected_issued = DENSITY * 32 * 32 * DENSITY * 16 * 16 * plane_pairs  # 687,194,767.36
    expected_valid = DENSITY ** 2 * axis_pairs ** 2 * plane_pairs  # 5,790,760.96
    assert abs(theirs["products_issued"] - expected_issued) <= rounding
    assert abs(theirs["products_valid"] - expected_valid) <= rounding


@pytest.mark.parametrize("phase", ["fwd", "bwd_data", "bwd_weight"])
def test_valid_products_are_counted_exactly_on_the_sampled_masks(phase):
    """The per-pair counts of layer2.0.conv1 (stride 2, pad 1) are the means of the brute-force
    counts over every sampled plane pair (pair_counts: product by product, output coordinate
    by the rcp.py table), and the densities the non-zero fractions of the masks."""
    workload = load_traced(RESNET)
    stats = workload.value_stats
    layer = "layer2.0.conv1"
    op = workload.op(f"{layer}.{phase}")
    masks = traced_masks(stats, layer, op_geometry(op))
    pairs, issued, valid = reference_totals(workload, layer, phase)
    assert pairs == 2 * 8 * 8  # 2 images, 8 channels, 8 output channels sampled
    assert masks.per_pair.issued == issued / pairs
    assert masks.per_pair.valid == valid / pairs
    a_role, b_role = {"fwd": ("x", "w"), "bwd_data": ("dy", "w"),
                      "bwd_weight": ("x", "dy")}[phase]
    a, b = (stats.masks(layer, role)[0] for role in (a_role, b_role))
    assert masks.density_a == np.count_nonzero(a) / a.size
    assert masks.density_b == np.count_nonzero(b) / b.size
    assert traced_masks(None, op.layer, op_geometry(op)) is None
    assert traced_masks(stats, "fc", op_geometry(workload.op("fc.fwd"))) is None


@pytest.mark.parametrize("layer, phase", [
    ("layer2.0.conv1", "fwd"),
    ("layer2.0.conv1", "bwd_weight"),
    ("layer2.1.conv1", "bwd_data"),
    ("layer2.0.conv1", "bwd_data"),  # stride 2: col2im GEMM of B*Ho*Wo rows, B images
])
def test_op_products_are_the_sampled_counts_scaled_to_the_op(traced, layer, phase):
    """A traced convolution's products issued and valid (and its MACs, the valid products) are
    the brute-force counts over the sampled plane pairs scaled to the op's B*Cin*Cout plane
    pairs (outer_product.py: the op behaves like its sample)."""
    workload = load_traced(RESNET)
    g = workload.op(f"{layer}.{phase}").attrs
    plane_pairs = BATCH * g["cin"] * g["cout"]
    pairs, issued, valid = reference_totals(workload, layer, phase)
    assert (issued * plane_pairs) % pairs == 0 and (valid * plane_pairs) % pairs == 0
    row = rows(traced)[f"{layer}.{phase}"]
    assert row["mask_source"] == "traced"
    assert row["products_issued"] == issued * plane_pairs // pairs
    assert row["products_valid"] == row["macs"] == valid * plane_pairs // pairs
    assert row["rcps"] == (issued - valid) * plane_pairs // pairs


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
