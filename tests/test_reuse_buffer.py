"""Reuse-buffer hit rates and the reuse-buffer component, against independent references:
a lookup-by-lookup LRU simulation (OrderedDict per set), a move-to-front stack, hand-derived
cases, Student-t table values and the coverage of the stated confidence intervals."""

from __future__ import annotations

import json
import math
import shutil
from collections import OrderedDict

import numpy as np
import pytest
from pydantic import ValidationError

from accelsim.errors import WorkloadError
from accelsim.hw.reuse_buffer import ReuseBuffer, ReuseBufferParams, ReuseOpStats
from accelsim.trace.stats import reuse
from accelsim.workload.value_stats import load_value_stats
from tests.conftest import ROOT

MLP = ROOT / "workloads" / "traced" / "mlp"


# -- references ---------------------------------------------------------------------------------
def simulate_lru(keys, entries: int, ways: int | None = None, set_of=None) -> dict:
    """Lookup by lookup: each set an OrderedDict in recency order; a miss inserts and, when the
    set is full, evicts its least recently used key."""
    ways = entries if ways is None else ways
    sets: dict[int, OrderedDict] = {}
    hit = []
    inserted = 0
    for key in keys:
        key = int(key)
        s = sets.setdefault(0 if set_of is None else int(set_of(key)), OrderedDict())
        if key in s:
            s.move_to_end(key)
            hit.append(True)
            continue
        hit.append(False)
        if len(s) == ways:
            s.popitem(last=False)
        s[key] = None
        inserted += 1
    return {"hit": np.array(hit, dtype=bool), "insertions": inserted}


def stack_distances_by_stack(keys) -> np.ndarray:
    """Move-to-front stack: the depth of a key when it is used again."""
    stack: list[int] = []
    out = []
    for key in keys:
        key = int(key)
        if key in stack:
            depth = len(stack) - 1 - stack.index(key)
            stack.remove(key)
            out.append(depth)
        else:
            out.append(-1)
        stack.append(key)
    return np.array(out, dtype=np.int64)


def low_set(sets):
    return lambda key: key % sets


def xor_set(sets):
    width = sets.bit_length() - 1

    def fold(key):
        index = 0
        while key and width:
            index ^= key % sets
            key //= sets
        return index
    return fold


def random_stream(rng, n, alphabet):
    """Keys with locality: a skewed draw over ``alphabet`` keys, scrambled to large values."""
    ranks = np.minimum(rng.zipf(1.2, n), alphabet) - 1
    return (ranks * 2654435761 + 12345) % (1 << 40)


# -- stack distances ----------------------------------------------------------------------------
@pytest.mark.parametrize("keys, expected", [
    ([], []),
    ([7], [-1]),
    ([7, 7, 7], [-1, 0, 0]),
    ([1, 2, 3, 1, 2, 3], [-1, -1, -1, 2, 2, 2]),
    ([1, 2, 2, 1], [-1, -1, 0, 1]),
    ([1, 2, 1, 3, 3, 2, 1], [-1, -1, 1, -1, 0, 2, 2]),
])
def test_stack_distances_hand_cases(keys, expected):
    assert reuse.lru_stack_distances(np.array(keys, dtype=np.int64)).tolist() == expected


def test_stack_distances_match_move_to_front_stack():
    rng = np.random.default_rng(3)
    for _ in range(60):
        n = int(rng.integers(1, 600))
        keys = random_stream(rng, n, int(rng.integers(1, 200)))
        np.testing.assert_array_equal(reuse.lru_stack_distances(keys),
                                      stack_distances_by_stack(keys))


def test_cyclic_stream_of_a_million_lookups():
    """Keys 0..P-1 repeated: every reuse is at distance P - 1 (hand-derived), so a buffer of P
    entries hits all but the first P lookups and one of P - 1 entries never hits."""
    period, n = 1000, 1_000_000
    keys = np.arange(n, dtype=np.int64) % period
    d = reuse.lru_stack_distances(keys)
    assert (d[:period] == -1).all() and (d[period:] == period - 1).all()
    assert reuse.hit_rates(keys, (period - 1, period)) == [0.0, (n - period) / n]


def test_range_count_below_matches_brute_force():
    rng = np.random.default_rng(4)
    values = rng.integers(0, 50, 300)
    lo = rng.integers(0, 301, 500)
    hi = rng.integers(0, 301, 500)
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    bound = rng.integers(0, 60, 500)
    expected = [int(np.sum(values[a:b] < c)) for a, b, c in zip(lo, hi, bound)]
    assert reuse.range_count_below(values, lo, hi, bound).tolist() == expected


# -- hits, fully and set associative -----------------------------------------------------------
@pytest.mark.parametrize("entries, ways, hashing", [
    (1, None, "xor"), (4, None, "xor"), (16, None, "xor"), (64, None, "xor"),
    (16, 1, "low"), (16, 2, "low"), (16, 4, "xor"), (64, 8, "xor"), (64, 1, "xor"),
    (256, 4, "low"), (8, 8, "low"),
])
def test_hits_match_lru_simulation(entries, ways, hashing):
    rng = np.random.default_rng(entries * 31 + (ways or 0))
    sets = entries // (ways or entries)
    set_of = (low_set if hashing == "low" else xor_set)(sets)
    for _ in range(8):
        n = int(rng.integers(1, 3000))
        keys = random_stream(rng, n, int(rng.integers(2, 4 * entries + 2)))
        expected = simulate_lru(keys, entries, ways, None if ways is None else set_of)["hit"]
        np.testing.assert_array_equal(reuse.hits(keys, entries, ways, hashing), expected)


def test_set_associative_hand_cases():
    """Two direct-mapped sets, low-bit index: 0 and 2 share set 0 and evict each other; 0 and 1
    do not."""
    assert reuse.hits(np.array([0, 2, 0]), 2, 1, "low").tolist() == [False, False, False]
    assert reuse.hits(np.array([0, 1, 0]), 2, 1, "low").tolist() == [False, False, True]
    # fully associative with 2 entries keeps both
    assert reuse.hits(np.array([0, 2, 0]), 2).tolist() == [False, False, True]


def test_set_index_hand_cases():
    keys = np.array([0b1101, 0b0111_0010, 5])
    assert reuse.set_index(keys, 4, "low").tolist() == [0b01, 0b10, 0b01]
    # fields of 2 bits XORed: 01^11 = 10; 10^00^11^01 = 00; 01^01 = 00
    assert reuse.set_index(keys, 4, "xor").tolist() == [0b10, 0b00, 0b00]
    assert reuse.set_index(keys, 1).tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="power of two"):
        reuse.set_index(keys, 3)


def test_stream_hit_rates_match_simulation_of_masked_operand_pairs():
    """The tile streamed in n, k, m order, keyed on both fp16 patterns with the low k mantissa
    bits cleared (built here directly), simulated lookup by lookup."""
    rng = np.random.default_rng(5)
    a = rng.normal(size=(16, 8)).astype(np.float16)
    b = rng.normal(size=(8, 4)).astype(np.float16)
    for k in (0, 6, 10):
        keep = (0xFFFF << k) & 0xFFFF
        pairs = [(int(a[m, kk].view(np.uint16)) & keep) << 16 | (int(b[kk, n].view(np.uint16))
                                                              & keep)
                 for n in range(4) for kk in range(8) for m in range(16)]
        expected = [simulate_lru(pairs, e)["hit"].mean() for e in (16, 64)]
        assert reuse.hit_rates(reuse.stream_keys(a, b, k, "scalar"), (16, 64)) == \
            pytest.approx(expected, abs=0)
        quads = [tuple(int(a[m, c * 4 + j].view(np.uint16)) & keep for j in range(4))
                 + tuple(int(b[c * 4 + j, n].view(np.uint16)) & keep for j in range(4))
                 for n in range(4) for c in range(2) for m in range(16)]
        ids = {q: i for i, q in enumerate(dict.fromkeys(quads))}
        expected = [simulate_lru([ids[q] for q in quads], e)["hit"].mean() for e in (16, 64)]
        assert reuse.hit_rates(reuse.stream_keys(a, b, k, "dot4"), (16, 64)) == \
            pytest.approx(expected, abs=0)


# -- estimates with a stated spread ------------------------------------------------------------
@pytest.mark.parametrize("confidence, df, table", [
    (0.95, 1, 12.706), (0.95, 2, 4.303), (0.95, 4, 2.776), (0.95, 9, 2.262), (0.95, 30, 2.042),
    (0.99, 10, 3.169), (0.90, 5, 2.015), (0.95, 120, 1.980),
])
def test_t_quantile_matches_tables(confidence, df, table):
    assert reuse.t_quantile(confidence, df) == pytest.approx(table, abs=6e-4)


def test_mean_interval_hand_case():
    """Samples 0.5, 0.6, 0.7: mean 0.6, s = 0.1, half-width 4.3027 * 0.1 / sqrt(3); samples
    0.0, 0.1, 0.2: the interval clipped at 0."""
    mean, low, high = reuse.mean_interval([[0.5, 0.0], [0.6, 0.1], [0.7, 0.2]])
    half = 4.3027 * 0.1 / math.sqrt(3)
    assert mean == pytest.approx([0.6, 0.1])
    assert low == pytest.approx([0.6 - half, 0.0], abs=1e-4)
    assert high == pytest.approx([0.6 + half, 0.1 + half], abs=1e-4)
    _, low, high = reuse.mean_interval([[0.3]])
    assert (low[0], high[0]) == (0.0, 1.0)


def population_tiles(rng, count):
    """Operand tiles whose value spread differs from tile to tile (as across images and
    positions): per tile a number of distinct activation levels (20 to 59) and a weight
    scale; their hit rates spread moderately and without a long tail."""
    tiles = []
    for _ in range(count):
        levels = int(rng.integers(20, 60))
        a = rng.choice(rng.normal(size=levels), size=(32, 8)).astype(np.float16)
        b = (rng.normal(size=(8, 4)) * rng.uniform(0.5, 2)).astype(np.float16)
        tiles.append((a, b))
    return tiles


def test_interval_covers_exact_op_hit_rate_at_its_confidence():
    """An op of 150 tiles: its exact hit rate (every tile simulated lookup by lookup, equal
    lookups per tile) is covered by the 95% interval of 10 sampled tiles in 95% of repetitions
    (within three binomial standard deviations over 300 repetitions)."""
    rng = np.random.default_rng(11)
    tiles = population_tiles(rng, 150)
    k, entries = 4, 64
    keep = (0xFFFF << k) & 0xFFFF
    rates = []
    for a, b in tiles:
        bits_a, bits_b = a.view(np.uint16) & keep, b.view(np.uint16) & keep
        keys = [int(bits_a[m, kk]) << 16 | int(bits_b[kk, n])
                for n in range(4) for kk in range(8) for m in range(32)]
        rates.append(simulate_lru(keys, entries)["hit"].mean())
    exact = float(np.mean(rates))
    repetitions, covered, widths = 300, 0, []
    for _ in range(repetitions):
        chosen = rng.choice(len(tiles), size=10, replace=False)
        est = reuse.sampled_hit_rate_tables([tiles[i] for i in chosen], "scalar", (k,),
                                            (entries,))
        assert est["samples"] == 10
        low, high = est["low"][0][0], est["high"][0][0]
        covered += low <= exact <= high
        widths.append(high - low)
    share = covered / repetitions
    sigma = math.sqrt(0.95 * 0.05 / repetitions)
    assert abs(share - 0.95) <= 3 * sigma, share
    assert 0 < np.mean(widths) < 0.5


# -- the component ------------------------------------------------------------------------------
def test_params_are_validated():
    with pytest.raises(ValidationError, match="must divide"):
        ReuseBufferParams(entries=64, associativity=3)
    with pytest.raises(ValidationError, match="power of two"):
        ReuseBufferParams(entries=48, associativity=4)
    with pytest.raises(ValidationError):
        ReuseBufferParams(entries=64, ways=4)
    with pytest.raises(ValidationError):
        ReuseBufferParams(entries="64")
    with pytest.raises(ValidationError):
        ReuseBufferParams(lookup_energy_pj=-1.0)


def test_organisation_storage_and_area_hand_derived():
    """64 entries, 4 ways: 16 sets, tags 32 - 4 = 28 bits, LRU 2 bits; an entry 28 + 16 + 1 +
    2 = 47 bits. Area: tags at 10/6 of an SRAM bit of 600 * 0.045^2 um^2."""
    buf = ReuseBuffer(ReuseBufferParams(entries=64, associativity=4, key_bits=32,
                                        result_bits=16))
    assert (buf.sets, buf.tag_bits, buf.lru_bits) == (16, 28, 2)
    assert buf.storage_bits == 64 * 47
    assert buf.area_mm2 == pytest.approx(64 * (28 * 10 / 6 + 19) * 1.215 / 1e6)
    full = ReuseBuffer(ReuseBufferParams(entries=16, key_bits=32, result_bits=16))
    assert (full.sets, full.tag_bits, full.lru_bits, full.storage_bits) == (1, 32, 4, 16 * 53)


def test_energy_from_cited_figures():
    """16 entries, 4 ways, 20-bit keys, 16-bit results: 4 sets, tags 18 bits, 16 * 37 bits =
    74 bytes. Bit energy: Horowitz's 10 pJ per 64-bit read of 8 KiB along capacity^0.5;
    search: 2.89 fJ/bit at 0.18 um scaled by 1/16."""
    buf = ReuseBuffer(ReuseBufferParams(entries=16, associativity=4, key_bits=20,
                                        result_bits=16))
    assert buf.storage_bits == 16 * 37
    bit = 10.0 * (74 / 8192) ** 0.5 / 64
    assert buf.lookup_energy_pj == pytest.approx(4 * 18 * 2.89 / 16 / 1000 + 16 * bit
                                                 + 4 * 2 * bit, rel=1e-3)
    assert buf.insertion_energy_pj == pytest.approx((18 + 16 + 1) * bit, rel=1e-3)
    fixed = ReuseBuffer(ReuseBufferParams(lookup_energy_pj=0.5, insertion_energy_pj=0.7))
    assert (fixed.lookup_energy_pj, fixed.insertion_energy_pj) == (0.5, 0.7)


def test_counts_per_op_match_simulation():
    """An op's lookups counted from its measured hit rate give the simulation's hits, misses
    and insertions; counts add up per op and over ops."""
    rng = np.random.default_rng(8)
    params = ReuseBufferParams(entries=64, associativity=4, lookup_energy_pj=0.5,
                               insertion_energy_pj=0.7)
    buf = ReuseBuffer(params)
    keys = random_stream(rng, 5000, 400)
    sim = simulate_lru(keys, 64, 4, xor_set(16))
    rate = reuse.hit_rates(keys, (64,), ways=4)[0]
    stats = buf.record("conv1.fwd", len(keys), rate)
    assert stats.hits == int(sim["hit"].sum())
    assert stats.misses == len(keys) - stats.hits == stats.insertions == sim["insertions"]
    assert stats.energy_pj == pytest.approx(5000 * 0.5 + stats.misses * 0.7)
    buf.record("conv1.fwd", [100, 300], [0.5, 0.25])
    buf.record("fc.fwd", 10, 1.0)
    assert buf.per_op["conv1.fwd"].lookups == 5400
    assert buf.per_op["conv1.fwd"].hits == stats.hits + 50 + 75
    assert buf.per_op["fc.fwd"] == ReuseOpStats(10, 10, 0, 0, 5.0, 0.0)
    total = buf.total()
    assert total.lookups == 5410 and total.hit_rate == pytest.approx(total.hits / 5410)
    assert buf.energy_pj() == {"lookup": pytest.approx(5410 * 0.5),
                               "insertion": pytest.approx(total.insertions * 0.7)}
    with pytest.raises(ValueError):
        buf.record("fc.fwd", 10, 1.5)


# -- traced statistics with an interval ---------------------------------------------------------
def with_interval(tmp_path, shift_low=0.0):
    """The shipped MLP folder with an interval added to one op's hit rates."""
    folder = tmp_path / "mlp"
    shutil.copytree(MLP, folder)
    data = json.loads((folder / "stats.json").read_text())
    name = next(n for n, op in data["ops"].items() if "acrtc_hit_rate" in op)
    stat = data["ops"][name]["acrtc_hit_rate"]
    stat.pop("interval", None)
    low = {g: (np.clip(np.array(t) - 0.05 + shift_low, 0, 1)).tolist()
           for g, t in stat.items()}
    high = {g: np.clip(np.array(t) + 0.1, 0, 1).tolist() for g, t in stat.items()}
    stat["interval"] = {"confidence": 0.95, "samples": [8] * len(data["steps"]),
                        "low": low, "high": high}
    (folder / "stats.json").write_text(json.dumps(data))
    return folder, name, data


def test_old_folder_loads_and_says_it_has_no_interval(tmp_path):
    folder, _, data = with_interval(tmp_path)
    for op in data["ops"].values():
        op.get("acrtc_hit_rate", {}).pop("interval", None)
    (folder / "stats.json").write_text(json.dumps(data))
    stats = load_value_stats(folder)
    name = next(n for n, op in stats.data["ops"].items() if "acrtc_hit_rate" in op)
    assert 0 <= stats.acrtc_hit_rate(name, 4, 64) <= 1
    with pytest.raises(WorkloadError, match="acrtc_hit_rate.interval"):
        stats.acrtc_hit_rate_interval(name, 4, 64)


def test_interval_is_read_per_step_and_over_steps(tmp_path):
    folder, name, data = with_interval(tmp_path)
    stats = load_value_stats(folder)
    grid = data["params"]["acrtc"]
    ki, ei = grid["k"].index(4), grid["entries"].index(64)
    tables = np.array(data["ops"][name]["acrtc_hit_rate"]["scalar"])[:, ki, ei]
    low, high = stats.acrtc_hit_rate_interval(name, 4, 64, step=data["steps"][0])
    assert low == pytest.approx(max(0, tables[0] - 0.05))
    assert high == pytest.approx(min(1, tables[0] + 0.1))
    low, high = stats.acrtc_hit_rate_interval(name, 4, 64)
    mean = stats.acrtc_hit_rate(name, 4, 64)
    assert low <= mean <= high
    with pytest.raises(WorkloadError, match="granularity"):
        stats.acrtc_hit_rate(name, 4, 64, granularity="interval")


def test_interval_not_containing_its_mean_is_refused(tmp_path):
    folder, _, _ = with_interval(tmp_path, shift_low=0.2)
    with pytest.raises(WorkloadError, match="interval"):
        load_value_stats(folder)
