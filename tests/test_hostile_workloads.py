"""Hostile workload inputs: damaged traced folders, SCALE-Sim CSV files and workload YAML files.

Each is one :class:`~accelsim.errors.WorkloadError` whose message names the file, the key path
(or the CSV row and column) and what was expected, or a correct run; through the command line
it is one ``error:`` line and exit code 2, never a traceback. The property tests mutate the
shipped workloads at random and require a clean load (then a short forward run) or a clean
error.
"""

from __future__ import annotations

import io
import json
import math
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accelsim.cli import main
from accelsim.errors import AccelsimError, ConfigError, WorkloadError
from accelsim.sim.engine import Simulation
from accelsim.workload.io import load_network
from accelsim.workload.loader import load_workload
from accelsim.workload.scalesim_csv import scalesim_workload
from accelsim.workload.traced import load_traced
from accelsim.workload.training import TrainingOptions, training_iteration
from accelsim.workload.zoo import ZOO
from tests.conftest import HWCONFIGS, ROOT, make_config
from tests.test_workload_files import CONV_HEADER, TINY_YAML

WORKLOADS = ROOT / "workloads"
MLP = WORKLOADS / "traced" / "mlp"
GEMM_HEADER = "Layer, M, N, K,\n"
DIM = "a positive integer of at most 16,777,216 (2^24)"


def error_of(call, *args, **kwargs) -> str:
    """The message of the WorkloadError ``call`` raises (any other exception fails the test)."""
    with pytest.raises(WorkloadError) as info:
        call(*args, **kwargs)
    return str(info.value)


def run_cli(capsys, workload: str, *extra: str, hw: str = "edge_16x16.yaml") -> tuple[int, str]:
    """``accelsim run`` of ``workload``: (exit code, stderr)."""
    code = main(["run", "--hw", str(HWCONFIGS / hw), "--workload", workload, "--top", "1",
                 *extra])
    return code, capsys.readouterr().err


# -- traced folders ------------------------------------------------------------------------------
@pytest.fixture
def traced(tmp_path) -> Path:
    """A copy of workloads/traced/mlp to damage."""
    folder = tmp_path / "mlp"
    shutil.copytree(MLP, folder)
    return folder


def edit_json(folder: Path, name: str, change) -> None:
    """Apply ``change`` to the parsed JSON file ``name`` of ``folder`` and write it back."""
    data = json.loads((folder / name).read_text())
    change(data)
    (folder / name).write_text(json.dumps(data))


def manifest_set(key: str, value):
    def change(folder: Path) -> None:
        edit_json(folder, "manifest.json", lambda m: m.__setitem__(key, value))
    return change


def graph_set(index: int, key: str, value):
    def change(folder: Path) -> None:
        edit_json(folder, "graph.json", lambda g: g["ops"][index].__setitem__(key, value))
    return change


def graph_edit(edit):
    def change(folder: Path) -> None:
        edit_json(folder, "graph.json", edit)
    return change


def write_bytes(name: str, data: bytes):
    def change(folder: Path) -> None:
        (folder / name).write_bytes(data)
    return change


def truncate(name: str, size: int):
    def change(folder: Path) -> None:
        (folder / name).write_bytes((folder / name).read_bytes()[:size])
    return change


#: (id, damage, file, the message after "<folder>/<file>: ").
TRACED_CASES = [
    ("manifest-no-batch",
     lambda f: edit_json(f, "manifest.json", lambda m: m.pop("batch")),
     "manifest.json", "batch: expected this required key (the traced batch)"),
    ("manifest-batch-string", manifest_set("batch", "32"),
     "manifest.json", "batch: expected a valid integer, got '32'"),
    ("manifest-batch-bool", manifest_set("batch", True),
     "manifest.json", "batch: expected a valid integer, got True"),
    ("manifest-batch-float", manifest_set("batch", 32.0),
     "manifest.json", "batch: expected a valid integer, got 32.0"),
    ("manifest-batch-huge", manifest_set("batch", 10**9),
     "manifest.json", "batch: expected a number less than or equal to 65536, got 1000000000"),
    ("manifest-batch-zero", manifest_set("batch", 0),
     "manifest.json", "batch: expected a number greater than or equal to 1, got 0"),
    ("manifest-input-shape-string", manifest_set("input_shape", ["784"]),
     "manifest.json", "input_shape[0]: expected a valid integer, got '784'"),
    ("manifest-nan",
     lambda f: edit_json(f, "manifest.json", lambda m: m["training"].__setitem__("lr", math.nan)),
     "manifest.json", "training.lr: expected a finite number, got nan"),
    ("manifest-unknown-nested-key",
     lambda f: edit_json(f, "manifest.json", lambda m: m["dataset"].__setitem__("sedd", 1)),
     "manifest.json", "dataset.sedd: expected a known key (valid choices: classes, fit, "
     "held_out, name, noise_std, order, seed, size, source)"),
    ("manifest-graph-step-beyond-steps", manifest_set("graph_step", 100),
     "manifest.json", "graph_step: expected a traced step, below steps (100), got 100"),
    ("manifest-other-format", manifest_set("format", "accelsim.traced/2"),
     "manifest.json", "format: expected format 'accelsim.traced/1', got 'accelsim.traced/2'"),
    ("manifest-not-utf8", write_bytes("manifest.json", b'{"name": "ml\xe9p"}'),
     "manifest.json", "line 1: expected UTF-8 JSON text (a traced-workload manifest), got "
     "'byte 0xe9 at offset 12'"),
    ("manifest-truncated", truncate("manifest.json", 40),
     "manifest.json", "line 3, column 11: expected valid JSON (a traced-workload manifest), "
     "got 'Unterminated string starting at'"),
    ("manifest-a-list", write_bytes("manifest.json", b"[1, 2]"),
     "manifest.json", "expected a JSON object at the top level (a traced-workload manifest), "
     "got 'list'"),
    ("graph-op-a-list", graph_edit(lambda g: g["ops"].__setitem__(3, [1, 2])),
     "graph.json", "ops[3]: expected a mapping of keys to values, got [1, 2]"),
    ("graph-tensor-two-items",
     graph_edit(lambda g: g["ops"][1]["reads"].__setitem__(0, ["fc1", 16384])),
     "graph.json", "ops[1].reads[0]: expected a tensor [name, elements, bytes per element or "
     "null], got ['fc1', 16384]"),
    ("graph-tensor-negative",
     graph_edit(lambda g: g["ops"][1]["reads"].__setitem__(0, ["fc1", -5, None])),
     "graph.json", "ops[1].reads[0][1]: expected a number greater than or equal to 0, got -5"),
    ("graph-elements-negative", graph_set(1, "elements", -16384),
     "graph.json", "ops[1].elements: expected a number greater than or equal to 0, got -16384"),
    ("graph-gemm-string", graph_set(0, "gemm", ["32", 512, 784, 1]),
     "graph.json", "ops[0].gemm[0]: expected a valid integer, got '32'"),
    ("graph-gemm-zero", graph_set(0, "gemm", [32, 0, 784, 1]),
     "graph.json", "ops[0].gemm[1]: expected a number greater than or equal to 1, got 0"),
    ("graph-gemm-five-items", graph_set(0, "gemm", [32, 512, 784, 1, 1]),
     "graph.json", "ops[0].gemm: expected at most 4 items, got [32, 512, 784, 1, 1]"),
    ("graph-gemm-beyond-count-bound", graph_set(0, "gemm", [2**36 + 1, 512, 784, 1]),
     "graph.json", "ops[0].gemm[0]: expected a number less than or equal to 68719476736, got "
     "68719476737"),
    ("graph-op-macs-beyond-2^53", graph_set(0, "gemm", [2**30, 2**20, 2**10, 1]),
     "graph.json", "ops[0]: expected an op of at most 9,007,199,254,740,992 (2^53) MACs, got "
     "'op fc1.fwd: 1,152,921,504,606,846,976 MACs'"),
    ("graph-phase-unknown", graph_set(1, "phase", "forward"),
     "graph.json", "ops[1].phase: expected one of the valid choices, got 'forward' (valid "
     "choices: bwd_data, bwd_weight, fwd, update)"),
    ("graph-gemm-kind-unknown", graph_set(0, "kind", "conv2d"),
     "graph.json", "ops[0].kind: expected the kind of a GEMM op, got 'conv2d' (valid choices: "
     "conv, linear, matmul)"),
    ("graph-attrs-unknown-key",
     graph_edit(lambda g: g["ops"][0]["attrs"].__setitem__("bias", True)),
     "graph.json", "ops[0].attrs.bias: expected a known key (valid choices: in_features, "
     "out_features, rows, tokens)"),
    ("graph-attrs-missing-key", graph_edit(lambda g: g["ops"][0]["attrs"].pop("rows")),
     "graph.json", "ops[0].attrs.rows: expected this required key"),
    ("graph-vector-op-with-attrs", graph_set(1, "attrs", {"inplace": True}),
     "graph.json", "ops[1].attrs: expected a known key (valid choices: elements, kind, layer, "
     "name, overwrites, phase, reads, vector_ops, writes)"),
    ("graph-vector-ops-infinite", write_bytes("graph.json", (MLP / "graph.json").read_bytes()
                                              .replace(b'"vector_ops":1.0', b'"vector_ops":'
                                                       b'Infinity', 1)),
     "graph.json", "ops[1].vector_ops: expected a finite number, got inf"),
    ("graph-update-without-grads", graph_set(12, "grads", []),
     "graph.json", "ops[12].grads: expected at least 1 items, got []"),
    ("graph-duplicate-op-name", graph_set(1, "name", "fc1.fwd"),
     "graph.json", "ops[1].name: expected a name no other op has (ops[0] has it), got "
     "'fc1.fwd'"),
    ("graph-tensor-written-twice", graph_set(1, "writes", [["fc1", 16384, None]]),
     "graph.json", "ops[1].writes[0]: expected a tensor no other op writes (ops[0] writes "
     "it), got 'fc1'"),
    ("graph-no-ops", graph_edit(lambda g: g.__setitem__("ops", [])),
     "graph.json", "ops: expected at least 1 items, got []"),
    ("graph-not-utf8", write_bytes("graph.json", b'{"ops": "\xff"}'),
     "graph.json", "line 1: expected UTF-8 JSON text (the traced ops), got 'byte 0xff at "
     "offset 9'"),
    ("graph-nested-too-deep", write_bytes("graph.json", b"[" * 100_000 + b"]" * 100_000),
     "graph.json", "expected valid JSON (the traced ops) nested less than about 1,000 levels "
     "deep, got 'deeper nesting'"),
    ("graph-missing", lambda f: (f / "graph.json").unlink(),
     "graph.json", "expected an existing file (the traced ops)"),
    ("masks-truncated", truncate("masks.npz", 1000),
     "masks.npz", "expected a readable NumPy .npz archive (coordinate masks written with "
     "stats.json), got 'BadZipFile: File is not a zip file'"),
    ("stats-npz-truncated", truncate("stats.npz", 20_000),
     "stats.npz", "expected a readable NumPy .npz archive (value-statistics arrays written "
     "with stats.json), got 'BadZipFile: File is not a zip file'"),
    ("stats-npz-missing", lambda f: (f / "stats.npz").unlink(),
     "stats.npz", "expected an existing file (value-statistics arrays written with "
     "stats.json)"),
    ("stats-json-step-list-short",
     lambda f: edit_json(f, "stats.json", lambda s: s["ops"]["fc1.fwd"]["density"]["a"].pop()),
     "stats.json", "ops.fc1.fwd.density.a: expected 14 values, one per sampled step (steps "
     "holds 14), got '13 values'"),
    ("stats-json-null-statistic",
     lambda f: edit_json(f, "stats.json", lambda s: s["ops"]["fc1.fwd"].__setitem__("daa", None)),
     "stats.json", "ops.fc1.fwd.daa: expected a value (leave the key out when the statistic is "
     "absent)"),
    ("stats-json-mask-index-key-missing",
     lambda f: edit_json(f, "stats.json",
                         lambda s: s["layers"]["fc1"]["masks"]["x"]["index"].pop("channels")),
     "stats.json", "layers.fc1.masks.x.index.channels: expected this required key (which "
     "channels of the tensor axis 1 of the mask samples)"),
    ("stats-json-mask-index-length",
     lambda f: edit_json(f, "stats.json",
                         lambda s: s["layers"]["fc1"]["masks"]["x"]["index"]["images"].pop()),
     "stats.json", "layers.fc1.masks.x.index.images: expected one index per entry of axis 0 of "
     "the mask's shape (2, 256), got '1 indices'"),
    ("stats-json-density-above-one",
     lambda f: edit_json(f, "stats.json",
                         lambda s: s["ops"]["fc1.fwd"]["density"]["b"].__setitem__(0, 1.5)),
     "stats.json", "ops.fc1.fwd.density.b[0]: expected a number less than or equal to 1, "
     "got 1.5"),
]


@pytest.mark.parametrize("damage, file, message", [case[1:] for case in TRACED_CASES],
                         ids=[case[0] for case in TRACED_CASES])
def test_damaged_traced_folder(traced, damage, file, message):
    """Each damage of a copy of workloads/traced/mlp is one WorkloadError naming the file, the
    key path and what was expected (the message is exact)."""
    damage(traced)
    assert error_of(load_traced, traced) == f"{traced / file}: {message}"


def rewrite_npz(path: Path, change) -> None:
    """Rewrite the archive ``path`` with ``change`` applied to its {member name: bytes}."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    change(members)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_mask_array_whose_header_claims_more_data(traced):
    """A masks.npz member whose .npy header claims more elements than it stores is refused
    before numpy allocates them: fc1/x/0 keeps its 64 stored bytes under a header claiming
    shape (10**12,)."""
    def lie(members: dict) -> None:
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "|u1", "fortran_order": False,
                                                      "shape": (10**12,)})
        members["fc1/x/0.npy"] = header.getvalue() + bytes(64)
    rewrite_npz(traced / "masks.npz", lie)
    assert error_of(load_traced, traced) == (
        f"{traced / 'masks.npz'}: fc1/x/0: expected an array whose shape (1000000000000,) of "
        "uint8 fits its stored 64 bytes (coordinate masks written with stats.json), got "
        "'1,000,000,000,000 bytes'")


def test_mask_array_missing_from_its_archive(traced):
    """A mask that stats.json names but masks.npz lacks is named with where stats.json names
    it."""
    rewrite_npz(traced / "masks.npz", lambda members: members.pop("fc2/w/99.npy"))
    assert error_of(load_traced, traced) == (
        f"{traced / 'masks.npz'}: fc2/w/99: expected the array stats.json names at "
        "layers.fc2.masks.w, got 'missing'")


def test_pickled_array_is_refused(traced):
    """An object array (which numpy would unpickle) in stats.npz is refused by its dtype."""
    arrays = dict(np.load(traced / "stats.npz"))
    arrays["confidence/label"] = np.array([{"a": 1}], dtype=object)
    np.savez_compressed(traced / "stats.npz", **arrays)
    assert error_of(load_traced, traced) == (
        f"{traced / 'stats.npz'}: confidence/label: expected a numeric array (value-statistics "
        "arrays written with stats.json), got 'object'")


def test_convolution_mask_of_three_axes(tmp_path, capsys):
    """The outer-product kind reads a 2-D convolution's masks as planes: a mask of 3 axes (the
    same bits, 8 x 8 x 9 instead of 8 x 8 x 3 x 3) crashed the run with a ValueError; it is
    refused at load, through the command line too."""
    folder = tmp_path / "resnet"
    shutil.copytree(WORKLOADS / "traced" / "resnet18_cifar", folder)

    def flatten(stats: dict) -> None:
        entry = stats["layers"]["layer3.0.conv1"]["masks"]["w"]
        entry["shape"] = [8, 8, 9]
    edit_json(folder, "stats.json", flatten)
    message = (f"{folder / 'stats.json'}: layers.layer3.0.conv1.masks.w.shape: expected 4 "
               "axes, the mask of a 2-D convolution (samples or output channels, channels, "
               "height, width), got [8, 8, 9]")
    assert error_of(load_traced, folder) == message
    assert run_cli(capsys, str(folder), hw="scnn_like.yaml") == (2, f"error: {message}\n")


def test_truncated_masks_with_ant_on_scnn_is_one_error(traced, capsys):
    """The reproduced defect: a truncated masks.npz with --technique ant on scnn_like.yaml ran
    and reported fallback figures; it is now one error line and exit code 2."""
    truncate("masks.npz", 1000)(traced)
    code, err = run_cli(capsys, str(traced), "--technique", "ant", hw="scnn_like.yaml")
    assert code == 2
    assert err == (f"error: {traced / 'masks.npz'}: expected a readable NumPy .npz archive "
                   "(coordinate masks written with stats.json), got 'BadZipFile: File is not "
                   "a zip file'\n")


def test_truncated_stats_npz_with_ant_on_scnn_is_one_error(traced, capsys):
    """The same for a truncated stats.npz."""
    truncate("stats.npz", 20_000)(traced)
    code, err = run_cli(capsys, str(traced), "--technique", "ant", hw="scnn_like.yaml")
    assert code == 2
    assert err.startswith(f"error: {traced / 'stats.npz'}: expected a readable NumPy .npz")
    assert "Traceback" not in err and err.count("\n") == 1


def test_missing_manifest_key_through_the_cli(traced, capsys):
    """The reproduced KeyError: 'batch' traceback is one error line and exit code 2."""
    edit_json(traced, "manifest.json", lambda m: m.pop("batch"))
    code, err = run_cli(capsys, str(traced))
    assert (code, err) == (2, f"error: {traced / 'manifest.json'}: batch: expected this "
                           "required key (the traced batch)\n")


def test_negative_elements_through_the_cli(traced, capsys):
    """The reproduced 'ValueError: Negative delay' at simulation time is a load error now."""
    graph_set(1, "elements", -16384)(traced)
    code, err = run_cli(capsys, str(traced))
    assert (code, err) == (2, f"error: {traced / 'graph.json'}: ops[1].elements: expected a "
                           "number greater than or equal to 0, got -16384\n")


def test_traced_batch_beyond_bound(traced):
    """Asking a traced workload for batch 10**9 states the batch bound first."""
    assert error_of(load_traced, traced, TrainingOptions(batch=10**9)) == (
        f"{traced}: batch: expected a batch size from 1 to 65,536 (2^16), got 1000000000")


# -- SCALE-Sim CSV -------------------------------------------------------------------------------
def csv_file(tmp_path: Path, text: str | bytes, name: str = "net.csv") -> str:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return str(path)


GOOD_ROW = "c1,10,10,3,3,4,8,1,"
#: (id, file text, the message after "<file>: ").
CSV_CASES = [
    ("not-utf8", (CONV_HEADER + "c1,10,10,3,3,4,8,1,\nc\xe92,9,9,3,3,8,16,2,\n").encode("latin-1"),
     "row 3: expected UTF-8 text (a SCALE-Sim topology CSV), got 'byte 0xe9 at offset 120'"),
    ("binary-garbage", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
     "row 1: expected UTF-8 text (a SCALE-Sim topology CSV), got 'byte 0x89 at offset 0'"),
    ("negative", CONV_HEADER + "c1,10,10,3,3,-4,8,1,\n", f"row 2.Channels: expected {DIM}, "
     "got '-4'"),
    ("zero", CONV_HEADER + "c1,10,10,3,3,4,0,1,\n", f"row 2.Num Filter: expected {DIM}, got '0'"),
    ("float", CONV_HEADER + "c1,10,10,3.0,3,4,8,1,\n",
     f"row 2.Filter Height: expected {DIM}, got '3.0'"),
    ("plus-sign", CONV_HEADER + "c1,10,+10,3,3,4,8,1,\n",
     f"row 2.IFMAP Width: expected {DIM}, got '+10'"),
    ("exponent", GEMM_HEADER + "g,1e3,8,8,\n", f"row 2.M: expected {DIM}, got '1e3'"),
    ("non-ascii-digit", GEMM_HEADER + "g,8,\u0663,8,\n", f"row 2.N: expected {DIM}, got '\u0663'"),
    ("empty-cell", GEMM_HEADER + "g,8,8,,\n", f"row 2.K: expected {DIM}, got ''"),
    ("beyond-2^24", CONV_HEADER + "c1,10,10,3,3,16777217,8,1,\n",
     f"row 2.Channels: expected {DIM}, got '16777217'"),
    ("missing-column", CONV_HEADER + "c1,10,10,3,3,4,\n",
     "row 2.Num Filter: expected a value (a row holds 8 comma-separated values: Layer name, "
     "IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides; "
     "and an optional Sparsity ratio), got 'c1,10,10,3,3,4'"),
    ("extra-columns", CONV_HEADER + "c1,10,10,3,3,4,8,1,1:1,7,\n",
     "row 2.column 10: expected the end of the row (a row holds 8 comma-separated values and "
     "an optional Sparsity ratio), got '7'"),
    ("empty-name", GEMM_HEADER + ",8,8,8,\n",
     "row 2.Layer: expected a layer name of 1 to 256 printable characters, got ''"),
    ("name-with-control-character", GEMM_HEADER + "g\x07,8,8,8,\n",
     "row 2.Layer: expected a layer name of 1 to 256 printable characters, got 'g\\x07'"),
    ("unknown-header-column", "Layer, M, N, K, Bias,\ng,8,8,8,\n",
     "row 1.column 5: expected the end of the header or the optional Sparsity column, got "
     "'Bias'"),
    ("short-header", "Layer, M, N\ng,8,8,8,\n",
     "row 1: expected a SCALE-Sim header: conv form (Layer name, IFMAP Height, IFMAP Width, "
     "Filter Height, Filter Width, Channels, Num Filter, Strides) or GEMM form (Layer, M, N, "
     "K), got 'Layer, M, N'"),
    ("empty-file", "", "row 1: expected a SCALE-Sim header line"),
    ("header-only", GEMM_HEADER, "expected at least one layer row after the header"),
    ("duplicate-name", GEMM_HEADER + "g,8,8,8,\ng,4,4,4,\n",
     "row 3.Layer: expected a layer name not used in an earlier row, got 'g'"),
    ("sparsity-unicode-digits", "Layer, M, N, K, Sparsity,\ng,8,8,8,\u00b2:\u00b2,\n",
     "row 2.Sparsity: expected a dense sparsity ratio N:N such as 1:1 (accelsim does not model "
     "SCALE-Sim's N:M sparsity), got '\u00b2:\u00b2'"),
    ("conv-window-beyond-2^24", CONV_HEADER + "c1,10,10,3,3,2000000,8,1,\n",
     "row 2.Channels: expected a convolution window Channels*Filter Height*Filter Width of at "
     "most 16,777,216 (2^24), got '2000000*3*3'"),
    ("op-macs-beyond-2^53", GEMM_HEADER + "g,16777216,16777216,16777216,\n",
     "row 2: expected an op of at most 9,007,199,254,740,992 (2^53) MACs, got 'op g.fwd: "
     "4,722,366,482,869,645,213,696 MACs at batch 1'"),
    ("tensor-beyond-2^36", GEMM_HEADER + "g,16777216,8,16777216,\n",
     "row 2: expected tensors and ops of at most 68,719,476,736 (2^36) elements (batch "
     "included), got 'g/ifmap: 281,474,976,710,656 elements at batch 1'"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in CSV_CASES],
                         ids=[case[0] for case in CSV_CASES])
def test_hostile_csv(tmp_path, text, message):
    """Each hostile SCALE-Sim file is one WorkloadError naming the file, the row (its line
    number) and the column (the message is exact)."""
    path = csv_file(tmp_path, text)
    assert error_of(scalesim_workload, path) == f"{path}: {message}"


def test_csv_total_macs_beyond_bound(tmp_path):
    """12 GEMM rows of M = N = 2^12, K = 2^24: 2^48 MACs per GEMM, every tensor at most 2^36
    elements at batch 1. fwd and bwd_weight of every row and bwd_data of all rows but the
    first are 35 GEMMs: 35 * 2^48 = 9,851,624,184,872,960 MACs, over 2^53."""
    rows = "".join(f"r{i},4096,4096,16777216,\n" for i in range(12))
    path = csv_file(tmp_path, GEMM_HEADER + rows)
    assert error_of(scalesim_workload, path) == (
        f"{path}: expected a training iteration of at most 9,007,199,254,740,992 (2^53) MACs, "
        "got '9,851,624,184,872,960 MACs at batch 1'")


def test_csv_number_of_thousands_of_digits(tmp_path):
    """A cell of 5,000 digits (beyond what int() converts) is the bound's error; the value
    shown is cut as every error's is."""
    path = csv_file(tmp_path, GEMM_HEADER + "g,8,8," + "9" * 5000 + ",\n")
    assert error_of(scalesim_workload, path) == str(
        WorkloadError(path, "row 2.K", DIM, got="9" * 5000))


def test_depthwise_row_of_a_million_channels_runs(tmp_path):
    """The reproduced defect: a DP row of 10^6 channels ran past 120 s and 6 GB (one layer per
    channel). Now it is one op per phase with count 10^6. 16x16 input, 3x3 filter, stride 1:
    14x14 outputs, one filter, so 14 * 14 * 9 = 1,764 MACs per channel and 1,764,000,000 in
    all; the forward pass loads and simulates in well under 10 seconds."""
    path = csv_file(tmp_path, CONV_HEADER + "Conv_DP,16,16,3,3,1000000,1,1,\n")
    start = time.perf_counter()
    workload = scalesim_workload(path, training=False)
    (op,) = workload.ops()
    assert (op.name, op.gemm.m, op.gemm.n, op.gemm.k, op.gemm.count) == (
        "Conv_DP.fwd", 196, 1, 9, 1_000_000)
    assert workload.macs == 1_764_000_000
    Simulation(make_config(), workload).run()
    assert time.perf_counter() - start < 10


def test_depthwise_row_has_the_macs_of_its_channel_layers(tmp_path):
    """A DP row of 4 channels has the MACs, tensors and parameters of SCALE-Sim's 4 channel
    layers: 10x10 input, 3x3 filter, 2 filters, stride 1 -> 8x8 outputs; per channel fwd
    64 * 2 * 9 = 1,152 MACs, 4 channels 4,608 at batch 1; at batch 2, 9,216 per GEMM phase
    (bwd_data needs an earlier row: the DP row is the second), 18 * 4 = 72 parameters. The
    padded 10x10 input has more positions than the 8x8 output, so bwd_data is the col2im GEMM
    (2*8*8) x (1*9) x 2 per channel, then a col2im op adding its 2*64*9*4 = 4,608 partial
    products into the 2*4*100 = 800 input-gradient elements."""
    path = csv_file(tmp_path, CONV_HEADER + "c0,4,4,1,1,1,1,1,\nConv_DP,10,10,3,3,4,2,1,\n")
    workload = scalesim_workload(path, TrainingOptions(batch=2))
    names = {op.name for op in workload.ops() if op.layer == "Conv_DP"}
    assert names == {"Conv_DP.fwd", "Conv_DP.bwd_data", "Conv_DP.bwd_data.col2im",
                     "Conv_DP.bwd_weight", "Conv_DP.update"}
    macs = {op.name: op.macs for op in workload.ops() if op.layer == "Conv_DP"}
    assert macs == {"Conv_DP.fwd": 9_216, "Conv_DP.bwd_data": 9_216,
                    "Conv_DP.bwd_data.col2im": 0, "Conv_DP.bwd_weight": 9_216,
                    "Conv_DP.update": 0}
    col2im = workload.op("Conv_DP.bwd_data.col2im")
    assert (col2im.elements, [(t.name, t.elements) for t in col2im.writes]) == (
        4_608, [("grad(Conv_DP/ifmap)", 800)])
    assert workload.op("Conv_DP.update").elements == 72
    fwd = workload.op("Conv_DP.fwd")
    assert [(t.name, t.elements) for t in fwd.reads] == [("Conv_DP/ifmap", 2 * 4 * 100),
                                                        ("Conv_DP/weight", 72)]
    assert (fwd.batch.dim, fwd.batch.samples) == ("m", 2)


def assert_batch_bound_error(code: int, err: str) -> None:
    """One error line about the batch stating the bound 65,536 (the run spec checks it before
    the workload loader does), exit code 2."""
    assert code == 2 and err.startswith("error: ") and err.count("\n") == 1
    assert "batch: expected" in err and "65536" in err.replace(",", "")
    assert "got 1000000000" in err and "Traceback" not in err


def test_csv_batch_beyond_bound_through_the_cli(capsys):
    """--batch 10**9 on a SCALE-Sim file: one error line with the bound, exit code 2."""
    path = str(WORKLOADS / "scalesim" / "bert_base_linear.csv")
    assert_batch_bound_error(*run_cli(capsys, path, "--batch", str(10**9)))


def test_csv_batch_beyond_bound(tmp_path):
    """The loader's own check, for callers that skip the run spec."""
    path = str(WORKLOADS / "scalesim" / "bert_base_linear.csv")
    assert error_of(scalesim_workload, path, TrainingOptions(batch=10**9)) == (
        f"{path}: batch: expected a batch size from 1 to 65,536 (2^16), got 1000000000")


def test_not_utf8_csv_through_the_cli(tmp_path, capsys):
    """The reproduced UnicodeDecodeError traceback is one error line and exit code 2."""
    path = csv_file(tmp_path, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "img.csv")
    code, err = run_cli(capsys, path)
    assert (code, err) == (2, f"error: {path}: row 1: expected UTF-8 text (a SCALE-Sim "
                           "topology CSV), got 'byte 0x89 at offset 0'\n")


# -- workload YAML -------------------------------------------------------------------------------
def yaml_file(tmp_path: Path, text: str, name: str = "net.yaml") -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


#: (id, YAML text, the message after "<file>: ").
YAML_CASES = [
    ("int-as-bool", TINY_YAML.replace("kernel: 3", "kernel: true"),
     "layers[0].kernel: expected a valid integer, got True"),
    ("int-as-float", TINY_YAML.replace("cout: 4", "cout: 4.0"),
     "layers[0].cout: expected a valid integer, got 4.0"),
    ("int-as-string", TINY_YAML.replace("out_features: 3", "out_features: '3'"),
     "layers[3].out_features: expected a valid integer, got '3'"),
    ("bool-as-string", TINY_YAML.replace("padding: 1}", "padding: 1, bias: 'yes'}"),
     "layers[0].bias: expected true or false, got 'yes'"),
    ("dimension-beyond-2^24", TINY_YAML.replace("cout: 4", "cout: 16777217"),
     "layers[0].cout: expected a number less than or equal to 16777216, got 16777217"),
    ("input-dimension-infinite", TINY_YAML.replace("[2, 8, 8]", "[2, .inf, 8]"),
     "input[1]: expected a valid integer, got inf"),
    ("window-beyond-2^24", TINY_YAML.replace("[2, 8, 8]", "[1048576, 8, 8]")
     .replace("kernel: 3, padding: 1", "kernel: 5, padding: 2"),
     "layers[0]: expected a convolution window Cin*R*S of at most 16,777,216 (2^24), got "
     "'1048576*5*5'"),
    ("flattened-input-beyond-2^24", TINY_YAML.replace("[2, 8, 8]", "[2, 4096, 4096]")
     .replace("{name: pool, kind: global_avgpool, input: relu1}",
              "{name: pool, kind: relu, input: relu1}"),
     "layers[3]: expected input features (the flattened input) of at most 16,777,216 (2^24), "
     "got (4, 4096, 4096)"),
    ("output-beyond-2^24", TINY_YAML.replace("[2, 8, 8]", "[2, 16777216, 8]")
     .replace("padding: 1", "padding: 16777216"),
     "layers[0]: expected output dimensions of at most 16,777,216 (2^24), got (4, 50331646, "
     "33554438)"),
]


@pytest.mark.parametrize("text, message", [case[1:] for case in YAML_CASES],
                         ids=[case[0] for case in YAML_CASES])
def test_hostile_yaml(tmp_path, text, message):
    """Each hostile workload YAML is one WorkloadError naming the file, the key path and what
    was expected (the message is exact)."""
    path = yaml_file(tmp_path, text)
    assert error_of(load_network, path) == f"{path}: {message}"


def test_yaml_name_too_long(tmp_path):
    """A network name of 257 characters (the bound is 256)."""
    name = "n" * 257
    path = yaml_file(tmp_path, TINY_YAML.replace("name: tiny", f"name: {name}"))
    assert error_of(load_network, path) == str(WorkloadError(
        path, "name", "string should have at most 256 characters", got=name))


def test_yaml_tensor_beyond_2_36_at_the_run_batch(tmp_path):
    """A [1024, 4096, 4096] input is 2^34 elements per sample, within the per-layer bounds;
    at batch 32 it is 2^39 = 549,755,813,888 elements, over the per-tensor bound, reported at
    the first layer reading it."""
    text = ("name: big\ninput: [1024, 4096, 4096]\nlayers:\n"
            "  - {name: relu1, kind: relu, input: input}\n"
            "  - {name: loss, kind: loss, input: relu1}\n")
    path = yaml_file(tmp_path, text)
    assert error_of(load_workload, path, TrainingOptions(batch=32)) == (
        f"{path}: layers[0]: expected tensors and ops of at most 68,719,476,736 (2^36) "
        "elements (batch included), got 'input: 549,755,813,888 elements at batch 32'")


def test_yaml_iteration_macs_beyond_2_53(tmp_path):
    """Batch 16 of [2^14 tokens, 2^18 features]: fc1 to 2^16 features is
    16 * 2^14 * 2^18 * 2^16 = 2^52 MACs fwd and 2^52 bwd_weight (no bwd_data: it reads the
    input); fc2 2^16 -> 2^16 is 2^50 in each of three phases. Every tensor is at most 2^36
    elements, but the iteration is 2^53 + 3 * 2^50 = 12,384,898,975,268,864 MACs."""
    text = ("name: big\ninput: [16384, 262144]\nlayers:\n"
            "  - {name: fc1, kind: linear, input: input, out_features: 65536, bias: false}\n"
            "  - {name: fc2, kind: linear, input: fc1, out_features: 65536, bias: false}\n"
            "  - {name: loss, kind: loss, input: fc2}\n")
    path = yaml_file(tmp_path, text)
    assert error_of(load_workload, path, TrainingOptions(batch=16)) == (
        f"{path}: layers: expected a training iteration of at most 9,007,199,254,740,992 (2^53) "
        "MACs, got '12,384,898,975,268,864 MACs at batch 16'")


@pytest.mark.parametrize("batch, shown", [(0, "0"), (-3, "-3"), (10**9, "1000000000"),
                                          (True, "True"), ("32", "'32'")])
def test_batch_outside_bounds(batch, shown):
    """A batch outside 1..2^16, or not an integer, is one error stating the bound."""
    assert error_of(load_workload, "mlp", TrainingOptions(batch=batch)) == (
        f"zoo:mlp: batch: expected a batch size from 1 to 65,536 (2^16), got {shown}")


def test_absurd_batch_through_the_cli(capsys):
    """--batch 10**9: one error line with the bound, exit code 2."""
    assert_batch_bound_error(*run_cli(capsys, str(WORKLOADS / "lenet5.yaml"), "--batch",
                                      str(10**9)))


@pytest.mark.parametrize("batch", ["0", "-1"])
def test_zero_or_negative_batch_through_the_cli(capsys, batch):
    """--batch 0 or -1: one error line naming the batch, exit code 2, no traceback."""
    code, err = run_cli(capsys, str(WORKLOADS / "lenet5.yaml"), "--batch", batch)
    assert code == 2
    assert err.startswith("error: ") and "batch" in err and err.count("\n") == 1


CONCAT_TWICE = """\
name: twice
input: [2, 4, 4]
layers:
  - {name: conv1, kind: conv, input: input, cout: 3, kernel: 1}
  - {name: cat, kind: concat, inputs: [conv1, conv1]}
  - {name: fc, kind: linear, input: cat, out_features: 5}
  - {name: loss, kind: loss, input: fc}
"""

SQUARE = """\
name: square
input: [4, 4]
layers:
  - {name: fc0, kind: linear, input: input, out_features: 4}
  - {name: sq, kind: matmul, inputs: [fc0, fc0], count: 1, m: 4, n: 4, k: 4}
  - {name: fc, kind: linear, input: sq, out_features: 3}
  - {name: loss, kind: loss, input: fc}
"""


def test_concat_of_a_tensor_with_itself(tmp_path):
    """torch.cat([x, x]) was refused with an op-name clash. Batch 2: conv1 (1x1, 2 -> 3
    channels on 4x4) is 16 * 3 * 2 = 96 MACs per sample; cat is (6, 4, 4) = 96 features; fc
    96 -> 5 is 480. fwd = bwd_weight = 2 * (96 + 480) = 1,152; bwd_data: fc's 960 only
    (conv1 reads the input). Each half of cat's gradient (2 * 48 = 96 elements) is one
    contribution to conv1's gradient, summed by conv1.grad_accumulate."""
    workload = load_workload(yaml_file(tmp_path, CONCAT_TWICE), TrainingOptions(batch=2))
    assert workload.macs_by_phase() == {"fwd": 1_152, "bwd_data": 960, "bwd_weight": 1_152,
                                        "update": 0}
    parts = [workload.op(f"cat.bwd_data.conv1[{i}]").writes[0] for i in (0, 1)]
    assert [(t.name, t.elements) for t in parts] == [("grad(conv1)@cat[0]", 96),
                                                    ("grad(conv1)@cat[1]", 96)]
    total = workload.op("conv1.grad_accumulate")
    assert [t.name for t in total.reads] == ["grad(conv1)@cat[0]", "grad(conv1)@cat[1]"]
    assert (total.writes[0].name, total.elements, total.vector_ops) == ("grad(conv1)", 96, 1.0)
    assert "conv1.grad_accumulate" in workload.graph.predecessors("conv1.bwd_weight")
    Simulation(make_config(), workload).run()


def test_matmul_of_a_tensor_by_itself(tmp_path):
    """x @ x was refused with an op-name clash. Batch 2, input [4 tokens, 4 features]: fc0
    (4 -> 4 per token) 64 MACs per sample; sq = fc0 @ fc0 (4x4 by 4x4) 64; fc (16 -> 3) 48.
    fwd = 2 * (64 + 64 + 48) = 352; bwd_data: fc 96 plus both operand gradients of sq,
    dA = dC . B^T and dB = A^T . dC, 128 each: 352; bwd_weight: fc0 128 + fc 96 = 224."""
    workload = load_workload(yaml_file(tmp_path, SQUARE), TrainingOptions(batch=2))
    assert workload.macs_by_phase() == {"fwd": 352, "bwd_data": 352, "bwd_weight": 224,
                                        "update": 0}
    d_a, d_b = workload.op("sq.bwd_data.fc0[0]"), workload.op("sq.bwd_data.fc0[1]")
    assert [t.name for t in d_a.reads] == ["grad(sq)", "fc0"]
    assert [t.name for t in d_b.reads] == ["fc0", "grad(sq)"]
    total = workload.op("fc0.grad_accumulate")
    assert [t.name for t in total.reads] == ["grad(fc0)@sq[0]", "grad(fc0)@sq[1]"]
    assert total.writes[0].elements == 2 * 16
    Simulation(make_config(), workload).run()


def test_add_of_a_tensor_to_itself(tmp_path):
    """x + x: the output gradient passes to x twice and is summed once (32 elements at batch
    2 of a (1, 4, 4) map)."""
    text = ("name: double\ninput: [1, 4, 4]\nlayers:\n"
            "  - {name: conv1, kind: conv, input: input, cout: 1, kernel: 1}\n"
            "  - {name: twice, kind: add, inputs: [conv1, conv1]}\n"
            "  - {name: fc, kind: linear, input: twice, out_features: 2}\n"
            "  - {name: loss, kind: loss, input: fc}\n")
    workload = load_workload(yaml_file(tmp_path, text), TrainingOptions(batch=2))
    total = workload.op("conv1.grad_accumulate")
    assert [t.name for t in total.reads] == ["grad(twice)", "grad(twice)"]
    assert total.elements == 32
    Simulation(make_config(), workload).run()


# -- property-based: random mutations of the shipped workloads ------------------------------------
#: The hwconfig of the short runs (8x8, ideal DRAM, 64 MiB buffers).
CONFIG = make_config()
#: A loaded workload's forward pass is simulated when it is this small: the simulator's time
#: grows with tensor sizes and tile counts (its own business); the loader's bounds are what
#: these tests are about.
RUN_MACS = 10**10
RUN_ELEMENTS = 10**7

#: Values a leaf may be replaced by: small and boundary integers, floats (NaN and infinities
#: too), booleans, null, strings, lists and mappings.
VALUES = st.one_of(
    st.integers(-3, 300),
    st.sampled_from([0, -1, 2**24, 2**24 + 1, 2**36 + 1, 2**53 + 1, 2**63, 10**30]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.text(max_size=8),
    st.lists(st.integers(-2, 64), max_size=4),
    st.dictionaries(st.text(max_size=4), st.integers(0, 8), max_size=2))
#: Tokens a CSV cell may be replaced by.
CELLS = st.one_of(st.integers(-5, 2**25).map(str), st.text(max_size=6), st.sampled_from(
    ["", "x", "3.0", "+3", "1e3", "\u0663", "-0", " 7 ", "2:4", "1:1", "DP", "0x10", "NaN",
     "99999999999999999999"]))
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SLOW_PROPERTY = settings(PROPERTY, max_examples=2000, derandomize=False)


def _locations(tree, path=()):
    """The path of every node below the root of a JSON-like tree."""
    items = tree.items() if isinstance(tree, dict) else enumerate(tree) \
        if isinstance(tree, list) else ()
    for key, child in items:
        yield (*path, key)
        yield from _locations(child, (*path, key))


def _similar(tree, old) -> st.SearchStrategy:
    """Values of the type of ``old`` (so that more mutants are valid and load): another
    integer of its order, another fraction, another string of the tree (a rewired reference)."""
    if isinstance(old, bool):
        return st.booleans()
    if isinstance(old, int):
        return st.integers(0, 2 * abs(old) + 2)
    if isinstance(old, float):
        return st.floats(0, 1)
    if isinstance(old, str):
        return st.sampled_from(sorted({_at(tree, p) for p in _locations(tree)
                                       if isinstance(_at(tree, p), str)}))
    return VALUES


def _mutated_tree(data, tree):
    """``tree`` with one random leaf replaced (by a value of a random type or of its own),
    key deleted or key added."""
    locations = list(_locations(tree))
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if action == "add" or not locations:
        containers = [()] + [p for p in locations if isinstance(_at(tree, p), (dict, list))]
        where = _at(tree, data.draw(st.sampled_from(containers)))
        value = data.draw(VALUES)
        if isinstance(where, dict):
            keys = sorted({str(p[-1]) for p in locations if isinstance(p[-1], str)})
            where[data.draw(st.one_of(st.text(min_size=1, max_size=8),
                                      st.sampled_from(keys or ["key"])))] = value
        else:
            where.insert(data.draw(st.integers(0, len(where))), value)
        return tree
    path = data.draw(st.sampled_from(locations))
    parent = _at(tree, path[:-1])
    if action == "delete":
        del parent[path[-1]]
    else:
        similar = _similar(tree, parent[path[-1]])
        parent[path[-1]] = data.draw(st.one_of(VALUES, similar, similar))
    return tree


def _at(tree, path):
    for key in path:
        tree = tree[key]
    return tree


def _truncated(data, raw: bytes) -> bytes:
    return raw[:data.draw(st.integers(0, max(0, len(raw) - 1)))]


def _load_and_run(load) -> None:
    """A load either fails with a WorkloadError / ConfigError or gives a workload whose forward
    pass (when small) runs or fails with an AccelsimError."""
    try:
        workload = load()
    except ConfigError:  # WorkloadError is a ConfigError; YAML-level errors are ConfigErrors
        return
    forward = workload.only_phases(["fwd"])
    largest = max((t.elements for op in forward.ops() for t in (*op.reads, *op.writes)),
                  default=0)
    if forward.macs <= RUN_MACS and largest <= RUN_ELEMENTS:
        try:
            Simulation(CONFIG, forward).run()
        except AccelsimError:
            pass


SHIPPED_YAML = sorted(WORKLOADS.glob("*.yaml"))
SHIPPED_CSV = sorted((WORKLOADS / "scalesim").glob("*.csv"))


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A folder the property tests overwrite example after example, with a copy of the traced
    mlp folder."""
    folder = tmp_path_factory.mktemp("hostile")
    shutil.copytree(MLP, folder / "mlp")
    return folder


def _yaml_property(scratch: Path, data) -> None:
    source = data.draw(st.sampled_from(SHIPPED_YAML))
    path = scratch / "mutated.yaml"
    if data.draw(st.integers(0, 4)) == 0:
        path.write_bytes(_truncated(data, source.read_bytes()))
    else:
        tree = _mutated_tree(data, yaml.safe_load(source.read_text()))
        path.write_text(yaml.safe_dump(tree, allow_unicode=True))
    _load_and_run(lambda: load_workload(str(path), TrainingOptions(batch=1)))


def _csv_property(scratch: Path, data) -> None:
    source = data.draw(st.sampled_from(SHIPPED_CSV))
    path = scratch / "mutated.csv"
    raw = source.read_bytes()
    action = data.draw(st.sampled_from(["cell", "delete", "add", "truncate"]))
    if action == "truncate":
        path.write_bytes(_truncated(data, raw))
    else:
        rows = [line.split(",") for line in raw.decode().split("\n")]
        r = data.draw(st.integers(0, len(rows) - 1))
        c = data.draw(st.integers(0, len(rows[r]) - 1))
        if action == "cell":
            rows[r][c] = data.draw(CELLS)
        elif action == "delete":
            del rows[r][c]
        else:
            rows[r].insert(c, data.draw(CELLS))
        path.write_text("\n".join(",".join(row) for row in rows), encoding="utf-8")
    _load_and_run(lambda: load_workload(str(path), TrainingOptions(batch=1)))


def _traced_property(scratch: Path, data) -> None:
    folder = scratch / "mlp"
    for name in ("manifest.json", "graph.json"):
        shutil.copy(MLP / name, folder / name)
    name = data.draw(st.sampled_from(["manifest.json", "graph.json"]))
    raw = (MLP / name).read_bytes()
    if data.draw(st.integers(0, 4)) == 0:
        (folder / name).write_bytes(_truncated(data, raw))
    else:
        tree = _mutated_tree(data, json.loads(raw))
        (folder / name).write_text(json.dumps(tree))
    _load_and_run(lambda: load_workload(str(folder), TrainingOptions(batch=None)))


@PROPERTY
@given(data=st.data())
def test_mutated_yaml_loads_or_fails_cleanly(scratch, data):
    """A shipped workload YAML with a random leaf replaced (by a value of a random type), a key
    deleted or added, or its bytes truncated: a clean load and run, or a clean error."""
    _yaml_property(scratch, data)


@PROPERTY
@given(data=st.data())
def test_mutated_csv_loads_or_fails_cleanly(scratch, data):
    """A shipped SCALE-Sim file with a cell replaced, deleted or added, or its bytes
    truncated: a clean load and run, or a clean error."""
    _csv_property(scratch, data)


@PROPERTY
@given(data=st.data())
def test_mutated_traced_folder_loads_or_fails_cleanly(scratch, data):
    """The traced mlp folder with its manifest or graph mutated (a leaf replaced, a key deleted
    or added, the bytes truncated): a clean load and run, or a clean error."""
    _traced_property(scratch, data)


@pytest.mark.slow
@SLOW_PROPERTY
@given(data=st.data())
def test_mutated_yaml_loads_or_fails_cleanly_long(scratch, data):
    """The YAML property with 2,000 random examples."""
    _yaml_property(scratch, data)


@pytest.mark.slow
@SLOW_PROPERTY
@given(data=st.data())
def test_mutated_csv_loads_or_fails_cleanly_long(scratch, data):
    """The CSV property with 2,000 random examples."""
    _csv_property(scratch, data)


@pytest.mark.slow
@SLOW_PROPERTY
@given(data=st.data())
def test_mutated_traced_folder_loads_or_fails_cleanly_long(scratch, data):
    """The traced-folder property with 2,000 random examples."""
    _traced_property(scratch, data)


def test_shipped_workloads_and_the_zoo_still_load():
    """The bounds refuse nothing real: every shipped workload loads at batch 32 (the traced
    ones at their own batch), every zoo network at batch 256 and a shipped YAML network at the
    largest batch, 65,536."""
    for path in [*SHIPPED_YAML, *SHIPPED_CSV]:
        assert load_workload(str(path), TrainingOptions(batch=32)).macs > 0
    for folder in sorted(p for p in (WORKLOADS / "traced").iterdir() if p.is_dir()):
        assert load_traced(folder).value_stats is not None
    for name in ZOO.names():
        assert load_workload(name, TrainingOptions(batch=256)).macs > 0
    assert training_iteration(load_network(WORKLOADS / "small_resnet.yaml"),
                              TrainingOptions(batch=65_536)).macs > 0
