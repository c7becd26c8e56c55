"""The accumulator array of an SCNN-like PE: bank mapping and per-bank queues.

SCNN (Parashar et al., ISCA 2017, Section IV) sends the F x I products of a chunk pair through a
scatter crossbar to A = 2 x F x I accumulator banks indexed by each product's output
coordinate; a bank adds one product per cycle. Here every bank has a FIFO of
``queue_depth`` products in front of it: a chunk pair issues when every product of the
previous pair has either started its accumulation or sits in its bank's queue, so the
multipliers stall only while a queue is full. A queue depth of 0 is the lockstep array (each
chunk pair takes its worst bank conflict), the model of DNNsim's SCNN
(``core/src/SCNN.cpp``, ``computeSCNNPE``).

Bank mapping (:func:`bank_of`): the bank interleaves the low bits of the output coordinate so
that the F output channels of a weight chunk and a 2 x 2 neighbourhood of output positions
fall in distinct banks, and hashes the higher bits into the remaining bank bits by XOR, as
DNNsim's SCNN address generation does (``map_accumulator``:
``bank = k mod F + F (col mod 2) + 2F (row mod 2) + 4F ((k div F) xor (row div 2) xor
(col div 2))``, modulo the banks; for F = 4 and 32 banks it is DNNsim's mapping bit for bit).
With a flat index modulo the banks instead, planes whose width is a multiple of the banks put
a column of outputs in one bank.

Queue timing (:func:`issue_intervals`), per PE, over its chunk pairs in issue order, with
``T`` the issue cycle of a pair and ``free[b]`` the cycle bank b finishes what it holds:
``free[b] = max(free[b], T) + c[b]`` for the pair's ``c[b]`` products to bank b, and the next
pair issues at ``max(T + 1, max(free) - queue_depth)``; the PE finishes at
``max(T_last + 1, max(free))``. This is exact for FIFO banks serving one product per cycle
(a bank's products wait at most ``queue_depth`` deep). It is evaluated with numpy by
speculation: with a pair issued every cycle, each bank's finish cycles are a max-plus prefix
scan over its products, exact up to a PE's first stall, where that PE resumes; PEs that stall
often are stepped instead, one chunk-pair position at a time over every PE and bank.
"""

from __future__ import annotations

import numpy as np

#: Elements of the dense (steps, streams, banks) load array built at a time.
BLOCK_ELEMENTS = 1 << 21


def bank_of(k: np.ndarray, row: np.ndarray, col: np.ndarray, banks: int, f: int) -> np.ndarray:
    """The accumulator bank of outputs (output channel ``k``, ``row``, ``col``) (module
    docstring)."""
    k, row, col = (np.asarray(v, dtype=np.int64) for v in (k, row, col))
    if _power_of_two(f) and _power_of_two(banks):  # the same by shifts and masks
        shift = f.bit_length() - 1
        low = (k & (f - 1)) | ((col & 1) << shift) | ((row & 1) << (shift + 1))
        high = (k >> shift) ^ (row >> 1) ^ (col >> 1)
        return (low + (high << (shift + 2))) & (banks - 1)
    low = k % f + f * (col % 2) + 2 * f * (row % 2)
    high = (k // f) ^ (row // 2) ^ (col // 2)
    return (low + 4 * f * high) % banks


def _power_of_two(value: int) -> bool:
    return value > 0 and value & (value - 1) == 0


def issue_intervals(stream: np.ndarray, entry_pair: np.ndarray, entry_bank: np.ndarray,
                    entry_load: np.ndarray, queue_depth: int) -> np.ndarray:
    """Cycles from the issue of each chunk pair to the issue of the next pair of its stream
    (for a stream's last pair: until its banks are drained), so that a stream's cycles are the
    sum over its pairs (module docstring). ``stream`` (pairs,): the PE issuing each pair, whose
    pairs issue in array order; the products per bank, sparse: ``entry_load[e]`` products of
    pair ``entry_pair[e]`` go to bank ``entry_bank[e]`` (one entry per pair and bank).

    Evaluated speculatively (:func:`_speculate`): every stream is assumed to issue a pair per
    cycle, which makes each bank's queue a max-plus prefix scan over its entries; a stream's
    figures hold up to its first stall, where it resumes. When stalls are so frequent that this
    costs more than :data:`SPECULATION_PASSES` passes over the entries, the recurrence is stepped
    one chunk-pair position at a time instead (:func:`_lockstep`); both give the same cycles."""
    entry_pair = np.asarray(entry_pair, dtype=np.int64)
    if len(entry_pair) and np.any(entry_pair[1:] < entry_pair[:-1]):
        by_pair = np.argsort(entry_pair, kind="stable")
        entry_pair, entry_bank, entry_load = (np.asarray(v)[by_pair] for v in
                                              (entry_pair, entry_bank, entry_load))
    result = _speculate(np.asarray(stream), entry_pair, np.asarray(entry_bank, dtype=np.int64),
                        np.asarray(entry_load, dtype=np.int64), queue_depth)
    if result is None:
        return _lockstep(stream, entry_pair, entry_bank, entry_load, queue_depth)
    return result


#: Passes over the entries the speculative evaluation may spend before stepping instead.
SPECULATION_PASSES = 4

#: Offset separating segments in a running maximum (values stay within +-2**39).
_SEGMENT = np.int64(1) << 40


def _segmented_running_max(values: np.ndarray, first: np.ndarray) -> np.ndarray:
    """Running maximum of ``values`` restarting wherever ``first`` is set."""
    offset = np.cumsum(first) * _SEGMENT
    return np.maximum.accumulate(values + offset) - offset


def _starts(keys: np.ndarray) -> np.ndarray:
    """Where a run of equal ``keys`` begins."""
    first = np.empty(len(keys), dtype=bool)
    first[:1] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    return first


def _dense_ids(stream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each item's stream as 0 .. streams-1 in ascending order of ``stream``, and each
    stream's length (as ``np.unique`` gives them)."""
    stream = np.asarray(stream, dtype=np.int64)
    low = int(stream.min())
    if int(stream.max()) - low > 4 * len(stream):  # sparse ids
        _, inverse, counts = np.unique(stream, return_inverse=True, return_counts=True)
        return inverse, counts
    counts = np.bincount(stream - low)
    present = counts > 0
    return (np.cumsum(present) - 1)[stream - low], counts[present]


def _narrow(keys: np.ndarray, size: int) -> np.ndarray:
    """``keys`` (below ``size``) as 16-bit integers when they fit, which numpy's stable sort
    orders by radix."""
    return keys.astype(np.int16) if size <= np.iinfo(np.int16).max else keys


def _speculate(stream: np.ndarray, entry_pair: np.ndarray, entry_bank: np.ndarray,
               entry_load: np.ndarray, queue_depth: int) -> np.ndarray | None:
    """:func:`issue_intervals` by speculation (its docstring), entries in pair order; None once
    that costs more than :data:`SPECULATION_PASSES` passes over the entries.

    Per stream, from a resume position with issue cycle ``T0``, pair p is assumed to issue at
    ``T(p) = T0 + p - p0``. Bank b's finish cycle after its e-th entry is then
    ``free_e = Q_e + max(free_0, max_{j <= e} (T(p_j) - Q_{j-1}))`` (``Q``: the bank's products
    queued so far), the stream's busiest bank after pair p is the running maximum of those, and
    p stalls if ``busiest - queue_depth > T(p) + 1``. Everything up to a stream's first stall
    is exact; the stream resumes after it at ``busiest - queue_depth``."""
    pairs = len(stream)
    if pairs == 0:
        return np.zeros(0, dtype=np.int64)
    stream_of, length = _dense_ids(stream)
    n = len(length)
    order = np.argsort(_narrow(stream_of, n), kind="stable")  # slots: stream-major, issue order
    starts = np.concatenate(([0], np.cumsum(length)[:-1]))
    slot_stream = stream_of[order]
    slot_pos = np.arange(pairs) - starts[slot_stream]
    slot_of_pair = np.empty(pairs, dtype=np.int64)
    slot_of_pair[order] = np.arange(pairs)
    banks = int(entry_bank.max(initial=0)) + 1
    seg_key = stream_of[entry_pair] * banks + entry_bank
    # entries by (stream, bank), in pair order within: a stable sort (by radix on 16 bits)
    by_seg = np.argsort(_narrow(seg_key, n * banks), kind="stable")
    seg_key, e_load = seg_key[by_seg], entry_load[by_seg]
    e_slot = slot_of_pair[entry_pair[by_seg]]
    e_stream, e_pos = slot_stream[e_slot], slot_pos[e_slot]
    resume = np.zeros(n, dtype=np.int64)  # position each stream resumes at
    issue = np.zeros(n, dtype=np.int64)  # its issue cycle there
    busiest = np.zeros(n, dtype=np.int64)  # its busiest bank's finish cycle there
    free = np.zeros(n * banks, dtype=np.int64)
    out = np.zeros(pairs, dtype=np.int64)
    slots = np.arange(pairs)
    budget = SPECULATION_PASSES * (len(e_load) + pairs)
    while len(slots):
        budget -= len(e_load) + len(slots)
        if budget < 0:
            return None
        st, pos = slot_stream[slots], slot_pos[slots]
        t_e = issue[e_stream] + e_pos - resume[e_stream]
        first = _starts(seg_key)
        total = np.cumsum(e_load)
        seg_start = np.maximum.accumulate(np.where(first, np.arange(len(first)), 0))
        queued = total - (total - e_load)[seg_start]
        reach = _segmented_running_max(t_e - (queued - e_load), first)
        f_e = queued + np.maximum(free[seg_key], reach)
        top = np.full(pairs, -_SEGMENT, dtype=np.int64)
        np.maximum.at(top, e_slot, f_e)
        s_first = _starts(st)
        tops = top[slots]
        tops[s_first] = np.maximum(tops[s_first], busiest[st[s_first]])
        most = _segmented_running_max(tops, s_first)
        t = issue[st] + pos - resume[st]
        last = pos == length[st] - 1
        stalled_at = np.flatnonzero(~last & (most - queue_depth > t + 1))
        cut = length - 1
        if len(stalled_at):
            stalled, first_at = np.unique(st[stalled_at], return_index=True)
            at = stalled_at[first_at]
            cut[stalled] = pos[at]
        exact = pos <= cut[st]
        out[slots[exact]] = np.maximum(
            1, most[exact] - np.where(last[exact], 0, queue_depth) - t[exact])
        if not len(stalled_at):
            break
        # the stalled streams resume after their first stall, their banks as they are then
        placed = e_pos <= cut[e_stream]
        settled = placed & np.append(~placed[1:] | first[1:], True)
        free[seg_key[settled]] = f_e[settled]
        issue[stalled] = most[at] - queue_depth
        busiest[stalled] = most[at]
        resume[stalled] = cut[stalled] + 1
        slots = slots[~exact]
        keep = ~placed
        seg_key, e_load, e_slot, e_stream, e_pos = (
            v[keep] for v in (seg_key, e_load, e_slot, e_stream, e_pos))
    result = np.empty(pairs, dtype=np.int64)
    result[order] = out
    return result


def _lockstep(stream: np.ndarray, entry_pair: np.ndarray, entry_bank: np.ndarray,
              entry_load: np.ndarray, queue_depth: int) -> np.ndarray:
    """:func:`issue_intervals` one chunk-pair position at a time, over every PE and bank."""
    pairs = len(stream)
    if pairs == 0:
        return np.zeros(0, dtype=np.int64)
    # streams ranked longest first, so the streams with a p-th pair are ranks 0 .. active[p]-1
    ids, stream_of, length = np.unique(stream, return_inverse=True, return_counts=True)
    by_length = np.argsort(-length, kind="stable")
    rank = np.empty(len(ids), dtype=np.int64)
    rank[by_length] = np.arange(len(ids))
    pair_rank = rank[stream_of]
    order = np.lexsort((np.arange(pairs), pair_rank))  # by stream, then issue order
    starts = np.concatenate(([0], np.cumsum(length[by_length])[:-1]))
    position = np.empty(pairs, dtype=np.int64)
    position[order] = np.arange(pairs) - starts[pair_rank[order]]
    steps = int(length.max())
    active = np.bincount(position, minlength=steps)
    e_step = position[entry_pair]
    e_rank = pair_rank[entry_pair]
    e_bank = np.asarray(entry_bank, dtype=np.int64)
    e_load = np.asarray(entry_load, dtype=np.int64)
    banks = int(e_bank.max(initial=0)) + 1
    # each stream's bank backlogs, relative to its next issue cycle (a bank with nothing left
    # at that cycle holds 0), and per step and stream the largest backlog once the pair's
    # products are queued: the pair's interval follows from it
    backlog = np.zeros((len(ids), banks), dtype=np.int64)
    peak = np.zeros((steps, len(ids)), dtype=np.int64)
    # the loads of a block of steps as one dense (steps, streams, banks) array
    block = max(1, BLOCK_ELEMENTS // (len(ids) * banks))
    active_streams = active.tolist()
    for block_start in range(0, steps, block):
        in_block = (e_step >= block_start) & (e_step < block_start + block)
        loads = np.zeros((min(block, steps - block_start), len(ids), banks), dtype=np.int64)
        loads[e_step[in_block] - block_start, e_rank[in_block], e_bank[in_block]] = \
            e_load[in_block]
        for offset, load in enumerate(loads):
            n = active_streams[block_start + offset]
            head, top = backlog[:n], peak[block_start + offset, :n]
            head += load[:n]
            head.max(axis=1, out=top)
            advance = top - queue_depth
            np.maximum(advance, 1, out=advance)
            head -= advance[:, None]
            np.maximum(head, 0, out=head)
    last = np.zeros(pairs, dtype=bool)
    last[order[np.cumsum(length[by_length]) - 1]] = True
    # the next pair issues once the peak backlog is within the queues (at least a cycle on);
    # after a stream's last pair its banks drain
    top = peak[position, pair_rank] - np.where(last, 0, queue_depth)
    return np.maximum(top, 1)
