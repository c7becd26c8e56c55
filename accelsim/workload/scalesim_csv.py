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
``DP`` is a depthwise conv run as one single-channel layer per channel, and blank lines are
skipped. Row numbers in errors are file line numbers.

Strict input. The file is UTF-8 text (a leading byte-order mark is allowed) of at most 64 MiB
with at most 16,384 layer rows; a header names its form and may add only the Sparsity column.
Every number is a positive integer of ASCII digits, at most 2^24 (16,777,216); a name is at most
256 printable characters. At the run's batch a tensor holds at most 2^36 elements and the
iteration at most 2^53 MACs (:mod:`accelsim.workload.bounds`). Anything else is one
:class:`~accelsim.errors.WorkloadError` naming the file, the row (its line number) and the
column: ``net.csv: row 3.Channels: expected a positive integer ..., got '-4'``.

Depthwise rows. SCALE-Sim expands a ``DP`` row of C channels into C layers
``<name>Channel_<i>`` of one channel each (with the row's filters). accelsim keeps the same
arithmetic without C Python objects: the row is one layer ``<name>`` whose GEMMs are those of
one single-channel layer with ``count`` = C (C independent products, the ``channels`` attr), so
its MACs, tensors and parameters are C times one channel's, and a million channels cost what one
does to load.

Design. SCALE-Sim layers are independent: no row's output feeds the next, so the rows do not
form a :class:`~accelsim.workload.network.Network` (which chains shapes from one input). Each row
becomes its own ops built directly with :class:`~accelsim.workload.op.Op`: it reads its own
input tensor ``<row>.ifmap`` and writes ``<row>.ofmap``. With ``training`` (the default, as for
every accelsim workload) a row expands to the four phases with the GEMMs of
:mod:`accelsim.workload.training`'s table (conv: fwd (B*Ho*Wo) x Cout x (Cin*R*S), bwd_weight
Cout x (Cin*R*S) x (B*Ho*Wo), bwd_data by its rule: since a row's IFMAP is already padded,
H*W > Ho*Wo whenever the filter is larger than 1x1 or the stride above 1, and bwd_data is then
the col2im GEMM (B*Ho*Wo) x (Cin*R*S) x Cout followed by a col2im op; a 1x1 stride-1 row keeps
(B*H*W) x Cin x Cout; a GEMM row is a linear layer: fwd M x N x K, bwd_data M x K x N,
bwd_weight N x K x M), the output gradient ``grad(<row>/ofmap)`` being an input resident in
DRAM. The first row is taken to be the network's first layer and gets no bwd_data op; bwd_data
writes the gradient of the IFMAP as given, i.e. including the padding SCALE-Sim folds in.
Without ``training`` only the forward GEMMs remain: exactly what SCALE-Sim simulates.
Batch B = 1 unless the options say otherwise (SCALE-Sim has no batch; a batch multiplies the
M dimension; every op's batch axis is set: M of fwd and bwd_data, K of bwd_weight). Weights
have no bias; ops carry the same ``attrs`` geometry keys as the conv and linear layers of a
Network (plus ``channels`` for a depthwise row).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from pathlib import Path

from accelsim.errors import WorkloadError
from accelsim.workload.bounds import MAX_DIM, MAX_LAYERS, MAX_NAME, check_ops, power_of_two
from accelsim.workload.files import read_bytes
from accelsim.workload.graph import Workload
from accelsim.workload.op import BatchAxis, Gemm, Op, Phase, Tensor
from accelsim.workload.training import (TrainingOptions, data_gradient_ops, layer_gemms,
                                       update_op)

CONV_COLUMNS = ("Layer name", "IFMAP Height", "IFMAP Width", "Filter Height", "Filter Width",
                "Channels", "Num Filter", "Strides")
GEMM_COLUMNS = ("Layer", "M", "N", "K")
SPARSITY_COLUMN = "Sparsity"
#: A number cell: ASCII digits only (``int`` would take ``+5``, ``1_0`` or Arabic-Indic digits).
_DIGITS = re.compile(r"[0-9]+")
#: Expected text of every number cell.
_DIMENSION = f"a positive integer of at most {power_of_two(MAX_DIM)}"
#: The GEMM dimension that carries the batch's samples, by phase (as batch_axis_of).
_BATCH_DIM = {Phase.FWD: "m", Phase.BWD_DATA: "m", Phase.BWD_WEIGHT: "k"}


@dataclass(frozen=True)
class TopologyLayer:
    """One SCALE-Sim layer: a ``conv`` or ``linear`` with the geometry keys of network.py.

    ``row`` is the file line it came from. ``channels`` > 1 is a depthwise (``DP``) row:
    ``channels`` independent single-channel convolutions of this geometry (``cin`` = 1).
    """

    name: str
    kind: str
    geometry: dict
    row: int
    channels: int = 1

    @property
    def params(self) -> int:
        g = self.geometry
        if self.kind == "conv":
            return self.channels * g["cout"] * g["cin"] * g["r"] * g["s"]
        return g["in_features"] * g["out_features"]

    def gemm(self, phase: Phase, batch: int) -> Gemm:
        """The GEMM of ``phase`` (training.py's table) at batch size ``batch``."""
        return replace(layer_gemms(self.kind, self.geometry, batch)[phase], count=self.channels)

    def elements(self, batch: int) -> tuple[int, int]:
        """(input, output) activation elements at batch size ``batch``."""
        g = self.geometry
        if self.kind == "conv":
            return (batch * self.channels * g["cin"] * g["h"] * g["w"],
                    batch * self.channels * g["cout"] * g["ho"] * g["wo"])
        return batch * g["tokens"] * g["in_features"], batch * g["tokens"] * g["out_features"]


# -- reading -------------------------------------------------------------------------------------
def _read_lines(path: Path, source: str) -> list[str]:
    """The file's lines (split on newlines only, so that row numbers are line numbers)."""
    data = read_bytes(path, "a SCALE-Sim topology file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise WorkloadError(source, f"row {line}", "UTF-8 text (a SCALE-Sim topology CSV)",
                            got=f"byte 0x{data[exc.start]:02x} at offset {exc.start}") from None
    return [line.removesuffix("\r") for line in text.split("\n")]


def _cells(line: str) -> list[str]:
    cells = [cell.strip() for cell in line.strip().split(",")]
    return cells[:-1] if cells and cells[-1] == "" else cells


def _form(header: list[str], source: str) -> tuple[str, ...]:
    """The columns of the header's form; only the Sparsity column may follow them."""
    norm = [cell.lower().replace(" ", "") for cell in header]
    if norm[1:4] == ["m", "n", "k"]:
        columns = GEMM_COLUMNS
    elif len(norm) > 1 and norm[1].startswith("ifmap"):
        columns = CONV_COLUMNS
    else:
        raise WorkloadError(source, "row 1", "a SCALE-Sim header: conv form ("
                            + ", ".join(CONV_COLUMNS) + ") or GEMM form ("
                            + ", ".join(GEMM_COLUMNS) + ")", got=", ".join(header))
    n = len(columns)
    if len(header) < n:
        raise WorkloadError(source, f"row 1.{columns[len(header)]}",
                            "this column of the header", got=", ".join(header))
    if len(header) > n and (len(header) > n + 1 or norm[n] != SPARSITY_COLUMN.lower()):
        raise WorkloadError(source, f"row 1.column {n + 1}", "the end of the header or the "
                            f"optional {SPARSITY_COLUMN} column", got=header[n])
    return columns


def _dimension(cell: str, source: str, where: str) -> int:
    """A positive integer of ASCII digits, at most MAX_DIM."""
    if not _DIGITS.fullmatch(cell) or len(cell) > 12 or not 1 <= int(cell) <= MAX_DIM:
        raise WorkloadError(source, where, _DIMENSION, got=cell)
    return int(cell)


def _check_dense(cell: str, source: str, where: str) -> None:
    n, sep, m = (part.strip() for part in cell.partition(":"))
    if not (sep and _DIGITS.fullmatch(n) and n == m and int(n) > 0):
        raise WorkloadError(source, where, "a dense sparsity ratio N:N such as 1:1 (accelsim "
                            "does not model SCALE-Sim's N:M sparsity)", got=cell)


def _parse_row(cells: list[str], columns: tuple[str, ...], source: str,
               row: int) -> TopologyLayer:
    n = len(columns)
    if len(cells) < n:
        raise WorkloadError(source, f"row {row}.{columns[len(cells)]}",
                            f"a value (a row holds {n} comma-separated values: "
                            + ", ".join(columns) + f"; and an optional {SPARSITY_COLUMN} ratio)",
                            got=",".join(cells))
    if len(cells) > n + 1:
        raise WorkloadError(source, f"row {row}.column {n + 2}",
                            f"the end of the row (a row holds {n} comma-separated values and an "
                            f"optional {SPARSITY_COLUMN} ratio)", got=cells[n + 1])
    name = cells[0]
    if not name or len(name) > MAX_NAME or not name.isprintable():
        raise WorkloadError(source, f"row {row}.{columns[0]}",
                            f"a layer name of 1 to {MAX_NAME} printable characters", got=name)
    values = [_dimension(cell, source, f"row {row}.{column}")
              for cell, column in zip(cells[1:n], columns[1:])]
    if len(cells) > n:
        _check_dense(cells[n], source, f"row {row}.{SPARSITY_COLUMN}")
    if columns is GEMM_COLUMNS:
        m, n_out, k = values
        return TopologyLayer(name, "linear", dict(tokens=m, in_features=k, out_features=n_out),
                             row)
    h, w, r, s, cin, cout, stride = values
    for size, kernel, column in ((h, r, "Filter Height"), (w, s, "Filter Width")):
        if kernel > size:
            raise WorkloadError(source, f"row {row}.{column}",
                                f"at most the IFMAP size ({size})", got=kernel)
    depthwise = "DP" in name  # SCALE-Sim: one single-channel layer per channel
    window = (1 if depthwise else cin) * r * s
    if window > MAX_DIM:
        raise WorkloadError(source, f"row {row}.Channels", "a convolution window "
                            f"Channels*Filter Height*Filter Width of at most "
                            f"{power_of_two(MAX_DIM)}", got=f"{cin}*{r}*{s}")
    geometry = dict(cin=1 if depthwise else cin, cout=cout, h=h, w=w, r=r, s=s, stride=stride,
                    pad=0, ho=(h - r) // stride + 1, wo=(w - s) // stride + 1)
    return TopologyLayer(name, "conv", geometry, row, channels=cin if depthwise else 1)


def read_topology(path: str | Path) -> list[TopologyLayer]:
    """The layers of a SCALE-Sim topology file, in file order (one per row)."""
    path, source = Path(path), str(path)
    lines = _read_lines(path, source)
    if not lines[0].strip():
        raise WorkloadError(source, "row 1", "a SCALE-Sim header line")
    columns = _form(_cells(lines[0]), source)
    layers: list[TopologyLayer] = []
    seen: set[str] = set()
    for row, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        if len(layers) == MAX_LAYERS:
            raise WorkloadError(source, f"row {row}", f"at most {MAX_LAYERS:,} layer rows",
                                got=f"row {row} beyond them")
        layer = _parse_row(_cells(line), columns, source, row)
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
    attrs = dict(layer.geometry, **({"channels": layer.channels} if layer.channels > 1 else {}))

    def gemm_op(phase: Phase, reads: tuple[Tensor, ...], writes: tuple[Tensor, ...]) -> Op:
        return Op(f"{L}.{phase.value}", L, phase, layer.kind, reads, writes,
                  gemm=layer.gemm(phase, B), attrs=dict(attrs),
                  batch=BatchAxis(_BATCH_DIM[phase], B))

    ops = [gemm_op(Phase.FWD, (ifmap, weight), (ofmap,))]
    if not training:
        return ops
    d_ofmap = Tensor(f"grad({L}/ofmap)", n_out, eb)
    if not first:
        ops.extend(data_gradient_ops(f"{L}.{Phase.BWD_DATA.value}", L, layer.kind,
                                     (d_ofmap, weight), Tensor(f"grad({L}/ifmap)", n_in, eb),
                                     layer.gemm(Phase.BWD_DATA, B), attrs,
                                     batch=BatchAxis(_BATCH_DIM[Phase.BWD_DATA], B)))
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
           for op in _layer_ops(layer, options, training, first=layer is layers[0])]
    rows = {layer.name: layer.row for layer in layers}
    check_ops(ops, source, lambda op: f"row {rows[op.layer]}", "", options.batch)
    fwd_macs = sum(layer.gemm(Phase.FWD, 1).macs for layer in layers)
    return Workload(Path(path).stem, ops, source,
                    meta={"batch": options.batch, "element_bytes": options.element_bytes,
                          "optimizer": options.optimizer, "training": training,
                          "forward_macs_per_sample": fwd_macs})
