"""A fused GEMM's tile plan: the element-wise work of its chain on the vector lanes at the
PE array's output (:mod:`accelsim.sim.fusion`).

Per tile, from the output elements the tile finishes (the kind's ``outputs`` column: a tile
that ends a run of partial sums drains finished outputs, one in the middle of the reduction
drains partial sums only):

* ``vector_ops``: finished outputs x the chain's operations per element; the tile lasts
  ``max(array cycles, ceil(vector_ops / lanes))``. A pipeline approximation: the lanes work on
  a tile's outputs while the array computes it (outputs leave the array fold by fold), and the
  lanes are the vector unit's (``vector_unit.lanes``), not booked on its queue, so a separate
  vector op may run beside the fused GEMM (as VLIW bundles issue matrix-result pops and vector
  operations together on a TPUv2 core);
* the chain's other inputs (``reads[2:]``: a residual, a saved activation) stream from DRAM
  into the vector unit's buffer in proportion to the tile's finished outputs (operand role
  ``input``); they are taken to stream in step with the outputs, so the buffer's capacity is
  not checked against a tile's share (an approximation);
* the finished outputs leave as the chain's last output instead of the GEMM's: the GEMM's
  finished bytes (its elements at the operand width) come off the tile's ofmap drain and the
  chain output's share goes on; partial-sum spills are unchanged. The lanes take the finished
  outputs on their way from the array to the ofmap buffer and write the chain's output there
  in their place, so the buffer's accesses (and the array's ``sram_cycles``) are unchanged.

DRAM row visits of the changed transfers scale with their bytes; the inputs' visits and
channels come from their own contiguous address pattern, added to the tile's.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from accelsim.errors import SimulationError
from accelsim.hw.system import VECTOR_ENDPOINT
from accelsim.plan import DRAIN, FETCH, LOAD, STORE, TilePlan
from accelsim.sim.fusion import FUSED_ATTR
from accelsim.sim.onchip import scaled, scaled_visits
from accelsim.workload.op import Op

#: Operand role of a fused op's element-wise inputs (as a vector op's inputs).
INPUT_ROLE = "input"


def stream_elementwise(op: Op, plan: TilePlan, system) -> TilePlan:
    """``plan`` of a fused GEMM op with its chain's work and traffic (module docstring); any
    other plan unchanged."""
    if op.gemm is None or FUSED_ATTR not in op.attrs or len(plan) == 0:
        return plan
    if "outputs" not in plan.columns or "ofmap" not in plan.drains:
        raise SimulationError(f"op {op.name} runs element-wise ops in its output stream, but "
                              f"the {system.pe_array.name} lowering reports no finished "
                              "outputs per tile")
    outputs = np.asarray(plan["outputs"], dtype=np.int64)
    whole = op.elements
    vector_ops = outputs * op.vector_ops
    lane_cycles = np.ceil(vector_ops / system.vector.lanes).astype(np.int64)
    ofmap_buffer = system.buffer_of_role["ofmap"]
    finished = outputs * system.pe_array.element_bytes(op)[0]
    chain_out = scaled(outputs, op.bytes_written, whole)
    drain = plan.drains["ofmap"] - finished + chain_out
    stores = plan.stores[ofmap_buffer] - finished + chain_out
    inputs = scaled(outputs, sum(t.bytes for t in op.reads[2:]), whole)
    columns = {"compute_cycles": np.maximum(plan["compute_cycles"], lane_cycles),
               "vector_ops": vector_ops, DRAIN + "ofmap": drain, STORE + ofmap_buffer: stores,
               "store_visits": scaled_visits(plan["store_visits"], plan.store_bytes,
                                              plan.store_bytes - finished + chain_out)}
    if inputs.any():
        visits, channels = system.fetch_pattern(inputs)
        before = plan.load_bytes.astype(float)
        per_channel = (np.divide(before, plan["load_channels"], out=np.zeros(len(plan)),
                                 where=plan["load_channels"] > 0)
                       + np.divide(inputs, channels, out=np.zeros(len(plan)),
                                   where=channels > 0))
        columns.update({
            LOAD + VECTOR_ENDPOINT: inputs, FETCH + INPUT_ROLE: inputs,
            "load_visits": plan["load_visits"] + visits,
            "load_channels": np.divide(before + inputs, per_channel, out=np.zeros(len(plan)),
                                       where=per_channel > 0)})
    labels = {**plan.labels, "fused": ",".join(op.attrs[FUSED_ATTR])}
    fused = replace(plan.with_columns(**columns), labels=labels)
    fused.check(op.name, op.macs, "the output-stream fusion")
    return fused

