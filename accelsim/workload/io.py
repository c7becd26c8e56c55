"""YAML workload files: a forward network written layer by layer.

A file holds the network's name, the per-sample shape of its input tensor and its layers in
execution order. Each layer names its output tensor (``name``) and reads tensors by name: the
network input is called ``input``, every other tensor is an earlier layer's name::

    name: my_net
    input: [3, 32, 32]          # (C, H, W) feature map; or [T, F] tokens, or [F] a vector
    layers:
      - {name: conv1, kind: conv, input: input, cout: 16, kernel: 3, stride: 1, padding: 1}
      - {name: bn1, kind: batchnorm, input: conv1}
      - {name: relu1, kind: relu, input: bn1}
      - {name: add1, kind: add, inputs: [relu1, input2]}
      ...
      - {name: loss, kind: loss, input: fc}

Layer kinds and their keys (every layer also has ``name`` and ``kind``):

==================== ===================================================================
kind                 keys
==================== ===================================================================
conv                 input, cout, kernel, stride (default 1), padding (default 0),
                     bias (default false); square kernel
linear               input, out_features, bias (default true); a (T, F) input is applied
                     per token, any other shape is flattened
matmul               inputs [a, b], count, m, n, k: ``count`` products (m x k) @ (k x n)
                     of two activations (attention); a and b must hold count*m*k and
                     count*k*n elements per sample; merge_heads (default false) lays
                     the result out (m, count*n) instead of (count, m, n)
maxpool, avgpool     input, kernel, stride (default 1), padding (default 0)
global_avgpool       input: average over the whole height and width
batchnorm            input: a (C, H, W) feature map
layernorm, relu,     input
gelu, softmax
add                  inputs [a, b] of equal shape
concat               inputs [a, b, ...]: feature maps concatenated along channels
loss                 input: softmax cross-entropy over these logits; the last layer
==================== ===================================================================

The defaults in this table are the only ones; every other key is required and an unknown key
is an error. Values are strict: integers are integers (not ``'32'``, ``true`` or ``3.0``), and
every size is bounded (:mod:`accelsim.workload.bounds`): a dimension given or implied (output
sizes, a convolution's ``Cin*R*S``, a linear layer's flattened input) at most 2^24, at most
16,384 layers, names of at most 256 characters; at the run's batch, tensors of at most 2^36
elements and at most 2^53 MACs per training iteration. A layer may read the same tensor twice
(``concat`` of ``[x, x]``, ``matmul`` of ``x`` by itself): each use contributes to the
gradient. Any problem is one :class:`~accelsim.errors.WorkloadError` naming the file, the key
path (e.g. ``layers[3].kernel``), what was expected and, for a closed set, the valid choices.
"""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path
from typing import Annotated, Literal, Union, get_args

from pydantic import BaseModel, ConfigDict, Field

from accelsim.config.loader import read_yaml_mapping
from accelsim.errors import WorkloadError
from accelsim.validation import validate
from accelsim.workload.bounds import MAX_DIM, MAX_LAYERS, MAX_NAME
from accelsim.workload.network import Network, NetworkBuilder

#: A per-layer dimension: 1 .. MAX_DIM (strict: no strings, no bools, no floats).
PositiveInt = Annotated[int, Field(gt=0, le=MAX_DIM)]
NonNegativeInt = Annotated[int, Field(ge=0, le=MAX_DIM)]
TensorName = Annotated[str, Field(min_length=1, max_length=MAX_NAME)]


class _Layer(BaseModel):
    """Keys every layer has; subclasses add their own and say how they build."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: TensorName = Field(description="the layer's name, which is also its output tensor")

    @abstractmethod
    def references(self) -> list[tuple[str, str]]:
        """(key path inside the layer, tensor name) of every tensor the layer reads."""

    @abstractmethod
    def add_to(self, b: NetworkBuilder) -> None:
        """Add this layer to the network being built."""


class _OneInput(_Layer):
    input: TensorName = Field(description="the tensor the layer reads")

    def references(self) -> list[tuple[str, str]]:
        return [("input", self.input)]

    def add_to(self, b: NetworkBuilder) -> None:  # the builder method named like the kind
        getattr(b, self.kind)(self.input, name=self.name)  # type: ignore[attr-defined]


class _TwoInputs(_Layer):
    inputs: list[TensorName] = Field(min_length=2, max_length=2,
                                     description="the two tensors the layer reads")

    def references(self) -> list[tuple[str, str]]:
        return [(f"inputs[{i}]", name) for i, name in enumerate(self.inputs)]


class ConvLayer(_OneInput):
    kind: Literal["conv"]
    cout: PositiveInt = Field(description="output channels")
    kernel: PositiveInt = Field(description="kernel height and width")
    stride: PositiveInt = 1
    padding: NonNegativeInt = 0
    bias: bool = False

    def add_to(self, b: NetworkBuilder) -> None:
        b.conv(self.input, self.cout, self.kernel, self.stride, self.padding, self.bias,
               name=self.name)


class LinearLayer(_OneInput):
    kind: Literal["linear"]
    out_features: PositiveInt = Field(description="output features")
    bias: bool = True

    def add_to(self, b: NetworkBuilder) -> None:
        b.linear(self.input, self.out_features, self.bias, name=self.name)


class MatmulLayer(_TwoInputs):
    kind: Literal["matmul"]
    count: PositiveInt = Field(description="independent products (e.g. attention heads)")
    m: PositiveInt = Field(description="rows of a and of the result")
    n: PositiveInt = Field(description="columns of b and of the result")
    k: PositiveInt = Field(description="the summed dimension")
    merge_heads: bool = Field(False, description="lay the result out (m, count * n)")

    def add_to(self, b: NetworkBuilder) -> None:
        b.matmul(*self.inputs, self.count, self.m, self.n, self.k, name=self.name,
                 merge_heads=self.merge_heads)


class _Pool(_OneInput):
    kernel: PositiveInt = Field(description="window height and width")
    stride: PositiveInt = 1
    padding: NonNegativeInt = 0

    def add_to(self, b: NetworkBuilder) -> None:
        getattr(b, self.kind)(self.input, self.kernel, self.stride,  # type: ignore[attr-defined]
                              self.padding, name=self.name)


class MaxpoolLayer(_Pool):
    kind: Literal["maxpool"]


class AvgpoolLayer(_Pool):
    kind: Literal["avgpool"]


class GlobalAvgpoolLayer(_OneInput):
    kind: Literal["global_avgpool"]


class BatchnormLayer(_OneInput):
    kind: Literal["batchnorm"]


class LayernormLayer(_OneInput):
    kind: Literal["layernorm"]


class ReluLayer(_OneInput):
    kind: Literal["relu"]


class GeluLayer(_OneInput):
    kind: Literal["gelu"]


class SoftmaxLayer(_OneInput):
    kind: Literal["softmax"]


class LossLayer(_OneInput):
    kind: Literal["loss"]


class AddLayer(_TwoInputs):
    kind: Literal["add"]

    def add_to(self, b: NetworkBuilder) -> None:
        b.add(*self.inputs, name=self.name)


class ConcatLayer(_Layer):
    kind: Literal["concat"]
    inputs: list[TensorName] = Field(min_length=2, max_length=MAX_LAYERS,
                                     description="the feature maps to join")

    def references(self) -> list[tuple[str, str]]:
        return [(f"inputs[{i}]", name) for i, name in enumerate(self.inputs)]

    def add_to(self, b: NetworkBuilder) -> None:
        b.concat(list(self.inputs), name=self.name)


LAYER_MODELS: dict[str, type[_Layer]] = {
    get_args(model.model_fields["kind"].annotation)[0]: model
    for model in (ConvLayer, LinearLayer, MatmulLayer, MaxpoolLayer, AvgpoolLayer,
                  GlobalAvgpoolLayer, BatchnormLayer, LayernormLayer, ReluLayer, GeluLayer,
                  SoftmaxLayer, AddLayer, ConcatLayer, LossLayer)
}
#: Every layer kind a workload file may use.
KINDS = tuple(LAYER_MODELS)

#: One layer, chosen by its ``kind`` (the title words errors: "expected a known layer kind").
LayerSpec = Annotated[Union[tuple(LAYER_MODELS.values())],
                     Field(discriminator="kind", title="layer")]


class WorkloadFile(BaseModel):
    """The top level of a workload file."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    name: TensorName = Field(description="the network's name")
    input: list[PositiveInt] = Field(min_length=1, max_length=3,
                                     description="per-sample input shape: [C, H, W], [T, F] "
                                     "or [F]")
    layers: list[LayerSpec] = Field(min_length=1, max_length=MAX_LAYERS,
                                    description="the layers in execution order")


def parse_workload(data: dict, source: str) -> WorkloadFile:
    """Validate the mapping of a workload file; the first problem is a :class:`WorkloadError`."""
    return validate(WorkloadFile, data, source, WorkloadError)


# -- building ------------------------------------------------------------------------------------
def _check_names(spec: WorkloadFile, source: str, input_name: str) -> None:
    """Layer names are unique and every tensor read is the input or an earlier layer."""
    defined = [input_name]
    known = set(defined)
    for i, layer in enumerate(spec.layers):
        for key, tensor in layer.references():
            if tensor not in known:
                raise WorkloadError(source, f"layers[{i}].{key}",
                                    "the network input or an earlier layer's name",
                                    choices=defined, got=tensor)
        if layer.name in known:
            raise WorkloadError(source, f"layers[{i}].name",
                                "a name not used by the input or an earlier layer", got=layer.name)
        defined.append(layer.name)
        known.add(layer.name)


def build_network(spec: WorkloadFile, source: str) -> Network:
    """The :class:`Network` a validated workload file describes."""
    b = NetworkBuilder(spec.name, tuple(spec.input), source=source)
    _check_names(spec, source, b.input_name)
    for i, layer in enumerate(spec.layers):
        try:
            layer.add_to(b)
        except WorkloadError as exc:  # builder paths are layers.<name>[.key]: use the index
            key = exc.key_path.removeprefix(f"layers.{layer.name}")
            raise WorkloadError(source, f"layers[{i}]{key}", exc.expected, exc.choices,
                                exc.got) from None
    return b.build()


def load_network(path: str | Path) -> Network:
    """Read, validate and build the workload file at ``path``."""
    path = Path(path)
    source = str(path)
    return build_network(parse_workload(read_yaml_mapping(path, WorkloadError), source), source)
