"""SWAT-style Top-K magnitude sparsification (Raihan & Aamodt, NeurIPS 2020).

Top-K keeps the ``1 - sparsity`` fraction of a tensor's elements with the largest magnitude and
zeroes the rest, over the whole tensor (SWAT's per-layer Top-K). The threshold is the
``sparsity`` quantile of ``|x|``; above :data:`EXACT_LIMIT` elements it is taken from a uniform
random sample of that many elements, drawn with a fixed seed (as are the densities of
:func:`density` and :func:`topk_density`), so the same tensor gets the same mask in the forward
and the backward pass. Ties at the threshold are dropped, so a tensor that already
has more zeros than ``sparsity`` keeps exactly its non-zeros.
"""

from __future__ import annotations

import torch

#: Tensors up to this many elements get an exact threshold; larger ones a random sample.
EXACT_LIMIT = 1 << 15
#: Seed of the sample positions (a fixed seed: reproducible masks).
SAMPLE_SEED = 0


def magnitude_sample(x: torch.Tensor) -> torch.Tensor:
    """|x| flattened, or a uniform random sample (seeded, so reproducible) of
    :data:`EXACT_LIMIT` of its elements.

    A strided sample would not do: with power-of-two strides and plane sizes it lands on the
    same positions of every plane (for example only a feature map's first column), and the
    threshold would come from the border alone.
    """
    flat = x.detach()
    if not flat.is_contiguous() and flat.dim() == 2 and flat.t().is_contiguous():
        flat = flat.t()  # the same values: no copy of a transposed operand
    flat = flat.reshape(-1)
    if flat.numel() > EXACT_LIMIT:
        generator = torch.Generator().manual_seed(SAMPLE_SEED)
        picks = torch.randint(0, flat.numel(), (EXACT_LIMIT,), generator=generator)
        flat = flat[picks.to(flat.device)]
    return flat.abs()


def topk_threshold(x: torch.Tensor, sparsity: float) -> float:
    """The magnitude at or below which Top-K at ``sparsity`` drops an element."""
    flat = magnitude_sample(x)
    drop = round(sparsity * flat.numel())
    if drop <= 0:
        return -1.0
    return float(torch.kthvalue(flat.float(), min(drop, flat.numel())).values)


def topk_mask(x: torch.Tensor, sparsity: float) -> torch.Tensor:
    """Boolean mask of the elements Top-K keeps (all non-zeros when ``sparsity`` is 0)."""
    if sparsity <= 0:
        return x != 0
    return x.detach().abs() > topk_threshold(x, sparsity)


def topk_density(x: torch.Tensor, sparsity: float) -> float:
    """The share of elements Top-K keeps (estimated on the sample for large tensors)."""
    flat = magnitude_sample(x)
    if sparsity <= 0:
        return density(x)
    return float((flat > topk_threshold(x, sparsity)).float().mean())


def density(x: torch.Tensor) -> float:
    """The share of non-zero elements (estimated on the sample for large tensors)."""
    flat = magnitude_sample(x)
    return float(torch.count_nonzero(flat)) / max(1, flat.numel())


#: The operands a backward op sparsifies when output gradients stay dense (SWAT: weights and
#: activations only): a convolution's input and weight; matrix products run dense.
DENSE_GRADIENT_OPERANDS = {"convolution_backward": (1, 2)}


def backward_positions(op: str, positions: tuple, sparse_gradients: bool) -> tuple:
    """The operand positions a backward op sparsifies (all GEMM operands, or without the
    output gradient: :data:`DENSE_GRADIENT_OPERANDS`)."""
    return positions if sparse_gradients else DENSE_GRADIENT_OPERANDS.get(op, ())


def sparsify_operands(args: tuple, positions, sparsity: float,
                      dense: frozenset[int] = frozenset()) -> tuple:
    """``args`` of a GEMM op with the operands at ``positions`` sparsified; unchanged when
    ``sparsity`` is 0 or an operand shares its storage with one of the ``dense`` parameter
    storages (data pointers: a layer kept dense, such as the first convolution and the
    classifier, whose forward and input-gradient products then run dense)."""
    if sparsity <= 0:
        return args
    if dense and any(isinstance(args[i], torch.Tensor)
                     and args[i].untyped_storage().data_ptr() in dense
                     for i in positions if i < len(args)):
        return args
    return tuple(sparsify(a, sparsity) if i in positions else a for i, a in enumerate(args))


def sparsify(x, sparsity: float):
    """``x`` with the elements Top-K drops set to zero (non-float arguments unchanged)."""
    if not isinstance(x, torch.Tensor) or not x.is_floating_point() or sparsity <= 0:
        return x
    return x * topk_mask(x, sparsity)
