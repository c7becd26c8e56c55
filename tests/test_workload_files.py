"""Workload files: YAML networks, SCALE-Sim CSV topologies, and the reference loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from accelsim.errors import WorkloadError
from accelsim.workload.io import KINDS, load_network
from accelsim.workload.loader import load_workload
from accelsim.workload.scalesim_csv import scalesim_workload
from accelsim.workload.training import TrainingOptions
from accelsim.workload.zoo import ZOO

WORKLOADS = Path(__file__).resolve().parent.parent / "workloads"

TINY_YAML = """\
name: tiny
input: [2, 8, 8]
layers:
  - {name: conv1, kind: conv, input: input, cout: 4, kernel: 3, padding: 1}
  - {name: relu1, kind: relu, input: conv1}
  - {name: pool, kind: global_avgpool, input: relu1}
  - {name: fc, kind: linear, input: pool, out_features: 3}
  - {name: loss, kind: loss, input: fc}
"""

CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
               "Num Filter, Strides,\n")
TINY_CSV = CONV_HEADER + "c1,10,10,3,3,4,8,1,\nc2,9,9,3,3,8,16,2,\n"
TINY_GEMM_CSV = "Layer, M, N, K,\ng1,16,32,64,\n"


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def error_of(call, *args) -> str:
    with pytest.raises(WorkloadError) as info:
        call(*args)
    return str(info.value)


# -- shipped examples ----------------------------------------------------------------------------
def test_lenet5_example():
    """workloads/lenet5.yaml: MACs 28*28*6*25 + 10*10*16*6*25 + 400*120 + 120*84 + 84*10
    = 416,520; params 150 + 2,400 + 48,120 + 10,164 + 850 = 61,684 (the classic 61,706 less
    the 22 conv biases NetworkBuilder.conv does not have)."""
    net = load_network(WORKLOADS / "lenet5.yaml")
    assert net.name == "lenet5"
    assert net.forward_macs_per_sample == 117_600 + 240_000 + 48_000 + 10_080 + 840
    assert net.params == 61_684


def test_small_resnet_example():
    """workloads/small_resnet.yaml: stem 32*32*16*27; block 1 2 x 32*32*16*144; block 2
    16*16*32*(144 + 288 + 16); block 3 8*8*64*(288 + 576 + 32); fc 64*10."""
    net = load_network(WORKLOADS / "small_resnet.yaml")
    expected = (32 * 32 * 16 * 27 + 2 * 32 * 32 * 16 * 144 + 16 * 16 * 32 * (144 + 288 + 16)
                + 8 * 8 * 64 * (288 + 576 + 32) + 64 * 10)
    assert net.forward_macs_per_sample == expected == 12_501_632
    assert sum(layer.kind == "add" for layer in net.layers) == 3


def test_scalesim_resnet18_matches_zoo():
    """workloads/scalesim/resnet18.csv (padded IFMAP sizes) has exactly the conv and fc MACs
    of the zoo's ResNet-18, layer by layer."""
    w = load_workload(str(WORKLOADS / "scalesim" / "resnet18.csv"), TrainingOptions(),
                      phases=["fwd"])
    zoo = ZOO.get("resnet18")()
    csv_macs = sorted(op.macs for op in w.ops())
    zoo_macs = sorted(op.macs for op in load_workload("resnet18", phases=["fwd"]).ops()
                      if op.macs)
    assert csv_macs == zoo_macs
    assert w.macs == zoo.forward_macs_per_sample == 1_814_073_344


def test_scalesim_gemm_example():
    """workloads/scalesim/bert_base_linear.csv: the six linear layers of a BERT-base layer
    at T = 128: 128 * (4*768*768 + 2*768*3072) forward MACs."""
    w = scalesim_workload(WORKLOADS / "scalesim" / "bert_base_linear.csv", training=False)
    assert len(w) == 6
    assert w.macs == 128 * (4 * 768 * 768 + 2 * 768 * 3072)


# -- hand-derived MAC counts ---------------------------------------------------------------------
def test_tiny_yaml_training_macs(tmp_path):
    """Batch 2. conv1: 8x8 output, 4 channels, 2*3*3 window: 64*4*18 = 4,608 MACs per sample;
    fc 4 -> 3: 12. fwd = bwd_weight = 2 * 4,620 = 9,240; bwd_data: none for conv1 (reads the
    input), fc 2*4*3 = 24."""
    w = load_workload(write(tmp_path, "tiny.yaml", TINY_YAML), TrainingOptions(batch=2))
    assert w.macs_by_phase() == {"fwd": 9_240, "bwd_data": 24, "bwd_weight": 9_240,
                                 "update": 0}
    assert "conv1.bwd_data" not in w.graph


def test_tiny_csv_macs(tmp_path):
    """c1: 10x10 in, 3x3, stride 1 -> 8x8 out; 64*8*(4*9) = 18,432 MACs.
    c2: 9x9 in, 3x3, stride 2 -> 4x4 out; 16*16*(8*9) = 18,432 MACs; its bwd_data (c1 is the
    first row and has none) is the col2im GEMM (4*4) x (8*9) x 16 = 18,432 MACs, the
    forward's (not the zero-inserted (9*9) x 8 x (16*9) = 93,312), and a col2im op adding
    its 16*72 = 1,152 partial products into the 8*9*9 = 648 input-gradient elements."""
    path = write(tmp_path, "tiny.csv", TINY_CSV)
    fwd_only = scalesim_workload(path, training=False)
    assert [op.name for op in fwd_only.ops()] == ["c1.fwd", "c2.fwd"]
    assert [op.macs for op in fwd_only.ops()] == [18_432, 18_432]
    assert fwd_only.op("c2.fwd").attrs["ho"] == 4
    w = load_workload(path)
    assert w.macs_by_phase() == {"fwd": 36_864, "bwd_data": 18_432, "bwd_weight": 36_864,
                                 "update": 0}
    assert {op.name for op in w.ops()} == {
        "c1.fwd", "c1.bwd_weight", "c1.update", "c2.fwd", "c2.bwd_data",
        "c2.bwd_data.col2im", "c2.bwd_weight", "c2.update"}
    col2im = w.op("c2.bwd_data.col2im")
    assert (col2im.elements, col2im.writes[0].elements) == (1_152, 648)


def test_tiny_gemm_csv_batch(tmp_path):
    """GEMM form: M=16, N=32, K=64 is 32,768 MACs; batch 4 multiplies M."""
    path = write(tmp_path, "g.csv", TINY_GEMM_CSV)
    w = load_workload(path, TrainingOptions(batch=4), phases=["fwd"])
    (op,) = w.ops()
    assert (op.gemm.m, op.gemm.n, op.gemm.k) == (64, 32, 64)
    assert op.macs == 4 * 32_768


def test_zoo_phase_filter():
    """``phases`` keeps only the named phases."""
    w = load_workload("mlp", TrainingOptions(batch=8), phases=["bwd_weight"])
    assert {op.phase.value for op in w.ops()} == {"bwd_weight"}
    assert w.macs == 8 * (784 * 512 + 512 * 256 + 256 * 10)


# -- bad input: one exact message each -----------------------------------------------------------
def test_unknown_kind(tmp_path):
    """An unknown layer kind lists every kind."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("kind: relu", "kind: rectifier"))
    assert error_of(load_network, path) == (
        f"{path}: layers[1].kind: expected a known layer kind, got 'rectifier' "
        f"(valid choices: {', '.join(sorted(KINDS))})")


def test_missing_key(tmp_path):
    """A missing required key is named with what it means."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace(", kernel: 3", ""))
    assert error_of(load_network, path) == (
        f"{path}: layers[0].kernel: expected this required key (kernel height and width)")


def test_unknown_key(tmp_path):
    """A misspelt key is reported (rather than the key it replaces) with the valid keys."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("kernel: 3", "kernel_size: 3"))
    assert error_of(load_network, path) == (
        f"{path}: layers[0].kernel_size: expected a known key "
        "(valid choices: bias, cout, input, kernel, kind, name, padding, stride)")


def test_unknown_input_tensor(tmp_path):
    """A tensor that is neither the input nor an earlier layer lists the defined names."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("input: conv1", "input: conv9"))
    assert error_of(load_network, path) == (
        f"{path}: layers[1].input: expected the network input or an earlier layer's name, "
        "got 'conv9' (valid choices: conv1, input)")


def test_bad_type(tmp_path):
    """A value of the wrong type (strict: no string-to-number coercion)."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("kernel: 3", "kernel: '3'"))
    assert error_of(load_network, path) == (
        f"{path}: layers[0].kernel: expected a valid integer, got '3'")


def test_bad_value(tmp_path):
    """A non-positive size."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("cout: 4", "cout: 0"))
    assert error_of(load_network, path) == (
        f"{path}: layers[0].cout: expected a number greater than 0, got 0")


def test_shape_error_names_the_layer_index(tmp_path):
    """A shape mismatch the builder finds is reported at the layer's index."""
    text = TINY_YAML.replace("{name: pool, kind: global_avgpool, input: relu1}",
                             "{name: pool, kind: add, inputs: [relu1, input]}")
    path = write(tmp_path, "a.yaml", text)
    assert error_of(load_network, path) == (
        f"{path}: layers[2].inputs: expected inputs of equal shape, "
        "got ((4, 8, 8), (2, 8, 8))")


def test_duplicate_layer_name(tmp_path):
    """Layer names are tensor names and must be unique."""
    path = write(tmp_path, "a.yaml", TINY_YAML.replace("name: relu1, kind: relu, input: conv1",
                                                       "name: conv1, kind: relu, input: conv1"))
    assert error_of(load_network, path) == (
        f"{path}: layers[1].name: expected a name not used by the input or an earlier layer, "
        "got 'conv1'")


def test_unknown_zoo_name():
    """An unknown reference lists the zoo names and the accepted file types."""
    assert error_of(load_workload, "resnet19") == (
        "resnet19: expected a zoo network name or a workload file (.yaml, .yml, .csv) "
        f"(valid choices: {', '.join(ZOO.names())})")


def test_missing_file():
    """A file reference that does not exist."""
    assert error_of(load_workload, "no/such/net.yaml") == (
        "no/such/net.yaml: expected an existing file")


def test_malformed_csv_row(tmp_path):
    """A CSV row with too few columns names its line, the first missing column and the
    columns expected."""
    path = write(tmp_path, "t.csv", TINY_CSV.replace("c2,9,9,3,3,8,16,2,", "c2,9,9,3,"))
    assert error_of(scalesim_workload, path) == (
        f"{path}: row 3.Filter Width: expected a value (a row holds 8 comma-separated values: "
        "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
        "Num Filter, Strides; and an optional Sparsity ratio), got 'c2,9,9,3'")


def test_bad_csv_value(tmp_path):
    """A CSV cell that is not a positive integer names row and column, and the bound."""
    path = write(tmp_path, "t.csv", TINY_CSV.replace("c1,10,10,3,", "c1,10,10,x,"))
    assert error_of(scalesim_workload, path) == (
        f"{path}: row 2.Filter Height: expected a positive integer of at most "
        "16,777,216 (2^24), got 'x'")


def test_csv_filter_larger_than_ifmap(tmp_path):
    """SCALE-Sim's own check: the filter must fit the (padded) IFMAP."""
    path = write(tmp_path, "t.csv", TINY_CSV.replace("c1,10,10,3,", "c1,2,10,3,"))
    assert error_of(scalesim_workload, path) == (
        f"{path}: row 2.Filter Height: expected at most the IFMAP size (2), got 3")


def test_csv_sparsity_rejected(tmp_path):
    """SCALE-Sim's N:M sparsity column is accepted only when dense."""
    assert len(scalesim_workload(write(tmp_path, "d.csv", "Layer, M, N, K, Sparsity,\n"
                                       "g,3,5,16,1:1,\n"))) == 3
    path = write(tmp_path, "s.csv", "Layer, M, N, K, Sparsity,\ng,3,5,16,2:4,\n")
    assert error_of(scalesim_workload, path) == (
        f"{path}: row 2.Sparsity: expected a dense sparsity ratio N:N such as 1:1 (accelsim "
        "does not model SCALE-Sim's N:M sparsity), got '2:4'")
