"""The tracer on attention (needs torch): a traced ``torch.nn.TransformerEncoder`` has the GEMMs
that ``torch.utils.flop_counter.FlopCounterMode`` counts, fused attention included; an aten op the
tracer does not know is reported in the manifest and the log."""

from __future__ import annotations

import json
import logging

import pytest

torch = pytest.importorskip("torch", reason="the tracer needs torch (pip install 'accelsim[trace]')",
                            exc_type=ImportError)

from torch.utils import flop_counter  # noqa: E402

from accelsim.trace.options import TraceOptions  # noqa: E402
from accelsim.trace.tracer import trace  # noqa: E402
from accelsim.trace.writer import write  # noqa: E402
from accelsim.workload.traced import load_traced  # noqa: E402

F = torch.nn.functional
aten = torch.ops.aten
MODEL = "accelsim.trace.models:transformer_encoder"
BATCH, SEQ, D_MODEL = 4, 16, 64

# torch's own sdpa formulas (registered for the CUDA flash / efficient / cudnn ops) applied to the
# CPU flash op, which FlopCounterMode's registry does not list (it would count it as 0 FLOPs).
CPU_SDPA = {
    aten._scaled_dot_product_flash_attention_for_cpu:
        lambda q, k, v, *args, out_shape=None, **kwargs: flop_counter.sdpa_flop_count(q, k, v),
    aten._scaled_dot_product_flash_attention_for_cpu_backward:
        lambda dout, q, k, v, *args, out_shape=None, **kwargs:
        flop_counter.sdpa_backward_flop_count(dout, q, k, v),
}


def _traced(tmp_path, **model_args):
    return trace(TraceOptions(model=MODEL, model_args=model_args, input_shape=(SEQ, D_MODEL),
                              out=str(tmp_path), batch=BATCH, steps=1, train_size=BATCH,
                              stats=False))


def _traced_macs(result) -> tuple[int, int]:
    fwd = sum(op.macs for op in result.graph.ops if op.phase.value == "fwd")
    bwd = sum(op.macs for op in result.graph.ops if op.phase.value in ("bwd_data", "bwd_weight"))
    return fwd, bwd


def _counted_macs(**model_args) -> tuple[int, int]:
    """FlopCounterMode's forward (model + loss) and backward FLOPs / 2 of the same model."""
    from accelsim.trace.models import transformer_encoder

    model = transformer_encoder(**model_args)
    model.train()
    x, y = torch.randn(BATCH, SEQ, D_MODEL), torch.randint(0, 10, (BATCH,))
    with flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_SDPA) as counter:
        loss = F.cross_entropy(model(x), y)
    fwd = counter.get_total_flops()
    with flop_counter.FlopCounterMode(display=False, custom_mapping=CPU_SDPA) as counter:
        loss.backward()
    return fwd // 2, counter.get_total_flops() // 2


@pytest.mark.parametrize("causal", [False, True])
def test_fused_attention_macs_equal_flop_counter(tmp_path, causal):
    """Dropout 0: PyTorch runs the fused sdpa op; the traced GEMM MACs per phase equal
    FlopCounterMode's count exactly (causal counted in full, as FlopCounterMode does), and one
    layer's attention GEMMs equal the hand count."""
    result = _traced(tmp_path, causal=causal)
    assert _traced_macs(result) == _counted_macs(causal=causal)
    ops = {op.name: op for op in result.graph.ops}
    attn = "encoder.layers.0.self_attn"
    # hand count, one layer: B=4, H=4 heads, L=S=16 tokens, E=Ev=64/4=16 per head:
    # one product B*H*L*S*E = 4*4*16*16*16 = 65,536 MACs; forward S = Q.K^T and O = P.V
    # = 131,072; backward recomputed S, dP = dO.V^T, dV = P^T.dO, dQ = dS.K, dK = dS^T.Q
    # = 5 * 65,536 = 327,680.
    fwd = [f"{attn}.scores.fwd", f"{attn}.context.fwd"]
    bwd = [f"{attn}.scores.bwd_data", f"{attn}.context.bwd_data", f"{attn}.context.bwd_data-2",
           f"{attn}.scores.bwd_data-2", f"{attn}.scores.bwd_data-3"]
    assert sum(ops[name].macs for name in fwd) == 131_072
    assert sum(ops[name].macs for name in bwd) == 327_680
    softmax = ops[f"{attn}.softmax.fwd"]
    assert softmax.gemm is None and softmax.elements == 4 * 4 * 16 * 16
    assert softmax.vector_ops == (6.0 if causal else 5.0)  # the mask: one more per element
    assert ops[f"{attn}.softmax.bwd_data-2"].elements == 4 * 4 * 16 * 16
    assert result.manifest["unknown_ops"] == []


def test_math_attention_macs_equal_flop_counter(tmp_path):
    """With dropout PyTorch runs the math path (bmm, softmax, dropout): the traced MACs still
    equal FlopCounterMode's count, and nothing is unknown."""
    result = _traced(tmp_path, dropout=0.1)
    assert _traced_macs(result) == _counted_macs(dropout=0.1)
    assert result.manifest["unknown_ops"] == []


class Cumulative(torch.nn.Module):
    """A linear layer, then a cumulative sum (an op the tracer has no table for)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(784, 10)

    def forward(self, x):
        return torch.cumsum(self.fc(x), dim=1)


def cumulative() -> torch.nn.Module:
    return Cumulative()


def test_unknown_op_is_reported(tmp_path, caplog):
    """``cumsum`` runs forward and backward (as a flip + cumsum): it is listed in the manifest
    with its calls per step, which the strict reader loads, and logged as a warning."""
    with caplog.at_level(logging.WARNING, logger="accelsim.trace.tracer"):
        result = trace(TraceOptions(model="tests.test_trace_attention:cumulative",
                                    input_shape=(784,), out=str(tmp_path), batch=4, steps=2,
                                    train_size=8, stats_every=1))
    unknown = {entry["op"]: entry["count"] for entry in result.manifest["unknown_ops"]}
    assert unknown.get("cumsum", 0) >= 1
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("cumsum" in message for message in warnings) == 1  # once per trace, not per step
    folder = write(result, tmp_path / "cumulative")
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["unknown_ops"] == result.manifest["unknown_ops"]
    load_traced(folder)
