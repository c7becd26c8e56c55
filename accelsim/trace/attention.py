"""Fused scaled-dot-product attention ops as their GEMMs and softmax (torch-free).

PyTorch dispatches ``F.scaled_dot_product_attention`` (and so ``nn.MultiheadAttention`` and
``nn.TransformerEncoder``) to one fused aten op per call: ``_scaled_dot_product_flash_attention_for_cpu``
on CPU builds, ``_scaled_dot_product_flash_attention``, ``_scaled_dot_product_efficient_attention``,
``_scaled_dot_product_cudnn_attention`` or ``_scaled_dot_product_fused_attention_overrideable``
elsewhere, each with its ``..._backward`` op. The math variant
``_scaled_dot_product_attention_math`` is composite: below autograd it normally arrives already
split into ``bmm`` / ``_safe_softmax`` calls (traced as matmuls), and is handled here in case it
is dispatched whole. Each fused call is traced as what it computes, with the real shapes of its
arguments: query (B, H, L, E), key (B, Hkv, S, E), value (B, Hkv, S, Ev), ``count`` = B·H
products (grouped-query attention broadcasts the key/value heads over the H query heads):

forward (layers ``<module>.scores``, ``.softmax``, ``.context``, as the zoo's BERT):

* scores S = Q·Kᵀ: GEMM L x S x E;
* softmax P = softmax(S·scale + mask) on the vector unit, B·H·L·S elements;
* context O = P·V: GEMM L x Ev x S.

backward (all ``bwd_data``; the flash / efficient kernels keep only the row log-sum-exp, so they
recompute the scores, which ``torch.utils.flop_counter`` counts too):

* recomputed scores S = Q·Kᵀ (L x S x E) and probabilities P = exp(S·scale - lse) (vector);
* dP = dO·Vᵀ (L x S x Ev) and dV = Pᵀ·dO (S x Ev x L), layer ``.context``;
* dS = P ⊙ (dP - rowsum(dO ⊙ O)), the softmax backward (vector, layer ``.softmax``);
* dQ = dS·K (L x E x S) and dK = dSᵀ·Q (S x E x L), layer ``.scores``.

MACs are those of ``torch.utils.flop_counter``'s ``sdpa_flop_count`` (2 products forward) and
``sdpa_backward_flop_count`` (5 backward), FLOPs / 2. **Causal attention** (``is_causal``) and an
explicit ``attn_mask`` / ``attn_bias`` are counted like FlopCounterMode counts them: as the full
L x S products (a causal mask's useful MACs are about half, L·(L+1)/2 of L², which neither
counts); the mask costs one vector operation per score element in the softmax and in its
backward, and a mask tensor is read by the softmax op.
"""

from __future__ import annotations

from dataclasses import dataclass

from accelsim.workload.op import Gemm

#: Forward ops and the meaning of their second tensor output: ``lse`` (log-sum-exp per row,
#: the probabilities are recomputed in backward) or ``probs`` (the materialised P).
FORWARD_OPS = {
    "_scaled_dot_product_flash_attention_for_cpu": "lse",
    "_scaled_dot_product_flash_attention": "lse",
    "_scaled_dot_product_efficient_attention": "lse",
    "_scaled_dot_product_cudnn_attention": "lse",
    "_scaled_dot_product_fused_attention_overrideable": "lse",
    "_scaled_dot_product_attention_math": "probs",
    "_scaled_dot_product_attention_math_for_mps": "probs",
}
#: Backward ops; their first three tensor outputs are dQ, dK, dV.
BACKWARD_OPS = frozenset(f"{op}_backward" for op, saved in FORWARD_OPS.items() if saved == "lse")
ATTENTION_OPS = frozenset(FORWARD_OPS) | BACKWARD_OPS

#: Vector operations per score element: softmax forward and backward as the zoo's ``softmax``
#: (:data:`accelsim.workload.training.VECTOR_OPS`), the recomputation of P from the scores and
#: the log-sum-exp (subtract, exp), and the mask (one add or select).
RECOMPUTE_OPS = 2.0
MASK_OPS = 1.0


@dataclass(frozen=True)
class AttentionShape:
    """The dimensions of one fused attention call."""

    batch: int
    heads: int  # query heads
    query_len: int  # L
    key_len: int  # S
    head_dim: int  # E
    value_dim: int  # Ev
    masked: bool  # causal or an explicit mask / bias

    @property
    def count(self) -> int:
        return self.batch * self.heads

    @property
    def scores(self) -> int:
        """Elements of the score (and probability) matrix: B·H·L·S."""
        return self.count * self.query_len * self.key_len

    def attrs(self, gemm: Gemm) -> dict:
        return {"count": gemm.count, "m": gemm.m, "n": gemm.n, "k": gemm.k}

    def forward_gemms(self) -> tuple[Gemm, Gemm]:
        """S = Q·Kᵀ and O = P·V."""
        L, S, E, Ev, c = self.query_len, self.key_len, self.head_dim, self.value_dim, self.count
        return Gemm(L, S, E, c), Gemm(L, Ev, S, c)

    def backward_gemms(self) -> dict[str, Gemm]:
        """The recomputed scores, dP, dV, dQ and dK."""
        L, S, E, Ev, c = self.query_len, self.key_len, self.head_dim, self.value_dim, self.count
        return {"scores": Gemm(L, S, E, c), "dP": Gemm(L, S, Ev, c), "dV": Gemm(S, Ev, L, c),
                "dQ": Gemm(L, E, S, c), "dK": Gemm(S, E, L, c)}


def _dims(shape) -> tuple[int, int, int, int]:
    """(batch, heads, length, dim) of a 4-D operand; a 3-D one has one head, a 2-D one also
    batch 1 (extra leading dimensions are folded into the batch)."""
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"attention operand of shape {shape}")
    padded = (1,) * max(0, 4 - len(shape)) + shape
    batch = 1
    for d in padded[:-3]:
        batch *= d
    return batch, padded[-3], padded[-2], padded[-1]


def attention_shape(named: dict) -> AttentionShape:
    """The shape of a fused attention call from its named arguments (tensors as objects with a
    ``shape``): ``query``, ``key``, ``value``, ``is_causal``, ``attn_mask`` / ``attn_bias``."""
    b, h, length, e = _dims(named["query"].shape)
    _, _, key_len, _ = _dims(named["key"].shape)
    ev = _dims(named["value"].shape)[3]
    mask = named.get("attn_mask", named.get("attn_bias"))
    return AttentionShape(b, h, length, key_len, e, ev,
                          bool(named.get("is_causal")) or mask is not None)
