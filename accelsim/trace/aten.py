"""What each captured aten op is, for the workload graph (torch-free tables).

Ops are named by their overload packet (``convolution``, ``native_batch_norm_backward``, ...).
The capture (:mod:`accelsim.trace.capture`) skips views (found from the op schema, not listed
here), :data:`COPY_OPS` (a copy is the same value: it keeps the data dependency and is not an
op) and :data:`CREATION_OPS` (they read no tensor data). Every other op becomes an op of the
graph: a GEMM if it is in :data:`GEMM_OPERANDS`, a fused attention op as its GEMMs and softmax
(:mod:`accelsim.trace.attention`), else a vector op whose layer kind and operations per
element come from :data:`VECTOR_KINDS` (kinds and counts of :mod:`accelsim.workload.training`
where the zoo has the same layer; one operation per element otherwise). An op in none of
the tables nor :data:`ELEMENTWISE_OPS` is unknown: :func:`known_op` says so and the trace reports
it (manifest ``unknown_ops`` and a logged warning) rather than model it silently.
"""

from __future__ import annotations

from accelsim.trace.attention import ATTENTION_OPS
from accelsim.workload.training import VECTOR_OPS

#: Ops that copy a value (same data dependency; no work modelled). ``_unsafe_view`` is a view
#: whose schema does not say so (``reshape`` of a contiguous tensor in composite ops).
COPY_OPS = frozenset({"clone", "copy_", "_to_copy", "contiguous", "lift_fresh_copy",
                      "_copy_from", "_copy_from_and_resize", "_unsafe_view"})

#: Ops that write tensors without reading tensor data.
CREATION_OPS = frozenset({
    "empty", "empty_like", "empty_strided", "new_empty", "new_empty_strided", "zeros",
    "zeros_like", "ones", "ones_like", "full", "full_like", "fill_", "zero_", "scalar_tensor",
    "arange", "new_zeros", "new_ones", "new_full", "rand", "randn", "randint", "normal_",
    "uniform_", "bernoulli_", "resize_", "lift_fresh"})

#: In-place ops that change only a tensor's shape or strides (treated as views).
METADATA_INPLACE_OPS = frozenset({"unsqueeze_", "squeeze_", "t_", "transpose_", "as_strided_",
                                  "resize_as_", "set_"})

#: The ops that run on the PE array, with the positions of their GEMM operands (A, B, and the
#: output gradient for convolution_backward) among their arguments: what Top-K sparse
#: training sparsifies.
GEMM_OPERANDS = {"convolution": (0, 1), "convolution_backward": (0, 1, 2), "mm": (0, 1),
                 "addmm": (1, 2), "bmm": (0, 1), "baddbmm": (1, 2)}

#: Normalisation ops whose backward splits into parameter- and input-gradient ops, as the zoo.
NORM_OPS = {"native_batch_norm": "batchnorm", "_native_batch_norm_legit": "batchnorm",
            "_batch_norm_with_update": "batchnorm", "native_layer_norm": "layernorm",
            "native_group_norm": "batchnorm"}
NORM_BACKWARD_OPS = {"native_batch_norm_backward": "batchnorm",
                     "batch_norm_backward": "batchnorm",
                     "native_layer_norm_backward": "layernorm",
                     "native_group_norm_backward": "batchnorm"}

#: op -> (layer kind, forward-direction op?). Operations per element follow from the kind.
VECTOR_KINDS: dict[str, tuple[str, bool]] = {
    **{name: (kind, True) for name, kind in NORM_OPS.items()},
    **{name: (kind, False) for name, kind in NORM_BACKWARD_OPS.items()},
    "relu": ("relu", True), "relu_": ("relu", True), "threshold_backward": ("relu", False),
    "gelu": ("gelu", True), "gelu_backward": ("gelu", False),
    "_softmax": ("softmax", True), "_safe_softmax": ("softmax", True),
    "_softmax_backward_data": ("softmax", False),
    "_log_softmax": ("loss", True), "_log_softmax_backward_data": ("loss", False),
    "nll_loss_forward": ("loss", True), "nll_loss_backward": ("loss", False),
    "add": ("add", True), "add_": ("add", True),
    "cat": ("concat", True),
    "max_pool2d_with_indices": ("maxpool", True),
    "max_pool2d_with_indices_backward": ("maxpool", False),
    "avg_pool2d": ("avgpool", True), "avg_pool2d_backward": ("avgpool", False),
    "_adaptive_avg_pool2d": ("avgpool", True), "_adaptive_avg_pool2d_backward": ("avgpool", False),
    "mean": ("avgpool", True),
}

#: Elementwise and reduction ops that are vector ops of one operation per element (of the
#: largest tensor they touch): known, so not reported as unknown.
ELEMENTWISE_OPS = frozenset({
    "mul", "mul_", "div", "div_", "sub", "sub_", "rsub", "neg", "neg_", "abs", "sign", "exp",
    "exp_", "log", "log_", "sqrt", "rsqrt", "pow", "pow_", "reciprocal", "tanh", "sigmoid",
    "tanh_backward", "sigmoid_backward", "silu", "silu_backward", "clamp", "clamp_", "clamp_min",
    "clamp_max", "where", "masked_fill", "masked_fill_", "maximum", "minimum", "sum", "amax",
    "amin", "max", "min", "argmax", "var_mean", "addcmul", "addcmul_", "addcdiv", "addcdiv_",
    "lerp", "lerp_", "native_dropout", "native_dropout_backward", "select_backward",
    "slice_backward", "index_select", "gather", "scatter", "scatter_add", "embedding",
    "embedding_dense_backward", "eq", "ne", "lt", "le", "gt", "ge", "logical_not", "stack",
    "triu", "tril"})

#: Pooling ops whose forward work is a window of inputs per output.
POOL_FORWARD = frozenset({"max_pool2d_with_indices", "avg_pool2d", "_adaptive_avg_pool2d",
                          "mean"})


def known_op(op: str) -> bool:
    """Whether the graph models ``op`` by its table (a GEMM, a vector op of a known kind or an
    elementwise op); any other op with tensor inputs is traced as a one-operation-per-element
    vector op and reported (:mod:`accelsim.trace.builder`)."""
    return (op in GEMM_OPERANDS or op in VECTOR_KINDS or op in ELEMENTWISE_OPS
            or op in ATTENTION_OPS or op in COPY_OPS or op in CREATION_OPS)


def vector_kind(op: str) -> str:
    """The layer kind of a vector op (its name without a trailing ``_`` when not tabled)."""
    return VECTOR_KINDS.get(op, (op.rstrip("_"), True))[0]


def vector_ops_per_element(op: str) -> float:
    """Operations per element of a vector op: the zoo's figure for its kind and direction."""
    kind, forward = VECTOR_KINDS.get(op, (op, True))
    if kind in VECTOR_OPS:
        return VECTOR_OPS[kind][0 if forward else 1]
    return 1.0
