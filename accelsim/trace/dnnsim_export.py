"""Convolution layers as DNNsim inputs, and DNNsim's SCNN cycle reports read back.

DNNsim (Delmas Lascorz et al.; github.com/isakedo/DNNsim) simulates a network described by
``models/<network>/model.csv`` (one line per layer: ``name,conv,stride,padding``) with float32
traces ``net_traces/<network>/wgt-<layer>.npy`` (K, C, R, S) and
``net_traces/<network>/act-<layer>-<batch>.npy`` (N, C, H, W), the layer's input before
padding. Its SCNN model skips zero weights and activations, so a coordinate mask is written as
ones where the mask is set and zeros elsewhere (a value of one survives DNNsim's 16-bit
fixed-point quantisation). Its SCNN ``Cycles`` task writes
``results/<network>/SCNN_..._cycles.csv``; :func:`read_samples` returns the ``cycles`` (and
other columns) of each layer and sample in it.

Nothing here builds or runs DNNsim: callers pass the path of a binary they built.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from accelsim.outputs import atomic_write_text


def write_layer(root: Path, network: str, layer: str, x_mask: np.ndarray,
                w_mask: np.ndarray, stride: int, pad: int) -> None:
    """One convolution layer ``layer`` as DNNsim network ``network`` under ``root``: its
    input mask ``x_mask`` (N, C, H, W) and weight mask ``w_mask`` (K, C, R, S) as 0/1 float32
    traces, stride and padding in ``model.csv``."""
    if x_mask.ndim != 4 or w_mask.ndim != 4 or x_mask.shape[1] != w_mask.shape[1]:
        raise ValueError(f"masks of a 2-D convolution expected, got x {x_mask.shape} and "
                         f"w {w_mask.shape}")
    models, traces = root / "models" / network, root / "net_traces" / network
    models.mkdir(parents=True, exist_ok=True)
    traces.mkdir(parents=True, exist_ok=True)
    atomic_write_text(models / "model.csv", f"{layer},conv,{int(stride)},{int(pad)}\n")
    np.save(traces / f"wgt-{layer}.npy", np.asarray(w_mask, dtype=np.float32))
    np.save(traces / f"act-{layer}-0.npy", np.asarray(x_mask, dtype=np.float32))


def batch_file(network: str, rows: int, cols: int, f: int, i: int, accumulators: int,
               banks: int) -> str:
    """A DNNsim batch prototxt running SCNN's ``Cycles`` task on ``network`` (traces given as
    floats, quantised by DNNsim to 16-bit fixed point) with a ``cols`` x ``rows`` PE grid of
    F x I multipliers, ``accumulators`` output accumulator entries per PE and ``banks``
    banks."""
    return (f'simulate {{\n  network: "{network}"\n  model: "CSV"\n  data_type: "Fixed"\n'
            f'  experiment {{\n    architecture: "SCNN"\n    task: "Cycles"\n'
            f"    Wt: {cols}\n    Ht: {rows}\n    I: {i}\n    F: {f}\n"
            f"    out_acc_size: {accumulators}\n    banks: {banks}\n  }}\n}}\n")


def read_samples(path: Path, columns: tuple[str, ...] = ("cycles", "idle_halo")
                 ) -> dict[str, dict[str, list[int]]]:
    """Per layer and column, the value of each sample from a DNNsim SCNN cycles CSV (the
    ``Per sample scalar results`` section): ``cycles``, ``idle_halo`` (the halo exchange's
    cycles times the grid's multipliers), and any other column named."""
    lines = Path(path).read_text().splitlines()
    try:
        start = lines.index("Per sample scalar results:") + 1
    except ValueError:
        raise ValueError(f"{path}: no 'Per sample scalar results:' section") from None
    samples: dict[str, dict[str, list[int]]] = {}
    for row in csv.DictReader(lines[start:]):
        if not row.get("Layer") or row.get("Sample") is None:
            break
        layer = samples.setdefault(row["Layer"], {column: [] for column in columns})
        for column in columns:
            layer[column].append(int(row[column]))
    return samples
