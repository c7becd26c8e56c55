"""A forward network as a list of layers, written with :class:`NetworkBuilder`.

Shapes are per sample: ``(C, H, W)`` for feature maps, ``(T, F)`` for token sequences and
``(F,)`` for vectors. The batch size is applied when the network is expanded into a training
iteration (:mod:`accelsim.workload.training`). A layer's ``geometry`` carries what its GEMMs
need (convolution sizes, matmul sizes); ``params`` is its trainable parameter count.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from functools import cached_property

from accelsim.errors import WorkloadError
from accelsim.workload.bounds import MAX_DIM, power_of_two

#: Layer kinds that run as GEMMs on the PE array.
GEMM_KINDS = ("conv", "linear", "matmul")
#: Layer kinds that run on the vector unit.
VECTOR_KINDS = ("batchnorm", "layernorm", "relu", "gelu", "maxpool", "avgpool", "add",
                "concat", "softmax", "loss")
#: Layer (and so activation tensor) names; the training expansion derives other tensor names
#: with characters outside this set, so they never collide.
LAYER_NAME = re.compile(r"[A-Za-z0-9_.\-]+")


@dataclass(frozen=True)
class Layer:
    """One forward layer: ``inputs`` and ``output`` are activation tensor names."""

    name: str
    kind: str
    inputs: tuple[str, ...]
    output: str
    out_shape: tuple[int, ...]
    params: int = 0
    geometry: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Network:
    """A forward model: its input tensor and its layers in a valid execution order."""

    name: str
    input_name: str
    input_shape: tuple[int, ...]
    layers: tuple[Layer, ...]

    @cached_property
    def _shapes(self) -> dict[str, tuple[int, ...]]:
        return {self.input_name: self.input_shape,
                **{layer.output: layer.out_shape for layer in self.layers}}

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self._shapes[tensor]

    @property
    def params(self) -> int:
        """Trainable parameters of all layers."""
        return sum(layer.params for layer in self.layers)

    @property
    def forward_macs_per_sample(self) -> int:
        """MACs of one sample's forward pass (the figure model papers quote)."""
        return sum(layer_forward_macs(layer) for layer in self.layers)


def layer_forward_macs(layer: Layer) -> int:
    g = layer.geometry
    if layer.kind == "conv":
        return g["cout"] * g["ho"] * g["wo"] * g["cin"] * g["r"] * g["s"]
    if layer.kind == "linear":
        return g["tokens"] * g["in_features"] * g["out_features"]
    if layer.kind == "matmul":
        return g["count"] * g["m"] * g["n"] * g["k"]
    return 0


class NetworkBuilder:
    """Builds a :class:`Network` layer by layer; each method returns the output tensor name."""

    def __init__(self, name: str, input_shape: tuple[int, ...], source: str = "<builder>") -> None:
        self.name = name
        self.source = source
        self.input_name = "input"
        self._shapes: dict[str, tuple[int, ...]] = {self.input_name: tuple(input_shape)}
        self._layers: list[Layer] = []

    # -- helpers -----------------------------------------------------------------------------
    def shape(self, tensor: str) -> tuple[int, ...]:
        try:
            return self._shapes[tensor]
        except KeyError:
            raise WorkloadError(self.source, f"layers.{tensor}", "an existing tensor name",
                                choices=self._shapes) from None

    def _add(self, kind: str, name: str | None, inputs: tuple[str, ...],
             out_shape: tuple[int, ...], params: int = 0, **geometry) -> str:
        name = name or f"{kind}{len(self._layers)}"
        if not LAYER_NAME.fullmatch(name) or name == self.input_name:
            raise WorkloadError(self.source, f"layers.{name}",
                                "a layer name of letters, digits, '_', '.' and '-' other than "
                                f"{self.input_name!r}", got=name)
        if name in self._shapes:
            raise WorkloadError(self.source, f"layers.{name}", "a unique layer name",
                                got=name)
        if any(d <= 0 for d in out_shape):
            raise WorkloadError(self.source, f"layers.{name}", "a positive output shape",
                                got=out_shape)
        self._bounded(name, "output dimensions", max(out_shape), out_shape)
        for tensor in inputs:
            self.shape(tensor)
        self._layers.append(Layer(name, kind, inputs, name, tuple(out_shape), params, geometry))
        self._shapes[name] = tuple(out_shape)
        return name

    def _bounded(self, layer: str, what: str, size: int, got: object) -> None:
        """A dimension the layer implies (its output's, its GEMM's) within the per-layer bound
        :data:`~accelsim.workload.bounds.MAX_DIM`."""
        if size > MAX_DIM:
            raise WorkloadError(self.source, f"layers.{layer}",
                                f"{what} of at most {power_of_two(MAX_DIM)}", got=got)

    def _feature_map(self, x: str, layer: str) -> tuple[int, int, int]:
        shape = self.shape(x)
        if len(shape) != 3:
            raise WorkloadError(self.source, f"layers.{layer}.input",
                                "a (C, H, W) feature map", got=shape)
        return shape  # type: ignore[return-value]

    # -- GEMM layers -------------------------------------------------------------------------
    def conv(self, x: str, cout: int, kernel: int, stride: int = 1, padding: int = 0,
             bias: bool = False, name: str | None = None) -> str:
        name = name or f"conv{len(self._layers)}"
        cin, h, w = self._feature_map(x, name)
        ho = (h + 2 * padding - kernel) // stride + 1
        wo = (w + 2 * padding - kernel) // stride + 1
        self._bounded(name, "a convolution window Cin*R*S", cin * kernel * kernel,
                      f"{cin}*{kernel}*{kernel}")
        params = cout * cin * kernel * kernel + (cout if bias else 0)
        return self._add("conv", name, (x,), (cout, ho, wo), params=params,
                         cin=cin, cout=cout, h=h, w=w, r=kernel, s=kernel, stride=stride,
                         pad=padding, ho=ho, wo=wo)

    def linear(self, x: str, out_features: int, bias: bool = True, name: str | None = None) -> str:
        shape = self.shape(x)
        in_features = shape[-1] if len(shape) <= 2 else math.prod(shape)
        tokens = shape[0] if len(shape) == 2 else 1
        out_shape = (tokens, out_features) if len(shape) == 2 else (out_features,)
        self._bounded(name or f"linear{len(self._layers)}", "input features (the flattened "
                      "input)", in_features, shape)
        params = in_features * out_features + (out_features if bias else 0)
        return self._add("linear", name, (x,), out_shape, params=params, tokens=tokens,
                         in_features=in_features, out_features=out_features)

    def matmul(self, a: str, b: str, count: int, m: int, n: int, k: int,
               name: str | None = None, merge_heads: bool = False) -> str:
        """Activation-by-activation product (attention): ``count`` GEMMs of m x n x k.

        The result is laid out (count, m, n), or (m, count * n) with ``merge_heads`` (the
        layout in which an attention output projection reads the per-head contexts).
        """
        for tensor, size in ((a, count * m * k), (b, count * k * n)):
            if math.prod(self.shape(tensor)) != size:
                raise WorkloadError(self.source, f"layers.{name}.inputs",
                                    f"{tensor} to hold {size} elements per sample",
                                    got=math.prod(self.shape(tensor)))
        out_shape = (m, count * n) if merge_heads else (count, m, n)
        return self._add("matmul", name, (a, b), out_shape, count=count, m=m, n=n, k=k)

    # -- vector layers -----------------------------------------------------------------------
    def batchnorm(self, x: str, name: str | None = None) -> str:
        channels = self._feature_map(x, name or "batchnorm")[0]
        return self._add("batchnorm", name, (x,), self.shape(x), params=2 * channels)

    def layernorm(self, x: str, name: str | None = None) -> str:
        return self._add("layernorm", name, (x,), self.shape(x), params=2 * self.shape(x)[-1])

    def relu(self, x: str, name: str | None = None) -> str:
        return self._add("relu", name, (x,), self.shape(x))

    def gelu(self, x: str, name: str | None = None) -> str:
        return self._add("gelu", name, (x,), self.shape(x))

    def softmax(self, x: str, name: str | None = None) -> str:
        return self._add("softmax", name, (x,), self.shape(x))

    def _pool(self, kind: str, x: str, kernel: int, stride: int, padding: int,
              name: str | None) -> str:
        c, h, w = self._feature_map(x, name or kind)
        ho = (h + 2 * padding - kernel) // stride + 1
        wo = (w + 2 * padding - kernel) // stride + 1
        return self._add(kind, name, (x,), (c, ho, wo), kernel=kernel, stride=stride,
                         pad=padding)

    def maxpool(self, x: str, kernel: int, stride: int, padding: int = 0,
                name: str | None = None) -> str:
        return self._pool("maxpool", x, kernel, stride, padding, name)

    def avgpool(self, x: str, kernel: int, stride: int, padding: int = 0,
                name: str | None = None) -> str:
        return self._pool("avgpool", x, kernel, stride, padding, name)

    def global_avgpool(self, x: str, name: str | None = None) -> str:
        c, h, w = self._feature_map(x, name or "avgpool")
        return self._add("avgpool", name, (x,), (c,), kernel=h, stride=1, pad=0)

    def add(self, a: str, b: str, name: str | None = None) -> str:
        if self.shape(a) != self.shape(b):
            raise WorkloadError(self.source, f"layers.{name}.inputs", "inputs of equal shape",
                                got=(self.shape(a), self.shape(b)))
        return self._add("add", name, (a, b), self.shape(a))

    def concat(self, xs: list[str], name: str | None = None) -> str:
        """Concatenate feature maps along channels."""
        shapes = [self._feature_map(x, name or "concat") for x in xs]
        if len({s[1:] for s in shapes}) != 1:
            raise WorkloadError(self.source, f"layers.{name}.inputs",
                                "feature maps of equal height and width", got=shapes)
        channels = sum(s[0] for s in shapes)
        return self._add("concat", name, tuple(xs), (channels, *shapes[0][1:]))

    def loss(self, logits: str, name: str = "loss") -> str:
        """Softmax cross-entropy over the logits (the end of the forward pass)."""
        return self._add("loss", name, (logits,), self.shape(logits))

    def build(self) -> Network:
        if not self._layers or self._layers[-1].kind != "loss":
            raise WorkloadError(self.source, "layers", "a network that ends with a loss layer")
        return Network(self.name, self.input_name, self._shapes[self.input_name],
                       tuple(self._layers))
