"""scikit-learn's bundled handwritten digits as a training set (``--dataset digits``).

The set (:func:`sklearn.datasets.load_digits`: 1,797 grey 8x8 images of the digits 0-9, 16
grey levels, from the UCI optical recognition of handwritten digits data) ships inside the
scikit-learn package, so nothing is downloaded; scikit-learn is in accelsim's optional
``trace`` extra.

Fitting to the model's input shape (:func:`fit_images`): each 8x8 image is enlarged by the
largest whole factor k with 8k <= H and 8k <= W (nearest neighbour: every pixel becomes a
k x k block), centred on a zero canvas of H x W (the left-over rows and columns split as evenly
as possible, the extra one at the bottom / right), and the grey plane is repeated into every
channel. A (3, 32, 32) input gets k = 4 and no padding; (1, 28, 28) gets k = 3 and 2 rows of
padding above and below. A flat input of C*s*s values is that image flattened (as the shapes
set does it). Pixels are then normalised to mean 0, std 1 over the training samples.

Which samples train and which are held out: a permutation of the (class-filtered) set drawn
with ``seed``; the first ``train`` samples of it train, the next ``held_out`` are held out.
"""

from __future__ import annotations

import numpy as np

from accelsim.trace.dataset import ImageSet, image_shape

SIDE = 8
SOURCE = "sklearn.datasets.load_digits (UCI optical recognition of handwritten digits)"


class DigitsSet(ImageSet):
    name = "digits"

    def __init__(self, images: np.ndarray, labels: np.ndarray, info: dict) -> None:
        super().__init__(images, labels)
        self.info = info

    def describe(self) -> dict:
        return {"name": "digits", "size": len(self), **self.info}


def fit_images(images: np.ndarray, input_shape: tuple[int, ...]) -> np.ndarray:
    """``(n, 8, 8)`` images fitted to ``input_shape`` (module docstring), not normalised."""
    shape = image_shape(tuple(input_shape))
    if shape is None:
        raise ValueError(f"cannot fit 8x8 digits to input shape {tuple(input_shape)}: use "
                         "(C, H, W), (H, W) or a flat C*s*s with C 1 or 3")
    channels, height, width = shape
    k = min(height, width) // SIDE
    if k < 1:
        raise ValueError(f"input {height}x{width} is smaller than the 8x8 digits")
    big = np.repeat(np.repeat(images.astype(np.float32), k, axis=1), k, axis=2)
    top, left = (height - SIDE * k) // 2, (width - SIDE * k) // 2
    canvas = np.zeros((len(images), height, width), dtype=np.float32)
    canvas[:, top:top + SIDE * k, left:left + SIDE * k] = big
    out = np.repeat(canvas[:, None], channels, axis=1)
    return out.reshape(len(images), *input_shape)


def select(labels: np.ndarray, train: int, held_out: int, classes: int,
           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and held-out samples (module docstring)."""
    usable = np.flatnonzero(labels < classes)
    if train + held_out > len(usable):
        raise ValueError(f"the digits set has {len(usable)} samples of {classes} classes, "
                         f"fewer than --train-size {train} + --eval-size {held_out}")
    order = usable[np.random.default_rng(seed).permutation(len(usable))]
    return order[:train], order[train:train + held_out]


def from_arrays(images: np.ndarray, labels: np.ndarray, train: int, held_out: int,
                input_shape: tuple[int, ...], classes: int,
                seed: int) -> tuple[DigitsSet, ImageSet | None]:
    """Training and held-out sets from raw ``(n, 8, 8)`` images and their labels."""
    if not 2 <= classes <= 10:
        raise ValueError(f"the digits have 10 classes: --classes must be 2..10, got {classes}")
    fitted = fit_images(images, input_shape)
    train_idx, held_idx = select(labels, train, held_out, classes, seed)
    mean, std = fitted[train_idx].mean(), fitted[train_idx].std()
    normal = ((fitted - mean) / std).astype(np.float32)
    labels = labels.astype(np.int64)
    info = {"source": SOURCE, "classes": [str(c) for c in range(classes)], "seed": seed,
            "fit": f"8x8 enlarged x{min(image_shape(tuple(input_shape))[1:]) // SIDE} "
                   "(nearest), centred on a zero canvas, grey repeated per channel"}
    train_set = DigitsSet(normal[train_idx], labels[train_idx], info)
    held = ImageSet(normal[held_idx], labels[held_idx]) if held_out else None
    return train_set, held


def load_digits(train: int, held_out: int, input_shape: tuple[int, ...], classes: int,
                seed: int) -> tuple[DigitsSet, ImageSet | None]:
    """The bundled digits as training and held-out sets (module docstring)."""
    try:
        from sklearn.datasets import load_digits as sk_load_digits
    except ImportError:
        raise ValueError("--dataset digits needs scikit-learn (pip install "
                         "'accelsim[trace]')") from None
    bunch = sk_load_digits()
    return from_arrays(bunch.images, bunch.target, train, held_out, input_shape, classes, seed)
