"""The vectorised chunk model and queue timing of the outer-product array against a scalar
reference: product by product, chunk pair by chunk pair, written from the definitions in the
docstrings of :mod:`accelsim.hw.kinds.outer_product.model` and
:mod:`accelsim.hw.kinds.outer_product.accumulators`, on random layer shapes, densities, grids
and PE subsets (seeded)."""

from __future__ import annotations

import numpy as np
import pytest

from accelsim.hw.kinds.outer_product import accumulators
from accelsim.hw.kinds.outer_product.accumulators import issue_intervals
from accelsim.hw.kinds.outer_product.model import chunk_model
from accelsim.hw.kinds.outer_product.rcp import conv_axes, matmul_axes


def reference_bank(k: int, row: int, col: int, banks: int, f: int) -> int:
    """DNNsim's SCNN bank mapping, as the accumulators module states it."""
    low = k % f + f * (col % 2) + 2 * f * (row % 2)
    return (low + 4 * f * ((k // f) ^ (row // 2) ^ (col // 2))) % banks


def reference_chunk_pairs(a, b, axes, f, i, banks, grid, pe_subset=None) -> dict:
    """Every chunk pair, one at a time: per channel and PE (row-major), the PE's A non-zeros
    (its planar tile, row-major) in chunks of I against the channel's B non-zeros (taps
    row-major, output channel innermost) in chunks of F, A chunk outer."""
    rows, cols = grid
    n, ha, wa = a.shape
    th, tw = -(-ha // rows), -(-wa // cols)
    fields = {key: [] for key in ("pe", "channel", "products", "in_bounds", "valid", "a_lo_h",
                                  "a_lo_w", "a_hi_h", "a_hi_w", "b_lo_h", "b_lo_w", "b_hi_h",
                                  "b_hi_w")}
    entries = []
    for c in range(n):
        b_items = [(uh, uw, k) for uh in range(b.shape[2]) for uw in range(b.shape[3])
                   for k in range(b.shape[1]) if b[c, k, uh, uw]]
        for pe in range(rows * cols):
            if pe_subset is not None and pe not in set(pe_subset.tolist()):
                continue
            r, col = divmod(pe, cols)
            a_items = [(r * th + y, col * tw + x) for y in range(th) for x in range(tw)
                       if r * th + y < ha and col * tw + x < wa and a[c, r * th + y, col * tw + x]]
            a_chunks = [a_items[s:s + i] for s in range(0, len(a_items), i)]
            b_chunks = [b_items[s:s + f] for s in range(0, len(b_items), f)]
            for a_chunk in a_chunks:
                for b_chunk in b_chunks:
                    pair = len(fields["pe"])
                    in_bounds = valid = 0
                    load: dict[int, int] = {}
                    for xh, xw in a_chunk:
                        for uh, uw, k in b_chunk:
                            nums = [axis.a_coef * x + axis.b_coef * u + axis.offset
                                    for axis, x, u in zip(axes, (xh, xw), (uh, uw))]
                            inside = all(0 <= num <= (axis.out_size - 1) * axis.divisor
                                         for axis, num in zip(axes, nums))
                            whole = all(num % axis.divisor == 0 for axis, num in zip(axes, nums))
                            in_bounds += inside
                            if inside and whole:
                                valid += 1
                                bank = reference_bank(k, nums[0] // axes[0].divisor,
                                                      nums[1] // axes[1].divisor, banks, f)
                                load[bank] = load.get(bank, 0) + 1
                    for key, value in (("pe", pe), ("channel", c),
                                       ("products", len(a_chunk) * len(b_chunk)),
                                       ("in_bounds", in_bounds), ("valid", valid),
                                       ("a_lo_h", min(x[0] for x in a_chunk)),
                                       ("a_lo_w", min(x[1] for x in a_chunk)),
                                       ("a_hi_h", max(x[0] for x in a_chunk)),
                                       ("a_hi_w", max(x[1] for x in a_chunk)),
                                       ("b_lo_h", min(x[0] for x in b_chunk)),
                                       ("b_lo_w", min(x[1] for x in b_chunk)),
                                       ("b_hi_h", max(x[0] for x in b_chunk)),
                                       ("b_hi_w", max(x[1] for x in b_chunk))):
                        fields[key].append(value)
                    entries += [(pair, bank, count) for bank, count in sorted(load.items())]
    return {**fields, "entries": entries}


def reference_intervals(stream, entries, pairs: int, queue_depth: int) -> list[int]:
    """Each pair's cycles until its PE's next issue (the last: until its banks drain), by the
    recurrence of the accumulators module, one pair at a time."""
    load = [dict() for _ in range(pairs)]
    for pair, bank, count in entries:
        load[pair][bank] = count
    intervals = [0] * pairs
    for pe in sorted(set(stream)):
        mine = [p for p in range(pairs) if stream[p] == pe]
        free: dict[int, int] = {}
        issue = 0
        for position, pair in enumerate(mine):
            for bank, count in load[pair].items():
                free[bank] = max(free.get(bank, 0), issue) + count
            busiest = max(free.values(), default=0)
            if position + 1 < len(mine):
                following = max(issue + 1, busiest - queue_depth)
            else:
                following = max(issue + 1, busiest)
            intervals[pair] = following - issue
            issue = following
    return intervals


def random_case(rng):
    """A random layer: a convolution phase (odd kernels, stride 1-3, padding up to half the
    kernel) or a matrix product, with random masks of random densities, grid, F, I, banks
    (a power of two or not), queue depth and sometimes a PE subset."""
    kind = rng.choice(["fwd", "bwd_data", "bwd_weight", "matmul"])
    if kind == "matmul":
        axes = matmul_axes(int(rng.integers(1, 9)), int(rng.integers(1, 9)))
    else:
        size, kernel = int(rng.integers(2, 11)), int(rng.choice([1, 3, 5]))
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, kernel // 2 + 1))
        if size + 2 * pad < kernel:
            pad = kernel // 2
            size = max(size, kernel)
        out = (size + 2 * pad - kernel) // stride + 1
        axes = conv_axes({"h": size, "w": size, "r": kernel, "s": kernel, "stride": stride,
                          "pad": pad, "ho": out, "wo": out}, str(kind))
    channels, outputs = int(rng.integers(1, 4)), int(rng.integers(1, 6))
    da, db = rng.uniform(0.05, 1.0, 2)
    a = rng.random((channels, axes[0].a_size, axes[1].a_size)) < da
    b = rng.random((channels, outputs, axes[0].b_size, axes[1].b_size)) < db
    grid = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    pes = grid[0] * grid[1]
    subset = (np.unique(rng.integers(0, pes, int(rng.integers(1, pes + 1))))
              if rng.random() < 0.25 else None)
    return dict(a=a, b=b, axes=axes, f=int(rng.integers(1, 6)), i=int(rng.integers(1, 6)),
                banks=int(rng.choice([1, 3, 8, 32, 48])), grid=grid, pe_subset=subset,
                queue_depth=int(rng.choice([0, 1, 4, 9])))


@pytest.mark.parametrize("seed", range(40))
def test_chunk_model_and_queues_match_the_scalar_reference(seed):
    case = random_case(np.random.default_rng(seed))
    depth = case.pop("queue_depth")
    pairs = chunk_model(**case, queue_depth=depth)
    ref = reference_chunk_pairs(**case)
    assert len(pairs) == len(ref["pe"])
    got = {"pe": pairs.pe, "channel": pairs.channel, "products": pairs.products,
           "in_bounds": pairs.in_bounds, "valid": pairs.valid,
           "a_lo_h": pairs.a_lo[0], "a_lo_w": pairs.a_lo[1], "a_hi_h": pairs.a_hi[0],
           "a_hi_w": pairs.a_hi[1], "b_lo_h": pairs.b_lo[0], "b_lo_w": pairs.b_lo[1],
           "b_hi_h": pairs.b_hi[0], "b_hi_w": pairs.b_hi[1]}
    for key, values in got.items():
        assert np.asarray(values).tolist() == ref[key], key
    entries = list(zip(pairs.entry_pair.tolist(), pairs.entry_bank.tolist(),
                       pairs.entry_load.tolist()))
    assert entries == ref["entries"]
    expected = reference_intervals(ref["pe"], ref["entries"], len(ref["pe"]), depth)
    assert pairs.cycles.tolist() == expected


@pytest.mark.parametrize("passes", [0, 1, 1000])
@pytest.mark.parametrize("seed", range(20))
def test_queue_timing_matches_the_scalar_reference(seed, passes, monkeypatch):
    """Dense random bank loads on several PEs of unequal lengths (pairs interleaved across
    PEs), heavy enough to stall the multipliers often; stepped (no speculation allowed),
    speculated then stepped, and speculated throughout."""
    monkeypatch.setattr(accumulators, "SPECULATION_PASSES", passes)
    rng = np.random.default_rng(1000 + seed)
    pairs = int(rng.integers(1, 300))
    stream = rng.integers(0, int(rng.integers(1, 9)), pairs)
    banks, depth = int(rng.integers(1, 40)), int(rng.choice([0, 1, 3, 8]))
    entries = sorted({(int(p), int(bank)): int(rng.integers(1, 12))
                      for p, bank in zip(rng.integers(0, pairs, 3 * pairs),
                                         rng.integers(0, banks, 3 * pairs))}.items())
    pair, bank, load = (np.array(v, dtype=np.int64) for v in
                        zip(*[(p, b, c) for (p, b), c in entries]))
    got = issue_intervals(stream, pair, bank, load, depth)
    flat = [(p, b, c) for (p, b), c in entries]
    assert got.tolist() == reference_intervals(stream.tolist(), flat, pairs, depth)
    shuffled = rng.permutation(len(pair))  # entries in any order
    again = issue_intervals(stream, pair[shuffled], bank[shuffled], load[shuffled], depth)
    assert again.tolist() == got.tolist()
