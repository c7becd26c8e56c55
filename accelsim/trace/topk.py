"""SWAT-style Top-K magnitude sparsification (Raihan & Aamodt, NeurIPS 2020).

Top-K keeps the ``1 - sparsity`` fraction of a tensor's elements with the largest magnitude and
zeroes the rest, over the whole tensor (SWAT's per-layer Top-K). The threshold is the
``sparsity`` quantile of ``|x|``; above :data:`EXACT_LIMIT` elements it is taken from an evenly
strided sample of that many elements (deterministic, so the same tensor gets the same mask in
the forward and the backward pass). Ties at the threshold are dropped, so a tensor that already
has more zeros than ``sparsity`` keeps exactly its non-zeros.
"""

from __future__ import annotations

import torch

#: Tensors up to this many elements get an exact threshold; larger ones a strided sample.
EXACT_LIMIT = 1 << 16


def topk_threshold(x: torch.Tensor, sparsity: float) -> float:
    """The magnitude at or below which Top-K at ``sparsity`` drops an element."""
    flat = x.detach().reshape(-1).abs()
    if flat.numel() > EXACT_LIMIT:
        step = flat.numel() // EXACT_LIMIT
        flat = flat[::step][:EXACT_LIMIT]
    drop = int(round(sparsity * flat.numel()))
    if drop <= 0:
        return -1.0
    return float(torch.kthvalue(flat.float(), min(drop, flat.numel())).values)


def topk_mask(x: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Boolean mask of the elements Top-K keeps (all non-zeros when ``sparsity`` is 0)."""
    if sparsity <= 0:
        return x != 0
    return x.detach().abs() > topk_threshold(x, sparsity)


def sparsify(x, sparsity: float):
    """``x`` with the elements Top-K drops set to zero (non-float arguments unchanged)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or sparsity <= 0:
        return x
    return x * topk_mask(x, sparsity)
