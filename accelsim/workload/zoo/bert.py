"""One BERT-base encoder layer (Devlin et al., NAACL 2019), trainable on its own.

Input: a (T, 768) token sequence, T = 128 by default. The layer: Q, K and V projections
(768 -> 768 linear layers with bias), attention scores = 12 head-wise (T x 64) @ (64 x T)
products, softmax, context = 12 head-wise (T x T) @ (T x 64) products, output projection,
residual add + layer norm, then the feed-forward network 768-3072 (GELU)-768, residual add +
layer norm. That is 7,087,872 parameters, the per-layer figure of BERT-base.

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


def bert_layer(name: str, seq_len: int = 128, hidden: int = 768, heads: int = 12,
               ffn: int = 3072, classes: int = 9) -> Network:
    """A BERT encoder layer over ``seq_len`` tokens, with a token-classification head."""
    head_dim = hidden // heads
    b = NetworkBuilder(name, (seq_len, hidden))
    x = b.input_name
    q = b.linear(x, hidden, name="attention.query")
    k = b.linear(x, hidden, name="attention.key")
    v = b.linear(x, hidden, name="attention.value")
    scores = b.matmul(q, k, heads, seq_len, seq_len, head_dim, name="attention.scores")
    probs = b.softmax(scores, name="attention.softmax")
    context = b.matmul(probs, v, heads, seq_len, head_dim, seq_len,
                       name="attention.context", merge_heads=True)
    y = b.linear(context, hidden, name="attention.output")
    y = b.add(y, x, name="attention.residual")
    h = b.layernorm(y, name="attention.layernorm")
    y = b.gelu(b.linear(h, ffn, name="intermediate"), name="intermediate.gelu")
    y = b.linear(y, hidden, name="output")
    y = b.add(y, h, name="output.residual")
    y = b.layernorm(y, name="output.layernorm")
    y = b.linear(y, classes, name="classifier")
    b.loss(y)
    return b.build()


ZOO.register("bert_base_layer")(partial(bert_layer, "bert_base_layer"))
