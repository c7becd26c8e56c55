"""Technique numerics for training (needs torch): ACRTC's masked operands, Mquans' quantised
delta updates and DAA's paired precisions against hand-derived values; the layer GEMMs against
autograd."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the numerics need torch (pip install "
                            "'accelsim[trace]')", exc_type=ImportError)

from accelsim.errors import ConfigError
from accelsim.trace.numerics.acrtc import AcrtcNumerics, AcrtcNumericsParams, masked
from accelsim.trace.numerics.base import Emulation, Gemms, applied
from accelsim.trace.numerics.daa import DaaNumerics, DaaNumericsParams, paired_matmul, rounded
from accelsim.trace.numerics.mquans import MquansNumerics, MquansNumericsParams, quantized
from accelsim.trace.numerics.spec import NumericsSpec
from accelsim.trace.stats.reuse import masked_fp16


def _linear(weight, bias=None):
    layer = torch.nn.Linear(len(weight[0]), len(weight), bias=bias is not None)
    with torch.no_grad():
        layer.weight.copy_(torch.tensor(weight, dtype=torch.float32))
        if bias is not None:
            layer.bias.copy_(torch.tensor(bias, dtype=torch.float32))
    return layer


# -- ACRTC ---------------------------------------------------------------------------------------
def test_masking_keeps_the_fp16_keys_top_mantissa_bits():
    """k = 8 keeps 2 of fp16's 10 mantissa bits: 1.9 = 1.111..b -> 1.11b = 1.75; -3.3 =
    -1.65 * 2 -> -1.5 * 2; 1.2345 -> 1.0; k = 10 keeps the power of two; k = 0 keeps fp16's
    last bit (1 + 2**-10) and clears what fp16 does not hold (1 + 2**-11)."""
    x = torch.tensor([1.9, -3.3, 1.2345, 0.0, 0.7])
    assert masked(x, 8).tolist() == [1.75, -3.0, 1.0, 0.0, 0.625]
    assert masked(x, 10).tolist() == [1.0, -2.0, 1.0, 0.0, 0.5]
    edge = torch.tensor([1 + 2 ** -10, 1 + 2 ** -11])
    assert masked(edge, 0).tolist() == [1 + 2 ** -10, 1.0]
    assert masked(edge, 1).tolist() == [1.0, 1.0]


def test_masking_agrees_with_the_tracers_fp16_keys():
    """On values fp16 holds exactly, the fp32 mask equals the fp16 key the hit-rate statistics
    use (accelsim.trace.stats.reuse.masked_fp16), for every k."""
    values = np.random.default_rng(1).normal(0, 3, 500).astype(np.float16).astype(np.float32)
    for k in range(11):
        ours = masked(torch.from_numpy(values), k).numpy()
        key = masked_fp16(values, k).view(np.float16).astype(np.float32)
        assert np.array_equal(ours, key), k


def test_acrtc_perturbs_the_streamed_operand_of_each_gemm():
    """y = x . w with x = (1.9, 3.3), w = (1, 1), k = 8: the forward streams x (1.75 + 3.0);
    with loss 1.3 y the output gradient 1.3 streams in both backward GEMMs as 1.25: dx = 1.25 w,
    dW = 1.25 x with the exact x held."""
    layer = _linear([[1.0, 1.0]])
    emulation = AcrtcNumerics(AcrtcNumericsParams(k=8), seed=0, steps_per_epoch=1)
    emulation.begin_step(0, [])
    x = torch.tensor([[1.9, 3.3]], requires_grad=True)
    with applied(layer, emulation):
        y = layer(x)
    assert y.item() == 4.75
    (1.3 * y).sum().backward()
    assert x.grad.tolist() == [[1.25, 1.25]]
    assert torch.equal(layer.weight.grad, torch.tensor([[1.25 * 1.9, 1.25 * 3.3]]))


def test_acrtc_phases_choose_the_gemms():
    """With phases [bwd_weight] the forward and dx are exact and only dW sees 1.25."""
    layer = _linear([[1.0, 1.0]])
    emulation = AcrtcNumerics(AcrtcNumericsParams(k=8, phases=["bwd_weight"]), 0, 1)
    emulation.begin_step(0, [])
    x = torch.tensor([[1.9, 3.3]], requires_grad=True)
    with applied(layer, emulation):
        y = layer(x)
    (1.3 * y).sum().backward()
    assert y.item() == pytest.approx(5.2)
    assert x.grad.tolist() == [[pytest.approx(1.3), pytest.approx(1.3)]]
    assert torch.equal(layer.weight.grad, torch.tensor([[1.25 * 1.9, 1.25 * 3.3]]))


def test_acrtc_k_follows_the_schedule_and_the_loss_plateau():
    """Schedule k = 8 before step 2, then 6; the adaptive controller (window 2, threshold
    0.005) sees a flat loss from step 2 on and tightens by 2 bits at steps 2 and 4."""
    params = AcrtcNumericsParams(schedule=[{"until_step": 2, "k": 8}, {"k": 6}])
    emulation = AcrtcNumerics(params, 0, 4)
    for step in range(4):
        emulation.begin_step(step, [1.0] * step)
    assert emulation.k_by_step == [8, 8, 6, 6]
    adaptive = AcrtcNumerics(AcrtcNumericsParams(k=8, adaptive={"window": 2}), 0, 4)
    for step in range(6):
        adaptive.begin_step(step, [1.0] * step)
    assert adaptive.k_by_step == [8, 8, 6, 6, 4, 4]
    assert adaptive.describe()["k_from_step"] == [[0, 8], [2, 6], [4, 4]]


def test_acrtc_hit_rate_zero_is_exact_and_one_is_the_bound():
    x = torch.tensor([[1.9, 3.3]])
    for rate, expected in ((0.0, 5.2), (1.0, 4.75)):
        layer = _linear([[1.0, 1.0]])
        emulation = AcrtcNumerics(AcrtcNumericsParams(k=8, hit_rate=rate), 0, 1)
        emulation.begin_step(0, [])
        with applied(layer, emulation):
            assert layer(x).item() == pytest.approx(expected)


# -- DAA -----------------------------------------------------------------------------------------
def test_daa_rounds_the_smaller_product_of_each_pair():
    """1.0 * 1 + 0.01 * 1: the smaller product's operands at bf16 give 0.01 -> 1.28125 * 2**-7
    (0.28 * 128 = 35.84 rounds to 36); at int8 (per-tensor scale 1/127) 0.01 * 127 = 1.27
    rounds to 1, so 1/127. The larger product stays exact in either stream."""
    b = torch.ones(2, 1)
    for a in ([[1.0, 0.01]], [[0.01, 1.0]]):
        a = torch.tensor(a)
        assert paired_matmul(a, b, "fp32", "bf16").item() == np.float32(1.0) + np.float32(
            1.28125 * 2 ** -7)
        assert paired_matmul(a, b, "fp32", "int8").item() == pytest.approx(1 + 1 / 127,
                                                                           rel=1e-7)


def test_daa_defaults_two_pairs_at_fp16_and_int8_by_hand():
    """The default DAA (high fp16, low int8) on a = [3 + 2**-10, 0.1, 0.3, 2] times ones, two
    pairs. Exponents (frexp): 2, -3, -1, 2, so the router gives the high unit 3 + 2**-10 in
    pair 0 and 2 in pair 1. fp16 has steps of 2**-9 in [2, 4): 3 + 2**-10 is a tie and rounds
    to even, 3. int8 scales a by 127 / (3 + 2**-10): 0.1 -> 4.232 -> 4, 0.3 -> 12.696 -> 13;
    b (all ones) -> 127, exactly 1. So 3 + 2 + 17 (3 + 2**-10) / 127, not the exact
    5.4009765625."""
    top = 3 + 2 ** -10
    a, b = torch.tensor([[top, 0.1, 0.3, 2.0]]), torch.ones(4, 1)
    params = DaaNumericsParams()
    expected = 5 + 17 * top / 127
    assert paired_matmul(a, b, params.high, params.low, params.router).item() == \
        pytest.approx(expected, rel=1e-6)
    # at high fp32 the 2**-10 stays
    assert paired_matmul(a, b, "fp32", params.low).item() == pytest.approx(
        expected + 2 ** -10, rel=1e-6)
    layer = _linear(a.tolist())
    with applied(layer, DaaNumerics(params, 0, 1)):
        assert layer(torch.ones(1, 4)).item() == pytest.approx(expected, rel=1e-6)


def test_daa_defaults_are_the_simulators_on_the_reproduction_hwconfig():
    """What the simulator's daa resolves on the hwconfig that ``accelsim reproduce daa`` runs
    (its parameters unset) is the emulation's default, under the same parameter names."""
    from accelsim.config.loader import load_hwconfig
    from accelsim.reproduce.daa import HW
    from accelsim.sim.engine import Simulation
    from accelsim.techniques.chain import TechniqueSpec
    from accelsim.techniques.daa import DaaParams
    from tests.conftest import HWCONFIGS, gemm_workload

    result = Simulation(load_hwconfig(HWCONFIGS / f"{HW}.yaml"), gemm_workload(8, 8, 8),
                        [TechniqueSpec.parse("daa:assumed_both_nonzero=0.5,"
                                             "assumed_one_nonzero=0.25")]).run()
    used = result["technique_stats"]["daa"]
    params = DaaNumericsParams()
    assert (params.high, params.low, params.phases) == (used["high"], used["low"],
                                                        used["phases"])
    assert (params.high, params.low) == ("fp16", "int8")
    assert set(DaaNumericsParams.model_fields) - {"router"} <= set(DaaParams.model_fields)


def test_daa_router_proxy_and_zero_detect():
    """1.0 and 1.9 have the same binary exponent: the exponent proxy ties and gives the even
    stream (1.0) the high unit, so 1.9 is rounded to bf16 (1 + 115/128); the magnitude router
    keeps 1.9. A zero product leaves the other at high precision."""
    a, b = torch.tensor([[1.0, 1.9]]), torch.ones(2, 1)
    assert paired_matmul(a, b, "fp32", "bf16", "exponent").item() == 1.0 + 1 + 115 / 128
    assert paired_matmul(a, b, "fp32", "bf16", "magnitude").item() == pytest.approx(2.9)
    zero = torch.tensor([[0.0, 0.01]])
    assert paired_matmul(zero, b, "fp32", "int8").item() == pytest.approx(0.01)


def test_daa_pairs_run_along_the_reduction_axis():
    """Odd K is padded with a zero: three products (4, 0.3, 0.2) pair as (4, 0.3) and
    (0.2, 0); only 0.3 is rounded, at int8 against the operand tensor's largest value 4."""
    a, b = torch.tensor([[4.0, 0.3, 0.2]]), torch.ones(3, 1)
    scale = 4.0 / 127
    expected = 4.0 + round(0.3 / scale) * scale + 0.2
    assert paired_matmul(a, b, "fp32", "int8").item() == pytest.approx(expected, rel=1e-6)


def test_rounded_formats():
    x = torch.tensor([1.9, 0.01, -300.0])
    assert rounded(x, "fp32") is x
    assert rounded(x, "bf16").tolist() == [1 + 115 / 128, 1.28125 * 2 ** -7, -300.0]
    # fp8 e4m3, scaled so that 300 maps to 448: 1.9 * 448 / 300 = 2.837 -> 2.75 (3 mantissa
    # bits at exponent 1: steps of 0.25)
    assert rounded(x, "fp8_e4m3")[0].item() == pytest.approx(2.75 * 300 / 448, rel=1e-6)


def _reference_conv_daa(x, w, stride, padding, high, low):
    """Loop reference: for every output, its products in im2col order paired (2j, 2j + 1); the
    pair's high unit goes to the larger sum of the operands' binary exponents."""
    cols = torch.nn.functional.unfold(x, w.shape[2:], padding=padding, stride=stride)
    a = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    bm = w.reshape(w.shape[0], -1).T
    al, bl = rounded(a, low), rounded(bm, low)
    ah, bh = rounded(a, high), rounded(bm, high)
    out = torch.zeros(a.shape[0], bm.shape[1])
    for m in range(a.shape[0]):
        for n in range(bm.shape[1]):
            total = 0.0
            for j in range(0, a.shape[1], 2):
                p = [float(a[m, j] * bm[j, n]), float(a[m, j + 1] * bm[j + 1, n])
                     if j + 1 < a.shape[1] else 0.0]
                e = [int(np.frexp(float(a[m, i]))[1] + np.frexp(float(bm[i, n]))[1])
                     if i < a.shape[1] and p[i - j] else -1000 for i in (j, j + 1)]
                high = 0 if e[0] >= e[1] else 1
                highp = float(ah[m, j + high] * bh[j + high, n]) \
                    if j + high < a.shape[1] else 0.0
                lowp = float(al[m, j + 1 - high] * bl[j + 1 - high, n]) \
                    if j + 1 - high < a.shape[1] else 0.0
                total += highp + lowp
            out[m, n] = total
    return out


def test_daa_convolution_forward_matches_a_loop_reference():
    torch.manual_seed(3)
    conv = torch.nn.Conv2d(2, 3, 3, 2, 1, bias=False)
    x = torch.randn(1, 2, 5, 5)
    emulation = DaaNumerics(DaaNumericsParams(high="fp16", low="int8"), 0, 1)
    with applied(conv, emulation):
        y = conv(x)
    ref = _reference_conv_daa(x, conv.weight.detach(), 2, 1, "fp16", "int8")
    assert torch.allclose(y.permute(0, 2, 3, 1).reshape(-1, 3), ref, atol=1e-5)
    assert not torch.allclose(y, torch.nn.functional.conv2d(x, conv.weight, None, 2, 1),
                              atol=1e-3)


# -- Mquans --------------------------------------------------------------------------------------
def test_quantized_values_sit_at_level_centres():
    """[0, 0.1, 0.5, 0.99, 1] on 4 levels over [0, 1]: levels 0, 0, 2, 3, 3 (1.0 clipped to
    the top), centres 0.125, 0.125, 0.625, 0.875, 0.875; 3 bits per channel where asked."""
    x = torch.tensor([0.0, 0.1, 0.5, 0.99, 1.0])
    assert quantized(x, 0.0, 1.0, torch.tensor(2)).tolist() == [0.125, 0.125, 0.625, 0.875,
                                                                0.875]
    bits = torch.tensor([2, 3, 2, 3, 2])
    assert quantized(x, 0.0, 1.0, bits).tolist() == [0.125, 0.0625, 0.625, 0.9375, 0.875]


def test_mquans_reuses_the_stored_output_across_an_epoch():
    """Slot 0, first epoch: y = deq(x) w. One epoch later with the weight changed and the
    input unchanged, the stored output comes back as it was (the stale part); with one input
    level changed, only that input's delta times the new weight is added."""
    layer = _linear([[1.0, 2.0]])
    emulation = MquansNumerics(MquansNumericsParams(critical_bits=2, tolerant_bits=2), 0, 1)
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # grid [0, 1], 4 levels: centres .125, .875
    with applied(layer, emulation):
        emulation.begin_step(0, [])
        first = layer(x)
        assert first[:, 0].tolist() == [0.125 + 2 * 0.875, 0.875 + 2 * 0.125]
        with torch.no_grad():
            layer.weight.mul_(10)
        emulation.begin_step(1, [])
        assert torch.equal(layer(x), first)
        emulation.begin_step(2, [])
        moved = layer(torch.tensor([[0.6, 1.0], [1.0, 0.0]]))  # 0.6 -> level 2: +0.5
    assert moved[:, 0].tolist() == [first[0, 0].item() + 0.5 * 10, first[1, 0].item()]


def test_mquans_classes_follow_the_input_gradient():
    """After a backward pass, the input channel with the largest mean |dL/dx| gets
    critical_bits, the others tolerant_bits; before it, all channels get critical_bits."""
    layer = _linear([[1.0, 0.1, 0.1, 0.1]])
    emulation = MquansNumerics(MquansNumericsParams(), 0, 1)
    x = torch.ones(1, 4, requires_grad=True)
    assert emulation.bits("l", x, 1).tolist() == [[6, 6, 6, 6]]
    with applied(layer, emulation):
        emulation.begin_step(0, [])
        layer(x).sum().backward()
    assert emulation.bits("", x, 1).tolist() == [[6, 4, 4, 4]]


# -- the contract -------------------------------------------------------------------------------
class _Exact(Emulation):
    def gemms(self, name, layer):
        return Gemms(layer)


def test_layer_gemms_equal_autograd():
    """The custom Function with the exact GEMMs, and DAA with both multipliers at fp32 (its
    unfold / fold lowering of the three convolution GEMMs), give autograd's outputs and
    gradients for a strided padded convolution with bias and a linear layer."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(3, 5, 3, 2, 1), torch.nn.ReLU(),
                                torch.nn.Conv2d(5, 4, 3, 1, 1, bias=False),
                                torch.nn.Flatten(), torch.nn.Linear(64, 3))
    x = torch.randn(2, 3, 8, 8)

    def run(emulation=None):
        model.zero_grad()
        if emulation is None:
            out = model(x)
        else:
            with applied(model, emulation):
                out = model(x)
        out.square().sum().backward()
        return out.detach(), [p.grad.clone() for p in model.parameters()]

    y0, g0 = run()
    for emulation in (_Exact(None, 0, 1), DaaNumerics(DaaNumericsParams(high="fp32", low="fp32"),
                                                     0, 1)):
        y1, g1 = run(emulation)
        assert torch.allclose(y0, y1, atol=1e-5)
        assert all(torch.allclose(a, b, atol=1e-4) for a, b in zip(g0, g1))
    assert all(not hasattr(m, "forward") or "forward" not in vars(m) for m in model.modules())


def test_numerics_spec_errors_name_the_key():
    with pytest.raises(ConfigError, match="a technique with a numerics emulation"):
        NumericsSpec.parse("ant")
    with pytest.raises(ConfigError, match="k"):
        NumericsSpec.parse("acrtc:k=11")
    with pytest.raises(ConfigError, match="exactly one of k"):
        NumericsSpec.parse("acrtc")
    with pytest.raises(ConfigError, match="tolerant_bits"):
        NumericsSpec.parse("mquans:tolerant_bits=8")
    with pytest.raises(ConfigError, match="low"):
        NumericsSpec.parse("daa:low=fp4")
    assert NumericsSpec.parse("acrtc:k=8,hit_rate=0.5").validated().hit_rate == 0.5


def test_mquans_without_reuse_is_the_quantisation_alone():
    """reuse=false: one epoch later with the weight changed, the output is the quantised input
    times the new weight (nothing stale)."""
    layer = _linear([[1.0, 2.0]])
    params = MquansNumericsParams(critical_bits=2, tolerant_bits=2, reuse=False)
    emulation = MquansNumerics(params, 0, 1)
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    with applied(layer, emulation):
        emulation.begin_step(0, [])
        layer(x)
        with torch.no_grad():
            layer.weight.mul_(10)
        emulation.begin_step(1, [])
        again = layer(x)
    assert again[:, 0].tolist() == [10 * (0.125 + 2 * 0.875), 10 * (0.875 + 2 * 0.125)]
