"""The model zoo: sizes against published figures, and the structure of a training iteration."""

from __future__ import annotations

import networkx as nx
import pytest

from accelsim.workload.network import Network
from accelsim.workload.training import TrainingOptions, training_iteration
from accelsim.workload.zoo import ZOO, describe_zoo


def build(name: str) -> Network:
    return ZOO.get(name)()


def gmacs(net: Network) -> float:
    return net.forward_macs_per_sample / 1e9


def test_zoo_names():
    """Every network the brief and reproduction.yaml name is registered."""
    assert set(ZOO.names()) == {
        "resnet18", "resnet50", "resnet18_cifar", "resnet50_cifar", "vgg16", "vgg16_cifar",
        "densenet121", "wrn16_8", "wrn28_10", "wide_resnet", "bert_base_layer", "bert_base",
        "mlp"}


def test_resnet18():
    """torchvision ResNet18_Weights.IMAGENET1K_V1: num_params 11,689,512, GFLOPS 1.81 (which
    torchvision counts as multiply-accumulates); 1.814 GMACs is the usual 4-digit figure.
    torchvision's count includes BN affine parameters and the fc bias, as ours does."""
    net = build("resnet18")
    assert net.params == 11_689_512
    assert gmacs(net) == pytest.approx(1.814, rel=0.01)


def test_resnet50():
    """torchvision ResNet50_Weights.IMAGENET1K_V1 (v1.5, stride on the 3x3 conv):
    num_params 25,557,032, GFLOPS 4.09 (multiply-accumulates)."""
    net = build("resnet50")
    assert net.params == 25_557_032
    assert gmacs(net) == pytest.approx(4.09, rel=0.01)


def test_vgg16():
    """torchvision VGG16_Weights.IMAGENET1K_V1: num_params 138,357,544, GFLOPS 15.47.
    VGG's convs have biases, as in torchvision."""
    net = build("vgg16")
    assert net.params == 138_357_544
    assert gmacs(net) == pytest.approx(15.47, rel=0.01)


def test_densenet121():
    """torchvision DenseNet121_Weights.IMAGENET1K_V1: num_params 7,978,856, GFLOPS 2.83
    (conv + fc multiply-accumulates). ptflops quotes 2.87 GMac because it also counts BN,
    ReLU and pooling operations, which are not MACs of the PE array; we match 2.83."""
    net = build("densenet121")
    assert net.params == 7_978_856
    assert gmacs(net) == pytest.approx(2.83, rel=0.01)


def test_densenet121_dense_connectivity():
    """Each dense layer reads the concatenation of the block input and all earlier layers'
    outputs; the final feature map has 64 + 6*32 -> 128 -> ... -> 1024 channels."""
    net = build("densenet121")
    layers = {layer.name: layer for layer in net.layers}
    cat = layers["denseblock1.denselayer3.cat"]
    assert cat.kind == "concat"
    assert cat.inputs == ("pool0", "denseblock1.denselayer1.conv2",
                          "denseblock1.denselayer2.conv2")
    assert layers["denseblock1.denselayer1.norm1"].inputs == ("pool0",)
    assert layers["denseblock1.cat"].out_shape == (64 + 6 * 32, 56, 56)
    assert layers["transition1.conv"].out_shape == (128, 56, 56)
    assert layers["denseblock4.cat"].out_shape == (1024, 7, 7)
    assert layers["classifier"].geometry["in_features"] == 1024


def test_wrn28_10():
    """Zagoruyko & Komodakis, "Wide Residual Networks", BMVC 2016, Table 4: WRN-28-10 has
    36.5 M parameters (CIFAR). The figure is rounded to 0.1 M: 1% tolerance."""
    net = build("wrn28_10")
    assert net.params == pytest.approx(36.5e6, rel=0.01)
    assert net.input_shape == (3, 32, 32)


def test_wrn16_8():
    """Zagoruyko & Komodakis, BMVC 2016, Table 4: WRN-16-8 has 11.0 M parameters."""
    assert build("wrn16_8").params == pytest.approx(11.0e6, rel=0.01)


def test_wide_resnet_is_wrn28_10():
    """The alias ``wide_resnet`` (reproduction.yaml's name) is WRN-28-10."""
    a, b = build("wide_resnet"), build("wrn28_10")
    assert a.params == b.params
    assert a.forward_macs_per_sample == b.forward_macs_per_sample
    assert [layer.geometry for layer in a.layers] == [layer.geometry for layer in b.layers]


def test_resnet18_cifar():
    """CIFAR ResNet-18 (kuangliu/pytorch-cifar layout, 100 classes), derived by hand.

    Params: ImageNet ResNet-18 (11,689,512) with the 7x7x3x64 stem conv (9,408) replaced by a
    3x3x3x64 one (1,728) and the 512->1000 fc (513,000) by 512->100 (51,300): 11,220,132.
    MACs: stem 32*32*64*27 = 1,769,472; layer1 4 convs 32*32*64*64*9 = 150,994,944; layers
    2-4 each 134,217,728 (strided conv + 3 convs + 1x1 shortcut, the same count at every
    stage since channels double as positions quarter); fc 51,200: 555,468,800 in all."""
    net = build("resnet18_cifar")
    assert net.input_shape == (3, 32, 32)
    assert net.params == 11_689_512 - 9_408 + 1_728 - 513_000 + 51_300
    assert net.forward_macs_per_sample == 1_769_472 + 150_994_944 + 3 * 134_217_728 + 51_200
    assert not any(layer.kind == "maxpool" for layer in net.layers)


def test_resnet50_cifar():
    """CIFAR ResNet-50: 3x3 stem, no max pool, 100 classes; ImageNet ResNet-50's params with
    the stem (9,408 -> 1,728) and fc (2048*1000+1000 -> 2048*100+100) replaced."""
    net = build("resnet50_cifar")
    assert net.params == 25_557_032 - 9_408 + 1_728 - 2_049_000 + 204_900
    assert net.layers[-2].out_shape == (100,)


def test_vgg16_cifar():
    """CIFAR VGG-16: the same 13 convs on 32x32 (1/49 of the 224x224 positions) and the
    classifier 512-512-512-100: conv MACs 15,346,630,656 / 49 + fc 2*512*512 + 512*100."""
    net = build("vgg16_cifar")
    imagenet_fc_params = 25088 * 4096 + 4096 + 4096 * 4096 + 4096 + 4096 * 1000 + 1000
    conv_params = 138_357_544 - imagenet_fc_params
    assert net.params == conv_params + 2 * (512 * 512 + 512) + 512 * 100 + 100
    assert net.forward_macs_per_sample == 15_346_630_656 // 49 + 2 * 512 * 512 + 512 * 100


def test_bert_base_layer():
    """BERT-base (Devlin et al. 2019): 12 layers and 85 M encoder parameters, i.e. 7,087,872
    per layer = 4 x (768*768 + 768) attention + 2 x 1,536 layer norm + (768*3072 + 3072) +
    (3072*768 + 768) FFN; plus our token-classifier head 768*9 + 9. Forward MACs at T = 128:
    linear 128*(4*768*768 + 2*768*3072 + 768*9), attention 2 x 12*128*128*64."""
    net = build("bert_base_layer")
    assert net.input_shape == (128, 768)
    assert net.params == 7_087_872 + 768 * 9 + 9
    linear = 128 * (4 * 768 * 768 + 2 * 768 * 3072 + 768 * 9)
    assert net.forward_macs_per_sample == linear + 2 * 12 * 128 * 128 * 64
    layers = {layer.name: layer for layer in net.layers}
    assert layers["attention.scores"].out_shape == (12, 128, 128)
    assert layers["attention.scores"].geometry == dict(count=12, m=128, n=128, k=64)
    assert layers["attention.context"].geometry == dict(count=12, m=128, n=64, k=128)
    assert layers["attention.context"].out_shape == (128, 768)
    assert layers["attention.output"].geometry["tokens"] == 128


def test_bert_base():
    """The twelve encoder layers of BERT-base: 12 x 7,087,872 = 85,054,464 parameters (the
    encoder's 85 M of Devlin et al.; embeddings left out) plus the 768*9 + 9 head; forward MACs
    twelve layers' worth plus the head once."""
    net = build("bert_base")
    assert net.params == 12 * 7_087_872 + 768 * 9 + 9
    per_layer = 128 * (4 * 768 * 768 + 2 * 768 * 3072) + 2 * 12 * 128 * 128 * 64
    assert net.forward_macs_per_sample == 12 * per_layer + 128 * 768 * 9
    names = {layer.name for layer in net.layers}
    assert {"layer0.attention.query", "layer11.output.layernorm", "classifier"} <= names


def test_mlp():
    """784-512-256-10 with biases: 535,818 parameters, 535,040 MACs per sample."""
    net = build("mlp")
    assert net.params == 784 * 512 + 512 + 512 * 256 + 256 + 256 * 10 + 10
    assert net.forward_macs_per_sample == 784 * 512 + 512 * 256 + 256 * 10


def test_describe_zoo():
    """describe_zoo gives one row per zoo name with the network's own figures."""
    rows = {row["name"]: row for row in describe_zoo()}
    assert sorted(rows) == ZOO.names()
    row = rows["resnet18"]
    assert row["input_shape"] == (3, 224, 224)
    assert row["params"] == 11_689_512
    assert row["forward_gmacs"] == pytest.approx(1.814073344)


# -- a full training iteration ------------------------------------------------------------------
#: ResNet-18's convs by hand: (cin, cout, kernel, input size, output size, how many).
RESNET18_CONVS = [
    (3, 64, 7, 224, 112, 1),                                                       # conv1
    (64, 64, 3, 56, 56, 4),                                                        # layer1
    (64, 128, 3, 56, 28, 1), (128, 128, 3, 28, 28, 3), (64, 128, 1, 56, 28, 1),    # layer2
    (128, 256, 3, 28, 14, 1), (256, 256, 3, 14, 14, 3), (128, 256, 1, 28, 14, 1),  # layer3
    (256, 512, 3, 14, 7, 1), (512, 512, 3, 7, 7, 3), (256, 512, 1, 14, 7, 1),      # layer4
]
FC_MACS = 512 * 1000


@pytest.fixture(scope="module")
def resnet18_iteration():
    return training_iteration(build("resnet18"), TrainingOptions(batch=2))


def test_resnet18_iteration_macs(resnet18_iteration):
    """Per-phase MACs of a batch-2 ResNet-18 iteration, from the hand table above.

    fwd: B*Ho*Wo*Cout*Cin*R*S per conv plus the fc. bwd_weight: the same product
    (Cout x Cin*R*S x B*Ho*Wo). bwd_data: the forward's MACs per conv, none for conv1 (its
    input is the image); plus the fc's B*1000*512. The stride-2 convs (the 3x3 and 1x1 of
    layers 2-4 reading a map 4x their output) are lowered as col2im, (B*Ho*Wo) x (Cin*R*S) x
    Cout; the transposed-convolution GEMM (B*H*W) x Cin x (Cout*R*S) over their zero-inserted
    gradient would have counted 4x (2,274,086,912 per sample instead of 1,696,059,392). Each
    of those six convs has one col2im op over B*Ho*Wo*Cin*R*S partial products."""
    B = 2
    fwd = B * (sum(n * ho * ho * cout * cin * k * k for cin, cout, k, _, ho, n in RESNET18_CONVS)
               + FC_MACS)
    bwd_data = B * (sum(n * ho * ho * cin * cout * k * k
                        for cin, cout, k, _, ho, n in RESNET18_CONVS[1:]) + FC_MACS)
    assert fwd == B * 1_814_073_344
    # 1,814,073,344 less conv1's 112*112*64*3*49 = 118,013,952
    assert bwd_data == B * 1_696_059_392
    assert resnet18_iteration.macs_by_phase() == {
        "fwd": fwd, "bwd_data": bwd_data, "bwd_weight": fwd, "update": 0}
    col2im = {op.layer: op.elements for op in resnet18_iteration.ops() if op.kind == "col2im"}
    assert col2im == {f"layer{stage}.0.{conv}": B * ho * ho * cin * k * k
                      for stage, (cin, _, _, _, ho, _) in zip((2, 3, 4), RESNET18_CONVS[2::3])
                      for conv, k in (("conv1", 3), ("downsample.0", 1))}


def test_resnet18_iteration_structure(resnet18_iteration):
    """Every conv has fwd, bwd_weight and update ops; every conv but the first has bwd_data;
    the graph is acyclic; each conv's bwd_weight depends (transitively) on its fwd."""
    w = resnet18_iteration
    graph = w.graph
    assert nx.is_directed_acyclic_graph(graph)
    convs = [layer.name for layer in build("resnet18").layers if layer.kind == "conv"]
    assert len(convs) == sum(n for *_, n in RESNET18_CONVS) == 20
    for conv in convs:
        for phase in ("fwd", "bwd_weight", "update"):
            assert f"{conv}.{phase}" in graph, f"{conv}.{phase}"
        assert (f"{conv}.bwd_data" in graph) == (conv != "conv1")
        assert nx.has_path(graph, f"{conv}.fwd", f"{conv}.bwd_weight")
        assert nx.has_path(graph, f"{conv}.bwd_weight", f"{conv}.update")
