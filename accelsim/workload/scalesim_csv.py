"""SCALE-Sim topology files (CSV) as workloads, in both of SCALE-Sim's forms.

Conv form (SCALE-Sim's default)::

    Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, Num Filter, Strides,
    Conv1,230,230,7,7,3,64,2,

IFMAP sizes are already padded (SCALE-Sim has no padding column), so a row is a convolution
with padding 0 and output size ``(H - R) // stride + 1``. GEMM form (SCALE-Sim's ``-i gemm``)::

    Layer, M, N, K,
    QKV,128,2304,768,

a product of an M x K by a K x N matrix (M output rows, N output columns, K summed), which is a
linear layer over M tokens with K input and N output features. Both forms may carry a trailing
sparsity column (``N:M``); only dense ratios (N = M, as SCALE-Sim's default ``1:1``) are
accepted, since accelsim does not model SCALE-Sim's structured sparsity. As in SCALE-Sim, the
first line is the header, rows end with a comma (optional here), a conv row whose name contains
``DP`` is a depthwise conv run as one single-channel layer per channel (named
``<name>Channel_<i>``), and blank lines are skipped. Row numbers in errors are file line numbers.

Design. SCALE-Sim layers are independent: no row's output feeds the next, so the rows do not
form a :class:`~accelsim.workload.network.Network` (which chains shapes from one input). Each row
becomes its own ops built directly with :class:`~accelsim.workload.op.Op`: it reads its own
input tensor ``<row>.ifmap`` and writes ``<row>.ofmap``. With ``training`` (the default, as for
every accelsim workload) a row expands to the four phases with the GEMMs of
:mod:`accelsim.workload.training`'s table (conv: fwd (B*Ho*Wo) x Cout x (Cin*R*S), bwd_data
(B*H*W) x Cin x (Cout*R*S), bwd_weight Cout x (Cin*R*S) x (B*Ho*Wo); a GEMM row is the same with
Ho*Wo = H*W = M, Cin*R*S = K and Cout = N), the output gradient ``d<row>.ofmap`` being an input
resident in DRAM. The first row is taken to be the network's first layer and gets no bwd_data
op; bwd_data covers the IFMAP size as given, i.e. including the padding SCALE-Sim folds in.
Without ``training`` only the forward GEMMs remain: exactly what SCALE-Sim simulates.
Batch B = 1 unless the options say otherwise (SCALE-Sim has no batch; a batch multiplies the
M dimension). Weights have no bias; ops carry the same ``attrs`` geometry keys as the conv and
linear layers of a Network.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.workload.graph import Workload
from accelsim.workload.op import Gemm, Op, Phase, Tensor
from accelsim.workload.training import TrainingOptions, layer_gemms, update_op

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
SPARSITY_COLUMN = "Sparsity"


@dataclass(frozen=True)
class TopologyLayer:
    """One SCALE-Sim layer: a ``conv`` or ``linear`` with the geometry keys of network.py.

    ``row`` is the file line it came from (a depthwise row gives several layers).
    """

    name: str
    kind: str
    geometry: dict
    row: int

    @property
    def params(self) -> int:
        g = self.geometry
        if self.kind == "conv":
            return g["cout"] * g["cin"] * g["r"] * g["s"]
        return g["in_features"] * g["out_features"]

    def gemm(self, phase: Phase, batch: int) -> Gemm:
        """The GEMM of ``phase`` (training.py's table) at batch size ``batch``."""
        return layer_gemms(self.kind, self.geometry, batch)[phase]

    def elements(self, batch: int) -> tuple[int, int]:
        """(input, output) activation elements at batch size ``batch``."""
        g = self.geometry
        if self.kind == "conv":
            return (batch * g["cin"] * g["h"] * g["w"], batch * g["cout"] * g["ho"] * g["wo"])
        return batch * g["tokens"] * g["in_features"], batch * g["tokens"] * g["out_features"]


# -- parsing -------------------------------------------------------------------------------------
def _cells(line: str) -> list[str]:
    cells = [cell.strip() for cell in line.strip().split(",")]
    return cells[:-1] if cells and cells[-1] == "" else cells


def _form(header: list[str], source: str) -> tuple[str, ...]:
    norm = [cell.lower().replace(" ", "") for cell in header]
    if norm[1:4] == ["m", "n", "k"]:
        return GEMM_COLUMNS
    if len(norm) > 1 and norm[1].startswith("ifmap"):
        return CONV_COLUMNS
    raise WorkloadError(source, "row 1", "a SCALE-Sim header: conv form ("
                        + ", ".join(CONV_COLUMNS) + ") or GEMM form (" + ", ".join(GEMM_COLUMNS)
                        + ")", got=", ".join(header))


def _positive(cell: str, source: str, where: str) -> int:
    try:
        value = int(cell)
    except ValueError:
        value = 0
    if value <= 0:
        raise WorkloadError(source, where, "a positive integer", got=cell)
    return value


def _check_dense(cell: str, source: str, where: str) -> None:
    n, sep, m = cell.partition(":")
    if not (sep and n.strip().isdigit() and n.strip() == m.strip() and int(n) > 0):
        raise WorkloadError(source, where, "a dense sparsity ratio N:N such as 1:1 (accelsim "
                            "does not model SCALE-Sim's N:M sparsity)", got=cell)


def _parse_row(cells: list[str], columns: tuple[str, ...], source: str,
               row: int) -> list[TopologyLayer]:
    if len(cells) not in (len(columns), len(columns) + 1):
        raise WorkloadError(source, f"row {row}", f"{len(columns)} comma-separated values ("
                            + ", ".join(columns) + f") and an optional {SPARSITY_COLUMN} ratio",
                            got=",".join(cells))
    name = cells[0]
    if not name:
        raise WorkloadError(source, f"row {row}.{columns[0]}", "a layer name")
    if len(cells) > len(columns):
        _check_dense(cells[-1], source, f"row {row}.{SPARSITY_COLUMN}")
    values = [_positive(cell, source, f"row {row}.{column}")
              for cell, column in zip(cells[1:], columns[1:])]
    if columns is GEMM_COLUMNS:
        m, n, k = values
        geometry = dict(tokens=m, in_features=k, out_features=n)
        return [TopologyLayer(name, "linear", geometry, row)]
    h, w, r, s, cin, cout, stride = values
    for size, kernel, column in ((h, r, "Filter Height"), (w, s, "Filter Width")):
        if kernel > size:
            raise WorkloadError(source, f"row {row}.{column}",
                                f"at most the IFMAP size ({size})", got=kernel)
    geometry = dict(cin=cin, cout=cout, h=h, w=w, r=r, s=s, stride=stride, pad=0,
                    ho=(h - r) // stride + 1, wo=(w - s) // stride + 1)
    if "DP" in name:  # SCALE-Sim runs a depthwise conv as one layer per channel
        return [TopologyLayer(f"{name}Channel_{i}", "conv", {**geometry, "cin": 1}, row)
                for i in range(cin)]
    return [TopologyLayer(name, "conv", geometry, row)]


def read_topology(path: str | Path) -> list[TopologyLayer]:
    """The layers of a SCALE-Sim topology file, in file order."""
    path, source = Path(path), str(path)
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        raise WorkloadError(source, "", "an existing file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WorkloadError(source, "", "a readable text file", got=str(exc)) from None
    if not lines or not lines[0].strip():
        raise WorkloadError(source, "row 1", "a SCALE-Sim header line")
    columns = _form(_cells(lines[0]), source)
    layers: list[TopologyLayer] = []
    seen: set[str] = set()
    for row, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        for layer in _parse_row(_cells(line), columns, source, row):
            if layer.name in seen:
                raise WorkloadError(source, f"row {row}.{columns[0]}",
                                    "a layer name not used in an earlier row", got=layer.name)
            seen.add(layer.name)
            layers.append(layer)
    if not layers:
        raise WorkloadError(source, "", "at least one layer row after the header")
    return layers


# -- ops -----------------------------------------------------------------------------------------
def _layer_ops(layer: TopologyLayer, options: TrainingOptions, training: bool,
               first: bool) -> list[Op]:
    B, eb, L = options.batch, options.element_bytes, layer.name
    n_in, n_out = layer.elements(B)
    ifmap, ofmap = Tensor(f"{L}/ifmap", n_in, eb), Tensor(f"{L}/ofmap", n_out, eb)
    weight = Tensor(f"{L}/weight", layer.params, eb)
    attrs = dict(layer.geometry)

    def gemm_op(phase: Phase, reads: tuple[Tensor, ...], writes: tuple[Tensor, ...]) -> Op:
        return Op(f"{L}.{phase.value}", L, phase, layer.kind, reads, writes,
                  gemm=layer.gemm(phase, B), attrs=dict(attrs))

    ops = [gemm_op(Phase.FWD, (ifmap, weight), (ofmap,))]
    if not training:
        return ops
    d_ofmap = Tensor(f"grad({L}/ofmap)", n_out, eb)
    if not first:
        ops.append(gemm_op(Phase.BWD_DATA, (d_ofmap, weight), (Tensor(f"grad({L}/ifmap)", n_in, eb),)))
    grad = Tensor(f"{L}/weight.grad", layer.params, eb)
    ops.append(gemm_op(Phase.BWD_WEIGHT, (d_ofmap, ifmap), (grad,)))
    ops.append(update_op(L, layer.kind, layer.params, grad, options))
    return ops


def scalesim_workload(path: str | Path, options: TrainingOptions | None = None,
                      training: bool = True) -> Workload:
    """The workload of a SCALE-Sim topology file (see the module docstring)."""
    options = options or TrainingOptions()
    source = str(path)
    options.validate(source)
    layers = read_topology(path)
    ops = [op for layer in layers
           for op in _layer_ops(layer, options, training, first=layer.row == layers[0].row)]
    fwd_macs = sum(layer.gemm(Phase.FWD, 1).macs for layer in layers)
    return Workload(Path(path).stem, ops, source,
                    meta={"batch": options.batch, "element_bytes": options.element_bytes,
                          "optimizer": options.optimizer, "training": training,
                          "forward_macs_per_sample": fwd_macs})
