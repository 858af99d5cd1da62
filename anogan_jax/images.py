"""The image arrays every module passes around: float32 (N, H, W, C) in [-1, 1], the range
of a tanh generator, made from uint8 pixels by `to_unit`; `check_images`, the one check
of shape, finiteness and range that loading and scoring share; and `content_ids`, a number
per image that depends on its pixels alone."""

from __future__ import annotations

import hashlib

import numpy as np

from anogan_jax.errors import DataError

NATIVE_SHAPE = (28, 28, 1)  # (H, W, C) of the built-in datasets and .npz files (MNIST's)


def to_unit(images_uint8: np.ndarray, shape=NATIVE_SHAPE) -> np.ndarray:
    """uint8 pixels -> float32 (N, *shape) in [-1, 1]."""
    return (images_uint8.astype(np.float32) / 127.5 - 1.0).reshape(-1, *shape)


def content_ids(images: np.ndarray) -> np.ndarray:
    """(N,) int64 in [0, 2**31): the first 31 bits of the sha256 of each image's float32
    bytes (C order). Equal images get equal ids, wherever they sit in a list.

    Args:
      images: (N, ...) any float array; it is cast to float32 first.
    """
    flat = np.ascontiguousarray(np.asarray(images, np.float32).reshape(len(images), -1))
    digests = [hashlib.sha256(row.tobytes()).digest()[:4] for row in flat]
    return np.array([int.from_bytes(d, "little") >> 1 for d in digests], np.int64)


def check_images(images: np.ndarray, what: str, *, shape=NATIVE_SHAPE, value_range=None):
    """Raises DataError when images have the wrong shape or non-finite / out-of-range pixels.

    Args:
      images: (N, H, W, C).
      what: names the images in messages ("test images").
      shape: the (H, W, C) the run was trained on; None accepts any (H, W) with C 1 or 3.
      value_range: (lo, hi) the pixels must lie in, or None.
    """
    if images.ndim != 4 or (shape is None and images.shape[-1] not in (1, 3)):
        raise DataError(
            f"{what} have shape {images.shape}; give images of shape (N, H, W, C) with C = 1 "
            "(grey) or 3 (RGB)"
        )
    if shape is not None and tuple(images.shape[1:]) != tuple(shape):
        h, w, c = shape
        raise DataError(
            f"{what} have shape {images.shape}; expected (N, {h}, {w}, {c}): the run was "
            f"trained on {h}x{w} images with {c} channel{'s' if c > 1 else ''}"
        )
    bad = ~np.isfinite(images.reshape(len(images), -1)).all(axis=1)
    if bad.any():
        first = np.flatnonzero(bad)[:5].tolist()
        raise DataError(
            f"{what} contain NaN or infinite pixels in {int(bad.sum())} images (first: {first})"
        )
    if value_range is not None and len(images):
        lo, hi = float(images.min()), float(images.max())
        if lo < value_range[0] or hi > value_range[1]:
            raise DataError(
                f"{what} have values in [{lo:.3g}, {hi:.3g}], outside {value_range}; "
                "scale images to [-1, 1] for a tanh generator"
            )
