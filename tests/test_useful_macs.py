"""Workload MACs are the useful multiply-accumulates of a training iteration, as torch's
FlopCounterMode counts them: a strided convolution's input gradient costs what its forward does
(col2im lowering), never the MACs of a GEMM over a zero-inserted gradient."""

from __future__ import annotations

import json
import shutil

import pytest

from accelsim.config.loader import load_hwconfig
from accelsim.errors import WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.workload.loader import load_workload
from accelsim.workload.traced import load_traced
from accelsim.workload.training import TrainingOptions, training_iteration
from tests.conftest import HWCONFIGS, ROOT
from tests.test_engine import tiny_network

RESNET18_TRACED = ROOT / "workloads" / "traced" / "resnet18_cifar"
TRACED_BATCH = 32  # workloads/traced/resnet18_cifar was traced at --batch 32

# ResNet-50 (torchvision v1.5: stride on the 3x3 conv) forward MACs of one 224x224 sample, by
# hand, Ho*Wo * Cin*R*S * Cout per conv (positions: 112x112 = 12,544, 56x56 = 3,136,
# 28x28 = 784, 14x14 = 196, 7x7 = 49):
#   stem 7x7 3->64:                       12,544 * 147 * 64             =   118,013,952
#   layer1 (planes 64, 56x56)
#     block 0: 1x1 64->64 12,845,056 + 3x3 64->64 3,136*576*64 = 115,605,504
#              + 1x1 64->256 51,380,224 + downsample 1x1 64->256 51,380,224 =   231,211,008
#     blocks 1-2: 1x1 256->64 51,380,224 + 115,605,504 + 51,380,224 = 218,365,952 each
#   layer2 (planes 128)
#     block 0: 1x1 256->128 at 56x56 3,136*256*128 = 102,760,448
#              + 3x3 stride 2 -> 28x28 784*1152*128 = 115,605,504 + 1x1 128->512 51,380,224
#              + downsample 1x1 stride 2 256->512 784*256*512 = 102,760,448 =  372,506,624
#     blocks 1-3: 218,365,952 each (784 * (512*128 + 1152*128 + 128*512))
#   layer3 (planes 256, 14x14) and layer4 (planes 512, 7x7): the same two figures, block 0
#     372,506,624 and 218,365,952 for each of the 5 (layer3) and 2 (layer4) others
#   fc 2048 -> 1000:                                                         2,048,000
# = 118,013,952 + (231,211,008 + 2 * 218,365,952) + (372,506,624 + 3 * 218,365,952)
#   + (372,506,624 + 5 * 218,365,952) + (372,506,624 + 2 * 218,365,952) + 2,048,000
# = 4,089,184,256 (torchvision's 4.09 GFLOPS, which it counts as multiply-accumulates).
RESNET50_FWD_MACS = (118_013_952 + (231_211_008 + 2 * 218_365_952)
                     + 3 * 372_506_624 + (3 + 5 + 2) * 218_365_952 + 2_048_000)
RESNET50_STEM_MACS = 118_013_952
# Backward: bwd_weight has the forward's MACs; bwd_data too, for every conv but the stem (its
# input is the image) and for the fc. The six stride-2 convs (the 3x3 and the downsample of
# block 0 of layers 2-4, 115,605,504 + 102,760,448 = 218,365,952 per stage) have col2im ops
# adding B*Ho*Wo*Cin*R*S partial products each: per sample 784*128*9 + 784*256 = 1,103,872,
# 196*256*9 + 196*512 = 551,936, 49*512*9 + 49*1024 = 275,968. Over a zero-inserted gradient
# they would have cost 4x: 3 * 3 * 218,365,952 = 1,965,293,568 MACs more per sample.
RESNET50_COL2IM_PRODUCTS = {"layer2.0.conv2": 784 * 128 * 9, "layer2.0.downsample.0": 784 * 256,
                            "layer3.0.conv2": 196 * 256 * 9, "layer3.0.downsample.0": 196 * 512,
                            "layer4.0.conv2": 49 * 512 * 9, "layer4.0.downsample.0": 49 * 1024}


def resnet50_torch():
    """ResNet-50 v1.5 in plain torch (no torchvision): the zoo's layout."""
    torch = pytest.importorskip("torch", reason="the FlopCounterMode reference needs torch "
                                "(pip install 'accelsim[trace]')")
    nn = torch.nn

    class Bottleneck(nn.Module):
        def __init__(self, cin: int, planes: int, stride: int) -> None:
            super().__init__()
            out = planes * 4
            self.conv1 = nn.Conv2d(cin, planes, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(planes)
            self.conv3 = nn.Conv2d(planes, out, 1, bias=False)
            self.bn3 = nn.BatchNorm2d(out)
            self.downsample = None
            if stride != 1 or cin != out:
                self.downsample = nn.Sequential(nn.Conv2d(cin, out, 1, stride, bias=False),
                                                nn.BatchNorm2d(out))

        def forward(self, x):
            y = torch.relu(self.bn1(self.conv1(x)))
            y = torch.relu(self.bn2(self.conv2(y)))
            y = self.bn3(self.conv3(y))
            return torch.relu(y + (x if self.downsample is None else self.downsample(x)))

    blocks, cin = [], 64
    for stage, (planes, count) in enumerate(((64, 3), (128, 4), (256, 6), (512, 3))):
        for i in range(count):
            blocks.append(Bottleneck(cin, planes, 2 if stage > 0 and i == 0 else 1))
            cin = planes * 4
    return torch, nn.Sequential(
        nn.Conv2d(3, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
        nn.MaxPool2d(3, 2, 1), *blocks, nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        nn.Linear(cin, 1000))


def flop_counter_macs(torch, model, input_shape: tuple[int, ...], batch: int,
                      classes: int) -> float:
    """MACs (FLOPs / 2) of one forward + backward of softmax cross-entropy, counted by torch's
    FlopCounterMode on the meta device (shapes only, no arithmetic)."""
    from torch.utils.flop_counter import FlopCounterMode

    model = model.to("meta")
    x = torch.empty(batch, *input_shape, device="meta")
    labels = torch.zeros(batch, dtype=torch.long, device="meta")
    with FlopCounterMode(display=False) as counter:
        torch.nn.functional.cross_entropy(model(x), labels % classes).backward()
    return counter.get_total_flops() / 2


def test_resnet50_training_macs_by_hand():
    """ResNet-50 at batch 32: fwd and bwd_weight 32 x 4,089,184,256, bwd_data 32 x
    (4,089,184,256 - 118,013,952) (module comment, layer by layer): 388,785,242,112 MACs, not
    the 451,674,636,288 of zero-inserted stride-2 input gradients; one col2im op per stride-2
    conv with the hand-counted partial products."""
    workload = load_workload("resnet50", TrainingOptions(batch=32))
    assert RESNET50_FWD_MACS == 4_089_184_256
    assert workload.macs_by_phase() == {
        "fwd": 32 * RESNET50_FWD_MACS, "bwd_data": 32 * (RESNET50_FWD_MACS - RESNET50_STEM_MACS),
        "bwd_weight": 32 * RESNET50_FWD_MACS, "update": 0}
    assert workload.macs == 388_785_242_112
    assert workload.macs + 32 * 3 * 3 * 218_365_952 == 451_674_636_288
    col2im = {op.layer: op.elements for op in workload.ops() if op.kind == "col2im"}
    assert col2im == {layer: 32 * n for layer, n in RESNET50_COL2IM_PRODUCTS.items()}


def test_resnet50_training_macs_match_torch_flop_counter():
    """torch's FlopCounterMode on a plain-torch ResNet-50 (forward, cross-entropy, backward) at
    batch 32 counts 388.785 G MACs: the zoo's training iteration has the same, within 0.1%."""
    torch, model = resnet50_torch()
    reference = flop_counter_macs(torch, model, (3, 224, 224), 32, 1000)
    assert reference == pytest.approx(388.785e9, rel=1e-3)
    assert load_workload("resnet50", TrainingOptions(batch=32)).macs == pytest.approx(
        reference, rel=1e-3)


def test_traced_resnet18_macs_match_torch_flop_counter():
    """The shipped traced ResNet-18 (CIFAR, 10 classes, batch 32; its graph.json stores the
    zero-inserted input-gradient GEMMs of earlier tracers) loads with the useful MACs: those
    FlopCounterMode counts on the model it was traced from, at its batch."""
    pytest.importorskip("torch", reason="the FlopCounterMode reference needs torch "
                        "(pip install 'accelsim[trace]')")
    import torch

    from accelsim.trace.models import resnet18_cifar

    manifest = json.loads((RESNET18_TRACED / "manifest.json").read_text())
    assert (manifest["batch"], manifest["classes"]) == (TRACED_BATCH, 10)
    reference = flop_counter_macs(torch, resnet18_cifar(10), (3, 32, 32), TRACED_BATCH, 10)
    workload = load_traced(RESNET18_TRACED)
    assert workload.macs == reference
    assert sum(op.kind == "col2im" for op in workload.ops()) == 6


def test_traced_input_gradient_gemm_is_derived_from_the_conv(tmp_path):
    """A traced conv's bwd_data GEMM comes from its attrs whichever form graph.json stores:
    the zero-inserted (B*H*W) x Cin x (Cout*R*S) of earlier traces or the col2im GEMM
    (B*Ho*Wo) x (Cin*R*S) x Cout (layer2.0.conv1: 64->128, 3x3, stride 2, 32x32 -> 16x16 at
    batch 32: [32768, 64, 1152, 1] stored, [8192, 576, 128, 1] loaded); any other GEMM is
    refused, naming the op and the expected GEMM."""
    folder = tmp_path / "resnet"
    folder.mkdir()
    for name in ("manifest.json", "graph.json"):
        shutil.copy(RESNET18_TRACED / name, folder / name)
    graph = json.loads((folder / "graph.json").read_text())
    index = next(i for i, op in enumerate(graph["ops"])
                 if op["name"] == "layer2.0.conv1.bwd_data")
    assert graph["ops"][index]["gemm"] == [32 * 16 * 16, 64 * 9, 128, 1]  # as traced today
    graph["ops"][index]["gemm"] = [32 * 32 * 32, 64, 128 * 9, 1]  # as traced before col2im
    (folder / "graph.json").write_text(json.dumps(graph))
    legacy = load_traced(folder)
    assert legacy.op("layer2.0.conv1.bwd_data").gemm.macs == 32 * 16 * 16 * 576 * 128
    graph["ops"][index]["gemm"] = [32 * 16 * 16, 64 * 9, 128, 1]
    (folder / "graph.json").write_text(json.dumps(graph))
    assert [(op.name, op.gemm) for op in load_traced(folder).ops()] == [
        (op.name, op.gemm) for op in legacy.ops()]
    graph["ops"][index]["gemm"] = [32 * 16 * 16, 64, 128 * 9, 1]
    (folder / "graph.json").write_text(json.dumps(graph))
    with pytest.raises(WorkloadError, match=rf"ops\[{index}\]\.gemm: expected the "
                       r"input-gradient GEMM of the conv's attrs, \[8192, 576, 128, 1\]"):
        load_traced(folder)


def test_utilisation_counts_useful_macs():
    """The PE utilisation of the ResNet-50 batch-32 iteration on the 128x128 TPU-like array is
    the useful MACs (388,785,242,112 by hand) over cycles x 16,384 PEs."""
    config = load_hwconfig(HWCONFIGS / "tpu_like_128x128.yaml")
    result = Simulation(config, load_workload("resnet50", TrainingOptions(batch=32))).run()
    assert result["macs"] == result["macs_issued"] == 388_785_242_112
    assert result["utilization"]["pe_array"] == pytest.approx(
        388_785_242_112 / (result["total_cycles"] * 128 * 128))


def test_outer_product_array_scatters_the_input_gradient_itself():
    """On a systolic array the strided conv's input gradient is a GEMM writing partial products
    and a col2im op on the vector unit; the outer-product array adds each product into its
    output position in its accumulators, so it runs the pair as one op writing dX, with the
    same MACs (the tiny network: conv2 3x3 stride 2, bwd_data 9,216 MACs by hand, the
    forward's; 62,976 in all, as tests/test_engine.py counts)."""
    workload = training_iteration(tiny_network(), TrainingOptions(batch=2))
    systolic = Simulation(load_hwconfig(HWCONFIGS / "edge_16x16.yaml", ["fusion.mode=none"]),
                          workload).run()  # every op separate, as on scnn_like
    outer = Simulation(load_hwconfig(HWCONFIGS / "scnn_like.yaml"), workload).run()
    names = {row["name"] for row in systolic["ops"]}
    assert {"conv2.bwd_data", "conv2.bwd_data.col2im"} <= names
    assert {row["name"] for row in outer["ops"]} == names - {"conv2.bwd_data.col2im"}
    for result in (systolic, outer):
        (row,) = [r for r in result["ops"] if r["name"] == "conv2.bwd_data"]
        assert row["macs"] + row["macs_skipped"] == 2 * 4 * 4 * 36 * 8 == 9_216
        assert result["macs_issued"] + result["macs_skipped"] == result["macs"] == 62_976
