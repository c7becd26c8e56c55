"""A procedurally generated image task that a network genuinely learns (numpy, torch-free).

No dataset can be downloaded where accelsim runs, so traced training uses *shapes*: ten classes
of geometric figures (disc, ring, square, frame, triangle, plus, diagonal cross, diamond,
horizontal bar, vertical bar) drawn in a random colour at a random position and size over a
random dark background with Gaussian pixel noise. The class is the figure; colour, position, size
and noise are nuisances, so a network has to learn shape. A fixed seed makes the set
reproducible.

The training set is a fixed list of ``size`` samples read in the same order every epoch (step t
reads batch ``t mod steps_per_epoch``), so the same sample comes back at the same batch position
one epoch later: the "consecutive inputs" that Mquans' change rates compare.

Input shapes: ``(C, H, W)`` renders C channels (1 grey, 3 colour, any other count a random
C-vector colour); a flat ``(F,)`` input is a flattened ``(1, s, s)`` or ``(3, s, s)`` image with
``F = s*s`` or ``3*s*s`` (784 is a 28x28 grey image). Pixels are normalised to mean 0, std 1
over the set.

:class:`ImageSet` is what training reads (fixed order, ``batch(step, batch)``);
:func:`split` cuts a held-out set off the end of one, and :func:`make_datasets` builds the
training and held-out sets of a trace from ``--dataset shapes|digits`` (the digits in
:mod:`accelsim.trace.digits`). A shapes set with a held-out part is generated as one set of
``train + held-out`` samples whose last ones are held out, so a trace without one reads the
same samples as before.
"""

from __future__ import annotations

import math

import numpy as np

from accelsim.trace.options import DATASETS  # noqa: F401  (the names live where the CLI reads them)

SHAPES = ("disc", "ring", "square", "frame", "triangle", "plus", "cross", "diamond", "hbar",
          "vbar")
NOISE = 0.08


def figure(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean mask of a figure of radius ``r`` at offsets (dx, dy) from its centre."""
    ax, ay = np.abs(dx), np.abs(dy)
    box = np.maximum(ax, ay)
    if shape == "disc":
        return dx ** 2 + dy ** 2 <= r ** 2
    if shape == "ring":
        d = np.sqrt(dx ** 2 + dy ** 2)
        return (d <= r) & (d >= 0.55 * r)
    if shape == "square":
        return box <= 0.8 * r
    if shape == "frame":
        return (box <= 0.85 * r) & (box >= 0.5 * r)
    if shape == "triangle":
        return (dy <= 0.8 * r) & (ax <= (dy + 0.8 * r) * 0.6)
    if shape == "plus":
        return ((ax <= 0.25 * r) & (ay <= r)) | ((ay <= 0.25 * r) & (ax <= r))
    if shape == "cross":
        return ((np.abs(dx - dy) <= 0.35 * r) | (np.abs(dx + dy) <= 0.35 * r)) & (box <= r)
    if shape == "diamond":
        return ax + ay <= r
    if shape == "hbar":
        return (ay <= 0.3 * r) & (ax <= r)
    if shape == "vbar":
        return (ax <= 0.3 * r) & (ay <= r)
    raise ValueError(shape)


def image_shape(input_shape: tuple[int, ...]) -> tuple[int, int, int] | None:
    """The (C, H, W) image rendered for a model input shape, or None if there is none."""
    if len(input_shape) == 3:
        return tuple(input_shape)  # type: ignore[return-value]
    if len(input_shape) == 2:
        return (1, *input_shape)
    if len(input_shape) == 1:
        for channels in (1, 3):
            side = math.isqrt(input_shape[0] // channels)
            if channels * side * side == input_shape[0] and side >= 8:
                return (channels, side, side)
    return None


class ImageSet:
    """Images (``(n, *input_shape)`` float32) and labels read in a fixed order every epoch."""

    name = "images"

    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images = images
        self.labels = labels

    def __len__(self) -> int:
        return len(self.labels)

    def steps_per_epoch(self, batch: int) -> int:
        return max(1, len(self) // batch)

    def batch(self, step: int, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """The batch of training step ``step`` (the same samples every epoch)."""
        start = (step % self.steps_per_epoch(batch)) * batch
        index = np.arange(start, start + batch) % len(self)
        return self.images[index], self.labels[index]

    def describe(self) -> dict:
        """The manifest's description of the set."""
        return {"name": self.name, "size": len(self)}


def split(data: ImageSet, held_out: int) -> tuple[ImageSet, ImageSet | None]:
    """(the first ``len - held_out`` samples, the last ``held_out``) of ``data``; the first
    keeps ``data``'s class and description."""
    if held_out <= 0:
        return data, None
    keep = len(data) - held_out
    held = ImageSet(data.images[keep:], data.labels[keep:])
    data.images, data.labels = data.images[:keep], data.labels[:keep]
    return data, held


class ShapesDataset(ImageSet):
    """``size`` images of shape ``input_shape`` with labels in ``range(classes)``."""

    name = "shapes"

    def __init__(self, size: int, input_shape: tuple[int, ...], classes: int = 10,
                 seed: int = 0) -> None:
        shape = image_shape(tuple(input_shape))
        if shape is None:
            raise ValueError(f"cannot render images for input shape {tuple(input_shape)}: "
                             "use (C, H, W), (H, W) or a flat C*s*s with C 1 or 3")
        if not 2 <= classes <= len(SHAPES):
            raise ValueError(f"classes must be 2..{len(SHAPES)}, got {classes}")
        self.input_shape = tuple(input_shape)
        self.classes = classes
        rng = np.random.default_rng(seed)
        channels, height, width = shape
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        images = np.empty((size, channels, height, width), dtype=np.float32)
        labels = rng.integers(0, classes, size)
        side = min(height, width)
        for i, label in enumerate(labels):
            r = rng.uniform(0.22, 0.42) * side
            cx, cy = rng.uniform(r, width - r), rng.uniform(r, height - r)
            mask = figure(SHAPES[label], xx - cx, yy - cy, r)
            background = rng.uniform(0.0, 0.35, channels)
            colour = rng.uniform(0.45, 1.0, channels)
            img = np.where(mask[None], colour[:, None, None], background[:, None, None])
            images[i] = img + rng.normal(0.0, NOISE, img.shape)
        images = (images - images.mean()) / images.std()
        super().__init__(images.reshape(size, *self.input_shape), labels.astype(np.int64))
        self.seed = seed

    def describe(self) -> dict:
        return {"name": "shapes", "size": len(self), "classes": list(SHAPES[:self.classes]),
                "seed": self.seed, "noise_std": NOISE}



def make_datasets(name: str, train_size: int, held_out: int, input_shape: tuple[int, ...],
                  classes: int, seed: int) -> tuple[ImageSet, ImageSet | None]:
    """The training set and the held-out set (None when ``held_out`` is 0) of a trace.

    Raises ValueError naming what does not fit (shape, classes, sizes)."""
    if name == "shapes":
        return split(ShapesDataset(train_size + held_out, input_shape, classes, seed), held_out)
    if name == "digits":
        from accelsim.trace.digits import load_digits

        return load_digits(train_size, held_out, input_shape, classes, seed)
    raise ValueError(f"dataset {name!r}: expected one of {', '.join(DATASETS)}")
