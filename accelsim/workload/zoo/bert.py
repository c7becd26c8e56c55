"""BERT-base encoder layers (Devlin et al., NAACL 2019), trainable on their own.

``bert_base_layer`` is one encoder layer; ``bert_base`` the twelve of BERT-base. The token,
position and segment embeddings (a table lookup, not arithmetic an accelerator's arrays do)
are left out: the input is the embedded sequence.

Input: a (T, 768) token sequence, T = 128 by default. The layer: Q, K and V projections
(768 -> 768 linear layers with bias), attention scores = 12 head-wise (T x 64) @ (64 x T)
products, softmax, context = 12 head-wise (T x T) @ (T x 64) products, output projection,
residual add + layer norm, then the feed-forward network 768-3072 (GELU)-768, residual add +
layer norm. That is 7,087,872 parameters per layer, the per-layer figure of BERT-base
(85,054,464 for the twelve).

So that the layer trains standalone, a token-classification head is appended: a linear
768 -> ``classes`` (9 by default, the CoNLL-2003 NER tag set) and a softmax cross-entropy loss.
Dropout is left out (no accelerator arithmetic).

The context product writes its result as (T, heads * head_dim), the layout in which the
output projection reads it (PyTorch's ``transpose(1, 2).reshape(T, 768)``); the builder's
``matmul`` does so with ``merge_heads=True``.
"""

from __future__ import annotations

from functools import partial

from accelsim.workload.network import Network, NetworkBuilder
from accelsim.workload.zoo.registry import ZOO


def _encoder_layer(b: NetworkBuilder, x: str, prefix: str, seq_len: int, hidden: int,
                   heads: int, ffn: int) -> str:
    """Append one encoder layer reading ``x``; returns its output. Layer names start with
    ``prefix`` (empty for a lone layer)."""
    head_dim = hidden // heads
    q = b.linear(x, hidden, name=f"{prefix}attention.query")
    k = b.linear(x, hidden, name=f"{prefix}attention.key")
    v = b.linear(x, hidden, name=f"{prefix}attention.value")
    scores = b.matmul(q, k, heads, seq_len, seq_len, head_dim,
                      name=f"{prefix}attention.scores")
    probs = b.softmax(scores, name=f"{prefix}attention.softmax")
    context = b.matmul(probs, v, heads, seq_len, head_dim, seq_len,
                       name=f"{prefix}attention.context", merge_heads=True)
    y = b.linear(context, hidden, name=f"{prefix}attention.output")
    y = b.add(y, x, name=f"{prefix}attention.residual")
    h = b.layernorm(y, name=f"{prefix}attention.layernorm")
    y = b.gelu(b.linear(h, ffn, name=f"{prefix}intermediate"),
               name=f"{prefix}intermediate.gelu")
    y = b.linear(y, hidden, name=f"{prefix}output")
    y = b.add(y, h, name=f"{prefix}output.residual")
    return b.layernorm(y, name=f"{prefix}output.layernorm")


def bert(name: str, layers: int = 1, seq_len: int = 128, hidden: int = 768, heads: int = 12,
         ffn: int = 3072, classes: int = 9) -> Network:
    """``layers`` BERT encoder layers over ``seq_len`` tokens, with a token-classification
    head (layer names ``layer<i>.`` when there is more than one)."""
    b = NetworkBuilder(name, (seq_len, hidden))
    y = b.input_name
    for index in range(layers):
        prefix = f"layer{index}." if layers > 1 else ""
        y = _encoder_layer(b, y, prefix, seq_len, hidden, heads, ffn)
    y = b.linear(y, classes, name="classifier")
    b.loss(y)
    return b.build()


ZOO.register("bert_base_layer")(partial(bert, "bert_base_layer", layers=1))
ZOO.register("bert_base")(partial(bert, "bert_base", layers=12))
